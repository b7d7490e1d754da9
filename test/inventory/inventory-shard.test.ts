// The InventoryShard object on its own: set-up, the transaction that makes a
// hold, and stock moving between shards when a transfer is cut short.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { inventoryTotals } from "../../src/inventory/drop-shards";
import { InventoryShard } from "../../src/inventory/inventory-shard";
import { KEEP_MS } from "../../src/inventory/ledger-store";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop, getDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { admittedFans, hold, join, newHold, purchase, status } from "../support/fans";
import { admitBatch } from "../support/room";
import { waitUntil } from "../support/wait";
import { fansHomedOn, moveShardClock, recordIncoming, rowCount, shardStub, UNACKED } from "../support/shards";

describe("shard set-up", () => {
	it("creating a drop spreads its capacity over its shards, with a default that grows with capacity", async () => {
		const drop = await createDrop({ capacity: 10, shards: 3 });
		const stats = await Promise.all([0, 1, 2].map((k) => shardStub(drop.id, k).stats()));
		expect(stats.map((s) => s.allocation)).toEqual([4, 3, 3]);
		expect(stats.map((s) => s.remaining)).toEqual([4, 3, 3]);

		const big = await createDrop({ capacity: 12_000, shards: undefined });
		expect(big.shards).toBeGreaterThan(1);
		const totals = await inventoryTotals(env, big.id, big.shards);
		expect(totals).toEqual({ remaining: 12_000, held: 0, sold: 0, buyers: 0, perShard: [4_000, 4_000, 4_000], inFlight: 0 });
	});

	it("init is idempotent and refuses to turn a shard into another one", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		const shard = shardStub(drop.id, 0);
		const config = { dropId: drop.id, shard: 0, shards: 2, allocation: 5, maxPerFan: 4, holdSeconds: 60, priceCents: 0, currency: "USD" };
		const again = await shard.init(config);
		expect(again).toMatchObject({ allocation: 5, remaining: 5 });
		// Re-initialising never resets stock that has moved.
		const token = (await admittedFans(drop.id, fansHomedOn(0, 2, 1, "init")))!;
		const [fan] = [...token.keys()];
		expect((await hold(drop.id, token.get(fan!)!, 2)).status).toBe(201);
		expect(await shard.init({ ...config, allocation: 99 })).toMatchObject({ allocation: 5, remaining: 3, held: 2 });
		const refused = await runInDurableObject(shard, (instance: InventoryShard) => {
			try {
				instance.init({ ...config, shard: 1 });
				return null;
			} catch (err) {
				return (err as Error).message;
			}
		});
		expect(refused).toBe("shard identity mismatch");
	});

	it("the schema itself refuses negative stock", async () => {
		const drop = await createDrop({ capacity: 2, shards: 1 });
		const error = await runInDurableObject(shardStub(drop.id, 0), (_s, state) => {
			try {
				state.storage.sql.exec(`UPDATE meta SET remaining = remaining - 3 WHERE id = 1`);
				return null;
			} catch (err) {
				return String(err);
			}
		});
		expect(error).toMatch(/CHECK constraint/);
		expect((await shardStub(drop.id, 0).totals()).remaining).toBe(2);
	});
});

describe("stock transfers between shards", () => {
	it("a transfer id is given once: repeating it answers the first amount and moves nothing more", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		const giver = shardStub(drop.id, 1);
		// No sell-out yet: no line for returned tickets to pass on with the stock.
		expect(await giver.give({ transferId: "t_1_0_same", toShard: 0, amount: 3 })).toEqual({ amount: 3, free: 5, left: 2, returns: null });
		expect(await giver.give({ transferId: "t_1_0_same", toShard: 0, amount: 3 })).toEqual({ amount: 3, free: 5, left: 2, returns: null });
		expect((await giver.give({ transferId: "t_1_0_more", toShard: 0, amount: 9 })).amount).toBe(2);
		expect((await giver.give({ transferId: "t_1_0_none", toShard: 0, amount: 1 })).amount).toBe(0);
		// Every answer is on record, 0 included, waiting for the taker's ack; acked, none waits.
		expect(await rowCount(drop.id, 1, UNACKED)).toBe(3);
		expect((await giver.give({ transferId: "", toShard: 0, amount: 0, acks: ["t_1_0_same", "t_1_0_more", "t_1_0_none"] })).amount).toBe(0);
		expect(await rowCount(drop.id, 1, UNACKED)).toBe(0);
		expect(await giver.stats()).toMatchObject({ remaining: 0, given: 5, accountable: 0 });
	});

	it("a late copy of an ask that reaches the giver after its retry was credited and acked answers the first amount and takes nothing", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		const giver = shardStub(drop.id, 1);
		// The taker gave up on its first ask; the retry (same id) is answered, credited and acked...
		expect((await giver.give({ transferId: "t_1_0_late", toShard: 0, amount: 2 })).amount).toBe(2);
		expect((await giver.give({ transferId: "", toShard: 0, amount: 0, acks: ["t_1_0_late"] })).amount).toBe(0);
		// ...and the first ask arrives now: the same answer, no stock taken a second time.
		expect(await giver.give({ transferId: "t_1_0_late", toShard: 0, amount: 2 })).toMatchObject({ amount: 2, left: 3 });
		expect(await giver.stats()).toMatchObject({ remaining: 3, given: 2 });
		// The acked answer is kept a day, then the alarm's prune forgets it.
		expect(await rowCount(drop.id, 1, "transfers_out")).toBe(1);
		await moveShardClock(drop.id, 1, KEEP_MS - 60_000);
		await runDurableObjectAlarm(giver);
		expect(await rowCount(drop.id, 1, "transfers_out")).toBe(1);
		await moveShardClock(drop.id, 1, KEEP_MS + 1_000);
		expect(await runDurableObjectAlarm(giver)).toBe(true);
		await moveShardClock(drop.id, 1, 0);
		expect(await rowCount(drop.id, 1, "transfers_out")).toBe(0);
	});

	it("acks and outbox marks of any length fit SQLite's 100 bound variables (a 101st stopped every give from a busy peer)", async () => {
		// Seen in no-oversell's 500-hold race: over 100 unacked transfers, and each give from that
		// peer failed with "too many SQL variables", so the taker answered try_again for good.
		const drop = await createDrop({ capacity: 400, shards: 2 });
		const giver = shardStub(drop.id, 1);
		const ids = Array.from({ length: 150 }, (_, i) => `t_1_0_many_${i}`);
		for (const transferId of ids) expect((await giver.give({ transferId, toShard: 0, amount: 1 })).amount).toBe(1);
		expect(await rowCount(drop.id, 1, UNACKED)).toBe(150);
		expect((await giver.give({ transferId: "t_1_0_after", toShard: 0, amount: 1, acks: ids })).amount).toBe(1);
		expect(await rowCount(drop.id, 1, UNACKED)).toBe(1);
		// The outbox's marks take a whole page of order ids the same way.
		await runInDurableObject(shardStub(drop.id, 1), (shard: InventoryShard, state) => {
			const outbox = shard["ledger"].outbox;
			for (const [i, id] of ids.entries()) {
				state.storage.sql.exec(`INSERT INTO outbox (order_id, payload, created_at) VALUES (?, '{}', ?)`, `o_${id}`, i);
			}
			const orders = ids.map((id) => `o_${id}`);
			outbox.markSent(orders, 1_000);
			expect(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM outbox WHERE sent_at = 1000`).one().n).toBe(150);
			expect(outbox.markUnsent(orders, 1_000)).toBe(150);
		});
	});

	it("a transfer cut short after the giver decremented is stock in flight: counted, never lost, completed by the alarm", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2, maxPerFan: 4, admission: WIDE_OPEN });
		// Shard 0 asked shard 1 for 3 and restarted before it could credit them.
		await recordIncoming(drop.id, 0, "t_1_0_cut", 1, 3);
		expect((await shardStub(drop.id, 1).give({ transferId: "t_1_0_cut", toShard: 0, amount: 3 })).amount).toBe(3);

		let a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ remaining: 7, inFlight: 3 });
		// Live views count the stock in flight as remaining: it has not been sold.
		expect(await inventoryTotals(env, drop.id, 2)).toMatchObject({ remaining: 10, held: 0, sold: 0, buyers: 0 });
		const view = await getDrop(drop.id);
		expect(view.stats.remaining).toBe(10);

		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
		a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ remaining: 10, inFlight: 0 });
		expect(a.shards[0]).toMatchObject({ received: 3, transfersPending: 0 });
		// The alarm again: nothing more moves.
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
		expect((await audit(drop.id)).shards.map((s) => s.remaining)).toEqual([8, 2]);
	});

	it("a transfer the giver never heard of is completed by the taker's alarm", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		await recordIncoming(drop.id, 0, "t_1_0_lost", 1, 4);
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
		const a = await expectCleanAudit(drop.id);
		expect(a.shards.map((s) => s.remaining)).toEqual([9, 1]);
		expect(a.shards[1]!.given).toBe(4);
	});

	it("a hold on a dry shard takes its stuck incoming stock first, so it does not answer sold out", async () => {
		const drop = await createDrop({ capacity: 2, shards: 2, maxPerFan: 2, admission: WIDE_OPEN });
		const [fan] = fansHomedOn(0, 2, 1, "stuck");
		const token = (await admittedFans(drop.id, [fan!])).get(fan!)!;
		const first = await newHold(drop.id, token, 1);
		expect((await purchase(drop.id, token, first.holdId)).status).toBe(201);
		// Shard 1's last ticket left for shard 0, which restarted before crediting it: every shard reads 0.
		await recordIncoming(drop.id, 0, "t_1_0_stuck", 1, 1);
		await shardStub(drop.id, 1).give({ transferId: "t_1_0_stuck", toShard: 0, amount: 1 });
		expect((await audit(drop.id)).shards.map((s) => s.remaining)).toEqual([0, 0]);

		const res = await hold(drop.id, token, 1);
		expect(res.status).toBe(201);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ sold: 1, held: 1, remaining: 0, inFlight: 0 });
	});

	it("the waiting room does not call a drop sold out while its last stock is in flight", async () => {
		const drop = await createDrop({ capacity: 2, shards: 2, maxPerFan: 1, admission: { batchSize: 1, intervalMs: 250, activeMultiple: 20 } });
		const [buyer] = fansHomedOn(0, 2, 1, "first-buyer");
		const token = (await admittedFans(drop.id, [buyer!])).get(buyer!)!;
		const h = await newHold(drop.id, token, 1);
		expect((await purchase(drop.id, token, h.holdId)).status).toBe(201);
		await recordIncoming(drop.id, 0, "t_1_0_limbo", 1, 1);
		await shardStub(drop.id, 1).give({ transferId: "t_1_0_limbo", toShard: 0, amount: 1 });

		// Homed on the giver, so its hold asks shard 0, which has the stock on its way: never
		// "sold out". Shard 0's alarm finishes the cut transfer at once, and the hold waits the
		// moment that takes instead of answering "try again": the first answer is the ticket.
		const [lateFan] = fansHomedOn(1, 2, 1, "late-fan");
		const late = await join(drop.id, lateFan!);
		await admitBatch(drop.id);
		const s = await status(drop.id, late.queueToken);
		expect(s.status).toBe("admitted");
		const first = await hold(drop.id, s.accessToken as string, 1);
		expect(first.status).toBe(201);
		expect((await audit(drop.id)).totals).toMatchObject({ held: 1, sold: 1, remaining: 0, inFlight: 0 });
		await expectCleanAudit(drop.id);
	});

	it("a shard alarm with nothing to do changes nothing", async () => {
		const drop = await createDrop({ capacity: 4, shards: 2 });
		const before = await audit(drop.id);
		await runInDurableObject(shardStub(drop.id, 1), (instance: InventoryShard) => instance.alarm());
		expect(await runDurableObjectAlarm(shardStub(drop.id, 1))).toBe(false);
		expect((await audit(drop.id)).totals).toEqual(before.totals);
	});
});

describe("a transfer the taker finishes from two places at once", () => {
	it("is asked of the giver once: the giver gives once and the taker credits once (found by review)", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		await recordIncoming(drop.id, 0, "t_1_0_a", 1, 1);
		await recordIncoming(drop.id, 0, "t_1_0_b", 1, 1);
		const give = InventoryShard.prototype.give;
		let release!: () => void;
		const gate = new Promise<void>((resolve) => (release = resolve));
		let stalled = 0;
		vi.spyOn(InventoryShard.prototype, "give").mockImplementation((async function (this: InventoryShard, input: Parameters<InventoryShard["give"]>[0]) {
			if (input.transferId === "t_1_0_a") {
				stalled++;
				await gate;
			}
			return give.call(this, input);
		}) as unknown as InventoryShard["give"]);
		try {
			await runInDurableObject(shardStub(drop.id, 0), async (instance: InventoryShard) => {
				const finish = () => instance["transfers"].completePendingTransfers();
				const first = finish(); // lists a and b; waits on a
				await waitUntil(() => stalled > 0, 5_000, "the first pass to wait on transfer a");
				expect((await finish()).got).toBe(1); // a is running: this one does b
				release();
				expect((await first).got).toBe(1); // a only: b is no longer pending
			});
		} finally {
			vi.restoreAllMocks();
		}
		await runDurableObjectAlarm(shardStub(drop.id, 0));
		const [taker, giver] = await Promise.all([shardStub(drop.id, 0).stats(), shardStub(drop.id, 1).stats()]);
		expect(giver.given).toBe(2);
		expect(taker.received).toBe(2);
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ remaining: 10, inFlight: 0 });
	});
});
