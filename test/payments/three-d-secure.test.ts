// 3-D Secure with Stripe, against the local stand-in (scripts/lib/fake-stripe.mjs):
// a card that needs the fan's bank answers 202 with the PaymentIntent's client
// secret and keeps the hold; the fan finishes it and Stripe's signed webhook makes
// the order once, however often it comes; a fan who never finishes has the intent
// cancelled and the hold released at the deadline, with nothing charged; a success
// that comes after the deadline is refunded; a repeat meanwhile answers the same 202;
// a failed check is a decline that keeps the hold.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PaymentAction } from "../../src/contract/fan-answers";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { fakeStripe, purchaseWith } from "../support/after-sale";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { admittedFan, hold } from "../support/fans";
import { holdState, moveShardClock, shardOfHold, shardStub } from "../support/shards";
import { waitUntil } from "../support/wait";
import { callWorker } from "../support/worker";

const THREE_DS = { payment: { method: "stripe", token: "pm_card_threeDSecure2Required" } };

interface Finished {
	event: { id: string; type: string; data: { object: Record<string, unknown> } };
	payload: string;
	signature: string;
}

/** The fan finishes (or fails) their bank's check at the stand-in: the webhook event Stripe would send, signed. */
async function finishAction(paymentIntent: string, outcome: "succeed" | "fail"): Promise<Finished> {
	const res = await fetch("https://stripe.test/_fake/complete-action", { method: "POST", body: JSON.stringify({ paymentIntent, outcome }) });
	expect(res.status).toBe(200);
	return (await res.json()) as Finished;
}

/** Delivers a signed event to the engine's webhook, as Stripe does (again, for a replay). */
async function deliver({ payload, signature }: { payload: string; signature: string }): Promise<{ received: boolean; duplicate: boolean }> {
	const res = await callWorker(`/api/payments/stripe/webhook`, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body: payload });
	expect(res.status).toBe(200);
	return (await res.json()) as { received: boolean; duplicate: boolean };
}

/** The same event under a new id (Stripe may send an event about one intent more than once). */
async function resent(finished: Finished): Promise<{ payload: string; signature: string }> {
	const payload = JSON.stringify({ ...finished.event, id: `${finished.event.id}_again` });
	const { stripeSignature } = await import("../../scripts/lib/fake-stripe.mjs");
	return { payload, signature: await stripeSignature(env.STRIPE_WEBHOOK_SECRET!, payload) };
}

async function intent(paymentId: string) {
	return (await fakeStripe("state")).paymentIntents.find((i) => i.id === paymentId)!;
}

async function refundsOf(paymentId: string): Promise<{ amount: number }[]> {
	const state = (await (await fetch("https://stripe.test/_fake/state")).json()) as { refunds: { payment_intent: string; amount: number }[] };
	return state.refunds.filter((r) => r.payment_intent === paymentId);
}

async function charge(dropId: string, holdId: string): Promise<{ state: string; deadline: number | null; attempt: number }> {
	return runInDurableObject(shardStub(dropId, shardOfHold(holdId)), (_s: InventoryShard, state) => state.storage.sql.exec<{ state: string; deadline: number | null; attempt: number }>(`SELECT state, deadline, attempt FROM charges WHERE hold_id = ?`, holdId).one());
}

async function shardCount(dropId: string, holdId: string, sql: string): Promise<number> {
	return runInDurableObject(shardStub(dropId, shardOfHold(holdId)), (_s: InventoryShard, state) => state.storage.sql.exec<{ n: number }>(sql, holdId).one().n);
}

const ordersOf = (dropId: string, holdId: string) => shardCount(dropId, holdId, `SELECT COUNT(*) AS n FROM orders WHERE hold_id = ?`);
const paymentsOf = (dropId: string, holdId: string) => shardCount(dropId, holdId, `SELECT COUNT(*) AS n FROM charge_payments WHERE hold_id = ?`);

/** A fan admitted with a hold of one ticket, and their purchase with the 3-D Secure card answered 202. */
async function awaitingPurchase(fanId: string, priceCents = 2000) {
	const drop = await createDrop({ admission: WIDE_OPEN, priceCents, currency: "EUR" });
	const token = await admittedFan(drop.id, fanId);
	const held = (await (await hold(drop.id, token, 1)).json()) as { holdId: string; expiresAt: string };
	const res = await purchaseWith(drop.id, token, held.holdId, THREE_DS);
	expect(res.status).toBe(202);
	const action = (await res.json()) as PaymentAction;
	return { drop, token, held, action };
}

describe("3-D Secure", () => {
	it("answers 202 with the client secret and keeps the hold; a repeat answers the same 202 and makes no second PaymentIntent", async () => {
		const { drop, token, held, action } = await awaitingPurchase("fan-3ds-202");
		expect(action).toMatchObject({ holdId: held.holdId, status: "requires_action", method: "stripe", amountCents: 2000, currency: "EUR" });
		expect(action.paymentId).toMatch(/^pi_/);
		expect(action.clientSecret).toMatch(new RegExp(`^${action.paymentId}_secret_`));
		// The hold is kept while the bank is asked: at least as long as it was, within the turn.
		expect(Date.parse(action.expiresAt)).toBeGreaterThanOrEqual(Date.parse(held.expiresAt));
		expect(await intent(action.paymentId)).toMatchObject({ status: "requires_action", metadata: { idempotency_key: `${drop.id}:${held.holdId}:1` } });
		const created = (await fakeStripe("state")).created;
		const again = await Promise.all([purchaseWith(drop.id, token, held.holdId, THREE_DS), purchaseWith(drop.id, token, held.holdId, { payment: { method: "stripe", token: "pm_card_visa" } })]);
		expect(again.map((r) => r.status)).toEqual([202, 202]);
		for (const r of again) expect(await r.json()).toEqual(action);
		expect((await fakeStripe("state")).created).toBe(created);
		expect(await holdState(drop.id, held.holdId)).toBe("active");
		// Waiting on the fan within its deadline is not an unreconciled charge.
		const a = await audit(drop.id, 0);
		expect(a.unreconciledCharges).toBe(0);
		expect(a.totals.held).toBe(1);
	});

	it("makes the order once when the fan finishes and the webhook comes, twice, and once more under a new event id", async () => {
		const { drop, token, held, action } = await awaitingPurchase("fan-3ds-webhook");
		const finished = await finishAction(action.paymentId, "succeed");
		expect(finished.event.type).toBe("payment_intent.succeeded");
		expect(await deliver(finished)).toEqual({ received: true, duplicate: false });
		expect(await deliver(finished)).toEqual({ received: true, duplicate: true });
		expect(await deliver(await resent(finished))).toEqual({ received: true, duplicate: false });
		expect(await ordersOf(drop.id, held.holdId)).toBe(1);
		expect(await paymentsOf(drop.id, held.holdId)).toBe(1);
		expect((await charge(drop.id, held.holdId)).state).toBe("ordered");
		// The fan's page asks again and learns the order.
		const bought = await purchaseWith(drop.id, token, held.holdId, THREE_DS);
		expect(bought.status).toBe(201);
		const order = (await bought.json()) as { orderId: string; totalCents: number };
		expect(order.totalCents).toBe(2000);
		await waitUntil(async () => (await env.DB.prepare(`SELECT payment_id FROM orders WHERE order_id = ?`).bind(order.orderId).first<{ payment_id: string }>())?.payment_id === action.paymentId, 20_000, "the order in D1 with the 3-D Secure payment", 100);
		expect(await refundsOf(action.paymentId)).toEqual([]);
		const a = await expectCleanAudit(drop.id, 0);
		expect(a.holdsChargedTwice).toBe(0);
		expect(a.unreconciledCharges).toBe(0);
	});

	it("lets the fan's repeat learn a success before the webhook, which then changes nothing", async () => {
		const { drop, token, held, action } = await awaitingPurchase("fan-3ds-poll");
		const finished = await finishAction(action.paymentId, "succeed");
		const polled = await purchaseWith(drop.id, token, held.holdId, THREE_DS);
		expect(polled.status).toBe(201);
		const { orderId } = (await polled.json()) as { orderId: string };
		expect(await deliver(finished)).toEqual({ received: true, duplicate: false });
		expect(await ordersOf(drop.id, held.holdId)).toBe(1);
		const replay = await purchaseWith(drop.id, token, held.holdId, THREE_DS);
		expect(((await replay.json()) as { orderId: string }).orderId).toBe(orderId);
		expect(await refundsOf(action.paymentId)).toEqual([]);
	});

	it("answers a failed bank check 402 and keeps the hold; another card then buys it, charged once", async () => {
		const { drop, token, held, action } = await awaitingPurchase("fan-3ds-failed");
		const failed = await finishAction(action.paymentId, "fail");
		expect(failed.event.type).toBe("payment_intent.payment_failed");
		expect(await deliver(failed)).toEqual({ received: true, duplicate: false });
		expect((await charge(drop.id, held.holdId)).state).toBe("declined");
		const declined = await purchaseWith(drop.id, token, held.holdId, THREE_DS);
		expect(declined.status).toBe(202);
		// The 3-D Secure card again opens a new attempt (a new PaymentIntent); a plain card buys the hold.
		const second = (await declined.json()) as PaymentAction;
		expect(second.paymentId).not.toBe(action.paymentId);
		expect((await charge(drop.id, held.holdId)).attempt).toBe(2);
		await finishAction(second.paymentId, "fail").then(deliver);
		const refused = await runInDurableObject(shardStub(drop.id, shardOfHold(held.holdId)), (s: InventoryShard) => s.purchase({ holdId: held.holdId, fanId: "fan-3ds-failed", payment: { method: "stripe", token: "pm_card_visa" } }));
		expect(refused).toMatchObject({ ok: true });
		expect(await holdState(drop.id, held.holdId)).toBe("purchased");
		expect(await paymentsOf(drop.id, held.holdId)).toBe(1);
		const a = await expectCleanAudit(drop.id);
		expect(a.holdsChargedTwice).toBe(0);
	});

	it("answers a repeat after a failed check 402 when the webhook has not come, keeping the hold", async () => {
		const { drop, token, held, action } = await awaitingPurchase("fan-3ds-failed-poll");
		await finishAction(action.paymentId, "fail");
		const declined = await purchaseWith(drop.id, token, held.holdId, THREE_DS);
		expect(declined.status).toBe(402);
		expect(((await declined.json()) as { error: { code: string; holdKept: boolean } }).error).toMatchObject({ code: "payment_declined", holdKept: true });
		expect(await holdState(drop.id, held.holdId)).toBe("active");
		expect((await purchaseWith(drop.id, token, held.holdId, { payment: { method: "stripe", token: "pm_card_visa" } })).status).toBe(201);
	});

	it("cancels the intent and releases the hold at the deadline when the fan never finishes: nothing charged, audit clean", async () => {
		const { drop, token, held, action } = await awaitingPurchase("fan-3ds-abandoned");
		const shard = shardOfHold(held.holdId);
		const deadline = (await charge(drop.id, held.holdId)).deadline!;
		expect(deadline).toBe(Date.parse(action.expiresAt));
		// Before the deadline the alarm leaves it waiting.
		await runDurableObjectAlarm(shardStub(drop.id, shard));
		expect((await charge(drop.id, held.holdId)).state).toBe("awaiting_action");
		await moveShardClock(drop.id, shard, deadline - Date.now() + 1_000);
		await runDurableObjectAlarm(shardStub(drop.id, shard));
		expect(await holdState(drop.id, held.holdId)).toBe("expired");
		expect((await charge(drop.id, held.holdId)).state).toBe("canceled");
		expect(await intent(action.paymentId)).toMatchObject({ status: "canceled" });
		expect(await paymentsOf(drop.id, held.holdId)).toBe(0);
		const after = await purchaseWith(drop.id, token, held.holdId, THREE_DS);
		expect(after.status).toBe(410);
		const a = await expectCleanAudit(drop.id, 0);
		expect(a.unreconciledCharges).toBe(0);
		expect(a.totals.sold).toBe(0);
	});

	it("refunds a success whose webhook comes after the deadline, and makes no order without a hold", async () => {
		const { drop, held, action } = await awaitingPurchase("fan-3ds-late");
		const shard = shardOfHold(held.holdId);
		const deadline = (await charge(drop.id, held.holdId)).deadline!;
		const finished = await finishAction(action.paymentId, "succeed");
		await moveShardClock(drop.id, shard, deadline - Date.now() + 1_000);
		// The webhook comes late, before the alarm: the hold is past its time, so the payment goes back.
		expect(await deliver(finished)).toEqual({ received: true, duplicate: false });
		expect(await ordersOf(drop.id, held.holdId)).toBe(0);
		expect(await holdState(drop.id, held.holdId)).toBe("expired");
		expect((await charge(drop.id, held.holdId)).state).toBe("refunded");
		expect(await refundsOf(action.paymentId)).toEqual([expect.objectContaining({ amount: 2000 })]);
		// The alarm's cancel, and the same event again, find it ended: still one refund, no order.
		await runDurableObjectAlarm(shardStub(drop.id, shard));
		expect(await deliver(await resent(finished))).toEqual({ received: true, duplicate: false });
		expect(await refundsOf(action.paymentId)).toHaveLength(1);
		expect(await ordersOf(drop.id, held.holdId)).toBe(0);
		await expectCleanAudit(drop.id, 0);
	});

	it("refunds a success the alarm's cancel finds at the deadline, before any webhook", async () => {
		const { drop, held, action } = await awaitingPurchase("fan-3ds-last-moment");
		const shard = shardOfHold(held.holdId);
		const deadline = (await charge(drop.id, held.holdId)).deadline!;
		const finished = await finishAction(action.paymentId, "succeed");
		await moveShardClock(drop.id, shard, deadline - Date.now() + 1_000);
		await runDurableObjectAlarm(shardStub(drop.id, shard));
		expect((await charge(drop.id, held.holdId)).state).toBe("refunded");
		expect(await refundsOf(action.paymentId)).toHaveLength(1);
		expect(await deliver(finished)).toEqual({ received: true, duplicate: false });
		expect(await refundsOf(action.paymentId)).toHaveLength(1);
		expect(await ordersOf(drop.id, held.holdId)).toBe(0);
		await expectCleanAudit(drop.id, 0);
	});

	it("cancels the intent when the fan gives the hold back while the bank waits", async () => {
		const { drop, token, held, action } = await awaitingPurchase("fan-3ds-released");
		const released = await callWorker(`/api/drops/${drop.id}/holds/${held.holdId}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
		expect(released.status).toBe(204);
		// The release set the alarm for now: it may already be running, so this waits for its outcome (bounded).
		await runDurableObjectAlarm(shardStub(drop.id, shardOfHold(held.holdId)));
		await waitUntil(async () => (await charge(drop.id, held.holdId)).state === "canceled", 10_000, "the waiting payment cancelled", 50);
		expect(await intent(action.paymentId)).toMatchObject({ status: "canceled" });
		await expectCleanAudit(drop.id, 0);
	});
});
