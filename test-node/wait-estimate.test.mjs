// The load report's wait estimate against the real wait: each admitted fan keeps
// the first wait it was told while waiting (with the server time of that answer)
// and when its batch went in, and the runners report the median and p90 of
// |estimate - actual| / actual. The journey runs here against a fake engine on a
// fake clock; the figures, k6's Trend and the HTML report are checked by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fanJourney, knobsFrom, runSync } from "../loadtest/lib/journey.js";
import { MIN_ACTUAL_MS, estimateOutcome, waitEstimateFromK6, waitEstimateStats, waitEstimateText } from "../loadtest/lib/wait-estimate.js";
import { renderReport } from "../loadtest/lib/report-html.js";
import { k6Report } from "../loadtest/lib/k6-report.js";
import { textSummary } from "../loadtest/lib/k6-summary.js";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");

/**
 * A fake engine: the join answers a position with no wait told yet (no pace measured),
 * then each poll answers `estimates` in turn while waiting, and admits the fan at
 * `admittedAt` (server time). Server and client clocks are the same fake clock.
 */
function fakeEngine({ estimates, admitAfterPolls, admittedAt }) {
	let now = T0;
	let polls = 0;
	const ok = (status, body) => ({ status, body: JSON.stringify(body), headers: {} });
	const serverTime = () => new Date(now).toISOString();
	const client = {
		now: () => now,
		sleep(ms) {
			now += ms;
		},
		batch(list) {
			return list.map((e) => this.request(e));
		},
		request(e) {
			now += 5;
			const path = new URL(e.url).pathname;
			if (path.endsWith("/join")) {
				return ok(201, { status: "waiting", queueToken: "q", position: 9, place: 9, ahead: 8, estimatedWaitMs: null, admittedPerMinute: null, pollAfterMs: 1000, serverTime: serverTime() });
			}
			if (path.endsWith("/status")) {
				polls++;
				if (polls > admitAfterPolls) {
					return ok(200, { status: "admitted", accessToken: "a", position: 9, place: null, ahead: 0, estimatedWaitMs: 0, admittedAt: new Date(admittedAt).toISOString(), serverTime: serverTime() });
				}
				const est = estimates[Math.min(polls - 1, estimates.length - 1)];
				return ok(200, { status: "waiting", position: 9, place: 9 - polls, ahead: 8 - polls, estimatedWaitMs: est, admittedPerMinute: est === null ? null : 30, pollAfterMs: 2000, serverTime: serverTime() });
			}
			// Once admitted the fan walks away (abandonRate 1): nothing more is asked of the engine.
			if (path.endsWith("/holds")) return ok(201, { holdId: "h1", quantity: 1 });
			if (path.endsWith("/release")) return ok(204, null);
			throw new Error(`unexpected ${e.method} ${path}`);
		},
	};
	return { client, polls: () => polls };
}

const knobs = () => ({ ...knobsFrom({}), quantity: "1", abandonRate: 1, declineRate: 0, thinkMs: 0 });
const ctx = { baseUrl: "http://engine.test", dropId: "d1", fanId: "f1", index: 0, knobs: knobs() };

test("a fan keeps the first wait it was told while waiting, not the unknown before it nor the later ones, and when its batch went in", () => {
	// Two polls with no pace, then 12 s told, then 4 s, then admitted 10 s after the 12 s answer.
	const e = fakeEngine({ estimates: [null, null, 12_000, 4_000], admitAfterPolls: 4, admittedAt: T0 + 1_005 + 2_005 * 2 + 10_000 });
	const r = runSync(fanJourney(e.client, ctx), e.client);
	assert.equal(typeof r.admittedAt, "number", "the fan was admitted");
	assert.equal(r.estimateMs, 12_000, "the first number told, after two answers with none");
	// The third poll's answer: the join's and two polls' round trips and pauses after T0.
	assert.equal(r.estimateAt, T0 + 5 + 1_000 + 5 + 2_000 + 5 + 2_000 + 5);
	assert.equal(r.admittedServerAt, T0 + 1_005 + 2_005 * 2 + 10_000);
	const o = estimateOutcome(r);
	assert.equal(o.actualMs, r.admittedServerAt - r.estimateAt);
	assert.ok(Math.abs(o.error - Math.abs(12_000 - o.actualMs) / o.actualMs) < 1e-12);
	assert.ok(o.signed > 0, "12 s told for a shorter wait: too long");
});

test("a fan admitted before any number was told has nothing to judge", () => {
	const e = fakeEngine({ estimates: [null], admitAfterPolls: 1, admittedAt: T0 + 500 });
	const r = runSync(fanJourney(e.client, ctx), e.client);
	assert.equal(typeof r.admittedAt, "number");
	assert.equal(r.estimateMs, null);
	assert.equal(estimateOutcome(r), null);
});

/** Admitted fans with an estimate and a real wait in ms (told at 0). */
const judged = (pairs) => pairs.map(([estimateMs, actualMs]) => ({ admittedAt: 1, estimateMs, estimateAt: 0, admittedServerAt: actualMs }));

test("the figures: median and p90 of |estimate - actual| / actual over the judged fans, the signed median, the untold counted apart", () => {
	// Errors 0, 0.1, 0.2 ... 0.9 (estimates too long), one too short by half, and two fans with nothing to judge.
	const fans = judged([
		...Array.from({ length: 10 }, (_, i) => [10_000 + i * 1_000, 10_000]),
		[5_000, 10_000],
	]);
	const s = waitEstimateStats([...fans, { admittedAt: 1, estimateMs: null }, { admittedAt: 1 }, { outcome: "sold_out" }]);
	assert.equal(s.admitted, 13);
	assert.equal(s.judged, 11);
	assert.equal(s.untold, 2);
	// Sorted errors: 0, .1, .2, .3, .4, .5, .5, .6, .7, .8, .9: the 6th is the median, the 10th the p90 (nearest rank).
	assert.equal(s.medianError, 0.5);
	assert.equal(Math.round(s.p90Error * 10) / 10, 0.8);
	assert.equal(Math.round(s.medianSigned * 10) / 10, 0.4);
	assert.equal(s.medianActualMs, 10_000);
	assert.match(waitEstimateText(s), /median 50% {2}p90 80% over 11 fans; median signed \+40% \(too long\).*2 admitted with no estimate told/);
	// A wait told or got under the watermark's age counts as that age: "any moment now" told to a fan admitted 200 ms
	// later is no error at all, and a told 300 ms against a real 5 s is 80% too short (as a told second would be).
	const quick = estimateOutcome({ estimateMs: 0, estimateAt: 0, admittedServerAt: 200 });
	assert.deepEqual([quick.actualMs, quick.error], [MIN_ACTUAL_MS, 0]);
	const short = estimateOutcome({ estimateMs: 300, estimateAt: 0, admittedServerAt: 5_000 });
	assert.deepEqual([short.estimateMs, short.error, short.signed], [300, 0.8, -0.8]);
	const none = waitEstimateStats([{ outcome: "sold_out" }]);
	assert.deepEqual([none.judged, none.medianError, none.p90Error], [0, null, null]);
	assert.match(waitEstimateText(none), /no admitted fan was told an estimate/);
});

test("k6: the percent Trends come back as the Node runner's figures, in the JSON report and the terminal summary", () => {
	const metrics = {
		wait_estimate_error: { values: { count: 40, med: 12.5, "p(90)": 31, "p(95)": 40, "p(99)": 60, max: 80, avg: 15, min: 0 } },
		wait_estimate_bias: { values: { count: 40, med: -8, "p(90)": 20, "p(95)": 30, "p(99)": 40, max: 50, avg: -5, min: -60 } },
		wait_estimate_untold: { values: { count: 3 } },
	};
	const s = waitEstimateFromK6(metrics);
	assert.deepEqual([s.admitted, s.judged, s.untold, s.medianError, s.p90Error, s.medianSigned], [43, 40, 3, 0.125, 0.31, -0.08]);
	const report = k6Report({ metrics }, { knobs: { ...knobsFrom({}) }, scenario: "spike", bucketSeconds: 1, buckets: 1, lines: 1, shards: 1, thresholdSpecs: [], steps: [] });
	assert.equal(report.waitEstimate.p90Error, 0.31);
	assert.match(textSummary({ metrics }, "drop"), /wait estimate \.+ \|estimate - actual\| \/ actual: median 12\.5% {2}p90 31\.0% \(40 fans\)/);
});

test("the HTML report shows the median and p90, and an older report without the figures shows no empty section", () => {
	const base = { scenario: "spike", knobs: { fans: 3, tickets: 3, maxPerFan: 1 }, steps: {}, failures: [] };
	const s = waitEstimateStats(judged([[10_000, 10_000], [12_000, 10_000], [15_000, 10_000]]));
	const html = renderReport({ ...base, waitEstimate: s });
	assert.match(html, /<h2 id="wait-estimate">Wait estimate<\/h2>/);
	assert.match(html, /median \|estimate - actual\| \/ actual<\/span><b>20%<\/b>/);
	assert.match(html, /p90<\/span><b>50%<\/b>/);
	assert.doesNotMatch(renderReport(base), /id="wait-estimate"/);
});
