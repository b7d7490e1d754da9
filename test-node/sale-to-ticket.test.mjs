// The load report's sale-to-ticket time: after its 201 a fan reads its order
// with its order token until every pass carries a signed token, and the time
// from the 201's answer to that read is what the runners report (p50, p95,
// p99, max, the fans who never got a ticket within the deadline) and the HTML
// report draws. The journey runs here against a fake client on a fake clock.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULTS, awaitTickets, fanJourney, knobsFrom, runSync } from "../loadtest/lib/journey.js";
import { TICKET_BINS_MS, saleToTicketFailure, saleToTicketFromK6, saleToTicketStats, saleToTicketText } from "../loadtest/lib/ticket-time.js";
import { renderReport } from "../loadtest/lib/report-html.js";
import { k6Report } from "../loadtest/lib/k6-report.js";
import { checkThresholds, k6Thresholds, thresholdSpecs } from "../loadtest/lib/report-compare.js";

/**
 * A fake engine on a fake clock: each request takes `latencyMs`; the order read
 * answers tokens once `signedAfterMs` has passed since the purchase's answer.
 */
function fakeEngine({ signedAfterMs, latencyMs = 5, refunded = false, orderStatus = 200, quantity = 2 }) {
	let now = 1_000_000;
	let purchasedAt = null;
	const reads = [];
	const ok = (status, body) => ({ status, body: JSON.stringify(body), headers: {} });
	const client = {
		now: () => now,
		sleep(ms) {
			now += ms;
		},
		events: [],
		checks: [],
		event(name, detail) {
			this.events.push([name, detail]);
		},
		check(name, good) {
			this.checks.push([name, good]);
		},
		batch(list) {
			return list.map((e) => this.request(e));
		},
		request(e) {
			now += latencyMs;
			const path = new URL(e.url).pathname;
			if (path.endsWith("/join")) return ok(201, { status: "admitted", queueToken: "q", position: 1, pollAfterMs: 0 });
			if (path.endsWith("/status")) return ok(200, { status: "admitted", accessToken: "a", position: 1 });
			if (path.endsWith("/holds")) return ok(201, { holdId: "h1", quantity: JSON.parse(e.body).quantity });
			if (path.endsWith("/purchase")) {
				purchasedAt = now;
				return ok(201, { orderId: "o1", quantity, tickets: Array.from({ length: quantity }, (_, i) => `T${i}`), orderToken: "ot" });
			}
			if (path === "/api/orders/o1") {
				reads.push({ at: now, auth: e.headers.authorization, step: e.step });
				if (orderStatus !== 200) return ok(orderStatus, { error: { code: "internal", message: "no" } });
				const signed = now - purchasedAt >= signedAfterMs;
				const passes = Array.from({ length: quantity }, (_, i) => ({
					code: `T${i}`,
					token: signed && !refunded ? `tok${i}` : null,
					state: refunded ? "refunded" : "valid",
				}));
				return ok(200, { orderId: "o1", status: refunded ? "refunded" : signed ? "ticketed" : "paid", passes });
			}
			throw new Error(`unexpected ${e.method} ${path}`);
		},
	};
	return { client, reads, purchasedAt: () => purchasedAt };
}

const knobs = (over = {}) => ({ ...knobsFrom({}), quantity: "2", abandonRate: 0, declineRate: 0, thinkMs: 0, ...over });
const ctx = (k) => ({ baseUrl: "http://engine.test", dropId: "d1", fanId: "f1", index: 0, knobs: k });

test("a buyer reads its order with its order token until every ticket is signed, and the time from the 201 is its sale-to-ticket time", () => {
	const e = fakeEngine({ signedAfterMs: 1200 });
	const result = runSync(fanJourney(e.client, ctx(knobs())), e.client);
	assert.equal(result.outcome, "bought");
	assert.equal(result.ticket, "ticketed");
	assert.ok(e.reads.length >= 3, `polled until signed (${e.reads.length} reads)`);
	assert.ok(e.reads.every((r) => r.auth === "Bearer ot" && r.step === "order"), "every read carries the order token, under the step order");
	// The first read at once, then 250 ms, backing off; never faster than 250 ms after the first.
	const gaps = e.reads.slice(1).map((r, i) => r.at - e.reads[i].at);
	assert.ok(gaps.every((g) => g >= 250), `gaps ${gaps}`);
	assert.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]), `backs off: ${gaps}`);
	const last = e.reads[e.reads.length - 1].at;
	assert.equal(result.ticketMs, last - result.boughtAt, "measured from the 201's answer to the read with every token");
	assert.ok(result.ticketMs >= 1200 && result.ticketMs < 1200 + 2000 + 10, `${result.ticketMs} ms`);
	assert.equal(typeof result.ticketToken, "string");
	assert.ok(e.client.events.some(([n, d]) => n === "ticket" && d.state === "ticketed" && d.ms === result.ticketMs));
});

test("a ticket signed at once is read at once; one never signed is missed at the deadline; a refunded order is not a miss", () => {
	const now = fakeEngine({ signedAfterMs: 0 });
	const fast = runSync(fanJourney(now.client, ctx(knobs())), now.client);
	assert.equal(fast.ticket, "ticketed");
	assert.equal(now.reads.length, 1);
	assert.equal(fast.ticketMs, 5);

	const never = fakeEngine({ signedAfterMs: Infinity });
	const k = knobs({ ticketDeadlineSeconds: 10 });
	const missed = runSync(fanJourney(never.client, ctx(k)), never.client);
	assert.equal(missed.outcome, "bought", "the sale stands: only its ticket is missing");
	assert.equal(missed.ticket, "missed");
	assert.equal(missed.ticketMs, null);
	const lastRead = never.reads[never.reads.length - 1].at;
	assert.ok(lastRead - missed.boughtAt >= 10_000 - 2000 && lastRead - missed.boughtAt <= 10_000 + 10, "reads until the deadline, not past it");
	assert.ok(never.reads.length < 20, `bounded polling: ${never.reads.length} reads in 10 s`);

	const gone = fakeEngine({ signedAfterMs: 0, refunded: true });
	assert.equal(runSync(fanJourney(gone.client, ctx(knobs())), gone.client).ticket, "refunded");

	const broken = fakeEngine({ signedAfterMs: 0, orderStatus: 404 });
	const err = runSync(fanJourney(broken.client, ctx(knobs())), broken.client);
	assert.equal(err.ticket, "error");
	assert.ok(broken.client.checks.some(([n, good]) => n === "order answered as the contract says" && !good));
});

test("awaitTickets on its own: 5xx without the contract's error is retried, and the knob's default deadline is a minute", () => {
	assert.equal(DEFAULTS.ticketDeadlineSeconds, 60);
	assert.equal(DEFAULTS.scanTickets, 0, "scanning marks a ticket used: off by default");
	assert.throws(() => knobsFrom({ TICKET_DEADLINE_SECONDS: "0" }), /TICKET_DEADLINE_SECONDS/);
	assert.throws(() => knobsFrom({ SCAN_TICKETS: "1.5" }), /SCAN_TICKETS/);
	let now = 0;
	let n = 0;
	const client = {
		now: () => now,
		sleep(ms) {
			now += ms;
		},
		request() {
			now += 10;
			n++;
			if (n <= 2) return { status: 503, body: "Service Unavailable", headers: {} };
			return { status: 200, body: JSON.stringify({ status: "ticketed", passes: [{ code: "A", token: "t", state: "valid" }] }), headers: {} };
		},
	};
	const out = runSync(awaitTickets(client, { baseUrl: "http://e", fanId: "f", knobs: knobsFrom({}) }, { orderId: "o", orderToken: "x", quantity: 1 }, 0), client);
	assert.equal(out.state, "ticketed");
	assert.equal(out.reads, 3);
	assert.equal(out.ms, now);
});

const fans = (list) =>
	list.map((t) => (typeof t === "number" ? { outcome: "bought", ticket: "ticketed", ticketMs: t } : { outcome: "bought", ticket: t, ticketMs: null }));

test("the statistics: percentiles of the fans who got a ticket, the misses, and a histogram over fixed bins", () => {
	const ms = Array.from({ length: 100 }, (_, i) => (i + 1) * 10); // 10..1000 ms
	const s = saleToTicketStats([...fans([...ms, "missed", "refunded"]), { outcome: "sold_out" }], 60);
	assert.equal(s.buyers, 102);
	assert.equal(s.ticketed, 100);
	assert.equal(s.missed, 1);
	assert.equal(s.refunded, 1);
	assert.equal(s.p50, 500);
	assert.equal(s.p95, 950);
	assert.equal(s.p99, 990);
	assert.equal(s.max, 1000);
	assert.equal(s.deadlineSeconds, 60);
	assert.deepEqual(s.bins.map((b) => b.leMs), TICKET_BINS_MS);
	assert.equal(s.bins[0].fans, 25, "10..250 ms");
	assert.equal(s.bins[1].fans, 25, "260..500 ms");
	assert.equal(s.bins[2].fans, 50, "510..1000 ms");
	assert.equal(s.bins.reduce((a, b) => a + b.fans, 0) + s.over, 100);
	assert.match(saleToTicketFailure(s), /1 of 102 .*no ticket.* within 60 s/);
	assert.match(saleToTicketText(s), /p50 500ms .*p99 990ms .*max 1s .*missed 1/);
	assert.equal(saleToTicketFailure(saleToTicketStats(fans([5, 7]), 60)), null);
	const none = saleToTicketStats([{ outcome: "sold_out" }], 60);
	assert.equal(none.p50, null);
	assert.equal(saleToTicketFailure(none), null);
});

test("the HTML report shows the figures and draws how many fans got their ticket after how long; a miss fails the verdict", () => {
	const base = { scenario: "spike", knobs: { fans: 3, tickets: 3, maxPerFan: 1 }, steps: {}, failures: [] };
	const s = saleToTicketStats(fans([100, 300, 900, "missed"]), 60);
	// As the runners write it: the miss among the run's failures.
	const html = renderReport({ ...base, saleToTicket: s, failures: [saleToTicketFailure(s)] });
	const chart = /<svg class="chart" data-chart="sale-to-ticket" data-points="(\d+)"[^>]*>([\s\S]*?)<\/svg>/.exec(html);
	assert.ok(chart, "the chart is on the page");
	const bars = [...chart[2].matchAll(/<rect class="bar"[^>]* width="([\d.]+)"/g)].map((m) => Number(m[1]));
	// Up to 1 s (the last bin with a fan) and the fans with no ticket.
	assert.equal(Number(chart[1]), 4);
	assert.equal(bars.length, 4);
	assert.ok(bars.every((w) => w > 0), `${bars}`);
	assert.match(html, /sale to ticket p50/);
	assert.match(html, /data-check="tickets" data-ok="false"/);
	assert.match(html, /data-verdict="failed"/);
	const good = renderReport({ ...base, saleToTicket: saleToTicketStats(fans([100, 300]), 60) });
	assert.match(good, /data-check="tickets" data-ok="true"/);
	assert.doesNotMatch(renderReport(base), /data-chart="sale-to-ticket"/, "an older report without the figure draws no empty chart");
});

test("k6: the Trend and its bins come back as the Node runner's figures, and --p99-ticket is a threshold on both runners", () => {
	const metrics = {
		sale_to_ticket: { values: { count: 4, med: 200, "p(95)": 800, "p(99)": 900, max: 950, avg: 400, min: 50 } },
		tickets_missed: { values: { count: 1 } },
		tickets_refunded: { values: { count: 0 } },
		"sale_to_ticket_fans{le:250}": { values: { count: 2 } },
		"sale_to_ticket_fans{le:1000}": { values: { count: 2 } },
	};
	const s = saleToTicketFromK6(metrics, 60);
	assert.deepEqual([s.ticketed, s.missed, s.buyers, s.p50, s.p95, s.p99, s.max], [4, 1, 5, 200, 800, 900, 950]);
	assert.deepEqual(s.bins.map((b) => b.fans).slice(0, 3), [2, 0, 2]);
	const report = k6Report({ metrics }, { knobs: { ...knobsFrom({}) }, scenario: "spike", bucketSeconds: 1, buckets: 1, lines: 1, shards: 1, thresholdSpecs: [], steps: [] });
	assert.equal(report.saleToTicket.p99, 900);
	assert.ok(report.failures.some((f) => /no ticket/.test(f)), "a miss is a failure of a k6 run too");

	const specs = thresholdSpecs({ "p99-ticket": "2s" });
	assert.deepEqual(k6Thresholds(specs), { sale_to_ticket: ["p(99)<2000"] });
	assert.deepEqual(checkThresholds(specs, { saleToTicket: s }).map((t) => t.ok), [true]);
	assert.deepEqual(checkThresholds(thresholdSpecs({ "p99-ticket": "500ms" }), { saleToTicket: s }).map((t) => t.ok), [false]);
});
