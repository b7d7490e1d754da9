// Per-second series of a load run, for the HTML report (lib/report-html.js).
// Plain JavaScript with no imports: the Node runner fills a timeline in memory
// as events happen; k6, whose handleSummary only sees aggregated metrics, adds
// each event to a metric tagged with its bucket (`b`) and declares one
// always-true threshold per bucket, so k6 keeps a submetric per bucket and
// hands it to handleSummary (`timelineFromK6`). Both end in the same shape:
//
//   { openAtS, bucketSeconds, buckets,                      bucket i covers [i, i+1) × bucketSeconds after the drop was created
//     counts: { arrived, joined, admitted, held, sold }: number[]   per bucket (sold counts tickets)
//     statuses: { "2xx", "4xx", "5xx", "network" }: number[]       answers per bucket
//     latency: { <step>: { p50, p95, p99 }: (number|null)[] }      milliseconds, per bucket
//     observed: { watermark, placed, remaining }: (number|null)[]  read from the public API once a bucket
//     pace: { batchSize, intervalMs } }                            the drop's configured admission pace

export const EVENT_SERIES = ["arrived", "joined", "admitted", "held", "sold"];
export const STATUS_CLASSES = ["2xx", "4xx", "5xx", "network"];
/** The fans' steps whose latency is charted per bucket. */
export const LATENCY_STEPS = ["join", "status", "hold", "purchase"];
export const OBSERVED_SERIES = ["watermark", "placed", "remaining"];

/** The class an answer's status falls in. */
export function statusClass(status) {
	const s = typeof status === "number" ? status : parseInt(String(status), 10);
	if (!(s > 0)) return "network";
	if (s >= 500) return "5xx";
	if (s >= 400) return "4xx";
	return "2xx";
}

/**
 * How many buckets a run of these knobs needs: the lead before the opening,
 * the arrival window of the scenario, and `tailSeconds` for the last fans to
 * finish and the drop to settle. Events after the last bucket land in it.
 */
export function timelineBuckets(knobs, arrivalSeconds, bucketSeconds, tailSeconds) {
	return Math.max(1, Math.ceil((knobs.leadSeconds + arrivalSeconds + tailSeconds) / bucketSeconds));
}

/** The bucket of a moment, clamped to the timeline. */
export function bucketOf(originMs, bucketSeconds, buckets, at) {
	const i = Math.floor((at - originMs) / (bucketSeconds * 1000));
	return i < 0 ? 0 : i >= buckets ? buckets - 1 : i;
}

function zeros(n, value) {
	const out = [];
	for (let i = 0; i < n; i++) out.push(value);
	return out;
}

function emptyShape(meta) {
	const t = {
		openAtS: meta.openAtS,
		bucketSeconds: meta.bucketSeconds,
		buckets: meta.buckets,
		counts: {},
		statuses: {},
		latency: {},
		observed: {},
		pace: meta.pace,
	};
	for (const name of EVENT_SERIES) t.counts[name] = zeros(meta.buckets, 0);
	for (const name of STATUS_CLASSES) t.statuses[name] = zeros(meta.buckets, 0);
	for (const name of OBSERVED_SERIES) t.observed[name] = zeros(meta.buckets, null);
	return t;
}

/** The sample of a sorted array at percentile p (nearest rank), as the Node runner's summary does it. */
function percentileOf(sorted, p) {
	if (sorted.length === 0) return null;
	const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
	return Math.round(sorted[i] * 100) / 100;
}

/**
 * A timeline filled in memory (the Node runner). meta: {originMs, openAtS,
 * bucketSeconds, buckets, pace}. `event(name, at, n)`, `answer(step, at, ms,
 * status)`, `observe(name, at, value)`, then `result()` for the report.
 */
export function createTimeline(meta) {
	const t = emptyShape(meta);
	const samples = {};
	const at = function (ms) {
		return bucketOf(meta.originMs, meta.bucketSeconds, meta.buckets, ms);
	};
	return {
		event: function (name, when, n) {
			if (t.counts[name]) t.counts[name][at(when)] += n === undefined ? 1 : n;
		},
		answer: function (step, when, ms, status) {
			const b = at(when);
			t.statuses[statusClass(status)][b]++;
			if (LATENCY_STEPS.indexOf(step) < 0) return;
			if (!samples[step]) samples[step] = [];
			if (!samples[step][b]) samples[step][b] = [];
			samples[step][b].push(ms);
		},
		observe: function (name, when, value) {
			if (t.observed[name]) t.observed[name][at(when)] = value;
		},
		result: function () {
			for (const step of Object.keys(samples)) {
				const out = { p50: zeros(meta.buckets, null), p95: zeros(meta.buckets, null), p99: zeros(meta.buckets, null) };
				for (let b = 0; b < meta.buckets; b++) {
					const list = samples[step][b];
					if (!list || list.length === 0) continue;
					const sorted = list.slice().sort(function (x, y) {
						return x - y;
					});
					out.p50[b] = percentileOf(sorted, 50);
					out.p95[b] = percentileOf(sorted, 95);
					out.p99[b] = percentileOf(sorted, 99);
				}
				t.latency[step] = out;
			}
			return t;
		},
	};
}

// ---------------------------------------------------------------------------
// k6: a submetric per bucket

/** The k6 metric names the per-bucket series use. */
export const K6_SERIES = { events: "tl_events", answers: "tl_answers", observed: "tl_observed", latency: "tl_latency" };

/**
 * The thresholds that make k6 keep one submetric per bucket (each holds
 * always, so none fails a run): events by name, answers by status class,
 * observed values by name, latency by step. Observed values are a Trend, not
 * a Gauge, so a bucket the observer never reached has a count of 0 rather
 * than a value of 0; the observer reads once a bucket, so its max is that reading.
 */
export function timelineThresholds(buckets) {
	/** @type {Record<string, string[]>} */
	const out = {};
	for (let b = 0; b < buckets; b++) {
		for (const name of EVENT_SERIES) out[K6_SERIES.events + "{e:" + name + ",b:" + b + "}"] = ["count>=0"];
		for (const name of STATUS_CLASSES) out[K6_SERIES.answers + "{c:" + name + ",b:" + b + "}"] = ["count>=0"];
		for (const name of OBSERVED_SERIES) out[K6_SERIES.observed + "{o:" + name + ",b:" + b + "}"] = ["max>=-1"];
		for (const step of LATENCY_STEPS) out[K6_SERIES.latency + "{s:" + step + ",b:" + b + "}"] = ["max>=0"];
	}
	return out;
}

/** The tags k6's submetrics are keyed by, parsed from "name{a:x,b:y}". */
function parseSubmetric(key) {
	const open = key.indexOf("{");
	if (open < 0 || key.charAt(key.length - 1) !== "}") return null;
	/** @type {Record<string, string>} */
	const tags = {};
	const parts = key.slice(open + 1, -1).split(",");
	for (let i = 0; i < parts.length; i++) {
		const c = parts[i].indexOf(":");
		if (c > 0) tags[parts[i].slice(0, c).trim()] = parts[i].slice(c + 1).trim();
	}
	return { name: key.slice(0, open), tags: tags };
}

/**
 * The timeline back from the data k6 hands to handleSummary. meta as for
 * createTimeline (without originMs). A bucket no sample reached is 0 for
 * counts and null for latency and observed values.
 */
export function timelineFromK6(metrics, meta) {
	const t = emptyShape(meta);
	for (const key of Object.keys(metrics || {})) {
		const sub = parseSubmetric(key);
		if (sub === null || sub.tags.b === undefined) continue;
		const b = Number(sub.tags.b);
		if (!(b >= 0 && b < meta.buckets)) continue;
		const v = metrics[key].values || {};
		if (sub.name === K6_SERIES.events && t.counts[sub.tags.e]) t.counts[sub.tags.e][b] = v.count || 0;
		else if (sub.name === K6_SERIES.answers && t.statuses[sub.tags.c]) t.statuses[sub.tags.c][b] = v.count || 0;
		else if (sub.name === K6_SERIES.observed && t.observed[sub.tags.o] && v.count > 0) t.observed[sub.tags.o][b] = v.max;
		else if (sub.name === K6_SERIES.latency && LATENCY_STEPS.indexOf(sub.tags.s) >= 0 && v.count > 0) {
			const step = sub.tags.s;
			if (!t.latency[step]) t.latency[step] = { p50: zeros(meta.buckets, null), p95: zeros(meta.buckets, null), p99: zeros(meta.buckets, null) };
			t.latency[step].p50[b] = v.med;
			t.latency[step].p95[b] = v["p(95)"];
			t.latency[step].p99[b] = v["p(99)"];
		}
	}
	return t;
}
