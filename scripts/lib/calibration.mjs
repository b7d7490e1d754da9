// The calibration's comparison (scripts/calibrate.mjs): a real load run's JSON report
// and a simulated run's of the same drop (both in the load runner's shape; the
// simulator's from sim/report.ts), figure by figure: requests per object kind (the
// audit's load: lines, the pacer, shards; in all, per fan, the busiest), the hold
// answers' `try_again` share, the sell-out time and the fans admitted, each with
// the ratio simulated / real, flagged when it is outside the tolerance (15 %).
// Pure functions: test-node/calibration.test.mjs runs them on fixture reports.

/** The issue's bound: a simulated figure within 15 % of the real one. */
export const TOLERANCE = 0.15;

/**
 * A shard's methods the comparison leaves out of its counts, and why. The audit's own
 * reads (`stats`, `orderIdsPage`) are the runner asking after the run, not the drop's
 * load; `order` is a buyer reading its order until its tickets are signed (after the
 * sales consumer's D1 write and the post-sale Workflow, neither simulated).
 */
export const LEFT_OUT = {
	stats: "the audit's own reads",
	orderIdsPage: "the audit's own reads",
	order: "buyers reading their orders until ticketed (the D1 write and Workflow after the sale are not simulated)",
};

/** Requests per kind from a report's load, less the shard methods left out: {room, lines: {total, max, count}, shards: {total, max, count, methods}, fans}. */
export function loadByKind(report) {
	const load = report.load || (report.audit && report.audit.load) || { objects: [], fans: 0 };
	const out = { fans: load.fans || 0, room: 0, lines: { total: 0, max: 0, count: 0 }, shards: { total: 0, max: 0, count: 0, methods: {}, leftOut: {} } };
	for (const o of load.objects || []) {
		let requests = o.requests;
		if (o.kind === "shard" && o.methods) {
			for (const m of Object.keys(o.methods)) {
				if (m in LEFT_OUT) {
					requests -= o.methods[m];
					out.shards.leftOut[m] = (out.shards.leftOut[m] || 0) + o.methods[m];
				} else out.shards.methods[m] = (out.shards.methods[m] || 0) + o.methods[m];
			}
		}
		if (o.kind === "room") out.room += requests;
		const kind = o.kind === "line" ? out.lines : o.kind === "shard" ? out.shards : null;
		if (kind === null) continue;
		kind.count++;
		kind.total += requests;
		kind.max = Math.max(kind.max, requests);
	}
	return out;
}

/** The share of hold answers that were 503 `try_again` (the load runner's step statuses), or null without holds. */
export function tryAgainShare(report) {
	const hold = report.steps && report.steps.hold;
	if (!hold || !(hold.count > 0)) return null;
	return (hold.statuses["503:try_again"] || 0) / hold.count;
}

/** The pacer's watermark at the end: the fans let in (the audit's admission, or the simulation's). */
export function admittedOf(report) {
	if (report.admission && typeof report.admission.admittedThrough === "number") return report.admission.admittedThrough;
	if (report.audit && report.audit.admission && typeof report.audit.admission.admittedThrough === "number") return report.audit.admission.admittedThrough;
	return null;
}

/**
 * Requests a second the real run's machine answered when it was busy: the 95th percentile
 * of its answers per second (its timeline), so the quiet tail after the sale does not pull
 * it down as the run's average would; the average without a timeline. The simulation's
 * fans send through one machine at this rate (`--client-rate`).
 */
export function clientRateOf(report) {
	const t = report.timeline;
	if (t && t.statuses && t.buckets > 0) {
		const perBucket = [];
		for (let i = 0; i < t.buckets; i++) {
			let n = 0;
			for (const k of Object.keys(t.statuses)) n += t.statuses[k][i] || 0;
			if (n > 0) perBucket.push(n / t.bucketSeconds);
		}
		if (perBucket.length > 0) {
			perBucket.sort((a, b) => a - b);
			return Math.max(1, Math.round(perBucket[Math.min(perBucket.length - 1, Math.ceil(0.95 * perBucket.length) - 1)]));
		}
	}
	return Math.max(1, Math.round(report.requestsPerSecond || 0));
}

/** simulated / real, or null when either is missing or the real one is 0 (then equal zeros are 1). */
export function ratioOf(real, simulated) {
	if (typeof real !== "number" || typeof simulated !== "number") return null;
	if (real === 0) return simulated === 0 ? 1 : null;
	return simulated / real;
}

/**
 * The rows side by side: [{figure, real, simulated, ratio, flagged, checked}]. `checked`
 * rows are the calibration's figures and are flagged outside the tolerance (or when a
 * side has no value); the others (each shard method, the holds in all) say where a
 * difference comes from and are never flagged.
 */
export function calibrationRows(real, simulated, tolerance) {
	const bound = tolerance === undefined ? TOLERANCE : tolerance;
	const r = loadByKind(real);
	const s = loadByKind(simulated);
	const perFan = (n, fans) => (fans > 0 ? n / fans : null);
	const rows = [];
	// The bound is inclusive: 15 % off is within, whatever the floating point makes of 0.85.
	const row = (figure, a, b, checked, unit) => {
		const ratio = ratioOf(a, b);
		rows.push({ figure, real: a, simulated: b, unit: unit || "", ratio, checked, flagged: checked && (ratio === null || Math.abs(ratio - 1) > bound + 1e-9) });
	};
	row("lines: requests", r.lines.total, s.lines.total, true);
	row("lines: per fan", perFan(r.lines.total, r.fans), perFan(s.lines.total, s.fans), true);
	row("lines: busiest", r.lines.max, s.lines.max, true);
	row("pacer: requests", r.room, s.room, true);
	row("pacer: per fan", perFan(r.room, r.fans), perFan(s.room, s.fans), true);
	row("shards: requests", r.shards.total, s.shards.total, true);
	row("shards: per fan", perFan(r.shards.total, r.fans), perFan(s.shards.total, s.fans), true);
	row("shards: busiest", r.shards.max, s.shards.max, true);
	const methods = Object.keys(Object.assign({}, r.shards.methods, s.shards.methods)).sort();
	for (const m of methods) row("  shards' " + m, r.shards.methods[m] || 0, s.shards.methods[m] || 0, false);
	row("hold answers", real.steps && real.steps.hold ? real.steps.hold.count : null, simulated.steps && simulated.steps.hold ? simulated.steps.hold.count : null, false);
	row("hold answers: try_again share", tryAgainShare(real), tryAgainShare(simulated), true, "share");
	row("time to sell out", real.timeToSellOutSeconds, simulated.timeToSellOutSeconds, true, "s");
	row("admitted (the watermark)", admittedOf(real), admittedOf(simulated), true);
	return rows;
}

/**
 * The rows against several simulated runs of the drop (seeds): each figure's mean over
 * them is the simulated value, its ratio and flag computed on the mean, with the runs'
 * lowest and highest (`low`, `high`) beside it. One seed of a small drop is one draw of
 * its endgame (whether some fan walked away with a hold, which then runs out), so the
 * real run is set against the spread of several.
 */
export function calibrationRowsOver(real, simulatedRuns, tolerance) {
	const bound = tolerance === undefined ? TOLERANCE : tolerance;
	const each = simulatedRuns.map((s) => calibrationRows(real, s, bound));
	return each[0].map((first, i) => {
		const values = each.map((rows) => rows[i].simulated).filter((v) => typeof v === "number");
		const mean = values.length === each.length && values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null;
		const ratio = ratioOf(first.real, mean);
		return {
			...first,
			simulated: mean,
			low: values.length > 0 ? Math.min(...values) : null,
			high: values.length > 0 ? Math.max(...values) : null,
			ratio,
			flagged: first.checked && (ratio === null || Math.abs(ratio - 1) > bound + 1e-9),
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
		const mark = !r.checked ? "" : r.flagged ? `✗ outside ${Math.round(bound * 100)} %` : "✓";
		const range = spread ? ` ${r.low === null ? "-" : `${shown(r.low, r.unit)} to ${shown(r.high, r.unit)}`} |` : "";
		lines.push(`| ${r.figure} | ${shown(r.real, r.unit)} | ${shown(r.simulated, r.unit)} |${range} ${r.ratio === null ? "-" : r.ratio.toFixed(2)} | ${mark} |`);
	}
	const flagged = rows.filter((r) => r.flagged);
	lines.push("");
	lines.push(flagged.length === 0 ? `every checked figure within ${Math.round(bound * 100)} %` : `${flagged.length} figure(s) outside ${Math.round(bound * 100)} %: ${flagged.map((r) => r.figure).join(", ")}`);
	return lines.join("\n");
}
