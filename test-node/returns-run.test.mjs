// The returns load scenario (lib/returns.js): the verdict passes a run whose
// returned tickets went to the fans in line in line order, and fails each way
// that can go wrong (a fan passed over, a turn that was no offer, a returned
// ticket not sold again, the audit's counts); the promoter's side waits for
// the sell-out, refunds its share with restock once each, waits for the
// tickets to sell again and closes the drop; a fan in the shared journey who
// is told sold out keeps polling in line, is offered a ticket and buys it,
// and a turn from before the sell-out refused returns_in_line goes home
// without an error.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fanJourney, knobsFrom, runAsync } from "../loadtest/lib/journey.js";
import { ordersToReturn, returnTickets, returnsVerdict } from "../loadtest/lib/returns.js";
import { scenarioNamed } from "../loadtest/lib/scenarios.js";

const T0 = Date.parse("2026-12-07T12:00:00.000Z");
const iso = (ms) => new Date(ms).toISOString();

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

/** The final audit of a clean run: 10 tickets, the line began after position 10, 2 restocked, 3 offers. */
function audit(over = {}) {
	return {
		capacity: 10,
		totals: { sold: 10, held: 0, remaining: 0, orders: 12, inFlight: 0 },
		refunds: { refunds: 2, tickets: 2, amountCents: 9000, restocked: 2, atGate: 10 },
		admission: { returnsFrom: 10, offeredReturns: 3 },
		...over,
	};
}

/** Fans 1..10 bought before the sell-out; 11..15 waited; 11 (abandoned), 12 and 13 were offered, in that order. */
function results() {
	const out = [];
	for (let p = 1; p <= 10; p++) out.push({ position: p, admittedAt: T0, outcome: "bought", tickets: 1, offer: false });
	out.push({ position: 11, admittedAt: T0 + 5000, outcome: "abandoned", tickets: 0, offer: true });
	out.push({ position: 12, admittedAt: T0 + 7000, outcome: "bought", tickets: 1, offer: true });
	out.push({ position: 13, admittedAt: T0 + 8000, outcome: "bought", tickets: 1, offer: true });
	out.push({ position: 14, outcome: "closed", tickets: 0, offer: false });
	out.push({ position: 15, outcome: "closed", tickets: 0, offer: false });
	return out;
}

const phase = { refundedOrders: 2, refundedTickets: 2, refundedAt: T0 + 4000, resoldAt: T0 + 9000, timedOut: false, error: null };

test("a returns run whose returned tickets went to the line in order passes", () => {
	const v = returnsVerdict({ results: results(), audit: audit(), phase });
	assert.deepEqual(v.failures, []);
	assert.equal(v.ok, true);
	assert.deepEqual(v.stats, { returnsFrom: 10, refundedOrders: 2, refundedTickets: 2, inLine: 5, offered: 3, buyers: 2, resoldTickets: 2, refundToResoldMs: 5000 });
});

test("a fan passed over for a later one fails the run, naming both", () => {
	const r = results();
	// Position 13 offered while 12 waited: the same count, the wrong fans.
	r[11] = { position: 12, outcome: "closed", tickets: 0, offer: false };
	r[13] = { position: 14, admittedAt: T0 + 9000, outcome: "bought", tickets: 1, offer: true };
	const v = returnsVerdict({ results: r, audit: audit(), phase });
	assert.equal(v.ok, false);
	assert.ok(v.failures.some((f) => /out of line order: the fan at position 13 .* position 12 waited/.test(f)), v.failures.join("\n"));
});

test("a turn after the sell-out that was no offer, a returned ticket not sold again, and audit counts that disagree each fail", () => {
	const notOffer = results();
	notOffer[12] = { ...notOffer[12], offer: false };
	assert.ok(returnsVerdict({ results: notOffer, audit: audit(), phase }).failures.some((f) => /not an offer/.test(f)));

	const unsold = results();
	unsold[12] = { ...unsold[12], outcome: "expired", tickets: 0 };
	const v = returnsVerdict({ results: unsold, audit: audit({ totals: { sold: 9, held: 0, remaining: 1, orders: 11, inFlight: 0 } }), phase });
	assert.ok(v.failures.some((f) => /1 returned ticket\(s\) never sold again/.test(f)), v.failures.join("\n"));
	assert.ok(v.failures.some((f) => /bought 1 ticket\(s\); 2 came back/.test(f)), v.failures.join("\n"));

	assert.ok(returnsVerdict({ results: results(), audit: audit({ refunds: { restocked: 1 } }), phase }).failures.some((f) => /counts 1 ticket\(s\) restocked/.test(f)));
	assert.ok(returnsVerdict({ results: results(), audit: audit({ admission: { returnsFrom: 10, offeredReturns: 4 } }), phase }).failures.some((f) => /the audit counts 4 offers/.test(f)));
	assert.ok(returnsVerdict({ results: results(), audit: audit(), phase: { ...phase, timedOut: true, error: "closing the drop failed: 422" } }).failures.length >= 2);
});

test("the orders refunded are the share asked, at least one, spread over the sale", () => {
	const sales = Array.from({ length: 95 }, (_, i) => ({ orderId: `o${String(i).padStart(3, "0")}`, createdAt: iso(T0 + i * 10), quantity: 1 }));
	const picked = ordersToReturn(sales.slice().reverse(), 0.1);
	assert.equal(picked.length, 10);
	assert.equal(new Set(picked.map((s) => s.orderId)).size, 10);
	assert.equal(picked[0].orderId, "o000");
	assert.ok(picked.at(-1).orderId > "o080");
	assert.equal(ordersToReturn(sales.slice(0, 3), 0.1).length, 1);
});

test("the promoter's side waits for the sell-out, refunds each picked order once with restock through a 503, waits for the resale, then closes the drop", async () => {
	let views = 0;
	let audits = 0;
	const refunds = [];
	const client = fakeClient((effect) => {
		if (effect.step === "drop") return res(200, { status: ++views < 3 ? "open" : "sold_out", remaining: 0 });
		if (effect.url.includes("/sales")) {
			return res(200, { sales: Array.from({ length: 10 }, (_, i) => ({ orderId: `o${i}`, createdAt: iso(T0 + i), quantity: 2, totalCents: 9000, status: "ticketed", refundedTickets: 0 })), nextCursor: null });
		}
		if (effect.step === "refund") {
			refunds.push(effect);
			if (refunds.length === 1) return res(503, { error: { code: "provider_unavailable", message: "later" } });
			assert.deepEqual(JSON.parse(effect.body), { restock: true });
			return res(200, { refunded: true });
		}
		if (effect.url.includes("/audit")) return res(200, audit({ capacity: 20, totals: { sold: ++audits < 2 ? 18 : 20, held: 0, remaining: 0, orders: 12, inFlight: 0 } }));
		if (effect.method === "PATCH") return res(200, { closesAt: JSON.parse(effect.body).closesAt });
		throw new Error("unexpected " + effect.method + " " + effect.url);
	});
	const out = await runAsync(returnTickets(client, { baseUrl: "http://x", adminToken: "t" }, "d1", knobsFrom({ tickets: "20", returnShare: "0.2" }), 600_000), client);
	assert.equal(out.error, null);
	assert.equal(out.orders, 10);
	assert.equal(out.refundedOrders, 2);
	assert.equal(out.refundedTickets, 4);
	assert.equal(refunds.length, 3, "the 503 asked again, each order refunded once");
	assert.equal(new Set(refunds.map((e) => e.url)).size, 2);
	assert.ok(out.soldOutAt < out.refundedAt && out.refundedAt < out.resoldAt && out.resoldAt <= out.closedAt);
	const patch = client.seen.find((e) => e.method === "PATCH");
	assert.equal(patch.url, "http://x/api/admin/drops/d1");
	assert.ok(Date.parse(JSON.parse(patch.body).closesAt) > out.resoldAt, "closed a moment after the resale");
	assert.equal(client.seen.at(-1), patch, "nothing after the close");
});

test("in the shared journey a fan told sold out keeps polling in line, is offered a returned ticket and buys it; without the scenario it goes home", async () => {
	const run = async (waitForReturns) => {
		let polls = 0;
		const client = fakeClient((effect) => {
			if (effect.step === "join") return res(201, { status: "sold_out", queueToken: "q", position: 11, pollAfterMs: 1000, returns: { ticketsBack: 0, offered: 0 } });
			if (effect.step === "status") {
				polls++;
				return polls < 4
					? res(200, { status: "sold_out", position: 11, place: 1, pollAfterMs: 1000, returns: { ticketsBack: polls === 3 ? 1 : 0, offered: 0 } })
					: res(200, { status: "admitted", position: 11, accessToken: "a", admittedAt: iso(T0 + 4000), offer: true });
			}
			if (effect.step === "hold") return res(201, { holdId: "h1", quantity: 1 });
			if (effect.step === "purchase") return res(201, { orderId: "o1", quantity: 1, tickets: ["t"], orderToken: "x" });
			if (effect.step === "ticket" || effect.step === "order") return res(200, { orderId: "o1", status: "ticketed", tickets: [{ token: "t" }] });
			throw new Error("unexpected " + effect.step);
		});
		const knobs = knobsFrom({ quantity: "1", abandonRate: "0", declineRate: "0", thinkMs: "0" });
		const result = await runAsync(fanJourney(client, { baseUrl: "http://x", dropId: "d1", fanId: "f1", index: 0, knobs, waitForReturns }), client);
		return { result, client, polls };
	};
	const stays = await run(true);
	assert.equal(stays.result.outcome, "bought");
	assert.equal(stays.result.offer, true);
	assert.equal(stays.result.position, 11);
	assert.equal(stays.polls, 4);
	assert.ok(stays.client.checks.every((c) => c.ok));
	const leaves = await run(false);
	assert.equal(leaves.result.outcome, "sold_out");
	assert.equal(leaves.polls, 0);
	assert.equal(scenarioNamed("returns").returns, true);
	assert.equal(scenarioNamed("spike").returns, false);
});

test("a turn from before the sell-out refused returns_in_line goes home: outcome sold_out, no error", async () => {
	const client = fakeClient((effect) => {
		if (effect.step === "join") return res(201, { status: "waiting", queueToken: "q", position: 1, pollAfterMs: 100 });
		if (effect.step === "status") return res(200, { status: "admitted", accessToken: "a", position: 1 });
		if (effect.step === "hold") return res(409, { error: { code: "returns_in_line", message: "The returned tickets are the line's." } });
		throw new Error("unexpected " + effect.step);
	});
	const result = await runAsync(fanJourney(client, { baseUrl: "http://x", dropId: "d1", fanId: "f1", index: 0, knobs: knobsFrom({ quantity: "1" }) }), client);
	assert.equal(result.outcome, "sold_out");
	assert.deepEqual(client.events.filter((e) => e.name === "error"), []);
	assert.ok(client.checks.every((c) => c.ok));
});
