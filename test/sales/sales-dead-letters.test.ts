// Sales whose Queue message used up the consumer's retries: the dead-letter
// queue's consumer has their shard send them again, once D1 answers, and D1
// ends with each exactly once, however often the dead letter comes back.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { SaleMessage, SalesMessage } from "../../src/contract/sale-message";
import { DEAD_SALES_QUEUE, deadLetterRetryDelay } from "../../src/sales/dead-letters";
import { audit } from "../support/audit";
import { createDrop } from "../support/drops";
import { type Delivery, buy, capturingQueue, envWithD1Down, ordersInD1, outbox, restoreShardSales, runQueueBatch, saleMessage, setShardSales, ticketsInD1, waitForOrders } from "../support/sales";

/** One batch through the Worker's queue handler (which picks the consumer by queue name): acks, retries and each retry's delay. */
async function deliver(queue: string, messages: Delivery[], bindings: Env = env) {
	const result = await runQueueBatch(queue, messages, (batch) => worker.queue(batch, bindings));
	return { acked: [...result.explicitAcks].sort(), retried: result.retryMessages.map((r: { msgId: string }) => r.msgId).sort(), delays: result.delays };
}

/**
 * A bought sale whose message the sales consumer could not store: the shard sent it (the
 * row is marked sent), and D1 failed on every try up to max_retries (10 in wrangler.toml).
 */
async function deadLetteredSale(dropId: string, fanId: string, quantity = 2) {
	const stuck = capturingQueue();
	await setShardSales(dropId, 0, stuck.queue);
	const order = await buy(dropId, fanId, quantity);
	await restoreShardSales(dropId, 0);
	expect(stuck.bodies).toHaveLength(1);
	const body = stuck.bodies[0] as SalesMessage;
	for (let attempt = 1; attempt <= 11; attempt++) {
		const tried = await deliver("ticket-sales", [{ id: `msg-${fanId}`, attempts: attempt, body }], envWithD1Down());
		expect(tried).toMatchObject({ acked: [], retried: [`msg-${fanId}`] });
	}
	const [row] = await outbox(dropId);
	expect(row).toMatchObject({ order_id: order.orderId });
	expect(row!.sent_at).not.toBeNull();
	return { order, body };
}

describe("dead-lettered sales", () => {
	it("a sale whose message dead-lettered while D1 was down is sent again and reaches D1 once D1 is back", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		const { order, body } = await deadLetteredSale(drop.id, "fan-dead-1");
		// The bug this fixes: sent, dead-lettered, and nothing would ever send it again.
		expect(await ordersInD1(drop.id)).toHaveLength(0);
		expect(await audit(drop.id, 0)).toMatchObject({ lost: 1, ok: false });
		const sentBefore = (await outbox(drop.id))[0]!;

		// D1 still down: the dead letter waits, with a delay, and the shard is not asked yet.
		const early = await deliver(DEAD_SALES_QUEUE, [{ id: "dead-1", attempts: 1, body }], envWithD1Down());
		expect(early).toMatchObject({ acked: [], retried: ["dead-1"] });
		expect(early.delays.get("dead-1")).toBe(deadLetterRetryDelay(1));
		expect((await outbox(drop.id))[0]).toEqual(sentBefore);

		// D1 is back: the shard sends it again through the real queue, and the consumer stores it.
		const back = await deliver(DEAD_SALES_QUEUE, [{ id: "dead-1", attempts: 2, body }]);
		expect(back).toMatchObject({ acked: ["dead-1"], retried: [] });
		const rows = await waitForOrders(drop.id, 1);
		expect(rows.map((r) => r.order_id)).toEqual([order.orderId]);
		expect(await ticketsInD1(order.orderId)).toEqual(order.tickets);
		const resent = (await outbox(drop.id))[0]!;
		expect(resent.sent_at).not.toBeNull();
		expect(resent.attempts).toBe(sentBefore.attempts + 1);
		expect(await audit(drop.id, 0)).toMatchObject({ ok: true, lost: 0, phantom: 0, recorded: 1 });

		// The same dead letter again (as a pack and as its single sale, twice in one batch): nothing to do.
		const single = body.sales[0] as SaleMessage;
		const again = await deliver(DEAD_SALES_QUEUE, [
			{ id: "dead-1", attempts: 3, body },
			{ id: "dead-1-copy", attempts: 1, body },
			{ id: "dead-1-single", attempts: 1, body: single },
		]);
		expect(again).toMatchObject({ acked: ["dead-1", "dead-1-copy", "dead-1-single"].sort(), retried: [] });
		expect((await outbox(drop.id))[0]).toEqual(resent);
		expect(await ordersInD1(drop.id)).toHaveLength(1);
		expect(await ticketsInD1(order.orderId)).toEqual(order.tickets);
	});

	it("a dead letter delivered again before its sale is stored makes one row", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		const { order, body } = await deadLetteredSale(drop.id, "fan-dead-2", 1);
		const copies = [1, 2, 3].map((n) => ({ id: `dead-2-${n}`, attempts: 1, body }));
		// Two batches back to back: the second may come before the first re-send is stored.
		const [first, second] = await Promise.all([deliver(DEAD_SALES_QUEUE, copies.slice(0, 2)), deliver(DEAD_SALES_QUEUE, copies.slice(2))]);
		expect(first.acked).toEqual(["dead-2-1", "dead-2-2"]);
		expect(second.acked).toEqual(["dead-2-3"]);
		expect((await waitForOrders(drop.id, 1)).map((r) => r.order_id)).toEqual([order.orderId]);
		// Any second send is consumed by now too: a later sale's message comes after it.
		await buy(drop.id, "fan-dead-2-later", 1);
		await waitForOrders(drop.id, 2);
		expect((await ordersInD1(drop.id)).filter((r) => r.order_id === order.orderId)).toHaveLength(1);
		expect(await ticketsInD1(order.orderId)).toEqual(order.tickets);
	});

	it("a dead letter sent to the real dead-letter queue is consumed there and its sale reaches D1", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		const { order, body } = await deadLetteredSale(drop.id, "fan-dead-3", 1);
		// As the platform does after the last retry: the message goes to ticket-sales-dlq, whose consumer is this Worker.
		await env.SALES_DLQ.send(body, { contentType: "json" });
		const rows = await waitForOrders(drop.id, 1, 30_000);
		expect(rows.map((r) => r.order_id)).toEqual([order.orderId]);
		expect(await ticketsInD1(order.orderId)).toEqual(order.tickets);
	});

	it("a shard that does not answer keeps the dead letter, with a delay that grows", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		const { order, body } = await deadLetteredSale(drop.id, "fan-dead-4", 1);
		const shardDown = {
			...env,
			INVENTORY: {
				getByName: () => ({
					resendSales: async () => {
						throw new Error("shard unavailable (test)");
					},
				}),
			},
		} as unknown as Env;
		const first = await deliver(DEAD_SALES_QUEUE, [{ id: "dead-4", attempts: 1, body }], shardDown);
		const later = await deliver(DEAD_SALES_QUEUE, [{ id: "dead-4", attempts: 5, body }], shardDown);
		expect(first.retried).toEqual(["dead-4"]);
		expect(later.retried).toEqual(["dead-4"]);
		expect(later.delays.get("dead-4")).toBeGreaterThan(first.delays.get("dead-4")!);
		expect(await ordersInD1(drop.id)).toHaveLength(0);

		const answered = await deliver(DEAD_SALES_QUEUE, [{ id: "dead-4", attempts: 6, body }]);
		expect(answered.acked).toEqual(["dead-4"]);
		expect((await waitForOrders(drop.id, 1)).map((r) => r.order_id)).toEqual([order.orderId]);
	});

	it("malformed dead letters and sales no shard sold are logged and acked, never retried or stored", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		const forged = saleMessage({ dropId: drop.id, shard: 0, quantity: 1 });
		const result = await deliver(DEAD_SALES_QUEUE, [
			// What the sales consumer itself sends there for a message it cannot read.
			{ id: "bad-envelope", attempts: 1, body: { reason: "malformed", id: "msg-x", body: "not a sale" } },
			{ id: "bad-string", attempts: 1, body: "not a sale" },
			{ id: "bad-empty-pack", attempts: 1, body: { v: 2, sales: [] } },
			{ id: "never-sold", attempts: 1, body: forged },
		]);
		expect(result).toMatchObject({ acked: ["bad-empty-pack", "bad-envelope", "bad-string", "never-sold"], retried: [] });
		expect(await ordersInD1(drop.id)).toHaveLength(0);
		expect(await outbox(drop.id)).toEqual([]);
	});

	it("waits 1, 2, 4, 8 minutes, then 10 at most", () => {
		expect([1, 2, 3, 4, 5, 6, 100].map(deadLetterRetryDelay)).toEqual([60, 120, 240, 480, 600, 600, 600]);
	});
});
