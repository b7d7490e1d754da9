// The calibration's comparison (scripts/calibrate.mjs): a real load run's JSON report
// and a simulated run's of the same drop (both in the load runner's shape; the
// simulator's from sim/report.ts), figure by figure: requests per object kind (the
// audit's load: lines, the pacer, shards; in all, per fan, the busiest), the hold
// answers' `try_again` share, the sell-out time and the fans admitted, each with
// the ratio simulated / real, flagged when it is outside the tolerance (15 %); a
// figure 0 on both sides is shown as not exercised, neither passed nor flagged.
// Pure functions: test-node/calibration.test.mjs runs them on fixture reports.
import { OBSERVING_METHODS, loadSummary } from "../../loadtest/lib/journey.js";

/** The issue's bound: a simulated figure within 15 % of the real one. */
export const TOLERANCE = 0.15;

/**
 * A shard's methods the comparison leaves out of its counts, and why: the audit's own reads
 * (journey.js's OBSERVING_METHODS, `stats` and `orderIdsPage`) are the runner asking after the
 * run, not the drop's load; `order` is a buyer reading its order until its tickets are signed
 * (after the sales consumer's D1 write and the post-sale Workflow, neither simulated).
 */
export const LEFT_OUT = {
	...Object.fromEntries(OBSERVING_METHODS.map((m) => [m, "the audit's own reads"])),
	order: "buyers reading their orders until ticketed (the D1 write and Workflow after the sale are not simulated)",
};

/**
 * Requests per kind from a report's load (journey.js's loadSummary), less the shard methods
 * left out: {room, lines: {total, max, count}, shards: {total, max, count, methods, leftOut}, fans}.
 * The busiest shard is the busiest once its left-out calls are taken away.
 */
export function loadByKind(report) {
	const load = report.load || (report.audit && report.audit.load) || { objects: [], fans: 0 };
	const summary = loadSummary(load);
	const out = { fans: summary.fans || 0, room: summary.room, lines: summary.lines, shards: { total: summary.shards.total, max: 0, count: summary.shards.count, methods: {}, leftOut: {} } };
	for (const m of Object.keys(summary.shards.methods)) {
		if (m in LEFT_OUT) {
			out.shards.leftOut[m] = summary.shards.methods[m];
			out.shards.total -= summary.shards.methods[m];
		} else out.shards.methods[m] = summary.shards.methods[m];
	}
	for (const o of load.objects || []) {
		if (o.kind !== "shard") continue;
		let left = 0;
		for (const m of Object.keys(o.methods || {})) if (m in LEFT_OUT) left += o.methods[m];
		out.shards.max = Math.max(out.shards.max, o.requests - left);
	}
	return out;
}

/** The share of hold answers that were 503 `try_again` (the load runner's step statuses), or null without holds. */
export function tryAgainShare(report) {
	const count = tryAgainCount(report);
	return count === null ? null : count / report.steps.hold.count;
}

/** The hold answers that were 503 `try_again`, or null without holds. */
export function tryAgainCount(report) {
	const hold = report.steps && report.steps.hold;
	if (!hold || !(hold.count > 0)) return null;
	return hold.statuses["503:try_again"] || 0;
}

/**
 * Below this many events a count cannot show a 15 % difference: counting alone scatters a
 * count of n by about √n, and two of those (2√n / n) are 15 % of n only from n = 178 up.
 */
export const MEASURABLE_COUNT = Math.ceil((2 / TOLERANCE) ** 2);

/**
 * How likely counting alone makes a real count of `k` events where `mean` were expected
 * (what the simulated share gives over the real run's answers): the two-sided Poisson tail, P(X ≤ k) or P(X ≥ k)
 * whichever is smaller, doubled, at most 1. 1 for 0 events against a mean of 0.
 */
export function countingP(k, mean) {
	if (!(mean > 0)) return k === 0 ? 1 : 0;
	let term = Math.exp(-mean);
	let atMost = term;
	for (let i = 1; i <= k; i++) {
		term *= mean / i;
		atMost += term;
	}
	const atLeast = 1 - atMost + term;
	return Math.min(1, 2 * Math.min(atMost, atLeast));
}

/** Two-sided tails below this are not counting's noise: the figures differ. */
export const NOISE_P = 0.05;

/** The pacer's watermark at the end: the fans let in (the audit's admission, or the simulation's). */
export function admittedOf(report) {
	if (report.admission && typeof report.admission.admittedThrough === "number") return report.admission.admittedThrough;
	if (report.audit && report.audit.admission && typeof report.audit.admission.admittedThrough === "number") return report.audit.admission.admittedThrough;
	return null;
}

/** The median time between two of the pacer's batches (ms): the audit's, or the simulation's; null when not reported. */
export function medianBatchGapOf(report) {
	const admission = report.admission || (report.audit && report.audit.admission);
	return admission && typeof admission.medianBatchGapMs === "number" ? admission.medianBatchGapMs : null;
}

/** simulated / real, or null when either is missing or the real one is 0 (then equal zeros are 1). */
export function ratioOf(real, simulated) {
	if (typeof real !== "number" || typeof simulated !== "number") return null;
	if (real === 0) return simulated === 0 ? 1 : null;
	return simulated / real;
}

/** The shard methods either side called, or any of several runs: every run's rows then have the same figures. */
function methodsOver(reports) {
	const methods = new Set();
	for (const r of reports) for (const m of Object.keys(loadByKind(r).shards.methods)) methods.add(m);
	return [...methods].sort();
}

/** A checked figure is flagged when its ratio is missing or outside the bound (inclusive: 15 % off is within, whatever the floating point makes of 0.85); one both sides have as 0 was not exercised, neither passed nor flagged. */
function judged(row, bound) {
	const notExercised = row.checked && row.real === 0 && row.simulated === 0;
	const ratio = notExercised ? null : ratioOf(row.real, row.simulated);
	const outside = row.checked && !notExercised && (ratio === null || Math.abs(ratio - 1) > bound + 1e-9);
	// A share of events too few for 15 % to be measured is judged by counting's own noise instead: the real run's
	// count (`counts.real` of `counts.of`) against the count the simulated share would give over the real run's
	// answers. Outside the bound yet a likely draw of that rate, it is not flagged. The seeds' mean share is taken
	// as the rate itself, though it is a mean of a few runs: that errs towards flagging.
	const c = row.counts;
	const expected = c !== undefined && typeof c.real === "number" && typeof c.of === "number" && typeof row.simulated === "number" ? row.simulated * c.of : null;
	const small = expected !== null && c.real < MEASURABLE_COUNT && expected < MEASURABLE_COUNT;
	const p = small ? countingP(c.real, expected) : null;
	const withinNoise = outside && p !== null && p >= NOISE_P;
	return { ...row, ratio, notExercised, expectedCount: small ? expected : null, countingP: p, withinNoise, flagged: outside && !withinNoise };
}

/**
 * The rows side by side: [{figure, real, simulated, ratio, flagged, checked, notExercised}].
 * `checked` rows are the calibration's figures and are flagged outside the tolerance (or when
 * a side has no value); a checked figure 0 on both sides (no `try_again` at all) was not
 * exercised: it shows nothing either way. The others (each shard method, the holds in all,
 * the counts per fan, which divide both sides by the same fans) say where a difference comes
 * from and are never flagged. `methods`: the shard methods to list (both sides' by default).
 */
export function calibrationRows(real, simulated, tolerance, methods) {
	const bound = tolerance === undefined ? TOLERANCE : tolerance;
	const r = loadByKind(real);
	const s = loadByKind(simulated);
	const perFan = (n, fans) => (fans > 0 ? n / fans : null);
	const rows = [];
	const row = (figure, a, b, checked, unit, counts) => rows.push(judged({ figure, real: a, simulated: b, unit: unit || "", checked, ...(counts ? { counts } : {}) }, bound));
	row("lines: requests", r.lines.total, s.lines.total, true);
	row("lines: per fan", perFan(r.lines.total, r.fans), perFan(s.lines.total, s.fans), false);
	row("lines: busiest", r.lines.max, s.lines.max, true);
	row("pacer: requests", r.room, s.room, true);
	row("pacer: per fan", perFan(r.room, r.fans), perFan(s.room, s.fans), false);
	row("shards: requests", r.shards.total, s.shards.total, true);
	row("shards: per fan", perFan(r.shards.total, r.fans), perFan(s.shards.total, s.fans), false);
	row("shards: busiest", r.shards.max, s.shards.max, true);
	for (const m of methods || methodsOver([real, simulated])) row("  shards' " + m, r.shards.methods[m] || 0, s.shards.methods[m] || 0, false);
	row("hold answers", real.steps && real.steps.hold ? real.steps.hold.count : null, simulated.steps && simulated.steps.hold ? simulated.steps.hold.count : null, false);
	row("hold answers: try_again", tryAgainCount(real), tryAgainCount(simulated), false);
	row("hold answers: try_again share", tryAgainShare(real), tryAgainShare(simulated), true, "share", { real: tryAgainCount(real), of: real.steps && real.steps.hold ? real.steps.hold.count : null });
	row("time to sell out", real.timeToSellOutSeconds, simulated.timeToSellOutSeconds, true, "s");
	row("admitted (the watermark)", admittedOf(real), admittedOf(simulated), true);
	row("  median gap between batches (ms)", medianBatchGapOf(real), medianBatchGapOf(simulated), false);
	return rows;
}

/**
 * The rows against several simulated runs of the drop (seeds): each figure's mean over
 * them is the simulated value, its ratio and flag computed on the mean, with the runs'
 * lowest and highest (`low`, `high`) beside it. One seed of a small drop is one draw of
 * its endgame (whether some fan walked away with a hold, which then runs out), so the
 * real run is set against the spread of several. The shard methods are those of the real
 * run and every seed (a seed whose shards never asked a peer has no `give`), and each
 * seed's value is found by its figure's name, so no row takes another's values.
 */
export function calibrationRowsOver(real, simulatedRuns, tolerance) {
	const bound = tolerance === undefined ? TOLERANCE : tolerance;
	const methods = methodsOver([real, ...simulatedRuns]);
	const each = simulatedRuns.map((s) => new Map(calibrationRows(real, s, bound, methods).map((row) => [row.figure, row])));
	return calibrationRows(real, simulatedRuns[0], bound, methods).map((first) => {
		const values = each.map((rows) => rows.get(first.figure).simulated).filter((v) => typeof v === "number");
		const mean = values.length === each.length && values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null;
		return {
			...judged({ ...first, simulated: mean }, bound),
			low: values.length > 0 ? Math.min(...values) : null,
			high: values.length > 0 ? Math.max(...values) : null,
		};
	});
}

function shown(v, unit) {
	if (typeof v !== "number") return "-";
	if (unit === "share") return (Math.round(v * 10000) / 100).toFixed(2) + " %";
	if (unit === "s") return v.toFixed(1) + " s";
	// Counts (a mean over seeds among them) to the whole request; figures per fan to four places.
	if (Number.isInteger(v) || Math.abs(v) >= 100) return String(Math.round(v));
	return v.toFixed(4);
}

/** The rows as a table for the terminal (and docs), with the flagged ones marked and counted. */
export function calibrationText(rows, tolerance) {
	const bound = tolerance === undefined ? TOLERANCE : tolerance;
	// Rows over several seeds (calibrationRowsOver) show the seeds' range beside their mean.
	const spread = rows.some((r) => r.low !== undefined);
	const lines = [`| figure | real | simulated${spread ? " (mean) | seeds' range" : ""} | ratio | |`, `|---|---:|---:|${spread ? "---:|" : ""}---:|---|`];
	for (const r of rows) {
		const noise = r.countingP === null || r.countingP === undefined ? "" : ` (${r.counts.real} of ${r.counts.of} against ${r.expectedCount.toFixed(1)} at the simulated share: two-sided Poisson p ${r.countingP.toFixed(2)})`;
		const mark = !r.checked ? "" : r.notExercised ? "not exercised (0 on both sides)" : r.flagged ? `✗ outside ${Math.round(bound * 100)} %${noise}` : r.withinNoise ? `✓ within counting's noise${noise}` : "✓";
		const range = spread ? ` ${r.low === null ? "-" : `${shown(r.low, r.unit)} to ${shown(r.high, r.unit)}`} |` : "";
		lines.push(`| ${r.figure} | ${shown(r.real, r.unit)} | ${shown(r.simulated, r.unit)} |${range} ${r.ratio === null ? "-" : r.ratio.toFixed(2)} | ${mark} |`);
	}
	const flagged = rows.filter((r) => r.flagged);
	const idle = rows.filter((r) => r.notExercised);
	lines.push("");
	lines.push(flagged.length === 0 ? `every checked figure within ${Math.round(bound * 100)} %` : `${flagged.length} figure(s) outside ${Math.round(bound * 100)} %: ${flagged.map((r) => r.figure).join(", ")}`);
	const noisy = rows.filter((r) => r.withinNoise);
	if (noisy.length > 0) lines.push(`${noisy.length} figure(s) outside ${Math.round(bound * 100)} % but counted from fewer than ${MEASURABLE_COUNT} events, where counting alone scatters more than that, and a likely draw of the simulated rate (p ≥ ${NOISE_P}): ${noisy.map((r) => r.figure).join(", ")}`);
	if (idle.length > 0) lines.push(`${idle.length} figure(s) not exercised (0 on both sides, so not shown to agree): ${idle.map((r) => r.figure).join(", ")}`);
	return lines.join("\n");
}
