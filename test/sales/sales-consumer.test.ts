// The Queue consumer on its own: what it acks, retries and dead-letters, and
// that D1 ends with exactly one row per order whatever the delivery history.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { randomId } from "../../src/shared/ids";
import type { SaleMessage } from "../../src/contract/sale-message";
import { consumeSales } from "../../src/sales/consumer";
import { type Delivery, envWithD1Down, ordersInD1, runQueueBatch, saleMessage, ticketsInD1 } from "../support/sales";

const QUEUE = "ticket-sales";

function delivery<T>(body: T, attempts = 1, id = randomId("msg_")): Delivery<T> & { timestamp: Date } {
	return { id, timestamp: new Date(), attempts, body };
}

/** Runs the consumer on one batch: the queue's view of the outcome and each retry's delay. */
const consume = (messages: Delivery[], bindings: Env = env) => runQueueBatch(QUEUE, messages, (batch) => consumeSales(batch, bindings));

const uniqueDrop = () => randomId("d_consumer_", 8);

/** An env that records what goes to the dead-letter queue (the real one's consumer takes it away). */
function envWithDlqSpy(fail = false): { env: Env; sent: unknown[] } {
	const sent: unknown[] = [];
	const dlq = {
		send: async (body: unknown) => {
			if (fail) throw new Error("dlq unavailable (test)");
			sent.push(body);
		},
		sendBatch: async (messages: Iterable<MessageSendRequest>) => {
			if (fail) throw new Error("dlq unavailable (test)");
			for (const m of messages) sent.push(m.body);
		},
	} as unknown as Queue;
	return { env: { ...env, SALES_DLQ: dlq }, sent };
}

describe("sales consumer", () => {
	it("stores a sale with its tickets and acks it", async () => {
		const sale = saleMessage({ dropId: uniqueDrop(), quantity: 3 });
		const msg = delivery(sale);
		const result = await consume([msg]);
		expect(result.explicitAcks).toEqual([msg.id]);
		expect(result.retryMessages).toEqual([]);
		const rows = await ordersInD1(sale.dropId);
		expect(rows.map((r) => [r.order_id, r.quantity, r.fan_id, r.total_cents])).toEqual([[sale.orderId, 3, sale.fanId, sale.totalCents]]);
		expect(await ticketsInD1(sale.orderId)).toEqual(sale.tickets);
	});

	it("a message delivered twice makes one row", async () => {
		const sale = saleMessage({ dropId: uniqueDrop() });
		const first = delivery(sale, 1, "msg-dup-1");
		const again = delivery(sale, 2, "msg-dup-1");
		expect((await consume([first])).explicitAcks).toEqual([first.id]);
		// At-least-once delivery: the same message comes back (e.g. the ack was lost).
		expect((await consume([again])).explicitAcks).toEqual([again.id]);
		// And the shard's alarm may re-send it as a new message with a new id.
		const resent = delivery(sale);
		expect((await consume([resent])).explicitAcks).toEqual([resent.id]);
		expect(await ordersInD1(sale.dropId)).toHaveLength(1);
		expect(await ticketsInD1(sale.orderId)).toEqual(sale.tickets);
	});

	it("the same sale twice in one batch makes one row and both are acked", async () => {
		const sale = saleMessage({ dropId: uniqueDrop() });
		const a = delivery(sale);
		const b = delivery(sale);
		const result = await consume([a, b]);
		expect([...result.explicitAcks].sort()).toEqual([a.id, b.id].sort());
		expect(await ordersInD1(sale.dropId)).toHaveLength(1);
		expect(await ticketsInD1(sale.orderId)).toHaveLength(sale.quantity);
	});

	it("a D1 failure retries the batch with a delay, and the retry makes one row", async () => {
		const dropId = uniqueDrop();
		const sales = [saleMessage({ dropId }), saleMessage({ dropId, fanId: "fan-other" })];
		const firstTry = sales.map((s) => delivery(s, 1));
		const failed = await consume(firstTry, envWithD1Down());
		expect(failed.explicitAcks).toEqual([]);
		expect(failed.retryMessages.map((r: { msgId: string }) => r.msgId).sort()).toEqual(firstTry.map((m) => m.id).sort());
		for (const m of firstTry) expect(failed.delays.get(m.id)).toBeGreaterThan(0);
		// Nothing half-written: the batch is one D1 transaction.
		expect(await ordersInD1(dropId)).toHaveLength(0);

		const secondTry = firstTry.map((m) => delivery(m.body, 2, m.id));
		const stored = await consume(secondTry);
		expect([...stored.explicitAcks].sort()).toEqual(secondTry.map((m) => m.id).sort());
		expect(stored.retryMessages).toEqual([]);
		expect((await ordersInD1(dropId)).map((r) => r.order_id).sort()).toEqual(sales.map((s) => s.orderId).sort());
	});

	it("backs off longer on later attempts", async () => {
		const first = delivery(saleMessage({ dropId: uniqueDrop() }), 1);
		const fourth = delivery(saleMessage({ dropId: uniqueDrop() }), 4);
		const early = await consume([first], envWithD1Down());
		const late = await consume([fourth], envWithD1Down());
		expect(late.delays.get(fourth.id)).toBeGreaterThan(early.delays.get(first.id)!);
	});

	it("a malformed message goes to the dead-letter queue and is acked, not retried", async () => {
		const dropId = uniqueDrop();
		const good = delivery(saleMessage({ dropId }));
		const notJson = delivery("this is not a sale");
		const missingField = delivery({ ...saleMessage({ dropId }), orderId: undefined });
		const wrongTickets = delivery({ ...saleMessage({ dropId, quantity: 2 }), tickets: ["ONLY-ONE"] });
		const spy = envWithDlqSpy();
		const result = await consume([good, notJson, missingField, wrongTickets], spy.env);

		expect([...result.explicitAcks].sort()).toEqual([good.id, notJson.id, missingField.id, wrongTickets.id].sort());
		expect(result.retryMessages).toEqual([]);
		expect(spy.sent).toHaveLength(3);
		const dead = spy.sent as { reason: string; id: string; body: unknown }[];
		expect(dead.map((d) => d.id).sort()).toEqual([notJson.id, missingField.id, wrongTickets.id].sort());
		expect(dead.find((d) => d.id === notJson.id)?.body).toBe("this is not a sale");
		// The good one in the same batch is stored; none of the bad ones are.
		expect((await ordersInD1(dropId)).map((r) => r.order_id)).toEqual([good.body.orderId]);
	});

	it("a message packing several sales stores each once, even delivered twice; a pack with one bad sale is dead-lettered whole", async () => {
		const dropId = uniqueDrop();
		const sales = Array.from({ length: 25 }, () => saleMessage({ dropId }));
		const pack = delivery({ v: 2, sales });
		expect((await consume([pack])).explicitAcks).toEqual([pack.id]);
		expect((await consume([delivery(pack.body, 2, pack.id)])).explicitAcks).toEqual([pack.id]);
		expect((await ordersInD1(dropId)).map((r) => r.order_id).sort()).toEqual(sales.map((m) => m.orderId).sort());
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM tickets WHERE drop_id = ?`).bind(dropId).first<number>("n")).toBe(50);

		const other = uniqueDrop();
		const spoilt = delivery({ v: 2, sales: [saleMessage({ dropId: other }), { ...saleMessage({ dropId: other }), quantity: 0 }] });
		const tooMany = delivery({ v: 2, sales: Array.from({ length: 26 }, () => saleMessage({ dropId: other })) });
		const empty = delivery({ v: 2, sales: [] });
		const spy = envWithDlqSpy();
		const result = await consume([spoilt, tooMany, empty], spy.env);
		expect([...result.explicitAcks].sort()).toEqual([spoilt.id, tooMany.id, empty.id].sort());
		expect(spy.sent).toHaveLength(3);
		expect(await ordersInD1(other)).toEqual([]);
	});

	it("a malformed message goes through the real dead-letter binding and is acked", async () => {
		const bad = delivery({ v: 2, note: "from a future producer" });
		const result = await consume([bad]);
		expect(result.explicitAcks).toEqual([bad.id]);
		expect(result.retryMessages).toEqual([]);
	});

	it("when the dead-letter send fails, the malformed message is retried (max_retries then dead-letters it)", async () => {
		const dropId = uniqueDrop();
		const good = delivery(saleMessage({ dropId }));
		const bad = delivery({ nonsense: true });
		const result = await consume([good, bad], envWithDlqSpy(true).env);
		expect(result.explicitAcks).toEqual([good.id]);
		expect(result.retryMessages.map((r: { msgId: string }) => r.msgId)).toEqual([bad.id]);
		expect(await ordersInD1(dropId)).toHaveLength(1);
	});

	it("a full batch of 100 sales of 20 tickets each is stored in one D1 batch within the query budget", async () => {
		const dropId = uniqueDrop();
		const sales: SaleMessage[] = Array.from({ length: 100 }, (_, i) => saleMessage({ dropId, fanId: `fan-${i}`, quantity: 20 }));
		// D1 allows 1,000 queries per invocation (50 on Free). If each statement of a batch() counts,
		// a statement per order and per ticket (2,100 here) would fail every full batch, retry it
		// and dead-letter it: the peak of a drop is exactly when batches are full.
		const statementsPerCall: number[] = [];
		const countingDb = {
			prepare: (query: string) => env.DB.prepare(query),
			batch: (statements: D1PreparedStatement[]) => {
				statementsPerCall.push(statements.length);
				return env.DB.batch(statements);
			},
		} as unknown as D1Database;
		const result = await consume(
			sales.map((s) => delivery(s)),
			{ ...env, DB: countingDb },
		);
		expect(statementsPerCall).toHaveLength(1);
		expect(statementsPerCall[0]).toBeLessThanOrEqual(50);
		expect(result.explicitAcks).toHaveLength(100);
		expect(result.retryMessages).toEqual([]);
		expect(await ordersInD1(dropId)).toHaveLength(100);
		const tickets = await env.DB.prepare(`SELECT COUNT(*) AS n FROM tickets WHERE drop_id = ?`).bind(dropId).first<{ n: number }>();
		expect(tickets?.n).toBe(2000);
	});
});
