// Requests that got no answer within the client's timeout, counted per step:
// the same words and the same verdict for the Node runner, k6's drop script
// and the HTML report. A request left unanswered is a failed run even when
// the fan's retry then went through: a fan's browser would have shown nothing.
// Plain JavaScript with no k6 or Node import (k6 v0.48 parses it: no ?? or ?.).

/** The k6 Counter drop.js adds one to, tagged {step}, for each request k6 timed out (error_code 1050). */
export const UNANSWERED_METRIC = "unanswered_requests";

/** k6's error code for a request that hit its timeout. */
export const K6_TIMEOUT_ERROR_CODE = 1050;

/** @param {Record<string, number> | null | undefined} byStep */
export function unansweredTotal(byStep) {
	let total = 0;
	if (!byStep) return 0;
	for (const step of Object.keys(byStep)) total += byStep[step];
	return total;
}

/**
 * "none", or "12 (status 10, join 2)", busiest step first.
 * @param {Record<string, number> | null | undefined} byStep
 */
export function unansweredText(byStep) {
	const total = unansweredTotal(byStep);
	if (!byStep || total === 0) return "none";
	const steps = Object.keys(byStep)
		.filter(function (s) {
			return byStep[s] > 0;
		})
		.sort(function (a, b) {
			return byStep[b] - byStep[a] || (a < b ? -1 : 1);
		});
	return (
		total +
		" (" +
		steps
			.map(function (s) {
				return s + " " + byStep[s];
			})
			.join(", ") +
		")"
	);
}

/**
 * The failure line of a run with any request unanswered, or null.
 * @param {Record<string, number> | null | undefined} byStep @param {number} timeoutSeconds
 */
export function unansweredFailure(byStep, timeoutSeconds) {
	if (unansweredTotal(byStep) === 0) return null;
	return "unanswered requests: " + unansweredText(byStep) + " got no answer within " + timeoutSeconds + " s";
}

/** The k6 thresholds that fail a run on any unanswered request and hand each step's count to handleSummary. @param {string[]} steps */
export function unansweredThresholds(steps) {
	/** @type {Record<string, string[]>} */
	const out = {};
	out[UNANSWERED_METRIC] = ["count==0"];
	for (let i = 0; i < steps.length; i++) out[UNANSWERED_METRIC + "{step:" + steps[i] + "}"] = ["count==0"];
	return out;
}

/**
 * Per step, from the submetrics k6 hands to handleSummary (`unanswered_requests{step:join}`).
 * @param {Record<string, any>} metrics @param {string[]} steps
 */
export function unansweredFromK6(metrics, steps) {
	/** @type {Record<string, number>} */
	const out = {};
	for (let i = 0; i < steps.length; i++) {
		const m = metrics[UNANSWERED_METRIC + "{step:" + steps[i] + "}"];
		const n = m && m.values && typeof m.values.count === "number" ? m.values.count : 0;
		if (n > 0) out[steps[i]] = n;
	}
	return out;
}
