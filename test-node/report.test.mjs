// The load-test report (loadtest/lib/report-html.js) rendered from a recorded
// run (fixtures/loadtest-run.json, a real `npm run loadtest` run, see
// docs/load-testing.md), and read back from the file itself: every chart has
// data, the verdict says what the audit says. Then the comparison of two runs,
// the engineer's thresholds, the k6 side's per-second series (from a summary
// shaped as k6 hands it to handleSummary) and the scenarios.
// Runs under Node's test runner (`npm test` starts it first).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { k6Report } from "../loadtest/lib/k6-report.js";
import {
	NOISE,
	checkThresholds,
	compareReports,
	comparisonText,
	k6Thresholds,
	parseDuration,
	thresholdSpecs,
} from "../loadtest/lib/report-compare.js";
import { renderReport, reportVerdict } from "../loadtest/lib/report-html.js";
import { SCENARIOS, fanPlan, scenarioNamed } from "../loadtest/lib/scenarios.js";
import { K6_SERIES, LATENCY_STEPS, bucketOf, createTimeline, statusClass, timelineFromK6, timelineThresholds } from "../loadtest/lib/timeline.js";
import { DEFAULTS, knobsFrom } from "../loadtest/lib/journey.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE = join(ROOT, "test-node", "fixtures", "loadtest-run.json");
const recorded = () => JSON.parse(readFileSync(FIXTURE, "utf8"));

const unescape = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");

/** What the page says, read from its markup: charts with their points, audit lines, the verdict. */
function readPage(html) {
	const charts = [...html.matchAll(/<svg class="chart" data-chart="([^"]+)" data-points="(\d+)"[^>]*>([\s\S]*?)<\/svg>/g)].map((m) => ({
		id: m[1],
		points: Number(m[2]),
		series: [...m[3].matchAll(/data-series="([^"]+)" data-points="(\d+)" d="([^"]*)"/g)].map((s) => ({ name: s[1], points: Number(s[2]), d: s[3] })),
		bars: [...m[3].matchAll(/<rect class="bar"[^>]* width="([\d.]+)"/g)].map((b) => Number(b[1])),
	}));
	const checks = Object.fromEntries([...html.matchAll(/<tr data-check="([^"]+)" data-ok="(true|false)"/g)].map((m) => [m[1], m[2] === "true"]));
	const thresholds = Object.fromEntries([...html.matchAll(/<tr data-threshold="([^"]+)" data-ok="(true|false)"/g)].map((m) => [unescape(m[1]), m[2] === "true"]));
	const verdict = /data-verdict="(passed|failed)"/.exec(html)?.[1] ?? null;
	return { charts, checks, thresholds, verdict };
}

test("the report of a recorded run draws data in every chart", () => {
	const report = recorded();
	const page = readPage(renderReport(report));
	const ids = page.charts.map((c) => c.id);
	for (const id of ["fans", "admission", "sales", "sellout", "latency-join", "latency-status", "latency-hold", "latency-purchase", "statuses", "load"]) {
		assert.ok(ids.includes(id), `chart ${id} is drawn (charts: ${ids.join(", ")})`);
	}
	for (const chart of page.charts) {
		assert.ok(chart.points > 0, `chart ${chart.id} has points`);
		if (chart.id === "load") {
			assert.equal(chart.bars.length, Math.min(12, report.load.objects.length), "one bar per busiest object");
			assert.ok(chart.bars.every((w) => w > 0), "every object's bar has a length");
			continue;
		}
		for (const s of chart.series) {
			assert.ok(s.points > 0, `series ${s.name} of chart ${chart.id} has points`);
			assert.equal((s.d.match(/[ML]/g) ?? []).length, s.points, `series ${s.name} of ${chart.id} draws as many points as it says`);
		}
	}
	// What the charts show agrees with the run: every fan arrived and joined, every ticket sold.
	const t = report.timeline;
	const sum = (a) => a.reduce((x, y) => x + y, 0);
	assert.equal(sum(t.counts.arrived), report.knobs.fans);
	assert.equal(sum(t.counts.joined), report.tally.joined);
	assert.equal(sum(t.counts.admitted), report.tally.admitted);
	assert.equal(sum(t.counts.sold), report.tally.tickets);
	assert.ok(t.observed.watermark.some((v) => v > 0), "the observer read the watermark moving");
});

test("the verdict on the page is the audit's", () => {
	const report = recorded();
	const a = report.audit;
	const page = readPage(renderReport(report));
	assert.equal(page.checks.oversold, a.oversold === 0);
	assert.equal(page.checks.lost, a.lost === 0);
	assert.equal(page.checks.sold, !report.expectSoldOut || a.totals.sold === a.capacity);
	assert.equal(page.checks.d1, a.recorded === a.totals.orders);
	assert.equal(page.checks.balanced, a.balanced);
	assert.equal(page.checks.invariants, report.failures.length === 0);
	assert.equal(page.verdict, report.failures.length === 0 && report.thresholds.every((t) => t.ok) ? "passed" : "failed");
	assert.equal(page.verdict, "passed", "the recorded run passed");
	assert.deepEqual(Object.keys(page.thresholds), report.thresholds.map((t) => t.label));

	// The same run with an oversold audit and a broken invariant: the page says so.
	const broken = recorded();
	broken.audit.oversold = 2;
	broken.audit.totals.sold = broken.audit.capacity - 1;
	broken.failures = ["oversold: 2 ticket(s) beyond capacity"];
	const bad = readPage(renderReport(broken));
	assert.equal(bad.verdict, "failed");
	assert.equal(bad.checks.oversold, false);
	assert.equal(bad.checks.sold, false);
	assert.equal(bad.checks.lost, true);

	// A missed threshold alone fails the verdict.
	const slow = recorded();
	slow.thresholdSpecs = thresholdSpecs({ "p99-hold": "1ms" });
	const missed = readPage(renderReport(slow));
	assert.equal(missed.verdict, "failed");
	assert.deepEqual(missed.thresholds, { "p99 hold < 1ms": false });
});

test("the page needs nothing from the network", () => {
	const html = renderReport(recorded());
	assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i);
	assert.doesNotMatch(html, /(src|href)=/i);
});

test("a comparison marks only what is worse beyond the noise of one build", () => {
	const base = recorded();
	const same = compareReports(base, recorded());
	assert.ok(same.length > 0);
	assert.deepEqual(same.filter((r) => r.worse), []);
	for (const r of same) if (r.base !== null && r.base > 0) assert.equal(r.ratio, 1, `${r.metric} compared with itself`);

	const now = recorded();
	now.steps.status.p99 = base.steps.status.p99 * (NOISE.latency.ratio + 1) + NOISE.latency.floorMs; // far worse
	now.steps.status.p50 = base.steps.status.p50 * (NOISE.latency.ratio - 0.1); // within the noise
	now.steps.join.p95 = base.steps.join.p95 / 2; // better
	now.timeToSellOutSeconds = null; // no longer sells out
	const rows = compareReports(base, now);
	const row = (metric) => rows.find((r) => r.metric === metric);
	assert.equal(row("status p99").worse, true);
	assert.ok(Math.abs(row("status p99").ratio - now.steps.status.p99 / base.steps.status.p99) < 1e-9);
	assert.equal(row("status p50").worse, false);
	assert.equal(row("join p95").worse, false);
	assert.equal(row("time to sell out").worse, true);
	// A latency far worse by ratio but only a few milliseconds apart is not news.
	const small = recorded();
	const tiny = recorded();
	small.steps.status.p50 = 4;
	tiny.steps.status.p50 = 4 + NOISE.latency.floorMs / 2;
	const tinyRow = compareReports(small, tiny).find((r) => r.metric === "status p50");
	assert.ok(tinyRow.ratio > NOISE.latency.ratio);
	assert.equal(tinyRow.worse, false);
	// Throughput: lower is worse.
	const fewer = recorded();
	fewer.requestsPerSecond = base.requestsPerSecond / (NOISE.rate.ratio + 0.5);
	assert.equal(compareReports(base, fewer).find((r) => r.metric === "requests/s").worse, true);

	const text = comparisonText(rows, "before.json", "after.json", NOISE);
	assert.match(text, /status p99 .*✗ worse beyond noise/);
	assert.doesNotMatch(text, /status p50 .*✗/);
	const page = renderReport(now, { comparison: { rows, baseLabel: "before.json", noise: NOISE } });
	assert.match(page, /<tr data-metric="status p99" data-worse="true">/);
	assert.match(page, /<tr data-metric="status p50" data-worse="false">/);
});

test("thresholds: parsed from flags and k6's environment, checked, and handed to k6", () => {
	assert.equal(parseDuration("500ms"), 500);
	assert.equal(parseDuration("1.5s"), 1500);
	assert.equal(parseDuration("2m"), 120000);
	assert.equal(parseDuration("250"), 250);
	assert.equal(parseDuration("90", "s"), 90000);
	assert.throws(() => parseDuration("fast"), /not a duration/);
	const fromFlags = thresholdSpecs({ "p99-hold": "500ms", "p95-join": "1s", sellout: "60s" });
	const fromEnv = thresholdSpecs({ P99_HOLD: "500ms", P95_JOIN: "1s", SELLOUT: "60" });
	assert.deepEqual(fromFlags, fromEnv);
	assert.deepEqual(
		fromFlags.map((t) => t.label),
		["p95 join < 1s", "p99 hold < 500ms", "sold out within 60s of the opening"],
	);
	const report = recorded();
	const hold = report.steps.hold.p99;
	const results = checkThresholds(
		thresholdSpecs({ "p99-hold": `${hold + 1}ms`, "p95-status": `${report.steps.status.p95 - 0.01}ms`, sellout: `${report.timeToSellOutSeconds + 1}s` }),
		report,
	);
	assert.deepEqual(
		results.map((r) => [r.label.split(" <")[0].split(" within")[0], r.ok]),
		[
			["p95 status", false],
			["p99 hold", true],
			["sold out", true],
		],
	);
	const notSoldOut = { ...report, timeToSellOutSeconds: null };
	assert.equal(checkThresholds(thresholdSpecs({ sellout: "1000s" }), notSoldOut)[0].ok, false, "a drop that did not sell out misses a sell-out threshold");
	assert.deepEqual(k6Thresholds(fromFlags), {
		step_join: ["p(95)<1000"],
		step_hold: ["p(99)<500"],
		sale_after_open: ["max<60000"],
		not_sold_out: ["count==0"],
	});
});

test("a run that misses a threshold flag fails before it starts when the flag is malformed", () => {
	const bad = spawnSync(process.execPath, [join(ROOT, "loadtest", "node-runner.mjs"), "--p99-hold", "soon"], { encoding: "utf8", timeout: 20000 });
	assert.equal(bad.status, 2);
	assert.match(bad.stderr, /not a duration: soon/);
	const unknown = spawnSync(process.execPath, [join(ROOT, "loadtest", "node-runner.mjs"), "--scenario", "stampede"], { encoding: "utf8", timeout: 20000 });
	assert.equal(unknown.status, 2);
	assert.match(unknown.stderr, /unknown scenario stampede: one of spike, ramp, soak, bots/);
});

/**
 * The metrics k6 would hand to handleSummary for these samples: the tagged
 * submetrics lib/timeline.js declares thresholds for, as k6 writes them.
 */
function k6Metrics(meta, samples) {
	const metrics = {};
	const groups = {};
	const add = (key, type, v) => ((groups[key] ??= { type, list: [] }).list.push(v));
	for (const s of samples) {
		const b = Math.min(meta.buckets - 1, Math.max(0, Math.floor((s.at - meta.originMs) / (meta.bucketSeconds * 1000))));
		if (s.kind === "event") add(`${K6_SERIES.events[s.name]}{b:${b}}`, "counter", s.n ?? 1);
		if (s.kind === "answer") {
			add(`${K6_SERIES.answers[statusClass(s.status)]}{b:${b}}`, "counter", 1);
			if (LATENCY_STEPS.includes(s.step)) add(`${K6_SERIES.latency[s.step]}{b:${b}}`, "trend", s.ms);
		}
		if (s.kind === "observe") add(`${K6_SERIES.observed[s.name]}{b:${b}}`, "trend", s.value);
	}
	const declared = timelineThresholds(meta.buckets);
	for (const key of Object.keys(declared)) {
		const g = groups[key];
		const list = g ? g.list.slice().sort((x, y) => x - y) : [];
		const sum = list.reduce((x, y) => x + y, 0);
		// k6 keeps every submetric a threshold names; an empty counter counts 0, an empty trend has count 0.
		const isTrend = key.startsWith("tl_latency_") || key.startsWith("tl_observed_");
		metrics[key] = {
			type: isTrend ? "trend" : "counter",
			contains: "default",
			values: isTrend
				? { count: list.length, min: list[0] ?? 0, max: list.at(-1) ?? 0, med: list[Math.floor(list.length / 2)] ?? 0, "p(95)": list.at(-1) ?? 0, "p(99)": list.at(-1) ?? 0, avg: list.length ? sum / list.length : 0 }
				: { count: sum, rate: sum / 60 },
			thresholds: { [declared[key][0]]: { ok: true } },
		};
	}
	return metrics;
}

test("k6's per-second series come back from its summary as the Node runner records them", () => {
	const meta = { originMs: 1_000_000, openAtS: 5, bucketSeconds: 1, buckets: 20, pace: { batchSize: 10, intervalMs: 1000 } };
	const samples = [];
	for (let i = 0; i < 40; i++) {
		const at = meta.originMs + 300 * i;
		samples.push({ kind: "event", name: "arrived", at });
		samples.push({ kind: "event", name: "joined", at: at + 20 });
		samples.push({ kind: "answer", step: "join", at: at + 20, ms: 20, status: 201 });
		if (i % 3 === 0) samples.push({ kind: "answer", step: "hold", at: at + 900, ms: 5 + i, status: i % 2 ? 409 : 201 });
		if (i % 5 === 0) samples.push({ kind: "event", name: "sold", at: at + 950, n: 2 });
		if (i % 7 === 0) samples.push({ kind: "answer", step: "status", at, ms: 0, status: 0 });
	}
	for (let s = 0; s < 12; s++) {
		samples.push({ kind: "observe", name: "watermark", at: meta.originMs + s * 1000 + 1, value: s * 10 });
		samples.push({ kind: "observe", name: "remaining", at: meta.originMs + s * 1000 + 1, value: 100 - s * 5 });
	}
	const node = createTimeline(meta);
	for (const s of samples) {
		if (s.kind === "event") node.event(s.name, s.at, s.n);
		if (s.kind === "answer") node.answer(s.step, s.at, s.ms, s.status);
		if (s.kind === "observe") node.observe(s.name, s.at, s.value);
	}
	const fromNode = node.result();
	const fromK6 = timelineFromK6(k6Metrics(meta, samples), meta);
	assert.deepEqual(fromK6.counts, fromNode.counts);
	assert.deepEqual(fromK6.statuses, fromNode.statuses);
	assert.deepEqual(fromK6.observed, fromNode.observed);
	assert.deepEqual(Object.keys(fromK6.latency).sort(), Object.keys(fromNode.latency).sort());
	// Buckets with latency agree on which they are (k6's percentiles interpolate, so only presence is compared).
	for (const step of Object.keys(fromNode.latency)) {
		assert.deepEqual(
			fromK6.latency[step].p50.map((v) => v !== null),
			fromNode.latency[step].p50.map((v) => v !== null),
			`${step}: the same buckets have latency`,
		);
	}
});

test("k6's handleSummary report draws every chart and carries the audit's verdict", () => {
	const knobs = knobsFrom({ TICKETS: "40", FANS: "200", LEAD_SECONDS: "5", SPREAD_SECONDS: "8", TAIL_SECONDS: "20" });
	const meta = { originMs: 0, openAtS: 5, bucketSeconds: 1, buckets: 33, pace: { batchSize: knobs.batchSize, intervalMs: knobs.intervalMs } };
	const samples = [];
	for (let i = 0; i < 200; i++) {
		samples.push({ kind: "event", name: "arrived", at: 40 * i });
		samples.push({ kind: "event", name: "joined", at: 40 * i + 10 });
		samples.push({ kind: "answer", step: "join", at: 40 * i + 10, ms: 10 + (i % 7), status: 201 });
		samples.push({ kind: "answer", step: "status", at: 5200 + 10 * i, ms: 3 + (i % 5), status: 200 });
		if (i < 60) samples.push({ kind: "event", name: "admitted", at: 5100 + 20 * i });
		if (i < 30) {
			samples.push({ kind: "event", name: "held", at: 5500 + 30 * i });
			samples.push({ kind: "answer", step: "hold", at: 5500 + 30 * i, ms: 12, status: 201 });
			samples.push({ kind: "answer", step: "purchase", at: 6500 + 30 * i, ms: 40, status: 201 });
		}
		if (i < 20) samples.push({ kind: "event", name: "sold", at: 6500 + 30 * i, n: 2 });
	}
	for (let s = 0; s < 15; s++) {
		samples.push({ kind: "observe", name: "watermark", at: s * 1000 + 5, value: s < 5 ? 0 : 60 });
		samples.push({ kind: "observe", name: "remaining", at: s * 1000 + 5, value: s < 7 ? 40 : 0 });
	}
	const metrics = k6Metrics(meta, samples);
	const trend = (count, med, p95, p99, max) => ({ type: "trend", contains: "time", values: { count, med, "p(95)": p95, "p(99)": p99, max, min: 1, avg: med } });
	const counter = (count) => ({ type: "counter", contains: "default", values: { count, rate: count / 30 } });
	const gaugeOf = (value) => ({ type: "gauge", contains: "default", values: { value, min: value, max: value } });
	Object.assign(metrics, {
		http_reqs: counter(900),
		step_join: trend(200, 12, 16, 16.9, 17),
		step_status: trend(200, 5, 7, 7, 7),
		step_hold: trend(30, 12, 12, 12, 12),
		step_purchase: trend(30, 40, 40, 40, 40),
		sale_after_open: trend(20, 2000, 2400, 2450, 2470),
		fans_joined: counter(200),
		fans_admitted: counter(60),
		orders: counter(20),
		tickets_sold: counter(40),
		oversold_tickets: counter(0),
		lost_sales: counter(0),
		unexpected_answers: counter(0),
		broken_invariants: counter(0),
		fairness_mismatches: counter(0),
		bot_breaches: counter(0),
		audit_sold: gaugeOf(40),
		audit_capacity: gaugeOf(40),
		audit_orders: gaugeOf(20),
		audit_recorded: gaugeOf(20),
		audit_balanced: gaugeOf(1),
		load_fans: gaugeOf(200),
		load_hottest_kind: gaugeOf(1),
		load_hottest_index: gaugeOf(0),
		load_hottest_requests: gaugeOf(230),
		load_hottest_per_fan: gaugeOf(1.15),
		"load_object{o:room-0}": gaugeOf(30),
		"load_object{o:line-0}": gaugeOf(230),
		"load_object{o:shard-0}": gaugeOf(50),
		"load_object{o:shard-1}": gaugeOf(45),
	});
	const data = { metrics, setup_data: { dropId: "d_k6", lines: 1, createdAt: 0, opensAt: 5000 }, state: { testRunDurationMs: 30000 } };
	const report = k6Report(data, {
		knobs,
		scenario: "spike",
		bucketSeconds: 1,
		buckets: meta.buckets,
		lines: 1,
		shards: 2,
		thresholdSpecs: thresholdSpecs({ P99_HOLD: "500ms", SELLOUT: "10s" }),
		expectSoldOut: true,
		at: new Date(0).toISOString(),
	});
	assert.equal(report.timeToSellOutSeconds, 2.47);
	assert.deepEqual(report.load.hottest, { kind: "line", index: 0, requests: 230, perFan: 1.15 });
	assert.equal(report.load.objects.length, 4);
	assert.deepEqual(report.thresholds.map((t) => t.ok), [true, true]);
	const page = readPage(renderReport(report));
	assert.equal(page.verdict, "passed");
	assert.equal(page.checks.oversold, true);
	assert.equal(page.checks.sold, true);
	for (const chart of page.charts) {
		assert.ok(chart.points > 0, `chart ${chart.id} has points`);
		for (const s of chart.series) assert.ok(s.points > 0, `series ${s.name} of chart ${chart.id} has points`);
	}
	// The audit's counters decide: one oversold ticket and the page fails.
	metrics.oversold_tickets = counter(1);
	metrics.broken_invariants = counter(1);
	const bad = readPage(renderReport(k6Report(data, { knobs, scenario: "spike", bucketSeconds: 1, buckets: meta.buckets, lines: 1, shards: 2, thresholdSpecs: [], expectSoldOut: true, at: "" })));
	assert.equal(bad.verdict, "failed");
	assert.equal(bad.checks.oversold, false);
});

test("scenarios: arrival shapes, the bots' share, and one place to add a scenario", () => {
	const knobs = knobsFrom({ FANS: "4000", SEED: "3" });
	assert.deepEqual(Object.keys(SCENARIOS), ["spike", "ramp", "soak", "bots", "seated", "returns"]);
	assert.equal(scenarioNamed("seated").seated, true, "seated: the spike on a drop of reserved seats");
	assert.equal(scenarioNamed("returns").returns, true, "returns: the spike, then refunds that go to the line");
	assert.equal(scenarioNamed("returns").seated, false);
	assert.equal(scenarioNamed("spike").seated, false);
	assert.equal(scenarioNamed("").name, "spike");
	assert.equal(scenarioNamed("drop").name, "spike", "`drop`, the old name, is the spike");
	const offsets = (name) => Array.from({ length: knobs.fans }, (_, i) => fanPlan(scenarioNamed(name), i, knobs, 0).startAt / 1000 - knobs.leadSeconds);
	const within = (xs, from, to) => xs.filter((x) => x >= from && x < to).length;
	const spike = offsets("spike");
	assert.ok(within(spike, -2, 3) > 0.5 * knobs.fans, "spike: most fans within seconds of the opening");
	const ramp = offsets("ramp");
	const half = knobs.rampSeconds / 2;
	assert.ok(within(ramp, half, knobs.rampSeconds + 1) > 2 * within(ramp, 0, half), "ramp: arrivals grow over the ramp");
	assert.ok(Math.max(...ramp) <= knobs.rampSeconds);
	const soak = offsets("soak");
	const quarter = knobs.soakSeconds / 4;
	const quarters = [0, 1, 2, 3].map((q) => within(soak, q * quarter, (q + 1) * quarter));
	assert.ok(Math.max(...quarters) < 1.25 * Math.min(...quarters), `soak: steady arrivals (${quarters})`);
	const bots = Array.from({ length: knobs.fans }, (_, i) => fanPlan(scenarioNamed("bots"), i, knobs, 0)).filter((p) => p.bot);
	assert.ok(Math.abs(bots.length / knobs.fans - DEFAULTS.botShare) < 0.03, `bots: about BOT_SHARE of the fans (${bots.length})`);
	assert.ok(bots.every((p) => p.probes && typeof p.probes.afterJoin === "function" && typeof p.probes.afterAdmit === "function"));
	assert.equal(fanPlan(scenarioNamed("spike"), 0, knobs, 0).probes, null);
});

test("npm run report renders a run and compares two", () => {
	const dir = mkdtempSync(join(tmpdir(), "report-test-"));
	try {
		const out = join(dir, "page.html");
		const one = spawnSync(process.execPath, [join(ROOT, "scripts", "report.mjs"), FIXTURE, "--out", out], { encoding: "utf8", timeout: 20000 });
		assert.equal(one.status, 0, one.stderr);
		assert.equal(readPage(readFileSync(out, "utf8")).verdict, "passed");
		const two = spawnSync(process.execPath, [join(ROOT, "scripts", "report.mjs"), FIXTURE, FIXTURE, "--out", out], { encoding: "utf8", timeout: 20000 });
		assert.equal(two.status, 0, two.stderr);
		assert.match(two.stdout, /comparison: /);
		assert.match(two.stdout, /no figure worse than the noise/);
		assert.match(readFileSync(out, "utf8"), /<section id="comparison">/);
		// A newer run far slower than the noise allows: marked, and the exit code says so.
		const slower = recorded();
		slower.steps.status.p99 = slower.steps.status.p99 * 10 + 1000;
		const slowerFile = join(dir, "slower.json");
		writeFileSync(slowerFile, JSON.stringify(slower));
		const worse = spawnSync(process.execPath, [join(ROOT, "scripts", "report.mjs"), FIXTURE, slowerFile, "--out", out], { encoding: "utf8", timeout: 20000 });
		assert.equal(worse.status, 1, worse.stderr);
		assert.match(worse.stdout, /status p99 .*✗ worse beyond noise/);
		assert.match(worse.stdout, /1 figure\(s\) worse than the noise/);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test("answers past the planned timeline get their own seconds, and 503 try_again is drawn apart from the other 5xx", () => {
	// Planned for 10 s; the fans run 30 s (a long line, the sell-out's tail), as the 20,000-fan run did.
	const meta = { originMs: 1_000_000, openAtS: 2, bucketSeconds: 1, buckets: 10, pace: { batchSize: 10, intervalMs: 1000 } };
	const node = createTimeline(meta);
	const second = (s, k) => meta.originMs + s * 1000 + k;
	for (let s = 0; s < 30; s++) {
		for (let k = 0; k < 20; k++) node.answer("status", second(s, k), 3, 200);
		node.event("arrived", second(s, 0));
	}
	for (let s = 12; s < 16; s++) for (let k = 0; k < 5; k++) node.answer("hold", second(s, 100 + k), 8, 503);
	node.answer("purchase", second(14, 500), 50, 500);
	const t = node.result();
	// Every second in its own bucket: the last holds its own second's answers, not the tail's pile.
	assert.equal(t.buckets, 30);
	assert.deepEqual(t.statuses["2xx"], Array.from({ length: 30 }, () => 20));
	assert.deepEqual(t.statuses["503"].slice(10, 18), [0, 0, 5, 5, 5, 5, 0, 0]);
	assert.equal(t.statuses["5xx"][14], 1, "a 500 is not counted as a try_again");
	assert.equal(t.statuses["503"].reduce((a, b) => a + b, 0), 20);
	assert.equal(t.counts.arrived.length, 30);
	assert.equal(t.latency.hold.p50[13], 8);
	assert.equal(t.latency.hold.p50.length, 30);

	const report = recorded();
	report.timeline = t;
	delete report.timeToSellOutSeconds;
	const page = readPage(renderReport(report));
	const chart = page.charts.find((c) => c.id === "statuses");
	assert.ok(chart, "the status chart is drawn");
	for (const series of chart.series) assert.equal(series.points, 30, `${series.name}: one point per second the fans ran`);
	const tryAgain = chart.series.find((s) => s.name === "503 (try again)");
	assert.ok(tryAgain, `a series for 503 (series: ${chart.series.map((s) => s.name).join(", ")})`);
	assert.equal(tryAgain.points, 30);
	assert.ok(chart.series.some((s) => s.name === "other 5xx"));

	// k6 declares its buckets up front: a moment past them is left out (bucket -1), not piled into the last.
	assert.equal(bucketOf(meta.originMs, 1, 10, second(9, 0)), 9);
	assert.equal(bucketOf(meta.originMs, 1, 10, second(25, 0)), -1);
	assert.equal(bucketOf(meta.originMs, 1, 10, meta.originMs - 5), 0);
});
