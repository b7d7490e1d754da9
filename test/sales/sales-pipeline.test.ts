// The whole sales path, through the real Queue and consumer in workerd: a
// purchase answered 201 ends up in D1 exactly once, also when the send fails
// or is repeated.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { homeShard } from "../../src/inventory/drop-shards";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { audit } from "../support/audit";
import { createDrop, getDrop } from "../support/drops";
import { admittedFans, hold, join, newHold, purchase, status } from "../support/fans";
import { admitBatch } from "../support/room";
import { buy, failingQueue, ordersInD1, outbox, restoreShardSales, setShardSales, ticketsInD1, waitForOrders } from "../support/sales";
import { shardStub } from "../support/shards";
import { waitUntil } from "../support/wait";

describe("sales pipeline", () => {
	it("carries every purchase from the shards to D1 through the real queue", async () => {
		const drop = await createDrop({ capacity: 40, shards: 3, maxPerFan: 4 });
		const bought = [];
		for (let i = 0; i < 6; i++) bought.push(await buy(drop.id, `fan-path-${i}`, (i % 3) + 1));

		const rows = await waitForOrders(drop.id, bought.length);
		expect(rows.map((r) => r.order_id).sort()).toEqual(bought.map((b) => b.orderId).sort());
		for (const b of bought) {
			const row = rows.find((r) => r.order_id === b.orderId)!;
			expect(row.fan_id).toBe(b.fanId);
			expect(row.quantity).toBe(b.quantity);
			expect(await ticketsInD1(b.orderId)).toEqual(b.tickets);
		}
		// Every outbox row was sent and marked so.
		for (let k = 0; k < drop.shards; k++) for (const row of await outbox(drop.id, k)) expect(row.sent_at).not.toBeNull();

		const view = await getDrop(drop.id);
		expect(view.stats.recorded).toBe(bought.length);
		expect(view.stats.sold).toBe(bought.reduce((n, b) => n + b.quantity, 0));
		expect((await audit(drop.id, 0)).ok).toBe(true);
	});

	it("packs the sales that wait while a send is on its way into few messages, each sale in D1 once", async () => {
		const drop = await createDrop({ capacity: 60, shards: 1, maxPerFan: 1, admission: { batchSize: 1000, intervalMs: 250, activeMultiple: 20 } });
		const fans = Array.from({ length: 30 }, (_, i) => `packed-${i}`);
		const tokens = await admittedFans(drop.id, fans);
		const holds = await Promise.all(fans.map(async (f) => (await newHold(drop.id, tokens.get(f)!, 1)).holdId));
		// The first send waits until every purchase has stored its sale; the ones after it carry the rest.
		const sent: { sales: number }[] = [];
		let release!: () => void;
		const released = new Promise<void>((resolve) => (release = resolve));
		const slowQueue = {
			sendBatch: async (messages: Iterable<MessageSendRequest<{ v: number; sales?: unknown[] }>>) => {
				const list = [...messages];
				if (sent.length === 0) await released;
				for (const m of list) sent.push({ sales: m.body.sales?.length ?? 1 });
				await env.SALES.sendBatch(list);
			},
		} as unknown as Queue;
		await setShardSales(drop.id, 0, slowQueue);
		const answers = fans.map((f, i) => purchase(drop.id, tokens.get(f)!, holds[i]!));
		await waitUntil(async () => (await outbox(drop.id, 0)).length === 30, 20_000, "every sale to be in the outbox");
		release();
		expect((await Promise.all(answers)).map((r) => r.status)).toEqual(fans.map(() => 201));
		await restoreShardSales(drop.id, 0);
		expect(sent.reduce((n, m) => n + m.sales, 0)).toBe(30);
		expect(sent.length).toBeLessThan(30);
		expect(Math.max(...sent.map((m) => m.sales))).toBeGreaterThan(1);
		expect((await waitForOrders(drop.id, 30)).length).toBe(30);
		expect((await audit(drop.id, 0)).ok).toBe(true);
	});

	it("records concurrent purchases on several shards exactly once each", async () => {
		const fans = Array.from({ length: 40 }, (_, i) => `fan-rush-${i}`);
		const drop = await createDrop({ capacity: 40, shards: 4, maxPerFan: 1 });
		const joined = await Promise.all(fans.map((f) => join(drop.id, f)));
		await admitBatch(drop.id);
		const tokens = await Promise.all(joined.map(async (j) => (await status(drop.id, j.queueToken)).accessToken as string));
		const orders = await Promise.all(
			tokens.map(async (token) => {
				const h = await hold(drop.id, token, 1);
				expect(h.status).toBe(201);
				const { holdId } = (await h.json()) as { holdId: string };
				const p = await purchase(drop.id, token, holdId);
				expect(p.status).toBe(201);
				return ((await p.json()) as { orderId: string }).orderId;
			}),
		);
		expect(new Set(orders).size).toBe(40);

		const rows = await waitForOrders(drop.id, 40);
		expect(rows.map((r) => r.order_id).sort()).toEqual([...orders].sort());
		const a = await audit(drop.id, 0);
		expect(a).toMatchObject({ ok: true, lost: 0, phantom: 0, outboxPending: 0, recorded: 40 });
	});

	it("stores a sale at the edge of every limit, rather than dead-lettering it", async () => {
		// Top price, the most tickets a fan may buy, the longest fan id, on the last of 64 shards:
		// the consumer must accept every message a shard can make, or a confirmed sale is lost.
		const drop = await createDrop({ capacity: 64 * 20, shards: 64, maxPerFan: 20, priceCents: 100_000_000, currency: "EUR" });
		let fanId = "";
		for (let i = 0; fanId === "" || homeShard(fanId, 64) !== 63; i++) fanId = `+${String(i).padStart(127, "x")}`;
		expect(fanId).toHaveLength(128);
		const order = await buy(drop.id, fanId, 20);
		const rows = await waitForOrders(drop.id, 1);
		expect(rows).toHaveLength(1);
		expect(rows[0]).toMatchObject({ order_id: order.orderId, shard: 63, fan_id: fanId, quantity: 20, total_cents: 2_000_000_000 });
		expect(await ticketsInD1(order.orderId)).toEqual(order.tickets);
	});

	it("a send that fails is re-sent by the alarm and makes one row", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		await setShardSales(drop.id, 0, failingQueue);

		// The sale is confirmed even though the queue is down: it is safe in the outbox.
		const order = await buy(drop.id, "fan-queue-down", 2);
		let rows = await outbox(drop.id);
		expect(rows).toHaveLength(1);
		expect(rows[0]).toMatchObject({ order_id: order.orderId, sent_at: null });
		expect(rows[0]!.attempts).toBeGreaterThanOrEqual(1);
		// Nothing was queued, so nothing can be in D1; the audit calls it pending, not lost.
		expect(await ordersInD1(drop.id)).toHaveLength(0);
		expect(await audit(drop.id, 0)).toMatchObject({ outboxPending: 1, inTransit: 1, lost: 0, ok: true });

		// An alarm while the queue is still down changes nothing but the attempt count, and comes back.
		const stub = shardStub(drop.id, 0);
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		rows = await outbox(drop.id);
		expect(rows[0]!.sent_at).toBeNull();
		const attemptsBefore = rows[0]!.attempts;
		expect(attemptsBefore).toBeGreaterThanOrEqual(2);
		expect(await runInDurableObject(stub, (_s: InventoryShard, state) => state.storage.getAlarm())).not.toBeNull();

		// The queue is back: the next alarm sends it.
		await restoreShardSales(drop.id, 0);
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		rows = await outbox(drop.id);
		expect(rows[0]!.sent_at).not.toBeNull();

		const stored = await waitForOrders(drop.id, 1);
		expect(stored.map((r) => r.order_id)).toEqual([order.orderId]);
		expect(await ticketsInD1(order.orderId)).toEqual(order.tickets);
		expect(await audit(drop.id, 0)).toMatchObject({ outboxPending: 0, lost: 0, recorded: 1, ok: true });
	});

	it("a sale sent twice (sent, then re-sent) is still one row", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		const first = await buy(drop.id, "fan-twice-1", 1);
		expect((await waitForOrders(drop.id, 1)).map((r) => r.order_id)).toEqual([first.orderId]);

		// As if the shard crashed after sendBatch but before it marked the row sent.
		await runInDurableObject(shardStub(drop.id, 0), (_s: InventoryShard, state) => {
			state.storage.sql.exec(`UPDATE outbox SET sent_at = NULL`);
		});
		// The next purchase flushes the outbox oldest first: the repeat and the new sale go in one sendBatch,
		// so once the new sale is in D1 the repeat has been consumed too.
		const second = await buy(drop.id, "fan-twice-2", 1);
		const rows = await waitForOrders(drop.id, 2);
		expect(rows.map((r) => r.order_id).sort()).toEqual([first.orderId, second.orderId].sort());
		expect(await ticketsInD1(first.orderId)).toEqual(first.tickets);
		for (const row of await outbox(drop.id)) expect(row.sent_at).not.toBeNull();
		expect(await ordersInD1(drop.id)).toHaveLength(2);
	});
});
