// A load run that cancels its drop mid-sale (lib/cancel.js): the verdict over
// what the run gathered passes a clean cancel and fails each way a cancel can
// go wrong (a sale after it, an order not refunded or refunded short, the
// audit); the promoter's cancel calls page until nothing is left; and a fan
// told 409 drop_cancelled at any step goes home without an error.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cancelDrop, cancelVerdict } from "../loadtest/lib/cancel.js";
import { DEFAULTS, fanJourney, knobsFrom, runAsync } from "../loadtest/lib/journey.js";
import { reportVerdict } from "../loadtest/lib/report-html.js";

const T0 = Date.parse("2026-12-06T12:00:00.000Z");
const iso = (ms) => new Date(ms).toISOString();

/** A sale as readSales gives it; refunded unless told otherwise. */
function sale(orderId, atMs, { refunded = true, quantity = 2, totalCents = 9000 } = {}) {
	return { orderId, createdAt: iso(atMs), quantity, totalCents, status: refunded ? "refunded" : "ticketed", refundedTickets: refunded ? quantity : 0 };
}

/** A clean run: two orders before the cancel (refunded by it), one charge that raced it (refunded by the engine). */
function cleanRun() {
	const before = [sale("o1", T0 - 5000), sale("o2", T0 - 1000, { quantity: 1, totalCents: 4500 })];
	const raced = sale("o3", T0 + 400);
	return {
		cancel: { sentAt: T0, answeredAt: T0 + 200, cancelledAt: iso(T0 + 10), calls: 1, ordersLeft: 0, left: [], done: true },
		sweep: { calls: 1, ordersLeft: 0, left: [], done: true },
		salesBeforeSweep: [...before, raced],
		sales: [...before, raced],
		refunds: [
			{ orderId: "o1", amountCents: 9000, tickets: 2, state: "refunded" },
			{ orderId: "o2", amountCents: 4500, tickets: 1, state: "refunded" },
			{ orderId: "o3", amountCents: 9000, tickets: 2, state: "refunded" },
		],
		purchases: [
			{ orderId: "o1", answeredAt: T0 - 4990 },
			{ orderId: "o2", answeredAt: T0 - 990 },
			{ orderId: "o3", answeredAt: T0 + 410 },
		],
		audit: { ok: true, refundsPending: 0, refundsFailed: 0, holdsChargedTwice: 0 },
	};
}

test("a cancel after which nothing was sold, every order refunded in full and the audit clean passes", () => {
	const v = cancelVerdict(cleanRun());
	assert.deepEqual(v.failures, []);
	assert.equal(v.ok, true);
	assert.equal(v.stats.ordersRefunded, 3);
	assert.equal(v.stats.soldCents, 22500);
	assert.equal(v.stats.refundedCents, 22500);
	assert.equal(v.stats.salesAfterCancel, 1);
	assert.equal(v.stats.salesAfterCancelRefundedByEngine, 1);
});

test("a sale after the cancel that only the promoter's later call refunded fails the run, in D1 and in the fans' 201s", () => {
	const run = cleanRun();
	// The engine kept selling: o4 was made after the cancel answered; the sweep after the drain refunded it.
	run.salesBeforeSweep.push(sale("o4", T0 + 3000, { refunded: false }));
	run.sales.push(sale("o4", T0 + 3000));
	run.refunds.push({ orderId: "o4", amountCents: 9000, tickets: 2, state: "refunded" });
	run.purchases.push({ orderId: "o4", answeredAt: T0 + 3010 });
	const v = cancelVerdict(run);
	assert.equal(v.ok, false);
	assert.equal(v.failures.length, 2, v.failures.join("\n"));
	assert.match(v.failures[0], /^cancel: 1 sale\(s\) \(2 ticket\(s\)\) made after the cancel answered and not refunded by the engine \(e\.g\. o4\)/);
	assert.match(v.failures[1], /^cancel: fans were answered 201 for 1 purchase\(s\) after the cancel answered/);
	assert.equal(v.stats.salesAfterCancel, 2);
	assert.equal(v.stats.salesAfterCancelRefundedByEngine, 1);
});

test("a fan's 201 after the cancel fails the run even when its sale never reached D1", () => {
	const run = cleanRun();
	run.purchases.push({ orderId: "o9", answeredAt: T0 + 5000 });
	const v = cancelVerdict(run);
	assert.deepEqual(v.failures.length, 1);
	assert.match(v.failures[0], /fans were answered 201 for 1 purchase\(s\) after the cancel answered, not refunded by the engine \(e\.g\. o9\)/);
});

test("the cut is the engine's stamp of the cancel plus its round trip, so a client clock ahead of the engine's does not pass a late sale", () => {
	const run = cleanRun();
	// The engine's clock is 10 s behind the client's: a sale 1 s after the cancel on the engine's clock is still after it.
	const engine = T0 - 10_000;
	run.cancel.cancelledAt = iso(engine + 10);
	run.salesBeforeSweep = [sale("o5", engine + 1200, { refunded: false })];
	run.sales = [sale("o5", engine + 1200)];
	run.refunds = [{ orderId: "o5", amountCents: 9000, tickets: 2, state: "refunded" }];
	run.purchases = [];
	const v = cancelVerdict(run);
	assert.equal(v.failures.length, 1);
	assert.match(v.failures[0], /made after the cancel answered/);
});

test("an order left unrefunded, or refunded short, fails the run", () => {
	const unrefunded = cleanRun();
	unrefunded.sales[1] = sale("o2", T0 - 1000, { refunded: false, quantity: 1, totalCents: 4500 });
	unrefunded.refunds.splice(1, 1);
	const a = cancelVerdict(unrefunded);
	assert.deepEqual(a.failures, ["cancel: 1 of 3 order(s) not refunded (e.g. o2)"]);

	const partly = cleanRun();
	partly.sales[0] = { ...partly.sales[0], refundedTickets: 1 };
	assert.deepEqual(cancelVerdict(partly).failures, ["cancel: 1 of 3 order(s) not refunded (e.g. o1)"]);

	const short = cleanRun();
	short.refunds[0] = { ...short.refunds[0], amountCents: 4500 };
	assert.deepEqual(cancelVerdict(short).failures, ["cancel: 1 refunded order(s) whose refunds do not add up to the sale (e.g. o1: sold 9000 cents, refunded 4500)"]);

	const pending = cleanRun();
	pending.refunds[0] = { ...pending.refunds[0], state: "pending" };
	const p = cancelVerdict(pending);
	assert.equal(p.ok, false);
	assert.ok(p.failures.includes("cancel: 1 refunded order(s) whose refunds do not add up to the sale (e.g. o1: sold 9000 cents, refunded 0)"));
	assert.ok(p.failures.includes("cancel: 1 refund(s) still pending at the provider (money owed back, e.g. order o1)"));

	const stranger = cleanRun();
	stranger.refunds.push({ orderId: "zz", amountCents: 100, tickets: 1, state: "refunded" });
	assert.deepEqual(cancelVerdict(stranger).failures, ["cancel: 1 refund(s) of orders not in the drop's sales (e.g. zz)"]);
});

test("cancel calls that left orders, and an audit that does not balance, fail the run", () => {
	const left = cleanRun();
	left.cancel = { ...left.cancel, done: false, ordersLeft: 1, left: [{ orderId: "o2", code: "payment_method_unavailable", message: "x" }] };
	left.sweep = { ...left.sweep, done: false, ordersLeft: 1, left: [] };
	const l = cancelVerdict(left);
	assert.equal(l.failures.length, 2);
	assert.match(l.failures[0], /^cancel: the calls at the cancel ended with 1 order\(s\) left and 1 not refundable/);
	assert.match(l.failures[1], /^cancel: the calls after the drain ended with 1 order\(s\) left/);

	for (const [audit, failure] of [
		[{ ok: false, refundsPending: 0, holdsChargedTwice: 0 }, "cancel: the audit after the cancel is not ok"],
		[{ ok: true, refundsPending: 2, holdsChargedTwice: 0 }, "cancel: the audit counts 2 refund(s) pending past its grace period"],
		[{ ok: true, refundsPending: 0, holdsChargedTwice: 1 }, "cancel: the audit counts 1 hold(s) charged twice"],
	]) {
		const run = cleanRun();
		run.audit = audit;
		assert.deepEqual(cancelVerdict(run).failures, [failure]);
	}

	const never = cleanRun();
	never.cancel = { sentAt: null, answeredAt: null, cancelledAt: null, calls: 3, ordersLeft: null, left: [], done: false };
	assert.deepEqual(cancelVerdict(never).failures, ["cancel: no cancel call was answered 200"]);
});

test("the HTML report's verdict has a line for the cancel, failed when the verdict failed", () => {
	const base = { audit: null, failures: [] };
	const passed = reportVerdict({ ...base, cancel: cancelVerdict(cleanRun()) });
	const line = passed.checks.find((c) => c.name === "cancel");
	assert.equal(line.ok, true);
	assert.match(line.text, /^cancelled mid-sale: sales after the cancel 0 kept \(1 raced and refunded\), 201s after it 0 kept, refunded 3\/3 orders, 22500 of 22500 cents$/);
	const run = cleanRun();
	run.sales.push(sale("o4", T0 + 3000));
	run.salesBeforeSweep.push(sale("o4", T0 + 3000, { refunded: false }));
	run.refunds.push({ orderId: "o4", amountCents: 9000, tickets: 2, state: "refunded" });
	const failed = reportVerdict({ ...base, cancel: cancelVerdict(run) }).checks.find((c) => c.name === "cancel");
	assert.equal(failed.ok, false);
	assert.match(failed.text, /sales after the cancel 1 kept/);
});

/** A client whose answers come from `answer(effect, n)`, on a virtual clock: pauses advance it, nothing sleeps. */
function fakeClient(answer) {
	let now = T0;
	const seen = [];
	const events = [];
	const checks = [];
	return {
		seen,
		events,
		checks,
		now: () => now,
		sleep: async (ms) => {
			now += ms;
		},
		request: async (effect) => {
			now += 5;
			seen.push(effect);
			return answer(effect, seen.length);
		},
		batch: async (effects) => Promise.all(effects.map((e) => answer(e, seen.push(e)))),
		check: (name, ok, detail) => checks.push({ name, ok, detail }),
		event: (name, detail) => events.push({ name, detail }),
	};
}

const res = (status, body) => ({ status, body: JSON.stringify(body), headers: {} });
const cancelled = () => res(409, { error: { code: "drop_cancelled", message: "The drop was cancelled." } });

test("the promoter's cancel is called until ordersLeft is 0 and left is empty, through a provider's 503", async () => {
	const answers = [
		{ ...res(200, { dropId: "d1", cancelledAt: iso(T0), refundedOrders: 50, ordersLeft: 20, left: [] }), elapsedMs: 1.2 },
		res(503, { error: { code: "provider_unavailable", message: "later" } }),
		res(200, { dropId: "d1", cancelledAt: iso(T0), refundedOrders: 19, ordersLeft: 1, left: [{ orderId: "o7", code: "refund_failed", message: "card closed" }] }),
		res(200, { dropId: "d1", cancelledAt: iso(T0), refundedOrders: 1, ordersLeft: 0, left: [] }),
	];
	const client = fakeClient((effect, n) => answers[n - 1]);
	const out = await runAsync(cancelDrop(client, { baseUrl: "http://x", adminToken: "t" }, "d1", 60_000), client);
	assert.equal(out.calls, 4);
	assert.equal(out.done, true);
	assert.equal(out.refundedOrders, 70);
	assert.equal(out.cancelledAt, iso(T0));
	// The request's time on the wire (elapsedMs, rounded up), not the wait for a socket before it.
	assert.equal(out.answeredAt, T0 + 5);
	assert.equal(out.sentAt, T0 + 3);
	assert.ok(client.seen.every((e) => e.method === "POST" && e.url === "http://x/api/admin/drops/d1/cancel" && e.step === "cancel"));

	const stuck = fakeClient(() => res(200, { dropId: "d1", cancelledAt: iso(T0), refundedOrders: 0, ordersLeft: 1, left: [{ orderId: "o7", code: "payment_method_unavailable", message: "x" }] }));
	const bounded = await runAsync(cancelDrop(stuck, { baseUrl: "http://x", adminToken: "t" }, "d1", 3000), stuck);
	assert.equal(bounded.done, false);
	assert.ok(bounded.calls >= 2 && bounded.calls <= 8, String(bounded.calls));
});

/** One fan's journey against answers that are ordinary until `cancelAt` (a step name) answers 409 drop_cancelled. */
async function fanToldCancelledAt(cancelAt) {
	const client = fakeClient((effect) => {
		if (effect.step === cancelAt) return cancelled();
		if (effect.step === "join") return res(201, { status: "waiting", queueToken: "q", position: 1, pollAfterMs: 100 });
		if (effect.step === "status") return res(200, { status: "admitted", accessToken: "a", position: 1 });
		if (effect.step === "hold") return res(201, { holdId: "h1", quantity: 1 });
		if (effect.step === "purchase") return res(201, { orderId: "o1", quantity: 1, tickets: ["t"], orderToken: "x" });
		throw new Error("unexpected " + effect.step);
	});
	const knobs = knobsFrom({ quantity: "1", abandonRate: "0", declineRate: "0", thinkMs: "0" });
	const result = await runAsync(fanJourney(client, { baseUrl: "http://x", dropId: "d1", fanId: "f1", index: 0, knobs }), client);
	return { result, client };
}

test("a fan told 409 drop_cancelled at join, status, hold or purchase goes home: outcome cancelled, no error, the answer counted as the contract's", async () => {
	for (const step of ["join", "status", "hold", "purchase"]) {
		const { result, client } = await fanToldCancelledAt(step);
		assert.equal(result.outcome, "cancelled", step);
		assert.deepEqual(
			client.events.filter((e) => e.name === "error"),
			[],
			step,
		);
		assert.ok(client.events.some((e) => e.name === "cancelled" && e.detail.step === step), step);
		assert.ok(client.checks.some((c) => c.name === `${step} answered as the contract says` && c.ok), step);
		assert.ok(client.checks.every((c) => c.ok), step);
		// Nothing more after the cancel: the fan's last request was the one refused.
		assert.equal(client.seen.at(-1).step, step);
	}
});

test("a fan waiting for tickets to come back goes home when the drop's view says cancelled", async () => {
	let holds = 0;
	const client = fakeClient((effect) => {
		if (effect.step === "join") return res(201, { status: "waiting", queueToken: "q", position: 1, pollAfterMs: 100 });
		if (effect.step === "status") return res(200, { status: "admitted", accessToken: "a", position: 1 });
		if (effect.step === "hold") {
			holds++;
			return res(409, { error: { code: "sold_out", message: "none left" } });
		}
		if (effect.step === "drop") return res(200, { status: "cancelled", remaining: 0 });
		throw new Error("unexpected " + effect.step);
	});
	const knobs = knobsFrom({ quantity: "1" });
	const result = await runAsync(fanJourney(client, { baseUrl: "http://x", dropId: "d1", fanId: "f1", index: 0, knobs }), client);
	assert.equal(result.outcome, "cancelled");
	assert.equal(holds, 1);
});

test("CANCEL_AFTER_SOLD is a knob: off by default, a whole number of tickets", () => {
	assert.equal(DEFAULTS.cancelAfterSold, 0);
	assert.equal(knobsFrom({ CANCEL_AFTER_SOLD: "100" }).cancelAfterSold, 100);
	assert.throws(() => knobsFrom({ CANCEL_AFTER_SOLD: "-1" }), /CANCEL_AFTER_SOLD/);
	assert.throws(() => knobsFrom({ CANCEL_AFTER_SOLD: "1.5" }), /CANCEL_AFTER_SOLD/);
});
