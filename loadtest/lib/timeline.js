// Per-second series of a load run, for the HTML report (lib/report-html.js).
// Plain JavaScript with no imports: the Node runner fills a timeline in memory
// as events happen; k6, whose handleSummary only sees aggregated metrics, adds
// each event to the metric of its series tagged with its bucket (`b`) and
// declares one always-true threshold per bucket, so k6 keeps a submetric per
// bucket and hands it to handleSummary (`timelineFromK6`). Both end in the same shape:
//
//   { openAtS, bucketSeconds, buckets,                      bucket i covers [i, i+1) × bucketSeconds after the drop was created
//     counts: { arrived, joined, admitted, held, sold }: number[]   per bucket (sold counts tickets)
//     statuses: { "2xx", "4xx", "503", "5xx", "network" }: number[] answers per bucket ("5xx": the others)
//     latency: { <step>: { p50, p95, p99 }: (number|null)[] }      milliseconds, per bucket
//     observed: { watermark, placed, remaining }: (number|null)[]  read from the public API once a bucket
//     pace: { batchSize, intervalMs, activeMultiple } }            the drop's configured admission pace and shoppers-per-ticket cap

export const EVENT_SERIES = ["arrived", "joined", "admitted", "held", "sold"];
/** 503 apart from the other 5xx: it is the engine asking to be asked again (Retry-After), not a failure. */
export const STATUS_CLASSES = ["2xx", "4xx", "503", "5xx", "network"];
/** The fans' steps whose latency is charted per bucket. */
export const LATENCY_STEPS = ["join", "status", "hold", "purchase"];
export const OBSERVED_SERIES = ["watermark", "placed", "remaining"];

/** The class an answer's status falls in. */
export function statusClass(status) {
	const s = typeof status === "number" ? status : parseInt(String(status), 10);
	if (!(s > 0)) return "network";
	if (s === 503) return "503";
	if (s >= 500) return "5xx";
	if (s >= 400) return "4xx";
	return "2xx";
}

/**
 * How many buckets a run of these knobs needs: the lead before the opening,
 * the arrival window of the scenario, and `tailSeconds` for the last fans to
 * finish and the drop to settle. The Node runner's timeline grows past it
 * when the fans run longer; k6's cannot (its buckets are declared up front).
 */
export function timelineBuckets(knobs, arrivalSeconds, bucketSeconds, tailSeconds) {
	return Math.max(1, Math.ceil((knobs.leadSeconds + arrivalSeconds + tailSeconds) / bucketSeconds));
}

/**
 * The bucket of a moment: 0 before the first, -1 after the last. A moment past the
 * end is left out rather than put in the last bucket, where every answer of a long
 * tail would pile into one point and flatten the rest of the chart.
 */
export function bucketOf(originMs, bucketSeconds, buckets, at) {
	const i = Math.floor((at - originMs) / (bucketSeconds * 1000));
	return i < 0 ? 0 : i >= buckets ? -1 : i;
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
	// A moment past the last bucket adds buckets up to it: the series cover every second the
	// fans ran, however long that was, each second in its own point.
	const at = function (ms) {
		const i = Math.max(0, Math.floor((ms - meta.originMs) / (meta.bucketSeconds * 1000)));
		while (t.buckets <= i) {
			for (const name of EVENT_SERIES) t.counts[name].push(0);
			for (const name of STATUS_CLASSES) t.statuses[name].push(0);
			for (const name of OBSERVED_SERIES) t.observed[name].push(null);
			t.buckets++;
		}
		return i;
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
				const out = { p50: zeros(t.buckets, null), p95: zeros(t.buckets, null), p99: zeros(t.buckets, null) };
				for (let b = 0; b < t.buckets; b++) {
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

/**
 * The k6 metric of each series: one metric per series, tagged only with the
 * bucket, so a sample is matched against that series' submetrics alone (k6
 * compares every sample with each submetric of its metric).
 */
export const K6_SERIES = {
	events: names("tl_event_", EVENT_SERIES),
	answers: names("tl_answer_", STATUS_CLASSES),
	observed: names("tl_observed_", OBSERVED_SERIES),
	latency: names("tl_latency_", LATENCY_STEPS),
};

function names(prefix, list) {
	/** @type {Record<string, string>} */
	const out = {};
	for (let i = 0; i < list.length; i++) out[list[i]] = prefix + list[i];
	return out;
}

/** Whether a k6 metric (or submetric) is one of these series, which a text summary leaves out. */
export function isTimelineMetric(name) {
	return name.indexOf("tl_") === 0;
}

/**
 * The thresholds that make k6 keep one submetric per bucket of each series
 * (each holds always, so none fails a run). Observed values and latencies are
 * Trends: a bucket no sample reached has a count of 0 rather than a value of
 * 0, and the observer reads once a bucket, so its max is that reading.
 */
export function timelineThresholds(buckets) {
	/** @type {Record<string, string[]>} */
	const out = {};
	for (let b = 0; b < buckets; b++) {
		for (const name of EVENT_SERIES) out[K6_SERIES.events[name] + "{b:" + b + "}"] = ["count>=0"];
		for (const name of STATUS_CLASSES) out[K6_SERIES.answers[name] + "{b:" + b + "}"] = ["count>=0"];
		for (const name of OBSERVED_SERIES) out[K6_SERIES.observed[name] + "{b:" + b + "}"] = ["max>=-1"];
		for (const step of LATENCY_STEPS) out[K6_SERIES.latency[step] + "{b:" + b + "}"] = ["max>=0"];
	}
	return out;
}

/** The bucket of a submetric key "name{b:12}", or -1. */
function bucketOfKey(key, name) {
	const m = /^([^{]+)\{b:(\d+)\}$/.exec(key);
	return m && m[1] === name ? Number(m[2]) : -1;
}

/**
 * The timeline back from the data k6 hands to handleSummary. meta as for
 * createTimeline (without originMs). A bucket no sample reached is 0 for
 * counts and null for latency and observed values.
 */
export function timelineFromK6(metrics, meta) {
	const t = emptyShape(meta);
	const keys = Object.keys(metrics || {});
	/** @param {string} name @param {(b: number, v: any) => void} use */
	function each(name, use) {
		for (const key of keys) {
			const b = bucketOfKey(key, name);
			if (b >= 0 && b < meta.buckets) use(b, metrics[key].values || {});
		}
	}
	for (const name of EVENT_SERIES) {
		each(K6_SERIES.events[name], function (b, v) {
			t.counts[name][b] = v.count || 0;
		});
	}
	for (const name of STATUS_CLASSES) {
		each(K6_SERIES.answers[name], function (b, v) {
			t.statuses[name][b] = v.count || 0;
		});
	}
	for (const name of OBSERVED_SERIES) {
		each(K6_SERIES.observed[name], function (b, v) {
			if (v.count > 0) t.observed[name][b] = v.max;
		});
	}
	for (const step of LATENCY_STEPS) {
		const l = { p50: zeros(meta.buckets, null), p95: zeros(meta.buckets, null), p99: zeros(meta.buckets, null) };
		let any = false;
		each(K6_SERIES.latency[step], function (b, v) {
			if (!(v.count > 0)) return;
			any = true;
			l.p50[b] = v.med;
			l.p95[b] = v["p(95)"];
			l.p99[b] = v["p(99)"];
		});
		if (any) t.latency[step] = l;
	}
	return t;
}
