// Thresholds an engineer sets, and the comparison of two runs. Plain
// JavaScript with no imports, so the Node runner, `npm run report` and k6's
// handleSummary (loadtest/drop.js) judge a run the same way.
//
// A report here is the JSON the Node runner writes (loadtest/reports/*.json),
// or the one drop.js writes beside its HTML: the same fields.

/** Steps a latency threshold may name; `ticket` is the sale-to-ticket time (the report's saleToTicket, k6's sale_to_ticket Trend). */
export const THRESHOLD_STEPS = ["join", "status", "hold", "purchase", "release", "drop", "ticket"];
export const THRESHOLD_PERCENTILES = ["p95", "p99"];

/**
 * A duration in milliseconds from "500ms", "1.5s", "2m" or a bare number
 * (milliseconds, or seconds when `bareUnit` is "s"). Throws on anything else.
 */
export function parseDuration(text, bareUnit) {
	const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(String(text));
	if (!m) throw new Error("not a duration: " + text + " (use 500ms, 1.5s or 2m)");
	const n = Number(m[1]);
	const unit = m[2] || bareUnit || "ms";
	return unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60000;
}

/**
 * The thresholds named in a flat map: flags (`p95-hold`, `p99-join`,
 * `sellout`) or k6's environment (`P95_HOLD`, `P99_JOIN`, `SELLOUT`).
 * Returns [{kind: "p95"|"p99"|"sellout", step?, ms, label}].
 */
export function thresholdSpecs(source) {
	const out = [];
	const get = function (kebab) {
		const upper = kebab.replace(/-/g, "_").toUpperCase();
		const v = source[kebab] !== undefined ? source[kebab] : source[upper];
		return v === undefined || v === "" ? undefined : v;
	};
	for (const p of THRESHOLD_PERCENTILES) {
		for (const step of THRESHOLD_STEPS) {
			const v = get(p + "-" + step);
			if (v === undefined) continue;
			const ms = parseDuration(v, "ms");
			out.push({ kind: p, step: step, ms: ms, label: p + " " + step + " < " + formatMs(ms) });
		}
	}
	const sellout = get("sellout");
	if (sellout !== undefined) {
		const ms = parseDuration(sellout, "s");
		out.push({ kind: "sellout", ms: ms, label: "sold out within " + formatMs(ms) + " of the opening" });
	}
	return out;
}

export function formatMs(ms) {
	if (ms === null || ms === undefined) return "-";
	return ms >= 1000 ? Math.round(ms / 10) / 100 + "s" : Math.round(ms * 100) / 100 + "ms";
}

/** Each threshold against a report: [{label, limit, value, ok}] (a step with no requests, or a drop not sold out, misses). */
export function checkThresholds(specs, report) {
	return specs.map(function (t) {
		let value = null;
		if (t.kind === "sellout") value = report.timeToSellOutSeconds === null || report.timeToSellOutSeconds === undefined ? null : report.timeToSellOutSeconds * 1000;
		else {
			const s = t.step === "ticket" ? report.saleToTicket && { count: report.saleToTicket.ticketed, p95: report.saleToTicket.p95, p99: report.saleToTicket.p99 } : report.steps && report.steps[t.step];
			value = s && s.count > 0 && typeof s[t.kind] === "number" ? s[t.kind] : null;
		}
		return { label: t.label, limit: t.ms, value: value, ok: value !== null && value < t.ms };
	});
}

/**
 * The same thresholds for k6: step trends (`step_<step>`, lib/k6-client.js),
 * and for the sell-out the last sale after the opening plus a drop that sold out.
 */
export function k6Thresholds(specs) {
	/** @type {Record<string, string[]>} */
	const out = {};
	for (const t of specs) {
		if (t.kind === "sellout") {
			out.sale_after_open = ["max<" + t.ms];
			out.not_sold_out = ["count==0"];
		} else {
			const name = t.step === "ticket" ? "sale_to_ticket" : "step_" + t.step;
			if (!out[name]) out[name] = [];
			out[name].push("p(" + t.kind.slice(1) + ")<" + t.ms);
		}
	}
	return out;
}

// ---------------------------------------------------------------------------
// Comparison

/**
 * How much worse a figure may be before a comparison marks it: the run-to-run
 * noise of one build on one machine, per kind of figure, measured by running
 * the same build three times (docs/load-testing.md#comparing-two-runs has the
 * runs and the figures). A latency or a time is marked worse when it is
 * beyond `ratio` and also more than `floorMs` apart (a 2 ms step going to
 * 3 ms is not news); a rate or the load only by `ratio`. Steps with fewer than
 * `minCount` requests in either run are left out.
 */
export const NOISE = {
	minCount: 50,
	latency: { ratio: 3, floorMs: 100 },
	time: { ratio: 2.5, floorMs: 2000 },
	rate: { ratio: 2.5 },
	load: { ratio: 1.25 },
};

/** The noise bounds in words, for the terminal and the page. */
export function noiseText(noise) {
	const n = noise || NOISE;
	return (
		"latencies " + n.latency.ratio + "x and " + n.latency.floorMs + " ms, times " + n.time.ratio + "x and " + n.time.floorMs / 1000 + " s, rates " +
		n.rate.ratio + "x, load per fan " + n.load.ratio + "x"
	);
}

function sellRate(r) {
	const t = r.timeToSellOutSeconds;
	const first = r.firstSaleAfterOpenSeconds;
	if (t === null || t === undefined || first === null || first === undefined || t <= first) return null;
	return (r.knobs ? r.knobs.tickets : 0) / (t - first);
}

/**
 * The figures of two runs side by side: [{metric, base, current, ratio,
 * better: "lower"|"higher", unit, worse}]. `worse` is true only where the
 * current run is worse than the base by more than the noise.
 */
export function compareReports(base, current, noise) {
	const n = noise || NOISE;
	const rows = [];
	function add(metric, a, b, better, unit, kind) {
		const both = typeof a === "number" && typeof b === "number";
		const bound = n[kind];
		let worse = false;
		if (both) {
			// How many times worse the current run is (1 when equal, below 1 when better).
			const times = better === "lower" ? (a > 0 ? b / a : b > 0 ? Infinity : 1) : b > 0 ? a / b : a > 0 ? Infinity : 1;
			const gapMs = unit === "ms" ? Math.abs(b - a) : unit === "s" ? Math.abs(b - a) * 1000 : Infinity;
			worse = times > bound.ratio && (bound.floorMs === undefined || gapMs > bound.floorMs);
		} else if (typeof a === "number" && metric === "time to sell out") {
			// It sold out before and does not now.
			worse = true;
		}
		rows.push({
			metric: metric,
			kind: kind,
			base: typeof a === "number" ? a : null,
			current: typeof b === "number" ? b : null,
			ratio: both && a > 0 ? b / a : null,
			better: better,
			unit: unit,
			worse: worse,
		});
	}
	add("requests/s", base.requestsPerSecond, current.requestsPerSecond, "higher", "/s", "rate");
	add("time to sell out", base.timeToSellOutSeconds, current.timeToSellOutSeconds, "lower", "s", "time");
	add("first sale after opening", base.firstSaleAfterOpenSeconds, current.firstSaleAfterOpenSeconds, "lower", "s", "time");
	add("sell rate (tickets/s)", sellRate(base), sellRate(current), "higher", "/s", "rate");
	const steps = [];
	for (const step of THRESHOLD_STEPS) {
		const a = base.steps && base.steps[step];
		const b = current.steps && current.steps[step];
		if (a && b && a.count >= n.minCount && b.count >= n.minCount) steps.push(step);
	}
	for (const step of steps) {
		for (const p of ["p50", "p95", "p99"]) add(step + " " + p, base.steps[step][p], current.steps[step][p], "lower", "ms", "latency");
	}
	const ticket = function (r, p) {
		return r.saleToTicket && r.saleToTicket.ticketed >= n.minCount ? r.saleToTicket[p] : null;
	};
	if (ticket(base, "p50") !== null && ticket(current, "p50") !== null) {
		for (const p of ["p50", "p99"]) add("sale to ticket " + p, ticket(base, p), ticket(current, p), "lower", "ms", "latency");
	}
	const hot = function (r) {
		return r.load && r.load.hottest ? r.load.hottest.perFan : null;
	};
	add("busiest object, requests per fan", hot(base), hot(current), "lower", "", "load");
	return rows;
}

/** A figure for a comparison row. */
export function formatValue(v, unit) {
	if (v === null || v === undefined) return "-";
	if (unit === "ms") return formatMs(v);
	if (unit === "s") return (Math.round(v * 10) / 10).toFixed(1) + "s";
	if (unit === "/s") return (Math.round(v * 10) / 10).toFixed(1) + "/s";
	return String(Math.round(v * 100) / 100);
}

/** The comparison as lines for a terminal. */
export function comparisonText(rows, baseLabel, currentLabel, noise) {
	const pad = function (s, w) {
		s = String(s);
		while (s.length < w) s = " " + s;
		return s;
	};
	const out = ["  comparison: " + baseLabel + "  ->  " + currentLabel, ""];
	out.push("  " + ("figure" + "                                   ").slice(0, 34) + pad("before", 10) + pad("now", 10) + pad("ratio", 8));
	for (const r of rows) {
		out.push(
			"  " + (r.metric + "                                   ").slice(0, 34) + pad(formatValue(r.base, r.unit), 10) + pad(formatValue(r.current, r.unit), 10) +
				pad(r.ratio === null ? "-" : r.ratio.toFixed(2) + "x", 8) + (r.worse ? "   ✗ worse beyond noise" : ""),
		);
	}
	const worse = rows.filter(function (r) {
		return r.worse;
	}).length;
	out.push("");
	out.push(
		worse === 0
			? "  no figure worse than the noise between runs of one build (" + noiseText(noise) + ")"
			: "  " + worse + " figure(s) worse than the noise between runs of one build (" + noiseText(noise) + ")",
	);
	return out.join("\n");
}
