// What the simulator does to run faster must not change what it checks: the stock sums
// SQLite keeps by trigger (sim/shard.ts keepStockSums) equal the ledger's own sums after
// every kind of write, a rolled-back one included, and after every request of a run with
// every fault on; statements stepped and read through SQLite's C functions (sim/sqlite.ts)
// give what sql.js's own methods give. Runs under Node's test runner.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { loadSimulator, loadSqlJs, loadTypeScript } from "../sim/bundle.mjs";

let m;
let sqlJs;
let sim;
before(async () => {
	[m, sqlJs, sim] = await Promise.all([
		loadTypeScript({
			contents: `
				export { sqliteStorage } from "./sim/sqlite";
				export { keepStockSums } from "./sim/shard";
				export { Sql } from "./src/shared/sql";
				export { Ledger } from "./src/inventory/ledger";
			`,
		}),
		loadSqlJs(),
		loadSimulator(),
	]);
});

/** The sums as the ledger's `counts` takes them, asked of SQLite afresh. */
const SUMMED = `SELECT
	(SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE state = 'active' AND ticket_type IS NULL) AS held,
	(SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE ticket_type IS NULL) AS ordered,
	(SELECT COALESCE(SUM(quantity), 0) FROM restocks) AS restocked`;
const KEPT = `SELECT held, ordered, restocked FROM sim_stock_sums`;

test("the stock sums kept by trigger equal the ledger's own sums after holds, releases, expiries, orders, restocks, deletes and a rollback", () => {
	const s = m.sqliteStorage(sqlJs);
	const sql = new m.Sql(s.sql);
	const l = new m.Ledger(sql, (fn) => s.transactionSync(fn));
	l.init({ dropId: "d", shard: 0, shards: 1, allocation: 50, maxPerFan: 4, holdSeconds: 60, priceCents: 1000, currency: "usd" });
	const T = 1_800_000_000_000;
	const hold = (fanId, quantity) => l.holds.hold({ fanId, quantity, key: `${fanId}:${quantity}`, request: JSON.stringify({ quantity }), now: T, notAfter: T + 600_000 });
	// Rows already there are summed when the triggers are made.
	assert.ok(hold("fan-early", 2).outcome.ok);
	m.keepStockSums(sql);
	const same = (step) => assert.deepEqual(sql.first(KEPT), sql.first(SUMMED), step);
	same("made over a hold");
	assert.deepEqual(sql.first(KEPT), { held: 2, ordered: 0, restocked: 0 });
	const a = hold("fan-a", 3).outcome.value;
	const b = hold("fan-b", 4).outcome.value;
	hold("fan-c", 1);
	same("holds");
	l.holds.release({ holdId: a.holdId, fanId: "fan-a", now: T + 1 });
	same("a release");
	sql.run(`INSERT INTO orders (order_id, hold_id, fan_id, quantity, tickets, unit_price_cents, total_cents, currency, payment_id, created_at) VALUES ('o1', ?, 'fan-b', 4, '[]', 1000, 4000, 'usd', 'p1', ?)`, b.holdId, T);
	sql.run(`UPDATE holds SET state = 'purchased', order_id = 'o1' WHERE hold_id = ?`, b.holdId);
	same("an order");
	sql.run(`INSERT INTO orders (order_id, hold_id, fan_id, quantity, tickets, unit_price_cents, total_cents, currency, payment_id, created_at, ticket_type) VALUES ('o2', 'h-named', 'fan-d', 2, '[]', 1000, 2000, 'usd', 'p2', ?, 'seated')`, T);
	same("an order of a named type, which the stock sums leave out");
	sql.run(`INSERT INTO restocks (refund_id, quantity, created_at) VALUES ('r1', 2, ?)`, T);
	sql.run(`UPDATE restocks SET quantity = 1 WHERE refund_id = 'r1'`);
	same("a restock");
	assert.ok(l.holds.expireDue(T + 60_000) > 0);
	same("expiries");
	assert.throws(() =>
		s.transactionSync(() => {
			hold("fan-e", 2);
			sql.run(`DELETE FROM orders WHERE order_id = 'o1'`);
			sql.run(`DELETE FROM restocks`);
			same("inside the transaction");
			throw new Error("undone");
		}),
	/undone/);
	same("after the rollback");
	sql.run(`DELETE FROM holds WHERE state IN ('released', 'expired')`);
	sql.run(`DELETE FROM orders WHERE order_id = 'o1'`);
	same("deletes");
	assert.deepEqual(sql.first(KEPT), { held: 0, ordered: 0, restocked: 1 });
	s.close();
});

test("in a run with every fault on, the counts the checks read equal the ledger's sums after every request a shard serves", async () => {
	let compared = 0;
	const result = await sim.simulate(sim.simConfig({ seed: 47, fans: 3000, tickets: 1500, shards: 3, faults: sim.parseFaults("all") }), sim.sqlJs, {
		shard: (shard, restarted) => {
			if (restarted) return;
			const read = shard.stockCounts.bind(shard);
			shard.stockCounts = () => {
				const kept = read();
				const summed = shard.storage.sql.exec(SUMMED).one();
				assert.deepEqual([kept.held, kept.sold + kept.restocked, kept.restocked], [summed.held, summed.ordered, summed.restocked], `${shard.name} at a check`);
				compared++;
				return kept;
			};
		},
	});
	const text = result.lines.join("\n");
	assert.match(text, /sold 1500 of 1500/);
	assert.match(text, /shard restarted mid-request [1-9]/);
	assert.ok(compared > 1000, `${compared} checks compared`);
});

test("a statement stepped through SQLite's C functions reads what sql.js's own methods read: integers, doubles, text with non-ASCII and NUL, NULL, bytes", () => {
	const s = m.sqliteStorage(sqlJs);
	const sql = new m.Sql(s.sql);
	sql.run(`CREATE TABLE t (k INTEGER PRIMARY KEY, i INTEGER, d REAL, v TEXT, b BLOB)`);
	const text = "Zoë 🎟 a\u0000b";
	sql.run(`INSERT INTO t VALUES (?, ?, ?, ?, ?)`, 1, 2 ** 40, 1.5, text, new Uint8Array([0, 7, 255]).buffer);
	sql.run(`INSERT INTO t VALUES (?, ?, ?, ?, ?)`, 2, -3, null, "", null);
	const ours = sql.all(`SELECT k, i, d, v, b FROM t ORDER BY k`);
	const db = new sqlJs.Database();
	db.run(`CREATE TABLE t (k INTEGER PRIMARY KEY, i INTEGER, d REAL, v TEXT, b BLOB)`);
	db.run(`INSERT INTO t VALUES (?, ?, ?, ?, ?)`, [1, 2 ** 40, 1.5, text, new Uint8Array([0, 7, 255])]);
	db.run(`INSERT INTO t VALUES (?, ?, ?, ?, ?)`, [2, -3, null, "", null]);
	const statement = db.prepare(`SELECT k, i, d, v, b FROM t ORDER BY k`);
	const theirs = [];
	while (statement.step()) theirs.push(statement.getAsObject());
	statement.free();
	db.close();
	assert.equal(ours.length, 2);
	for (let r = 0; r < 2; r++) {
		for (const column of ["k", "i", "d", "v"]) assert.deepEqual(ours[r][column], theirs[r][column], `row ${r} ${column}`);
	}
	assert.equal(ours[0].v, text);
	assert.deepEqual([...new Uint8Array(ours[0].b)], [...theirs[0].b]);
	assert.equal(ours[1].b, null);
	assert.throws(() => sql.run(`INSERT INTO t (k) VALUES (1)`), /UNIQUE constraint failed/);
	// After a failure the statement runs again as new.
	assert.equal(sql.run(`INSERT INTO t (k) VALUES (?)`, 3), 1);
	s.close();
});

test("a read that stops being cached (it nearly never hit) still reads what SQLite holds, before and after writes", () => {
	const s = m.sqliteStorage(sqlJs);
	const sql = new m.Sql(s.sql);
	sql.run(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`);
	for (let k = 0; k < 400; k++) sql.run(`INSERT INTO t (k, v) VALUES (?, ?)`, k, `v${k}`);
	// Each key asked once: a miss every time, so past its trial the read is no longer cached.
	for (let k = 0; k < 400; k++) assert.equal(sql.first(`SELECT v FROM t WHERE k = ?`, k).v, `v${k}`);
	assert.equal(sql.first(`SELECT v FROM t WHERE k = ?`, 7).v, "v7");
	sql.run(`UPDATE t SET v = 'changed' WHERE k = 7`);
	assert.equal(sql.first(`SELECT v FROM t WHERE k = ?`, 7).v, "changed");
	assert.throws(() => s.transactionSync(() => {
		sql.run(`UPDATE t SET v = 'undone' WHERE k = 7`);
		assert.equal(sql.first(`SELECT v FROM t WHERE k = ?`, 7).v, "undone");
		throw new Error("rolled back");
	}), /rolled back/);
	assert.equal(sql.first(`SELECT v FROM t WHERE k = ?`, 7).v, "changed");
	s.close();
});

test("text bound through the scratch buffer (ASCII) or sql.js's path (any other) reaches SQLite byte for byte, short and long; rows made by a statement's row maker read as objects made a column at a time", () => {
	const s = m.sqliteStorage(sqlJs);
	const sql = new m.Sql(s.sql);
	sql.run(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`);
	// "" is the empty text, not NULL.
	const texts = ["", "a", "x".repeat(255), "y".repeat(5000), "Zoë", "é".repeat(3000), "🎟 a\u0000b", "\uD800 lone", "plain again", `{"json":"${"z".repeat(300)}"}`];
	texts.forEach((v, k) => sql.run(`INSERT INTO t (k, v) VALUES (?, ?)`, k, v));
	texts.forEach((v, k) => {
		const row = sql.first(`SELECT v, hex(v) AS bytes FROM t WHERE k = ?`, k);
		if (!v.includes("\uD800")) {
			assert.equal(row.v, v, `text ${k} read back`);
			assert.equal(row.bytes, Buffer.from(v, "utf8").toString("hex").toUpperCase(), `text ${k}'s bytes`);
		}
	});
	// A lone surrogate takes sql.js's own path, as before: the same bytes as sql.js binds.
	const db = new sqlJs.Database();
	const [[theirs]] = db.exec(`SELECT hex(?)`, ["\uD800 lone"])[0].values;
	db.close();
	assert.equal(sql.first(`SELECT hex(v) AS h FROM t WHERE k = 7`).h, theirs);
	// Columns of the same name: the later value, in the first's place, as assigning them in turn gives.
	const same = sql.first(`SELECT 1 AS a, 2 AS b, 3 AS a`);
	assert.deepEqual(Object.entries(same), [["a", 3], ["b", 2]]);
	const odd = sql.first(`SELECT 1 AS "__proto__", 2 AS "with ""quotes""", 3 AS "0"`);
	assert.equal(odd['with "quotes"'], 2);
	assert.equal(odd["0"], 3);
	// Cached rows are made afresh for each ask, whatever the first asker did with theirs.
	sql.run(`CREATE TABLE u (id INTEGER PRIMARY KEY, a TEXT, b REAL)`);
	sql.run(`INSERT INTO u VALUES (1, 'x', 1.5)`);
	const first = sql.first(`SELECT * FROM u WHERE id = 1`);
	first.a = "changed";
	delete first.b;
	assert.deepEqual(sql.first(`SELECT * FROM u WHERE id = 1`), { id: 1, a: "x", b: 1.5 });
	s.close();
});
