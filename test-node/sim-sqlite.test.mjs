// The simulator's SQLite (sim/sqlite.ts, sql.js under Cloudflare's storage API): the
// cursor and transaction rules the engine's cores rely on, then behaviours of the
// cores' own tests run on it (the shard's ledger: holds, the per-fan limit, a short
// shard, release and expiry, a transfer between two shards' databases; the pacer
// core: the opening, sealing and placing slots, its watermark), so a core the
// simulator runs behaves as it does in workerd. Runs under Node's test runner.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { loadSqlJs, loadTypeScript } from "../sim/bundle.mjs";

let m;
let sqlJs;
before(async () => {
	[m, sqlJs] = await Promise.all([
		loadTypeScript({
			contents: `
				export { sqliteStorage } from "./sim/sqlite";
				export { Sql } from "./src/shared/sql";
				export { Ledger } from "./src/inventory/ledger";
				export { PacerCore } from "./src/waiting-room/pacer-core";
				export { watermarkOf } from "./src/waiting-room/watermark";
				export { parseCreateDrop } from "./src/drops/rules";
				export { slotOf } from "./src/waiting-room/placement";
				export { SLOT_MS } from "./src/waiting-room/timing";
				export { validDropBody } from "./test/support/drop-rules";
			`,
		}),
		loadSqlJs(),
	]);
});

const storage = () => m.sqliteStorage(sqlJs);

test("the cursor: rows as objects, rowsWritten only for writes, one() exactly one row, bytes as an ArrayBuffer", () => {
	const s = storage();
	const sql = new m.Sql(s.sql);
	sql.run(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, b BLOB)`);
	assert.ok(sql.run(`INSERT INTO t (k, v) VALUES (?, ?)`, 1, "a") > 0);
	// A conflict that inserts nothing writes nothing, and a read after a write is not counted as one.
	assert.equal(sql.run(`INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT DO NOTHING`, 1, "b"), 0);
	assert.ok(sql.run(`UPDATE t SET v = ? WHERE k = ?`, "c", 1) > 0);
	assert.equal(sql.run(`SELECT * FROM t`), 0);
	assert.equal(sql.run(`UPDATE t SET v = ? WHERE k = ?`, "d", 99), 0);
	assert.deepEqual(sql.all(`SELECT k, v FROM t WHERE k = ?`, 1), [{ k: 1, v: "c" }]);
	assert.equal(sql.number(`SELECT COUNT(*) FROM t WHERE k > ?`, 5), 0);
	assert.deepEqual(s.sql.exec(`SELECT v FROM t`).one(), { v: "c" });
	assert.throws(() => s.sql.exec(`SELECT v FROM t WHERE k = 2`).one(), /exactly one/);
	const bytes = new Uint8Array([1, 2, 255]).buffer;
	sql.run(`INSERT INTO t (k, v, b) VALUES (2, 'x', ?)`, bytes);
	const back = sql.first(`SELECT b FROM t WHERE k = 2`).b;
	assert.ok(back instanceof ArrayBuffer);
	assert.deepEqual([...new Uint8Array(back)], [1, 2, 255]);
	assert.throws(() => sql.run(`SELECT nope FROM t`), /no such column/);
	s.close();
});

test("transactionSync: all or nothing, a nested one undone with its outer one, a failed inner one alone", () => {
	const s = storage();
	const sql = new m.Sql(s.sql);
	sql.run(`CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))`);
	sql.run(`INSERT INTO t VALUES (1, 5)`);
	assert.throws(() => s.transactionSync(() => {
		sql.run(`UPDATE t SET n = n - 3 WHERE k = 1`);
		s.transactionSync(() => sql.run(`UPDATE t SET n = n - 1 WHERE k = 1`));
		sql.run(`UPDATE t SET n = n - 3 WHERE k = 1`);
	}), /CHECK constraint failed/);
	assert.equal(sql.number(`SELECT n FROM t`), 5);
	const kept = s.transactionSync(() => {
		sql.run(`UPDATE t SET n = n - 1 WHERE k = 1`);
		assert.throws(() => s.transactionSync(() => {
			sql.run(`UPDATE t SET n = n - 1 WHERE k = 1`);
			throw new Error("inner");
		}), /inner/);
		return sql.number(`SELECT n FROM t`);
	});
	assert.equal(kept, 4);
	assert.equal(sql.number(`SELECT n FROM t`), 4);
	s.close();
});

/** A shard's ledger over a fresh database, as the shard builds it. */
function ledger(shard, allocation, shards = 2) {
	const s = storage();
	const l = new m.Ledger(new m.Sql(s.sql), (fn) => s.transactionSync(fn));
	l.init({ dropId: "d", shard, shards, allocation, maxPerFan: 4, holdSeconds: 60, priceCents: 1000, currency: "usd" });
	return l;
}
const T = 1_800_000_000_000;
const hold = (l, fanId, quantity, key, now = T) => l.holds.hold({ fanId, quantity, key, request: JSON.stringify({ quantity }), now, notAfter: now + 600_000 });

test("the ledger on it: a hold, its replay, the per-fan limit, a short shard, release and expiry", () => {
	const l = ledger(0, 5);
	const first = hold(l, "fan-a", 3, "k1");
	assert.equal(first.kind, "answered");
	assert.ok(first.outcome.ok);
	assert.match(first.outcome.value.holdId, /^h_0_/);
	const again = hold(l, "fan-a", 3, "k1");
	assert.equal(again.outcome.replayed, true);
	assert.equal(again.outcome.value.holdId, first.outcome.value.holdId);
	const over = hold(l, "fan-a", 2, "k2");
	assert.equal(over.outcome.ok, false);
	assert.equal(over.outcome.code, "limit_exceeded");
	assert.deepEqual(hold(l, "fan-b", 4, "k3"), { kind: "short", missing: 2, remaining: 2 });
	assert.deepEqual(l.counts(), { remaining: 2, held: 3, sold: 0, buyers: 0, given: 0, received: 0, restocked: 0 });
	assert.deepEqual(l.holds.release({ holdId: first.outcome.value.holdId, fanId: "fan-a", now: T + 1 }), { ok: true, value: { released: true } });
	assert.deepEqual(l.holds.release({ holdId: first.outcome.value.holdId, fanId: "fan-a", now: T + 2 }), { ok: true, value: { released: false } });
	assert.equal(l.counts().remaining, 5);
	assert.ok(hold(l, "fan-b", 2, "k4").outcome.ok);
	assert.equal(l.holds.expireDue(T + 59_000), 0);
	assert.ok(l.holds.expireDue(T + 60_000) > 0);
	assert.deepEqual(l.counts(), { remaining: 5, held: 0, sold: 0, buyers: 0, given: 0, received: 0, restocked: 0 });
});

test("the ledger on it: a transfer between two shards' databases, once per id, and the sum each side counts unchanged", () => {
	const giver = ledger(0, 10);
	const taker = ledger(1, 1);
	const id = taker.transfers.openTransfer(0, 4, T);
	assert.deepEqual(taker.transfers.pendingTransfers().map((t) => t.transfer_id), [id]);
	const amount = giver.transfers.give({ transferId: id, toShard: 1, amount: 4, acks: [], now: T });
	assert.equal(amount, 4);
	// A repeat of the ask answers the first amount and takes nothing more.
	assert.equal(giver.transfers.give({ transferId: id, toShard: 1, amount: 4, acks: [], now: T + 5 }), 4);
	taker.transfers.credit(id, amount);
	taker.transfers.credit(id, amount);
	assert.deepEqual(taker.transfers.pendingTransfers(), []);
	const g = giver.counts();
	const t = taker.counts();
	assert.deepEqual([g.remaining, g.given, t.remaining, t.received], [6, 4, 5, 4]);
	assert.equal(g.remaining + t.remaining, 11);
	assert.ok(hold(taker, "fan-c", 4, "k").outcome.ok);
});

// The pacer core's own cases (test/waiting-room/pacer-core.test.ts), on this database.
test("the pacer core on it: opens once, seals every slot up to the present one and lays the blocks out, the watermark says so", () => {
	const SLOT_MS = m.SLOT_MS;
	const T0 = Math.ceil((T + 86_400_000) / SLOT_MS) * SLOT_MS;
	const FIRST = m.slotOf(T0);
	const SEED = "0123456789abcdef0011223344556677";
	const body = m.validDropBody(T, { opensAt: new Date(T0).toISOString(), capacity: 100, lines: 2, shards: 1, admission: { batchSize: 2, intervalMs: 1_000, activeMultiple: 20 } });
	const at = new Date(T).toISOString();
	const drop = { ...m.parseCreateDrop(body, T), id: "pacer-core-drop", createdAt: at, updatedAt: at, promoterId: null };
	const s = storage();
	const core = new m.PacerCore(new m.Sql(s.sql), (fn) => s.transactionSync(fn), 600_000);
	core.commitSeed(SEED, "commitment");
	core.storeConfig(drop);
	assert.deepEqual(core.startTick(T0), { kind: "open", drop });
	core.opened(FIRST, [3, 2], T0);
	core.opened(FIRST + 4, [9, 9], T0 + 2_000);
	assert.equal(core.state().prequeue_size, 5);
	assert.equal(core.state().next_position, 6);
	const now = T0 + SLOT_MS + 10;
	const request = core.sealRequest(2, now);
	assert.deepEqual([request.sealedThrough, request.from, request.through], [FIRST - 1, FIRST, FIRST + 1]);
	const placed = core.placeSealed(request, [
		{ line: 1, slots: [{ slot: FIRST, count: 1 }] },
		{ line: 0, slots: [{ slot: FIRST, count: 2 }, { slot: FIRST + 1, count: 1 }] },
	]);
	assert.equal(placed, 4);
	assert.deepEqual(core.allPlacements(), [
		{ slot: FIRST, line: 0, start: 6, count: 2 },
		{ slot: FIRST, line: 1, start: 8, count: 1 },
		{ slot: FIRST + 1, line: 0, start: 9, count: 1 },
	]);
	const w = m.watermarkOf(core, drop, now);
	assert.equal(w.lastPosition, 9);
	assert.deepEqual(w.placements, [[FIRST, 0, 6], [FIRST, 1, 8], [FIRST + 1, 0, 9]]);
	assert.deepEqual(w.prequeue, [3, 2]);
	assert.equal(core.sealRequest(2, now), null);
	// A batch once the shards' totals are in: at most the configured two, and the watermark moves.
	core.recordTotals(drop, { remaining: 100, held: 0, sold: 0, buyers: 0 }, core.reopens, now);
	const admitted = core.admitIfDue(drop, core.totals(drop), now);
	assert.equal(admitted, 2);
	assert.equal(m.watermarkOf(core, drop, now).admittedThrough, 2);
});

test("reads served from the cache read as SQLite would: a write, a rolled-back transaction or a changed row all seen at once, and rows handed out are copies", () => {
	const s = storage();
	const sql = new m.Sql(s.sql);
	sql.run(`CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))`);
	sql.run(`INSERT INTO t (k, n) VALUES (1, 5)`);
	const v0 = s.version;
	assert.equal(sql.number(`SELECT n FROM t WHERE k = ?`, 1), 5);
	assert.equal(sql.number(`SELECT n FROM t WHERE k = ?`, 1), 5);
	assert.equal(s.version, v0, "reads leave the version alone");
	// A caller that changes a row it was given changes nothing the next reader sees.
	sql.first(`SELECT n FROM t WHERE k = ?`, 1).n = 99;
	assert.equal(sql.number(`SELECT n FROM t WHERE k = ?`, 1), 5);
	// A binding's type is part of the key: 1 and "1" are two reads.
	assert.equal(sql.first(`SELECT typeof(?) AS t`, 1).t, "integer");
	assert.equal(sql.first(`SELECT typeof(?) AS t`, "1").t, "text");
	sql.run(`UPDATE t SET n = 4 WHERE k = 1`);
	assert.ok(s.version > v0);
	assert.equal(sql.number(`SELECT n FROM t WHERE k = ?`, 1), 4);
	const v1 = s.version;
	assert.throws(() =>
		s.transactionSync(() => {
			sql.run(`UPDATE t SET n = 3 WHERE k = 1`);
			assert.equal(sql.number(`SELECT n FROM t WHERE k = ?`, 1), 3);
			sql.run(`UPDATE t SET n = -1 WHERE k = 1`);
		}),
	);
	assert.equal(sql.number(`SELECT n FROM t WHERE k = ?`, 1), 4, "the rollback is seen, not the cached 3");
	assert.ok(s.version > v1);
	s.close();
});
