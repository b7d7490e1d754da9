// The calibration's comparison (scripts/calibrate.mjs): a real load run's JSON report
// and a simulated run's of the same drop (both in the load runner's shape; the
// simulator's from sim/report.ts), figure by figure: requests per object kind (the
// audit's load: lines, the pacer, shards; in all, per fan, the busiest), the hold
// answers' `try_again` share, the sell-out time and the fans admitted, each with
// the ratio simulated / real, flagged when it is outside the tolerance (15 %); a
// figure 0 on both sides is shown as not exercised, neither passed nor flagged.
// Pure functions: test-node/calibration.test.mjs runs them on fixture reports.
import { OBSERVING_METHODS, PACER_PROMOTER_METHODS, loadSummary } from "../../loadtest/lib/journey.js";

/** The bound: a simulated figure within 15 % of the real one. */
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
 * The pacer's methods left out of its count: the promoter's calls (journey.js's
 * PACER_PROMOTER_METHODS: the runner making the drop and reading its audit, stats and queue
 * figures while it waits), which the simulation does not make. What is left is the fans' load:
 * the Worker's watermark reads, the lines' wakes, the shards' tells.
 */
export const PACER_LEFT_OUT = Object.fromEntries(PACER_PROMOTER_METHODS.map((m) => [m, "the promoter's calls (the runner's)"]));

/**
 * Requests per kind from a report's load (journey.js's loadSummary), less the methods left
 * out: {room, roomMethods, roomLeftOut, lines: {total, max, count}, shards: {total, max, count,
 * methods, leftOut}, fans}. The busiest shard is the busiest once its left-out calls are taken
 * away. A pacer that names no methods (an engine from before it did) is counted whole.
 */
export function loadByKind(report) {
	const load = report.load || (report.audit && report.audit.load) || { objects: [], fans: 0 };
	const summary = loadSummary(load);
	const out = { fans: summary.fans || 0, room: summary.room, roomMethods: {}, roomLeftOut: {}, lines: summary.lines, shards: { total: summary.shards.total, max: 0, count: summary.shards.count, methods: {}, leftOut: {} } };
	for (const m of Object.keys(summary.roomMethods)) {
		if (m in PACER_LEFT_OUT) {
			out.roomLeftOut[m] = summary.roomMethods[m];
			out.room -= summary.roomMethods[m];
		} else out.roomMethods[m] = summary.roomMethods[m];
	}
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

/** The pacer's and the shards' methods either side called, or any of several runs: every run's rows then have the same figures. */
function methodsOver(reports) {
	const room = new Set();
	const shards = new Set();
	for (const r of reports) {
		const k = loadByKind(r);
		for (const m of Object.keys(k.roomMethods)) room.add(m);
		for (const m of Object.keys(k.shards.methods)) shards.add(m);
	}
	return { room: [...room].sort(), shards: [...shards].sort() };
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
	const named = methods || methodsOver([real, simulated]);
	// A side whose pacer names no methods (a report from an engine before it did) has no value for them, not 0.
	const byMethod = (k, m) => (Object.keys(k.roomMethods).length + Object.keys(k.roomLeftOut).length === 0 ? null : k.roomMethods[m] || 0);
	for (const m of named.room) row("  pacer's " + m, byMethod(r, m), byMethod(s, m), false);
	row("shards: requests", r.shards.total, s.shards.total, true);
	row("shards: per fan", perFan(r.shards.total, r.fans), perFan(s.shards.total, s.fans), false);
	row("shards: busiest", r.shards.max, s.shards.max, true);
	for (const m of named.shards) row("  shards' " + m, r.shards.methods[m] || 0, s.shards.methods[m] || 0, false);
	row("hold answers", real.steps && real.steps.hold ? real.steps.hold.count : null, simulated.steps && simulated.steps.hold ? simulated.steps.hold.count : null, false);
	row("hold answers: try_again", tryAgainCount(real), tryAgainCount(simulated), false);
	row("hold answers: try_again share", tryAgainShare(real), tryAgainShare(simulated), true, "share", { real: tryAgainCount(real), of: real.steps && real.steps.hold ? real.steps.hold.count : null });
	row("time to sell out", real.timeToSellOutSeconds, simulated.timeToSellOutSeconds, true, "s");
	row("admitted (the watermark)", admittedOf(real), admittedOf(simulated), true);
	row("  median gap between batches (ms)", medianBatchGapOf(real), medianBatchGapOf(simulated), false);
	return rows;
}

/**
 * The rows against several simulated runs of the drop (seeds), and one or several real runs:
 * each figure's mean over the seeds is the simulated value, its mean over the real runs the
 * real one, its ratio and flag computed on the two means, with each side's lowest and highest
 * beside it (`low`, `high`; `realLow`, `realHigh` with more than one real run). One seed of a
 * small drop is one draw of its endgame (whether some fan walked away with a hold, which then
 * runs out), and so is one real run on a shared machine (two clean runs of the README's drop
 * served 25,914 and 21,504 shard requests): each side is set against the other's spread. A
 * share judged by counting's noise (the `try_again` share) is the real runs' counts over their
 * answers, summed. The methods are those of every run on either side (a seed whose shards never asked
 * a peer has no `give`, counted 0), and each run's value is found by its figure's name.
 */
export function calibrationRowsOver(realRuns, simulatedRuns, tolerance) {
	const reals = Array.isArray(realRuns) ? realRuns : [realRuns];
	const bound = tolerance === undefined ? TOLERANCE : tolerance;
	const methods = methodsOver([...reals, ...simulatedRuns]);
	const rowsOf = (real, simulated) => new Map(calibrationRows(real, simulated, bound, methods).map((row) => [row.figure, row]));
	const seeds = simulatedRuns.map((s) => rowsOf(reals[0], s));
	const runs = reals.map((r) => rowsOf(r, simulatedRuns[0]));
	const numbers = (values) => values.filter((v) => typeof v === "number");
	const meanOf = (values, n) => (values.length === n && n > 0 ? values.reduce((a, b) => a + b, 0) / n : null);
	const sumOf = (values) => (values.every((v) => typeof v === "number") ? values.reduce((a, b) => a + b, 0) : null);
	return calibrationRows(reals[0], simulatedRuns[0], bound, methods).map((first) => {
		const simulated = numbers(seeds.map((rows) => rows.get(first.figure).simulated));
		const real = numbers(runs.map((rows) => rows.get(first.figure).real));
		const counts = first.counts === undefined ? null : { real: sumOf(runs.map((rows) => rows.get(first.figure).counts.real)), of: sumOf(runs.map((rows) => rows.get(first.figure).counts.of)) };
		// A share counted over answers (the try_again share) is the real runs' events over their answers together,
		// the same rate the counting test judges; every other figure is the runs' mean.
		const pooled = counts !== null && typeof counts.real === "number" && counts.of > 0 ? counts.real / counts.of : null;
		return {
			...judged({ ...first, real: pooled !== null ? pooled : meanOf(real, reals.length), simulated: meanOf(simulated, seeds.length), ...(counts === null ? {} : { counts }) }, bound),
			low: simulated.length > 0 ? Math.min(...simulated) : null,
			high: simulated.length > 0 ? Math.max(...simulated) : null,
			...(reals.length > 1 ? { realRuns: reals.length, realLow: real.length > 0 ? Math.min(...real) : null, realHigh: real.length > 0 ? Math.max(...real) : null } : {}),
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
	// Over several real runs, their mean and range too.
	const realRuns = rows.reduce((n, r) => Math.max(n, r.realRuns || 1), 1);
	const realHead = realRuns > 1 ? `real (mean of ${realRuns}) | real runs' range` : "real";
	const lines = [`| figure | ${realHead} | simulated${spread ? " (mean) | seeds' range" : ""} | ratio | |`, `|---|---:|${realRuns > 1 ? "---:|" : ""}---:|${spread ? "---:|" : ""}---:|---|`];
	for (const r of rows) {
		const noise = r.countingP === null || r.countingP === undefined ? "" : ` (${r.counts.real} of ${r.counts.of} against ${r.expectedCount.toFixed(1)} at the simulated share: two-sided Poisson p ${r.countingP.toFixed(2)})`;
		const mark = !r.checked ? "" : r.notExercised ? "not exercised (0 on both sides)" : r.flagged ? `✗ outside ${Math.round(bound * 100)} %${noise}` : r.withinNoise ? `✓ within counting's noise${noise}` : "✓";
		const between = (low, high) => (low === null || low === undefined ? "-" : `${shown(low, r.unit)} to ${shown(high, r.unit)}`);
		const range = spread ? ` ${between(r.low, r.high)} |` : "";
		const realRange = realRuns > 1 ? ` ${between(r.realLow, r.realHigh)} |` : "";
		lines.push(`| ${r.figure} | ${shown(r.real, r.unit)} |${realRange} ${shown(r.simulated, r.unit)} |${range} ${r.ratio === null ? "-" : r.ratio.toFixed(2)} | ${mark} |`);
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
