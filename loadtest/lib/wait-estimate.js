// The wait estimate against the real wait: for every admitted fan, the first
// estimate it was told after the opening (lib/journey.js keeps it with the server
// time of the answer that told it) against how long it then waited until its batch
// went in (the status answer's `admittedAt`). The error of one fan is
// |estimate - actual| / actual; the runners report its median and p90 over the
// fans, and the signed median (below zero: the estimates were too short).
// Plain JavaScript with no Node or k6 import and no syntax past k6 v0.48: the Node
// runner builds the figures from its fans' results, k6's report from the Trend and
// counter drop.js keeps.

/**
 * A wait (told or got) under this counts as this long: the watermark a fan is told from is up
 * to a second old, so a shorter wait is within the age of the data and its ratio says nothing.
 */
export const MIN_ACTUAL_MS = 1000;

/** k6's metrics: the Trend of each fan's error in percent (signed, and its size), and the admitted fans with no estimate to judge. */
export const K6_ESTIMATE_METRICS = { error: "wait_estimate_error", signed: "wait_estimate_bias", untold: "wait_estimate_untold" };

/**
 * One admitted fan's estimate against its wait, or null when there is nothing to judge
 * (never told an estimate while waiting: admitted at its first answer after the opening,
 * or only told "not known yet"). `{estimateMs, actualMs, error, signed}`, error and signed as fractions.
 */
export function estimateOutcome(r) {
	if (!r || typeof r.estimateMs !== "number" || typeof r.estimateAt !== "number" || typeof r.admittedServerAt !== "number") return null;
	// Both sides within the data's age read alike: "any moment now" told and a wait under a second got is no error.
	const actual = Math.max(MIN_ACTUAL_MS, r.admittedServerAt - r.estimateAt);
	const told = Math.max(MIN_ACTUAL_MS, r.estimateMs);
	const signed = (told - actual) / actual;
	return { estimateMs: r.estimateMs, actualMs: actual, error: Math.abs(signed), signed: signed };
}

function nearestRank(sorted, p) {
	if (sorted.length === 0) return null;
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function ascending(a, b) {
	return a - b;
}

/**
 * The figures from the fans' results: admitted, judged (told an estimate), untold,
 * median and p90 of the error, the signed median, and the median actual wait (ms).
 */
export function waitEstimateStats(results) {
	const errors = [];
	const signed = [];
	const actual = [];
	let admitted = 0;
	for (let i = 0; i < results.length; i++) {
		const r = results[i];
		if (!r || typeof r.admittedAt !== "number") continue;
		admitted++;
		const o = estimateOutcome(r);
		if (o === null) continue;
		errors.push(o.error);
		signed.push(o.signed);
		actual.push(o.actualMs);
	}
	errors.sort(ascending);
	signed.sort(ascending);
	actual.sort(ascending);
	return {
		admitted: admitted,
		judged: errors.length,
		untold: admitted - errors.length,
		medianError: nearestRank(errors, 50),
		p90Error: nearestRank(errors, 90),
		medianSigned: nearestRank(signed, 50),
		medianActualMs: nearestRank(actual, 50),
	};
}

function metric(m, name) {
	return m[name] && m[name].values ? m[name].values : null;
}

/** The same figures from the metrics k6 hands to handleSummary (percent Trends back to fractions). */
export function waitEstimateFromK6(m) {
	const e = metric(m, K6_ESTIMATE_METRICS.error);
	const s = metric(m, K6_ESTIMATE_METRICS.signed);
	const untold = metric(m, K6_ESTIMATE_METRICS.untold);
	const judged = e && e.count ? e.count : 0;
	const u = untold ? untold.count : 0;
	return {
		admitted: judged + u,
		judged: judged,
		untold: u,
		medianError: judged ? e.med / 100 : null,
		p90Error: judged ? e["p(90)"] / 100 : null,
		medianSigned: judged && s ? s.med / 100 : null,
		medianActualMs: null,
	};
}

function percent(x) {
	return x === null || x === undefined ? "–" : Math.round(x * 1000) / 10 + "%";
}

/** One line for the runners' summaries. */
export function waitEstimateText(s) {
	if (!s || s.judged === 0) return "no admitted fan was told an estimate while waiting" + (s && s.untold ? " (" + s.untold + " admitted at once or never told one)" : "");
	const bias = s.medianSigned === null ? "" : "; median signed " + (s.medianSigned > 0 ? "+" : "") + percent(s.medianSigned) + (s.medianSigned < 0 ? " (too short)" : s.medianSigned > 0 ? " (too long)" : "");
	return (
		"|estimate - actual| / actual: median " + percent(s.medianError) + "  p90 " + percent(s.p90Error) + " over " + s.judged + " fans" + bias +
		(s.medianActualMs === null ? "" : "; median wait " + Math.round(s.medianActualMs / 100) / 10 + " s") +
		(s.untold ? "; " + s.untold + " admitted with no estimate told" : "")
	);
}
