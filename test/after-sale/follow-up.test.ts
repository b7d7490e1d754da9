// The follow-up after the sale, per batch of orders: queued by the sales
// consumer once the orders are in D1, one message per order; its steps confirm
// the payment, store the signed tickets, send the receipt and record the
// outcome, each retried with backoff; a step that keeps failing ends the order
// failed with the step named, which the promoter sees and retries. Redelivered
// batches, retried steps and a crash between the receipt's claim and its send
// never send a receipt twice and skip no order.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { FOLLOW_UP_ATTEMPTS, FOLLOW_UP_QUEUE, MISSED_FOLLOW_UP_MS, RECEIPT_CLAIM_MS, RECEIPT_SEND_MS, consumeFollowUps, queueMissedFollowUps } from "../../src/after-sale/follow-up";
import { recordFailure } from "../../src/after-sale/order-store";
import { retryOrder } from "../../src/after-sale/retry";
import { consumeSales } from "../../src/sales/consumer";
import type { SaleMessage } from "../../src/contract/sale-message";
import { verifyTicketToken } from "../../src/shared/tokens";
import { buyWith, orderReaches, statusInD1 } from "../support/after-sale";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { capturingQueue, runQueueBatch, saleMessage, storeSales, ticketsInD1 } from "../support/sales";
import { waitUntil } from "../support/wait";
import { adminFetch } from "../support/worker";

async function devMailFor(orderId: string): Promise<{ to: string; subject: string; body: string }[]> {
	const res = await adminFetch(`/api/admin/dev/mail?orderId=${orderId}`);
	expect(res.status).toBe(200);
	return ((await res.json()) as { mail: { to: string; subject: string; body: string }[] }).mail;
}

/** An env whose receipts go out through a send_email binding that refuses every message. */
function envWithMailDown(): Env {
	const RECEIPTS = { send: () => Promise.reject(new Error("mail down (test)")) };
	return { ...env, RECEIPT_SENDER: "email", RECEIPT_FROM: "tickets@example.test", RECEIPTS } as unknown as Env;
}

/** A sale in D1 as the consumer stores it, its follow-up run 1 queued (here: delivered by hand). */
async function storedSale(fields: Partial<SaleMessage>): Promise<SaleMessage> {
	const drop = await createDrop({ admission: WIDE_OPEN });
	const sale = saleMessage({ dropId: drop.id, ...fields });
	await storeSales([sale]);
	await env.DB.prepare(`UPDATE orders SET workflow_runs = 1 WHERE order_id = ?`).bind(sale.orderId).run();
	return sale;
}

const deliver = (orderIds: string[], attempts: number, on: Env = env, run = 1) =>
	runQueueBatch(FOLLOW_UP_QUEUE, orderIds.map((orderId, i) => ({ id: `f-${orderId}-${attempts}-${i}`, attempts, body: { v: 1, orderId, run } })), (b) => consumeFollowUps(b, on));

const storedTokens = async (orderId: string) =>
	(await env.DB.prepare(`SELECT token FROM tickets WHERE order_id = ? ORDER BY seq`).bind(orderId).all<{ token: string | null }>()).results.map((r) => r.token);

describe("the follow-up in batches", () => {
	it("takes an order bought through the API through every step: paid, ticketed, receipt sent, every ticket signed", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 2500 });
		const bought = await buyWith(drop.id, "fan-fu-whole", { quantity: 2, email: "fan@example.test" });
		const order = await orderReaches(bought.orderId, bought.orderToken, ["receipt_sent"]);
		expect(order.passes.map((p) => p.code)).toEqual(bought.tickets);
		for (const pass of order.passes) {
			expect(pass.state).toBe("valid");
			expect(await verifyTicketToken(env, pass.token!, drop.id)).toEqual({ dropId: drop.id, orderId: bought.orderId, code: pass.code });
		}
		expect((await storedTokens(bought.orderId)).every((t) => t !== null)).toBe(true);
		const mail = await devMailFor(bought.orderId);
		expect(mail).toHaveLength(1);
		expect(mail[0]!.to).toBe("fan@example.test");
		for (const code of bought.tickets) expect(mail[0]!.body).toContain(code);
	});

	it("runs a whole batch of orders in one invocation, each to its own outcome", async () => {
		const sales = await Promise.all(
			Array.from({ length: 30 }, (_, i) => storedSale({ paymentId: `pay_test_fu_batch_${i}`, ...(i % 3 === 0 ? {} : { email: `b${i}@example.test` }) })),
		);
		const result = await deliver(sales.map((s) => s.orderId), 1);
		expect(result.explicitAcks).toHaveLength(30);
		expect(result.retryMessages).toEqual([]);
		for (const [i, sale] of sales.entries()) {
			expect(await statusInD1(sale.orderId)).toEqual({ status: i % 3 === 0 ? "ticketed" : "receipt_sent", status_detail: null });
			expect(await devMailFor(sale.orderId)).toHaveLength(i % 3 === 0 ? 0 : 1);
		}
	});

	it("retries a step that fails twice with a growing delay, and the order still ends with every step done once", async () => {
		const sale = await storedSale({ paymentId: "pay_test_fu_twice", email: "twice@example.test" });
		const down = envWithMailDown();
		for (const [attempts, delay] of [[1, 2], [2, 4]] as const) {
			const r = await deliver([sale.orderId], attempts, down);
			expect(r.retryMessages).toHaveLength(1);
			expect(r.delays.get(`f-${sale.orderId}-${attempts}-0`)).toBe(delay);
		}
		// The tickets were stored on the first try and are not signed again; the receipt's claim was released.
		const tokens = await storedTokens(sale.orderId);
		expect(tokens.every((t) => t !== null)).toBe(true);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "ticketed", status_detail: null });
		const r = await deliver([sale.orderId], 3);
		expect(r.explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "receipt_sent", status_detail: null });
		expect(await storedTokens(sale.orderId)).toEqual(tokens);
		expect(await devMailFor(sale.orderId)).toHaveLength(1);
		// The batch delivered again after it finished: nothing more is sent.
		expect((await deliver([sale.orderId], 1)).explicitAcks).toHaveLength(1);
		expect(await devMailFor(sale.orderId)).toHaveLength(1);
	});

	it("ends an order whose step keeps failing as failed, names the step, and the promoter's retry finishes it", async () => {
		const sale = await storedSale({ paymentId: "pay_test_fu_failing", email: "failing@example.test" });
		const r = await deliver([sale.orderId], FOLLOW_UP_ATTEMPTS, envWithMailDown());
		expect(r.explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: "send receipt failed" });
		const list = (await (await adminFetch(`/api/admin/drops/${sale.dropId}/sales`)).json()) as { sales: { orderId: string; status: string }[] };
		expect(list.sales.find((s) => s.orderId === sale.orderId)?.status).toBe("failed");
		expect(await devMailFor(sale.orderId)).toHaveLength(0);

		const retried = await adminFetch(`/api/admin/drops/${sale.dropId}/orders/${sale.orderId}/retry`, { method: "POST" });
		expect(retried.status).toBe(200);
		await waitUntil(async () => (await statusInD1(sale.orderId))?.status === "receipt_sent", 30_000, "the retried order to finish", 100);
		expect(await devMailFor(sale.orderId)).toHaveLength(1);
		// The first run's message, delivered late, is not its run: it changes nothing.
		expect((await deliver([sale.orderId], 1, envWithMailDown())).explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toMatchObject({ status: "receipt_sent" });
		// Only a failed order can be retried.
		expect((await adminFetch(`/api/admin/drops/${sale.dropId}/orders/${sale.orderId}/retry`, { method: "POST" })).status).toBe(409);
	});

	it("fails an order whose payment the provider does not have at once, with the step and why", async () => {
		const sale = await storedSale({ paymentId: "pay_unknown_fu", email: "missing@example.test" });
		const r = await deliver([sale.orderId], 1);
		expect(r.explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: expect.stringMatching(/^confirm payment failed: /) });
		expect(await devMailFor(sale.orderId)).toHaveLength(0);
	});

	it("never sends a receipt twice after a crash between its claim and its send: the order is failed for the promoter, whose retry sends it once", async () => {
		const sale = await storedSale({ paymentId: "pay_test_fu_crash", email: "crash@example.test" });
		// An earlier delivery claimed the receipt and died before recording a send, longer ago than a send takes.
		await env.DB.prepare(`UPDATE orders SET receipt_claimed_at = ? WHERE order_id = ?`).bind(new Date(Date.now() - RECEIPT_CLAIM_MS - 1_000).toISOString(), sale.orderId).run();
		const r = await deliver([sale.orderId], 2);
		expect(r.explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: expect.stringMatching(/^send receipt failed: outcome unknown/) });
		expect(await devMailFor(sale.orderId)).toHaveLength(0);
		expect((await adminFetch(`/api/admin/drops/${sale.dropId}/orders/${sale.orderId}/retry`, { method: "POST" })).status).toBe(200);
		await waitUntil(async () => (await statusInD1(sale.orderId))?.status === "receipt_sent", 30_000, "the retried order to finish", 100);
		expect(await devMailFor(sale.orderId)).toHaveLength(1);
	});

	it("a delivery that finds the receipt being sent by another comes back later, and one receipt goes out", async () => {
		const sale = await storedSale({ paymentId: "pay_test_fu_race", email: "race@example.test" });
		// A mail binding that holds the first send until released, and counts what it sends.
		const sent: string[] = [];
		let release!: () => void;
		const held = new Promise<void>((resolve) => (release = resolve));
		const RECEIPTS = { send: async (m: { to: string }) => (await held, sent.push(m.to)) };
		const slow = { ...env, RECEIPT_SENDER: "email", RECEIPT_FROM: "tickets@example.test", RECEIPTS } as unknown as Env;
		const first = deliver([sale.orderId], 1, slow);
		await waitUntil(
			async () => (await env.DB.prepare(`SELECT receipt_claimed_at FROM orders WHERE order_id = ?`).bind(sale.orderId).first<string | null>("receipt_claimed_at")) !== null,
			10_000,
			"the first delivery to claim the receipt",
			20,
		);
		// The second delivery runs while the first is sending: it neither sends nor fails the order, it comes back.
		const second = await deliver([sale.orderId], 1, slow);
		expect(second.retryMessages).toHaveLength(1);
		expect(sent).toEqual([]);
		expect(await statusInD1(sale.orderId)).toMatchObject({ status: "ticketed" });
		release();
		expect((await first).explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "receipt_sent", status_detail: null });
		// Back again, it finds the receipt sent.
		expect((await deliver([sale.orderId], 2, slow)).explicitAcks).toHaveLength(1);
		expect(sent).toEqual(["race@example.test"]);
	});

	it("a send that never answers ends the order failed (outcome unknown) with its claim kept: no delivery after it sends a second receipt", async () => {
		const sale = await storedSale({ paymentId: "pay_test_fu_hung", email: "hung@example.test" });
		let sends = 0;
		const RECEIPTS = { send: () => (sends++, new Promise<void>(() => {})) };
		const hung = { ...env, RECEIPT_SENDER: "email", RECEIPT_FROM: "tickets@example.test", RECEIPTS } as unknown as Env;
		const claimedAt = () => env.DB.prepare(`SELECT receipt_claimed_at FROM orders WHERE order_id = ?`).bind(sale.orderId).first<string | null>("receipt_claimed_at");
		vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
		let r: Awaited<ReturnType<typeof deliver>>;
		try {
			let settled = false;
			const run = deliver([sale.orderId], 1, hung).then((result) => ((settled = true), result));
			// D1's answers are real I/O: wait for the claim by asking D1, not by a timer.
			for (let i = 0; i < 500 && sends === 0; i++) await claimedAt();
			expect(sends).toBe(1);
			await vi.advanceTimersByTimeAsync(RECEIPT_SEND_MS + 1);
			for (let i = 0; i < 500 && !settled; i++) await claimedAt();
			expect(settled).toBe(true);
			r = await run;
		} finally {
			vi.useRealTimers();
		}
		expect(r.explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: expect.stringMatching(/^send receipt failed: outcome unknown \(the send did not answer/) });
		expect(await claimedAt()).not.toBeNull();
		// The message again, the mail working now: the claim is another's, so nothing is sent.
		await deliver([sale.orderId], 2);
		expect(await devMailFor(sale.orderId)).toHaveLength(0);
		expect(sends).toBe(1);
	});

	it("a failure recorded by a run the promoter replaced, after the new run sent the receipt, writes nothing over it", async () => {
		const sale = await storedSale({ paymentId: "pay_test_fu_late", email: "late@example.test" });
		// While run 1's last try is sending, the promoter's retry (run 2) finishes the order; then run 1's send fails.
		const RECEIPTS = {
			send: async () => {
				await env.DB.prepare(`UPDATE orders SET workflow_runs = 2, status = 'receipt_sent', receipt_sent_at = ? WHERE order_id = ?`).bind(new Date().toISOString(), sale.orderId).run();
				throw new Error("mail down (test)");
			},
		};
		const late = { ...env, RECEIPT_SENDER: "email", RECEIPT_FROM: "tickets@example.test", RECEIPTS } as unknown as Env;
		const r = await deliver([sale.orderId], FOLLOW_UP_ATTEMPTS, late);
		expect(r.explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "receipt_sent", status_detail: null });
	});

	it("a failure recorded after another copy of the run finished the order writes nothing over it: ticketed with no receipt owed is finished", async () => {
		const done = await storedSale({ paymentId: "pay_test_fu_done" });
		await env.DB.prepare(`UPDATE orders SET status = 'ticketed', receipt_to = NULL WHERE order_id = ?`).bind(done.orderId).run();
		await recordFailure(env.DB, done.orderId, 1, "confirm payment failed");
		expect(await statusInD1(done.orderId)).toEqual({ status: "ticketed", status_detail: null });
		// A ticketed order that still owes its receipt is not finished: its failure is recorded.
		const owed = await storedSale({ paymentId: "pay_test_fu_owed", email: "owed@example.test" });
		await env.DB.prepare(`UPDATE orders SET status = 'ticketed' WHERE order_id = ?`).bind(owed.orderId).run();
		await recordFailure(env.DB, owed.orderId, 1, "send receipt failed");
		expect(await statusInD1(owed.orderId)).toEqual({ status: "failed", status_detail: "send receipt failed" });
	});

	it("a retry that could not be queued leaves the order failed, so the promoter can retry it again", async () => {
		const sale = await storedSale({ paymentId: "pay_test_fu_nostart", email: "nostart@example.test" });
		await deliver([sale.orderId], FOLLOW_UP_ATTEMPTS, envWithMailDown());
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: "send receipt failed" });
		const down = () => Promise.reject(new Error("queue unavailable (test)"));
		const broken = { ...env, FOLLOW_UP: { send: down, sendBatch: down } } as unknown as Env;
		const refused = await retryOrder(broken, sale.dropId, sale.orderId).then(
			() => null,
			(err: unknown) => err as { status?: number; code?: string },
		);
		expect(refused).toMatchObject({ status: 503, code: "try_again" });
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: "send receipt failed" });
		expect((await adminFetch(`/api/admin/drops/${sale.dropId}/orders/${sale.orderId}/retry`, { method: "POST" })).status).toBe(200);
		await waitUntil(async () => (await statusInD1(sale.orderId))?.status === "receipt_sent", 30_000, "the retried order to finish", 100);
	});

	it("an order whose run died without recording its failure can be retried once nothing has moved it for a run's time; a fresh one cannot", async () => {
		const stuck = await storedSale({ paymentId: "pay_test_fu_stuck", email: "stuck@example.test" });
		expect((await adminFetch(`/api/admin/drops/${stuck.dropId}/orders/${stuck.orderId}/retry`, { method: "POST" })).status).toBe(409);
		expect(await statusInD1(stuck.orderId)).toMatchObject({ status: "paid" });
		const later = Date.now() + MISSED_FOLLOW_UP_MS + 1_000;
		expect(await retryOrder(env, stuck.dropId, stuck.orderId, later)).toEqual({ orderId: stuck.orderId, status: "paid", restarted: true });
		await waitUntil(async () => (await statusInD1(stuck.orderId))?.status === "receipt_sent", 30_000, "the retried order to finish", 100);
		expect(await devMailFor(stuck.orderId)).toHaveLength(1);
	});

	it("queues one follow-up for a sale delivered twice, and acks both deliveries", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_fu_dup" });
		const captured = capturingQueue();
		const on = { ...env, FOLLOW_UP: captured.queue } as Env;
		for (const id of ["dup-1", "dup-2"]) {
			const batch = createMessageBatch("ticket-sales", [{ id, timestamp: new Date(), attempts: 1, body: sale }]);
			const ctx = createExecutionContext();
			await consumeSales(batch, on);
			expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: [id], retryMessages: [] });
		}
		expect(captured.bodies).toEqual([{ v: 1, orderId: sale.orderId, run: 1 }]);
		expect(await ticketsInD1(sale.orderId)).toEqual(sale.tickets);
	});

	it("retries the sale's message when its follow-up cannot be queued, and queues it on the next delivery", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_fu_sendfail" });
		const down = () => Promise.reject(new Error("queue unavailable (test)"));
		const refused = await runQueueBatch("ticket-sales", [{ id: "sf-1", attempts: 1, body: sale }], (b) =>
			consumeSales(b, { ...env, FOLLOW_UP: { send: down, sendBatch: down } } as unknown as Env),
		);
		expect(refused.retryMessages).toHaveLength(1);
		expect(await env.DB.prepare(`SELECT workflow_runs FROM orders WHERE order_id = ?`).bind(sale.orderId).first<number>("workflow_runs")).toBe(0);
		const captured = capturingQueue();
		const again = await runQueueBatch("ticket-sales", [{ id: "sf-1", attempts: 2, body: sale }], (b) => consumeSales(b, { ...env, FOLLOW_UP: captured.queue } as Env));
		expect(again.explicitAcks).toEqual(["sf-1"]);
		expect(captured.bodies).toEqual([{ v: 1, orderId: sale.orderId, run: 1 }]);
	});

	it("queues the follow-up of an order whose message gave up after its D1 write, from the cron's sweep, once", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_fu_missed", email: "missed@example.test" });
		await storeSales([sale]);
		const captured = capturingQueue();
		const on = { ...env, FOLLOW_UP: captured.queue } as Env;
		expect(await queueMissedFollowUps(on, Date.now())).toBe(0);
		const later = Date.now() + MISSED_FOLLOW_UP_MS + 1_000;
		expect(await queueMissedFollowUps(on, later)).toBeGreaterThanOrEqual(1);
		expect(captured.bodies).toContainEqual({ v: 1, orderId: sale.orderId, run: 1 });
		await queueMissedFollowUps(on, later);
		expect(captured.bodies.filter((b) => (b as { orderId: string }).orderId === sale.orderId)).toHaveLength(1);
		// And it runs to the end.
		expect((await deliver([sale.orderId], 1)).explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "receipt_sent", status_detail: null });
	});

	it("a follow-up that arrives before its run is recorded comes back later instead of being dropped, then runs", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_fu_early", email: "early@example.test" });
		await storeSales([sale]);
		// The sales consumer sent run 1 and has not yet written workflow_runs = 1.
		const early = await deliver([sale.orderId], 1);
		expect(early.explicitAcks).toHaveLength(0);
		expect(early.retryMessages).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toMatchObject({ status: "paid" });
		await env.DB.prepare(`UPDATE orders SET workflow_runs = 1 WHERE order_id = ?`).bind(sale.orderId).run();
		expect((await deliver([sale.orderId], 2)).explicitAcks).toHaveLength(1);
		expect(await statusInD1(sale.orderId)).toEqual({ status: "receipt_sent", status_detail: null });
	});

	it("gives an order whose run stopped without a word (its messages used up the queue's retries) a new run from the cron's sweep; a finished order without a receipt is left alone", async () => {
		const stuck = await storedSale({ paymentId: "pay_test_fu_lost", email: "lost@example.test" });
		const done = await storedSale({ paymentId: "pay_test_fu_noreceipt" });
		expect((await deliver([done.orderId], 1)).explicitAcks).toHaveLength(1);
		expect(await statusInD1(done.orderId)).toMatchObject({ status: "ticketed" });
		const captured = capturingQueue();
		const on = { ...env, FOLLOW_UP: captured.queue } as Env;
		await queueMissedFollowUps(on, Date.now());
		expect(captured.bodies.filter((b) => (b as { orderId: string }).orderId === stuck.orderId)).toHaveLength(0);
		const later = Date.now() + MISSED_FOLLOW_UP_MS + 1_000;
		await queueMissedFollowUps(on, later);
		expect(captured.bodies).toContainEqual({ v: 1, orderId: stuck.orderId, run: 2 });
		expect(captured.bodies.filter((b) => (b as { orderId: string }).orderId === done.orderId)).toHaveLength(0);
		// The promoter cannot "retry" the finished one either.
		expect(await retryOrder(env, done.dropId, done.orderId, later).catch((e: { status?: number }) => e.status)).toBe(409);
		expect((await deliver([stuck.orderId], 1, env, 2)).explicitAcks).toHaveLength(1);
		expect(await statusInD1(stuck.orderId)).toEqual({ status: "receipt_sent", status_detail: null });
	});

	it("queues nothing with ORDER_WORKFLOWS 'off' (the local bench switch): the sale is stored and acked, the order stays paid, its tickets still signed at the read", async () => {
		const captured = capturingQueue();
		const off = { ...env, ORDER_WORKFLOWS: "off", FOLLOW_UP: captured.queue } as Env;
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_fu_off" });
		const batch = createMessageBatch("ticket-sales", [{ id: "off-1", timestamp: new Date(), attempts: 1, body: sale }]);
		const ctx = createExecutionContext();
		await consumeSales(batch, off);
		expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: ["off-1"], retryMessages: [] });
		expect(await ticketsInD1(sale.orderId)).toEqual(sale.tickets);
		expect(await queueMissedFollowUps(off, Date.now() + MISSED_FOLLOW_UP_MS + 1_000)).toBe(0);
		expect(captured.bodies).toEqual([]);
		expect(await statusInD1(sale.orderId)).toMatchObject({ status: "paid" });
	});

	it("acks a refunded order's follow-up with nothing done, and a malformed message", async () => {
		const sale = await storedSale({ paymentId: "pay_test_fu_refunded", email: "refunded@example.test" });
		await env.DB.prepare(`UPDATE orders SET status = 'refunded' WHERE order_id = ?`).bind(sale.orderId).run();
		expect((await deliver([sale.orderId], 1)).explicitAcks).toHaveLength(1);
		expect(await devMailFor(sale.orderId)).toHaveLength(0);
		expect(await statusInD1(sale.orderId)).toMatchObject({ status: "refunded" });
		const bad = await runQueueBatch(FOLLOW_UP_QUEUE, [{ id: "bad-1", attempts: 1, body: { v: 1, orderId: 42 } }], (b) => consumeFollowUps(b, env));
		expect(bad.explicitAcks).toEqual(["bad-1"]);
	});
});
