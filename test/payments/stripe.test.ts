// Stripe as the payment provider, against a local stand-in that
// speaks its HTTP API (scripts/lib/fake-stripe.mjs): PaymentIntents keyed by the
// shard's charge key, declines, a dropped connection charged once, a slow
// provider that does not hold other fans' holds, refunds (finished by the cron
// when their call failed, and failed later at Stripe), a lost answer that search
// cannot find yet (never void, never a second PaymentIntent), free orders that
// Stripe never sees, and the webhook's signature, timestamp tolerance and replays.
import { createScheduledController, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { OrderRefunds } from "../../src/contract/admin-answers";
import { ORDER_BY_PAYMENT_SQL } from "../../src/after-sale/refunds";
import { buyWith, fakeStripe, orderReaches, postWebhook, purchaseWith, readOrder, refund, statusInD1 } from "../support/after-sale";
import { recordSales, saleMessage } from "../support/sales";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { admittedFan, admittedFans, hold } from "../support/fans";
import { waitUntil } from "../support/wait";
import { adminFetch } from "../support/worker";
import { audit, expectCleanAudit } from "../support/audit";
import worker from "../../src/index";
import { errorCode } from "../support/errors";
import { moveShardClock, shardStub } from "../support/shards";
import type { InventoryShard } from "../../src/inventory/inventory-shard";

const STRIPE = (token: string) => ({ method: "stripe", token });

async function intentsFor(dropId: string, holdId: string) {
	return (await fakeStripe("state")).paymentIntents.filter((i) => i.metadata.idempotency_key?.startsWith(`${dropId}:${holdId}:`));
}

describe("the Stripe provider", () => {
	it("charges a PaymentIntent under the hold's charge key, and the order's Workflow confirms it", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 1250, currency: "EUR" });
		const bought = await buyWith(drop.id, "fan-stripe-ok", { quantity: 2, payment: STRIPE("pm_card_visa") });
		const intents = await intentsFor(drop.id, bought.holdId);
		expect(intents).toEqual([expect.objectContaining({ amount: 2500, status: "succeeded", metadata: { idempotency_key: `${drop.id}:${bought.holdId}:1` } })]);
		expect(intents[0]).toMatchObject({ currency: "eur" });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
	});

	it("answers a declined card 402 and keeps the hold", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 500 });
		const token = await admittedFan(drop.id, "fan-stripe-declined");
		const { holdId } = (await (await hold(drop.id, token, 1)).json()) as { holdId: string };
		const declined = await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_chargeDeclined") });
		expect(declined.status).toBe(402);
		expect(((await declined.json()) as { error: { code: string; holdKept: boolean } }).error).toMatchObject({ code: "payment_declined", holdKept: true });
		expect((await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_visa") })).status).toBe(201);
	});

	it("charges once when the connection drops after Stripe made the charge and the fan retries", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 900 });
		const token = await admittedFan(drop.id, "fan-stripe-dropped");
		const { holdId } = (await (await hold(drop.id, token, 1)).json()) as { holdId: string };
		await fakeStripe("drop-next");
		const lost = await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_visa") });
		expect(lost.status).toBe(500);
		expect(await intentsFor(drop.id, holdId)).toHaveLength(1);
		const retried = await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_visa") });
		expect(retried.status).toBe(201);
		const intents = await intentsFor(drop.id, holdId);
		expect(intents).toHaveLength(1);
		const { orderId } = (await retried.json()) as { orderId: string };
		await waitUntil(async () => (await env.DB.prepare(`SELECT payment_id FROM orders WHERE order_id = ?`).bind(orderId).first<{ payment_id: string }>())?.payment_id === intents[0]!.id, 20_000, "the order in D1 with the one charge", 100);
	});

	it("lets other fans' holds through the shard while a purchase waits on a slow provider", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 300, shards: 1 });
		const others = Array.from({ length: 10 }, (_, i) => `fan-stripe-other-${i}`);
		const tokens = await admittedFans(drop.id, ["fan-stripe-slow", ...others]);
		const slowToken = tokens.get("fan-stripe-slow")!;
		const { holdId } = (await (await hold(drop.id, slowToken, 1)).json()) as { holdId: string };
		let purchaseDone = false;
		const slow = purchaseWith(drop.id, slowToken, holdId, { payment: STRIPE("pm_card_slow") }).then((res) => {
			purchaseDone = true;
			return res;
		});
		await waitUntil(async () => (await fakeStripe("state")).waiting === 1, 10_000, "the slow charge to reach the provider", 20);
		const holds = await Promise.all(others.map((fan) => hold(drop.id, tokens.get(fan)!, 1)));
		expect(holds.map((r) => r.status)).toEqual(others.map(() => 201));
		// Both sides happened: every hold was answered while the purchase still waited on the provider.
		expect(purchaseDone).toBe(false);
		expect((await fakeStripe("release")).released).toBe(1);
		expect((await slow).status).toBe(201);
	});

	it("refunds through Stripe once, however often the promoter repeats it", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 800 });
		const bought = await buyWith(drop.id, "fan-stripe-refund", { quantity: 2, payment: STRIPE("pm_card_visa") });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const [intent] = await intentsFor(drop.id, bought.holdId);
		const one = (await (await refund(drop.id, bought.orderId, { tickets: [bought.tickets[0]] })).json()) as OrderRefunds;
		expect(one).toMatchObject({ changed: true, refundedTickets: 1 });
		for (let i = 0; i < 2; i++) expect(((await (await refund(drop.id, bought.orderId, { tickets: [bought.tickets[0]] })).json()) as OrderRefunds).changed).toBe(false);
		const refunds = (await fakeStripe("state")).refunds.filter((r) => r.payment_intent === intent!.id);
		expect(refunds).toEqual([expect.objectContaining({ amount: 800 })]);
	});
});

async function paymentInD1(orderId: string): Promise<string | null> {
	return (await env.DB.prepare(`SELECT payment_id FROM orders WHERE order_id = ?`).bind(orderId).first<{ payment_id: string }>())?.payment_id ?? null;
}

describe("a charge whose answer was lost", () => {
	it("is never void while Stripe keeps its key, though search cannot find it: the alarm and the retry settle its one PaymentIntent", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 900, shards: 1, holdSeconds: 600 });
		const token = await admittedFan(drop.id, "fan-stripe-search-lags");
		const { holdId } = (await (await hold(drop.id, token, 1)).json()) as { holdId: string };
		let retried: Response;
		// Stripe's search is eventually consistent: the intent made now is not found by it.
		await fakeStripe("search-lag");
		try {
			await fakeStripe("drop-next");
			expect((await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_visa") })).status).toBe(500);
			expect(await intentsFor(drop.id, holdId)).toHaveLength(1);
			// Two minutes on, the alarm looks the charge up while search still finds nothing.
			await moveShardClock(drop.id, 0, 121_000);
			await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
			await moveShardClock(drop.id, 0, 0);
			retried = await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_visa") });
		} finally {
			await fakeStripe("search-catch-up");
		}
		expect(retried.status).toBe(201);
		const intents = await intentsFor(drop.id, holdId);
		expect(intents).toEqual([expect.objectContaining({ status: "succeeded", metadata: { idempotency_key: `${drop.id}:${holdId}:1` } })]);
		const { orderId } = (await retried.json()) as { orderId: string };
		await waitUntil(async () => (await paymentInD1(orderId)) === intents[0]!.id, 20_000, "the order in D1 with the one charge", 100);
		expect(await expectCleanAudit(drop.id)).toMatchObject({ unreconciledCharges: 0, payments: 1, holdsChargedTwice: 0 });
	});

	it("is settled by the fan's retry with another card before that card is charged: the first PaymentIntent becomes the order", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 700 });
		const token = await admittedFan(drop.id, "fan-stripe-lost-other-card");
		const { holdId } = (await (await hold(drop.id, token, 1)).json()) as { holdId: string };
		await fakeStripe("drop-next");
		expect((await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_visa") })).status).toBe(500);
		const retried = await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_mastercard") });
		expect(retried.status).toBe(201);
		const intents = await intentsFor(drop.id, holdId);
		expect(intents).toEqual([expect.objectContaining({ status: "succeeded", payment_method: "pm_card_visa" })]);
		expect(await expectCleanAudit(drop.id)).toMatchObject({ payments: 1, holdsChargedTwice: 0 });
	});

	it("of a declined card ends as declined when the retry asks again, and the retry's own card is then charged under a new key", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 700 });
		const token = await admittedFan(drop.id, "fan-stripe-lost-decline");
		const { holdId } = (await (await hold(drop.id, token, 1)).json()) as { holdId: string };
		await fakeStripe("drop-next");
		expect((await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_chargeDeclined") })).status).toBe(500);
		const retried = await purchaseWith(drop.id, token, holdId, { payment: STRIPE("pm_card_visa") });
		expect(retried.status).toBe(201);
		const intents = await intentsFor(drop.id, holdId);
		expect(intents.map((i) => [i.metadata.idempotency_key, i.status])).toEqual([
			[`${drop.id}:${holdId}:1`, "requires_payment_method"],
			[`${drop.id}:${holdId}:2`, "succeeded"],
		]);
		expect(await expectCleanAudit(drop.id)).toMatchObject({ payments: 1, holdsChargedTwice: 0 });
	});
});

describe("a free order", () => {
	it("is never sent to Stripe: it is an order at once, ticketed, and refunded with no provider asked", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 0 });
		const bought = await buyWith(drop.id, "fan-free-stripe", { quantity: 2, payment: STRIPE("pm_card_visa") });
		expect(await intentsFor(drop.id, bought.holdId)).toEqual([]);
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const paymentId = await paymentInD1(bought.orderId);
		// No provider's: Stripe's begin "pi_", the test provider's "pay_test".
		expect(paymentId).toMatch(/^free_/);
		const refunded = await refund(drop.id, bought.orderId);
		expect(refunded.status).toBe(200);
		expect(await refunded.json()).toMatchObject({ status: "refunded", refundedTickets: 2, refunds: [expect.objectContaining({ state: "refunded", amountCents: 0 })] });
		expect((await fakeStripe("state")).refunds.filter((r) => r.payment_intent === paymentId)).toEqual([]);
		await expectCleanAudit(drop.id);
	});

	it("is sold where the deployment takes no payment method, whatever method the fan names; a paid one is still refused there", async () => {
		const none = { env: { TEST_PAYMENTS: "off", STRIPE_SECRET_KEY: undefined } };
		const free = await createDrop({ admission: WIDE_OPEN, priceCents: 0, shards: 1 });
		const paid = await createDrop({ admission: WIDE_OPEN, priceCents: 100, shards: 1 });
		for (const [drop, method, status] of [[free, "test", 201], [free, "stripe", 201], [paid, "stripe", 422]] as const) {
			const token = await admittedFan(drop.id, `fan-free-none-${method}`);
			const { holdId } = (await (await hold(drop.id, token, 1)).json()) as { holdId: string };
			const res = await purchaseWith(drop.id, token, holdId, { payment: { method, token: "tok" } }, none);
			expect(res.status).toBe(status);
			if (status === 422) expect(await errorCode(res)).toBe("payment_method_unavailable");
		}
		// A body that is not valid is refused as before, and changes nothing.
		const token = await admittedFan(free.id, "fan-free-bad-body");
		const { holdId } = (await (await hold(free.id, token, 1)).json()) as { holdId: string };
		const bad = await purchaseWith(free.id, token, holdId, { payment: { method: "cash", token: "x" } }, none);
		expect(bad.status).toBe(422);
		expect(await errorCode(bad)).toBe("invalid_value");
		expect((await expectCleanAudit(free.id)).totals).toMatchObject({ sold: 2, held: 1 });
	});
});

describe("a refund whose provider call failed", () => {
	it("is finished by repeating the drop's cancel, as its 503 says, even once its order reads refunded", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 600 });
		const bought = await buyWith(drop.id, "fan-stripe-cancel-fails", { quantity: 1, payment: STRIPE("pm_card_visa") });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const [intent] = await intentsFor(drop.id, bought.holdId);
		// The refund's call never reaches Stripe: the refund is recorded, pending, and its order reads refunded.
		await fakeStripe("refuse-next");
		const failed = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" });
		expect(failed.status).toBe(503);
		expect(((await failed.json()) as { error: { code: string } }).error.code).toBe("provider_unavailable");
		expect((await fakeStripe("state")).refunds.filter((r) => r.payment_intent === intent!.id)).toEqual([]);

		const again = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" });
		expect(again.status).toBe(200);
		const refunds = (await (await adminFetch(`/api/admin/drops/${drop.id}/refunds`)).json()) as { refunds: { state: string }[] };
		expect(refunds.refunds.map((r) => r.state)).toEqual(["refunded"]);
		expect((await fakeStripe("state")).refunds.filter((r) => r.payment_intent === intent!.id)).toEqual([expect.objectContaining({ amount: 600 })]);
		expect(await again.json()).toMatchObject({ ordersLeft: 0 });
	});

	it("one that keeps failing does not hold up the cancel of the drop's other orders", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 500 });
		const orders = await Promise.all(["x", "y"].map((k) => buyWith(drop.id, `fan-stripe-cancel-stuck-${k}`, { quantity: 1, payment: STRIPE("pm_card_visa") })));
		for (const o of orders) await orderReaches(o.orderId, o.orderToken, ["ticketed", "receipt_sent"]);
		// The order the cancel comes to first names an intent Stripe refuses to refund, on every call.
		const [stuck, other] = [...orders].sort((p, q) => (p.orderId < q.orderId ? -1 : 1));
		await env.DB.prepare(`UPDATE orders SET payment_id = 'pi_refused_for_good' WHERE order_id = ?`).bind(stuck!.orderId).run();
		for (let call = 0; call < 2; call++) {
			const res = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" });
			expect(res.status).toBe(503);
		}
		expect((await readOrder(other!.orderId, other!.orderToken)).status).toBe("refunded");
		const refunds = (await (await adminFetch(`/api/admin/drops/${drop.id}/refunds`)).json()) as { refunds: { orderId: string; state: string }[] };
		expect(refunds.refunds.find((r) => r.orderId === other!.orderId)?.state).toBe("refunded");
		expect(refunds.refunds.find((r) => r.orderId === stuck!.orderId)?.state).toBe("pending");
	});

	it("is made once when Stripe made it but its answer was lost, even repeated after Stripe forgot the idempotency key", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 900 });
		const bought = await buyWith(drop.id, "fan-stripe-refund-lost", { quantity: 2, payment: STRIPE("pm_card_visa") });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const [intent] = await intentsFor(drop.id, bought.holdId);
		const refundsAtStripe = async () => (await fakeStripe("state")).refunds.filter((r) => r.payment_intent === intent!.id);
		await fakeStripe("drop-next-refund");
		expect((await refund(drop.id, bought.orderId, { tickets: [bought.tickets[0]] })).status).toBe(503);
		expect(await refundsAtStripe()).toEqual([expect.objectContaining({ amount: 900 })]);
		// A day later: Stripe keeps idempotency keys 24 hours.
		await fakeStripe("forget-keys");
		const finished = await refund(drop.id, bought.orderId, { tickets: [bought.tickets[0]] });
		expect(finished.status).toBe(200);
		expect(await finished.json()).toMatchObject({ refundedTickets: 1, refunds: [expect.objectContaining({ state: "refunded", amountCents: 900 })] });
		expect(await refundsAtStripe()).toEqual([expect.objectContaining({ amount: 900 })]);
	});

	it("is in the activity log once, when a repeat of the refund finishes it", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 400 });
		const bought = await buyWith(drop.id, "fan-stripe-refund-logged", { quantity: 1, payment: STRIPE("pm_card_visa") });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const logged = async () =>
			(await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE action = 'order.refunded' AND json_extract(detail, '$.orderId') = ?`).bind(bought.orderId).first<{ n: number }>())!.n;
		await fakeStripe("refuse-next");
		expect((await refund(drop.id, bought.orderId)).status).toBe(503);
		const finished = await refund(drop.id, bought.orderId);
		expect(finished.status).toBe(200);
		expect(await finished.json()).toMatchObject({ changed: true, refunds: [expect.objectContaining({ state: "refunded" })] });
		expect(await logged()).toBe(1);
		// A further repeat changes nothing and records nothing.
		expect(((await (await refund(drop.id, bought.orderId)).json()) as OrderRefunds).changed).toBe(false);
		expect(await logged()).toBe(1);
	});
});

describe("a refund left pending", () => {
	const cron = (at: number) => worker.scheduled(createScheduledController({ scheduledTime: at, cron: "*/30 * * * *" }), env);
	const MINUTE = 60_000;

	it("is finished by the cron, with backoff after a failed try, and counted by the audit until then", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 650 });
		const bought = await buyWith(drop.id, "fan-stripe-sweep", { quantity: 1, payment: STRIPE("pm_card_visa") });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const [intent] = await intentsFor(drop.id, bought.holdId);
		const atStripe = async () => (await fakeStripe("state")).refunds.filter((r) => r.payment_intent === intent!.id);
		const listed = async () => ((await (await adminFetch(`/api/admin/drops/${drop.id}/refunds`)).json()) as { refunds: { state: string; detail: string | null }[] }).refunds;
		await fakeStripe("refuse-next");
		expect((await refund(drop.id, bought.orderId)).status).toBe(503);
		expect(await listed()).toEqual([expect.objectContaining({ state: "pending", detail: expect.stringContaining("did not answer") })]);
		// The audit counts it once it is older than its grace, and the drop is not clean meanwhile.
		expect(await audit(drop.id, 0)).toMatchObject({ refundsPending: 1, refundsFailed: 0, ok: false });
		expect(await audit(drop.id, 3600)).toMatchObject({ refundsPending: 0 });

		// Now: the request that made it may still be finishing it, and its failed try put it off.
		await cron(Date.now());
		expect(await atStripe()).toEqual([]);
		// A quarter of an hour on it is due; Stripe refuses the call, so it waits longer before the next try.
		await fakeStripe("refuse-next");
		await cron(Date.now() + 15 * MINUTE);
		expect(await listed()).toEqual([expect.objectContaining({ state: "pending" })]);
		// The refusal was used up by that try: a call now would succeed, and none is made.
		await cron(Date.now() + 20 * MINUTE);
		expect(await atStripe()).toEqual([]);
		expect(await listed()).toEqual([expect.objectContaining({ state: "pending" })]);
		// Past its backoff: finished, once.
		await cron(Date.now() + 2 * 60 * MINUTE);
		expect(await listed()).toEqual([expect.objectContaining({ state: "refunded", detail: null })]);
		expect(await atStripe()).toEqual([expect.objectContaining({ amount: 650 })]);
		await cron(Date.now() + 5 * 60 * MINUTE);
		expect(await atStripe()).toHaveLength(1);
		expect(await audit(drop.id, 0)).toMatchObject({ refundsPending: 0, ok: true });
	});
});

describe("the Stripe webhook", () => {
	const event = (id: string, type: string, object: Record<string, unknown>) => ({ id, object: "event", type, data: { object } });

	it("refuses a bad signature, a stale timestamp, another secret and no signature, changing nothing", async () => {
		const e = event("evt_bad_signature_1", "payment_intent.succeeded", { id: "pi_nothing" });
		const stale = Math.floor(Date.now() / 1000) - 301;
		const cases: [Parameters<typeof postWebhook>[1], string][] = [
			[{ signature: `t=${Math.floor(Date.now() / 1000)},v1=${"0".repeat(64)}` }, "invalid_signature"],
			[{ secret: "whsec_someone_else" }, "invalid_signature"],
			[{ timestamp: stale }, "signature_expired"],
			[{ signature: "" }, "invalid_signature"],
		];
		for (const [options, code] of cases) {
			const res = await postWebhook(e, options);
			expect(res.status).toBe(400);
			expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
		}
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM payment_events WHERE event_id = ?`).bind(e.id).first("n")).toBe(0);
	});

	it("finds the order an event names by an index on its payment id, not by reading every order", async () => {
		const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${ORDER_BY_PAYMENT_SQL}`).bind("pi_any").all<{ detail: string }>();
		const steps = plan.results.map((r) => r.detail);
		expect(steps.join("; ")).toMatch(/SEARCH orders USING (COVERING )?INDEX \S+ \(payment_id=\?\)/);
	});

	it("a refund made at Stripe before its sale reached D1 refunds the order's tickets when the sale arrives, once", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 700 });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pi_refunded_before_d1", quantity: 2, unitPriceCents: 700, totalCents: 1400 });
		const e = event("evt_refund_before_d1", "charge.refunded", { id: "ch_early", object: "charge", payment_intent: sale.paymentId, refunded: true, amount_refunded: 1400 });
		const early = await postWebhook(e);
		expect(early.status).toBe(200);
		await recordSales([sale]);
		const tickets = async () => (await env.DB.prepare(`SELECT refund_id FROM tickets WHERE order_id = ?`).bind(sale.orderId).all<{ refund_id: string | null }>()).results;
		expect(await tickets()).toHaveLength(2);
		expect((await tickets()).every((t) => t.refund_id !== null)).toBe(true);
		expect(await statusInD1(sale.orderId)).toMatchObject({ status: "refunded" });
		// The same sale delivered again, and the event replayed, refund nothing more.
		await recordSales([sale], "again");
		expect(await postWebhook(e).then((r) => r.json())).toEqual({ received: true, duplicate: true });
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM refunds WHERE order_id = ?`).bind(sale.orderId).first("n")).toBe(1);
	});

	it("acts on an event once: a refund made at Stripe refunds the order's tickets, and the replayed event changes nothing", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 600 });
		const bought = await buyWith(drop.id, "fan-stripe-webhook", { quantity: 2, payment: STRIPE("pm_card_visa") });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const [intent] = await intentsFor(drop.id, bought.holdId);
		const e = event(`evt_refund_${bought.orderId.replace(/-/g, "_")}`, "charge.refunded", { id: "ch_x", object: "charge", payment_intent: intent!.id, refunded: true, amount_refunded: 1200 });
		const first = await postWebhook(e);
		expect(first.status).toBe(200);
		expect(await first.json()).toEqual({ received: true, duplicate: false });
		const order = await readOrder(bought.orderId, bought.orderToken);
		expect(order).toMatchObject({ status: "refunded", refundedTickets: 2 });
		const refundsBefore = await env.DB.prepare(`SELECT * FROM refunds WHERE order_id = ?`).bind(bought.orderId).all();
		expect(refundsBefore.results).toHaveLength(1);
		// The same event again, freshly signed (Stripe's retry, or someone replaying it).
		const replay = await postWebhook(e);
		expect(replay.status).toBe(200);
		expect(await replay.json()).toEqual({ received: true, duplicate: true });
		expect((await env.DB.prepare(`SELECT * FROM refunds WHERE order_id = ?`).bind(bought.orderId).all()).results).toEqual(refundsBefore.results);
		// Nothing was asked of Stripe: the refund was made there.
		expect((await fakeStripe("state")).refunds.filter((r) => r.payment_intent === intent!.id)).toEqual([]);
	});

	for (const type of ["refund.failed", "charge.refund.updated"]) {
		it(`${type}: a refund Stripe failed after making it reads failed with why, keeps its tickets off the gate, and the promoter's repeat retries it once`, async () => {
			const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 450 });
			const bought = await buyWith(drop.id, `fan-stripe-failed-${type.replace(/\./g, "-")}`, { quantity: 2, payment: STRIPE("pm_card_visa") });
			await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
			const [intent] = await intentsFor(drop.id, bought.holdId);
			const done = (await (await refund(drop.id, bought.orderId)).json()) as OrderRefunds;
			expect(done.refunds).toEqual([expect.objectContaining({ state: "refunded" })]);
			const [made] = (await fakeStripe("state")).refunds.filter((r) => r.payment_intent === intent!.id);
			// The card was closed: days later Stripe fails the refund and tells the webhook.
			const failed = (await (await fetch("https://stripe.test/_fake/fail-refund", { method: "POST", body: made!.id })).json()) as Record<string, unknown>;
			expect(failed).toMatchObject({ status: "failed", failure_reason: "expired_or_canceled_card" });
			const e = event(`evt_failed_${type.replace(/\./g, "_")}_${made!.id}`, type, failed);
			expect(await (await postWebhook(e)).json()).toEqual({ received: true, duplicate: false });

			const list = (await (await adminFetch(`/api/admin/drops/${drop.id}/refunds`)).json()) as { refunds: { refundId: string; state: string; detail: string | null }[] };
			expect(list.refunds).toEqual([expect.objectContaining({ refundId: done.refunds[0]!.refundId, state: "failed", detail: expect.stringContaining("expired_or_canceled_card") })]);
			// The tickets stay taken back (the gate refuses them); the order says its refund failed instead of reading done.
			const order = await readOrder(bought.orderId, bought.orderToken);
			expect(order.passes.map((p) => p.state)).toEqual(["refunded", "refunded"]);
			expect(order.statusDetail).toContain("refund failed");
			expect(await audit(drop.id)).toMatchObject({ refundsFailed: 1 });
			expect(await (await postWebhook(e)).json()).toEqual({ received: true, duplicate: true });

			// The promoter repeats the refund: Stripe is asked again under a new key, once however often it is repeated.
			const retried = (await (await refund(drop.id, bought.orderId)).json()) as OrderRefunds;
			expect(retried).toMatchObject({ changed: true, refunds: [expect.objectContaining({ state: "refunded", detail: null })] });
			expect(((await (await refund(drop.id, bought.orderId)).json()) as OrderRefunds).changed).toBe(false);
			const atStripe = (await fakeStripe("state")).refunds.filter((r) => r.payment_intent === intent!.id);
			expect(atStripe).toEqual([expect.objectContaining({ status: "failed", amount: 900 }), expect.objectContaining({ status: "succeeded", amount: 900 })]);
			expect((await readOrder(bought.orderId, bought.orderToken)).statusDetail).toBeNull();
			expect(await audit(drop.id)).toMatchObject({ refundsFailed: 0, refundsPending: 0 });
		});
	}
});
