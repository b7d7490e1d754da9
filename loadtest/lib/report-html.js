// The HTML report of a drop run: one self-contained file (inline CSS and SVG,
// no script, no network) that opens from disk. Plain JavaScript with no
// Node or k6 import, so the Node runner, `npm run report` and k6's
// handleSummary (loadtest/drop.js) render the same page from the same report
// JSON (see lib/report-compare.js for its fields).
//
// Every chart is an <svg class="chart" data-chart=ID data-points=N> where N
// counts the points drawn; every audit line a <tr data-check=NAME
// data-ok=true|false>; the whole verdict <section data-verdict=passed|failed>.
// test-node/report.test.mjs reads those from the file.
import { checkThresholds, formatMs, formatValue, noiseText } from "./report-compare.js";
import { unansweredText, unansweredTotal } from "./unanswered.js";
import { cancelText } from "./cancel.js";
import { saleToTicketText } from "./ticket-time.js";
import { waitEstimateText } from "./wait-estimate.js";
import { queueStatsSection } from "./queue-stats.js";
import { selloutText } from "./sellout.js";
import { admissionHeldBack, admissionText } from "./admission-note.js";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];

/**
 * Answers by status, in colours that read as what they are: green only for 2xx, the
 * engine's "try again" (503) amber and dashed, every other 5xx red and heavy, no answer
 * at all dark grey and dashed; the legend's words say which are errors, for a reader
 * who cannot tell the colours apart.
 */
const STATUS_STYLE = {
	"2xx": { label: "2xx (answered)", color: "#15803d" },
	"4xx": { label: "4xx (refused: sold out, limits)", color: "#2563eb" },
	"503": { label: "503 (try again, not an error)", color: "#b45309", dash: true },
	"5xx": { label: "other 5xx (errors)", color: "#dc2626", width: 3 },
	network: { label: "no answer (network errors)", color: "#374151", dash: true, width: 3 },
};

function esc(v) {
	return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function num(v, digits) {
	return typeof v === "number" && isFinite(v) ? (Math.round(v * Math.pow(10, digits)) / Math.pow(10, digits)).toString() : "-";
}

/**
 * The verdict of a run: the audit's lines, fairness, the engineer's
 * thresholds, and whether it passed (no broken invariant, every threshold met).
 * Returns {passed, checks: [{name, ok, text}], thresholds, failures}.
 */
export function reportVerdict(report) {
	const checks = [];
	const a = report.audit;
	if (a) {
		checks.push({ name: "oversold", ok: a.oversold === 0, text: "oversold " + a.oversold });
		checks.push({ name: "lost", ok: a.lost === 0, text: "lost " + a.lost });
		checks.push({
			name: "sold",
			ok: !report.expectSoldOut || a.totals.sold === a.capacity,
			text: "sold " + a.totals.sold + "/" + a.capacity + (report.expectSoldOut ? " (demand exceeded supply: all must sell)" : ""),
		});
		if (typeof a.recorded === "number") checks.push({ name: "d1", ok: a.recorded === a.totals.orders, text: "D1 " + a.recorded + " orders = shards " + a.totals.orders });
		if (typeof a.balanced === "boolean") checks.push({ name: "balanced", ok: a.balanced, text: a.balanced ? "balanced" : "unbalanced" });
	}
	// After a drain that left sales missing from D1, the reconcile's turn (lib/journey.js recoverMissing).
	const r = report.recovery;
	if (r && r.ran) {
		checks.push({
			name: "recovery",
			ok: r.stillMissing === 0,
			text: r.missingAfterDrain + " sale(s) missing from D1 after the drain; the reconcile re-sent " + r.resent + " over " + r.seconds + " s; " + (r.stillMissing === 0 ? "D1 then had every sale" : r.stillMissing + " still missing"),
		});
	}
	// The Node runner's watch of the engine it started (null: not watched).
	const restarts = report.engineRestarts;
	if (restarts) {
		checks.push({
			name: "restarts",
			ok: restarts.length === 0,
			text:
				restarts.length === 0
					? "the engine's workerd ran the whole run"
					: "the engine's workerd was started again " + restarts.length + " time(s) (wrangler dev reloading): what the local Queue held was lost",
		});
	}
	if (report.fairness && typeof report.fairness.broken === "number") {
		checks.push({ name: "fairness", ok: report.fairness.broken === 0, text: "fairness: " + report.fairness.broken + " position(s) out of the published order" });
	}
	if (report.unanswered) {
		const none = unansweredTotal(report.unanswered) === 0;
		checks.push({
			name: "unanswered",
			ok: none,
			text: "unanswered requests: " + unansweredText(report.unanswered) + (report.requestTimeoutSeconds ? " (no answer within " + report.requestTimeoutSeconds + " s)" : ""),
		});
	}
	if (report.cancel) {
		checks.push({
			name: "cancel",
			ok: report.cancel.ok,
			text: "cancelled mid-sale: " + (report.cancel.stats ? cancelText(report.cancel) : report.cancel.failures.join("; ")),
		});
	}
	const st = report.saleToTicket;
	if (st && st.buyers > 0) {
		checks.push({ name: "tickets", ok: st.missed === 0, text: "sale to ticket: " + saleToTicketText(st) });
	}
	const failures = report.failures || [];
	checks.push({ name: "invariants", ok: failures.length === 0, text: failures.length === 0 ? "no invariant broken" : failures.length + " broken invariant(s)" });
	const thresholds = report.thresholdSpecs ? checkThresholds(report.thresholdSpecs, report) : [];
	const passed =
		failures.length === 0 &&
		thresholds.every(function (t) {
			return t.ok;
		});
	return { passed: passed, checks: checks, thresholds: thresholds, failures: failures };
}

// ---------------------------------------------------------------------------
// Charts

function niceMax(v) {
	if (!(v > 0)) return 1;
	const p = Math.pow(10, Math.floor(Math.log(v) / Math.LN10));
	const steps = [1, 2, 2.5, 5, 10];
	for (let i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
	return 10 * p;
}

/**
 * A line chart. spec: {id, title, unit, x: number[] (seconds after the
 * opening), series: [{name, label?, values: (number|null)[], color?, dash?,
 * width?}], marks: [{x, label, row?}], note?}. Null values break a line; `label`
 * is the legend's words where they say more than the series' name; `note`
 * a sentence under the chart.
 */
export function lineChart(spec) {
	const W = 600;
	const H = 230;
	const L = 52;
	const R = 12;
	const T = 12;
	const B = 28;
	const xs = spec.x;
	const x0 = xs.length ? xs[0] : 0;
	const x1 = xs.length > 1 ? xs[xs.length - 1] : x0 + 1;
	let top = 0;
	let points = 0;
	for (const s of spec.series) for (const v of s.values) if (typeof v === "number" && v > top) top = v;
	const yMax = niceMax(top);
	const sx = function (x) {
		return L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
	};
	const sy = function (y) {
		return T + (1 - y / yMax) * (H - T - B);
	};
	const parts = [];
	for (let i = 0; i <= 4; i++) {
		const v = (yMax * i) / 4;
		const y = sy(v).toFixed(1);
		parts.push('<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y + '" y2="' + y + '"/>');
		parts.push('<text class="tick" x="' + (L - 6) + '" y="' + y + '" dy="4" text-anchor="end">' + esc(spec.unit === "ms" ? formatMs(v) : num(v, 1)) + "</text>");
	}
	// Seconds on a round step, about six ticks across.
	const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
	let step = steps[steps.length - 1];
	for (let i = 0; i < steps.length; i++) {
		if ((x1 - x0) / steps[i] <= 7) {
			step = steps[i];
			break;
		}
	}
	for (let v = Math.ceil(x0 / step) * step; v <= x1; v += step) {
		parts.push('<text class="tick" x="' + sx(v).toFixed(1) + '" y="' + (H - 8) + '" text-anchor="middle">' + num(v, 0) + "s</text>");
	}
	for (const m of spec.marks || []) {
		if (!(m.x >= x0 && m.x <= x1)) continue;
		const x = sx(m.x).toFixed(1);
		parts.push('<line class="mark" x1="' + x + '" x2="' + x + '" y1="' + T + '" y2="' + (H - B) + '"/>');
		// A mark's `row` sets its label lower, clear of a mark close beside it.
		parts.push('<text class="mark-label" x="' + x + '" y="' + (T + 10 + 12 * (m.row || 0)) + '" dx="3">' + esc(m.label) + "</text>");
	}
	const legend = [];
	spec.series.forEach(function (s, k) {
		const color = s.color || COLORS[k % COLORS.length];
		let d = "";
		let pen = false;
		let n = 0;
		for (let i = 0; i < s.values.length && i < xs.length; i++) {
			const v = s.values[i];
			if (typeof v !== "number") {
				pen = false;
				continue;
			}
			d += (pen ? "L" : "M") + sx(xs[i]).toFixed(1) + " " + sy(v).toFixed(1);
			pen = true;
			n++;
		}
		points += n;
		parts.push(
			'<path class="series" data-series="' + esc(s.name) + '" data-points="' + n + '" d="' + d + '" stroke="' + color + '"' +
				(s.dash ? ' stroke-dasharray="6 4"' : "") + (s.width ? ' stroke-width="' + s.width + '"' : "") + "/>",
		);
		legend.push('<span class="key" data-color="' + color + '"><i style="background:' + color + '"></i>' + esc(s.label || s.name) + "</span>");
	});
	parts.push('<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/>');
	parts.push('<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/>');
	return (
		'<figure><figcaption>' + esc(spec.title) + "</figcaption>" + '<div class="chart-box" tabindex="0" role="group" aria-label="' + CHART_BOX_LABEL + '">' +
		'<svg class="chart" data-chart="' + esc(spec.id) + '" data-points="' + points + '" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + esc(spec.title) + '">' +
		parts.join("") + "</svg></div>" + '<div class="legend">' + legend.join("") + "</div>" +
		(spec.note ? '<p class="note" data-note="' + esc(spec.id) + '">' + esc(spec.note) + "</p>" : "") + "</figure>"
	);
}

/**
 * The scrolling box around a chart is named for what it is, not by the chart's title: the svg inside
 * (role img) and the figure's caption say the title already, and a screen reader would read it again.
 */
const CHART_BOX_LABEL = "Chart, scrolls sideways";

/** Horizontal bars: [{label, value, note, color?}]; without a color the first bar is red (the busiest), the others blue. */
export function barChart(spec) {
	const W = 600;
	const row = 20;
	const L = 90;
	const R = 150;
	const H = Math.max(1, spec.bars.length) * row + 8;
	let top = 0;
	for (const b of spec.bars) if (b.value > top) top = b.value;
	const parts = [];
	spec.bars.forEach(function (b, i) {
		const y = 4 + i * row;
		const w = top > 0 ? (b.value / top) * (W - L - R) : 0;
		parts.push('<text class="tick" x="' + (L - 6) + '" y="' + (y + 13) + '" text-anchor="end">' + esc(b.label) + "</text>");
		parts.push('<rect class="bar" x="' + L + '" y="' + y + '" width="' + w.toFixed(1) + '" height="' + (row - 5) + '" fill="' + (b.color || (i === 0 ? COLORS[1] : COLORS[0])) + '"/>');
		parts.push('<text class="tick" x="' + (L + w + 6).toFixed(1) + '" y="' + (y + 13) + '">' + esc(b.value + (b.note ? "  " + b.note : "")) + "</text>");
	});
	return (
		'<figure><figcaption>' + esc(spec.title) + "</figcaption>" + '<div class="chart-box" tabindex="0" role="group" aria-label="' + CHART_BOX_LABEL + '">' +
		'<svg class="chart" data-chart="' + esc(spec.id) + '" data-points="' + spec.bars.length + '" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + esc(spec.title) + '">' +
		parts.join("") + "</svg></div></figure>"
	);
}

// ---------------------------------------------------------------------------
// The timeline's charts

function cumulative(values) {
	let sum = 0;
	return values.map(function (v) {
		sum += v || 0;
		return sum;
	});
}

/** The buckets worth drawing: from the first with any answer or event to two after the last. */
function activeRange(t) {
	let first = -1;
	let last = -1;
	for (let i = 0; i < t.buckets; i++) {
		let any = false;
		for (const k of Object.keys(t.statuses)) if (t.statuses[k][i] > 0) any = true;
		for (const k of Object.keys(t.counts)) if (t.counts[k][i] > 0) any = true;
		if (any) {
			if (first < 0) first = i;
			last = i;
		}
	}
	if (first < 0) return { from: 0, to: 0 };
	return { from: first, to: Math.min(t.buckets, last + 3) };
}

/** What the status chart calls each class of answer. */
const STATUS_NAMES = { "503": "503 (try again)", "5xx": "other 5xx", network: "no answer (network)" };

/** The charts of a timeline (lib/timeline.js) as HTML figures, with the sell-out marked. */
export function timelineCharts(t, report) {
	const range = activeRange(t);
	const cut = function (values) {
		return values.slice(range.from, range.to);
	};
	const x = [];
	for (let i = range.from; i < range.to; i++) x.push(i * t.bucketSeconds - t.openAtS);
	const perSecond = function (values) {
		return cut(values).map(function (v) {
			return v === null ? null : v / t.bucketSeconds;
		});
	};
	const marks = [{ x: 0, label: "opening" }];
	if (typeof report.timeToSellOutSeconds === "number") marks.push({ x: report.timeToSellOutSeconds, label: "sold out" });
	const charts = [];
	charts.push(
		lineChart({
			id: "fans",
			title: "Fans per second: arrivals, joins answered, admissions (fans' view)",
			unit: "",
			x: x,
			series: [
				{ name: "arrived", values: perSecond(t.counts.arrived) },
				{ name: "joined", values: perSecond(t.counts.joined) },
				{ name: "admitted", values: perSecond(t.counts.admitted) },
			],
			marks: marks,
		}),
	);
	// The configured pace: batchSize every intervalMs from the opening, never past the fans in line; an
	// upper bound (activeMultiple, a pause and the sell-out hold admission back).
	const joinedSoFar = cumulative(t.counts.joined).slice(range.from, range.to);
	const pace = x.map(function (s, i) {
		return s < 0 ? 0 : Math.min(joinedSoFar[i], t.pace.batchSize * Math.floor((s * 1000) / t.pace.intervalMs + 1));
	});
	const admittedSoFar = cumulative(t.counts.admitted).slice(range.from, range.to);
	const knobs = report.knobs || {};
	const configured = {
		batchSize: t.pace.batchSize,
		intervalMs: t.pace.intervalMs,
		activeMultiple: typeof t.pace.activeMultiple === "number" ? t.pace.activeMultiple : knobs.activeMultiple,
	};
	const held = admissionHeldBack({ pace: configured, bucketSeconds: t.bucketSeconds, observed: { watermark: cut(t.observed.watermark), remaining: cut(t.observed.remaining) } }, x, joinedSoFar, pace, typeof report.timeToSellOutSeconds === "number" ? report.timeToSellOutSeconds : null);
	const rate = held.perSecond === null ? "" : ": " + held.perSecond + " fans a second";
	const admission = [
		{ name: "admitted (fans' view, cumulative)", values: admittedSoFar },
		{ name: "watermark (the pacer's, read each bucket)", values: cut(t.observed.watermark) },
		{ name: "configured pace" + rate + " (batchSize per interval, up to the fans joined)", values: pace, dash: true },
	];
	charts.push(
		lineChart({
			id: "admission",
			title: "Admission: the watermark against the configured pace" + rate,
			unit: "",
			x: x,
			series: admission,
			marks: held.heldFromS === null ? marks : marks.concat([{ x: held.heldFromS, label: "cap holds", row: 1 }]),
			note: admissionText(held, report.scenario === "pause"),
		}),
	);
	charts.push(
		lineChart({
			id: "sales",
			title: "Holds and tickets sold per second",
			unit: "",
			x: x,
			series: [
				{ name: "holds", values: perSecond(t.counts.held) },
				{ name: "tickets sold", values: perSecond(t.counts.sold) },
			],
			marks: marks,
		}),
	);
	const capacity = report.knobs ? report.knobs.tickets : null;
	charts.push(
		lineChart({
			id: "sellout",
			title: "Sell-out: tickets sold (fans' view) and remaining (public view)",
			unit: "",
			x: x,
			series: [
				{ name: "sold, cumulative", values: cumulative(t.counts.sold).slice(range.from, range.to) },
				{ name: "remaining", values: cut(t.observed.remaining) },
				{
					name: "capacity",
					values: x.map(function () {
						return capacity;
					}),
					dash: true,
				},
			],
			marks: marks,
		}),
	);
	for (const step of Object.keys(t.latency)) {
		const l = t.latency[step];
		charts.push(
			lineChart({
				id: "latency-" + step,
				title: "Latency of " + step + " per second: p50, p95, p99",
				unit: "ms",
				x: x,
				series: [
					{ name: "p50", values: cut(l.p50) },
					{ name: "p95", values: cut(l.p95) },
					{ name: "p99", values: cut(l.p99) },
				],
				marks: marks,
			}),
		);
	}
	charts.push(
		lineChart({
			id: "statuses",
			title: "Answers per second by status",
			unit: "",
			x: x,
			series: Object.keys(t.statuses).map(function (k, i) {
				let style = STATUS_STYLE[k] || { color: COLORS[(i + 3) % COLORS.length] };
				if (k === "5xx" && !t.statuses["503"]) style = { label: "5xx (503 try again and errors, not told apart)", color: style.color, width: style.width };
				const name = STATUS_NAMES[k] || k;
				return { name: name, label: style.label || name, values: perSecond(t.statuses[k]), color: style.color, dash: style.dash, width: style.width };
			}),
			marks: marks,
			note: statusNote(t.statuses),
		}),
	);
	return charts;
}

/** The chart's errors in words: how many answers were errors, and how many were the engine asking to be asked again. */
function statusNote(statuses) {
	const total = function (k) {
		return (statuses[k] || []).reduce(function (a, b) {
			return a + (b || 0);
		}, 0);
	};
	const errors = total("5xx") + total("network");
	// A run recorded before 503 was counted apart has its 503s among the 5xx: said so rather than called errors outright.
	if (!statuses["503"]) {
		return (
			"This run's series count 503 (the engine's try again, Retry-After) among the 5xx: " + total("5xx") + " 5xx in all, retries and errors together; " +
			total("network") + " requests with no answer."
		);
	}
	const head = errors === 0 ? "No errors: no 5xx other than 503, and every request answered." : "Errors: " + total("5xx") + " other 5xx, " + total("network") + " with no answer (a dropped connection: the verdict's unanswered line says whether any request was never answered).";
	return head + " " + total("503") + " answers were 503, the engine asking to be asked again (Retry-After), which fans obey.";
}

/** The busiest objects from the audit's load, as bars. */
function loadChart(load) {
	const objects = (load.objects || []).slice().sort(function (a, b) {
		return b.requests - a.requests;
	});
	const fans = load.fans || 0;
	const bars = objects.slice(0, 12).map(function (o) {
		return { label: o.kind + " " + o.index, value: o.requests, note: fans > 0 ? "(" + num(o.requests / fans, 2) + " per fan)" : "" };
	});
	return barChart({ id: "load", title: "Requests served by the busiest objects (the audit's load; " + fans + " fans joined)", bars: bars });
}

/**
 * How many fans held their tickets after how long from their 201: one bar per
 * bin up to the last with a fan, each with the share of buyers ticketed by
 * then, and a red bar for the fans with none by the deadline.
 */
export function saleToTicketChart(s) {
	let last = -1;
	for (let i = 0; i < s.bins.length; i++) if (s.bins[i].fans > 0) last = i;
	const bars = [];
	let sum = 0;
	let from = 0;
	const share = function (n) {
		return s.buyers > 0 ? num((100 * n) / s.buyers, 1) + "%" : "-";
	};
	for (let i = 0; i <= last; i++) {
		sum += s.bins[i].fans;
		bars.push({ label: formatMs(from) + "–" + formatMs(s.bins[i].leMs), value: s.bins[i].fans, note: "(" + share(sum) + " by then)", color: COLORS[0] });
		from = s.bins[i].leMs;
	}
	if (s.over > 0) bars.push({ label: "> " + formatMs(from), value: s.over, note: "", color: COLORS[4] });
	if (s.missed > 0) bars.push({ label: "none in " + s.deadlineSeconds + " s", value: s.missed, note: "(" + share(s.missed) + ", a failure)", color: COLORS[1] });
	return barChart({ id: "sale-to-ticket", title: "Fans by time from their purchase's 201 to tickets the gate accepts (" + s.buyers + " buyers)", bars: bars });
}

function saleToTicketSection(s) {
	const figures = [
		["sale to ticket p50", formatMs(s.p50)],
		["p95", formatMs(s.p95)],
		["p99", formatMs(s.p99)],
		["max", formatMs(s.max)],
		["no ticket in " + s.deadlineSeconds + " s", s.missed],
	];
	if (s.refunded > 0) figures.push(["refunded before a ticket", s.refunded]);
	return (
		'<h2 id="sale-to-ticket">Sale to ticket</h2><p class="muted">After its 201 each buyer reads its order with its order token, as the fan page does ' +
		"(at once, then 250 ms, backing off to 2 s), until every ticket carries a signed token the gate accepts; the time from the 201's answer to that read.</p>" +
		'<div class="figures">' +
		figures
			.map(function (f) {
				return '<div><span class="muted">' + esc(f[0]) + "</span><b>" + esc(f[1]) + "</b></div>";
			})
			.join("") +
		'</div><div class="grid-charts">' + saleToTicketChart(s) + "</div>"
	);
}

function pct(x) {
	return x === null || x === undefined ? "-" : Math.round(x * 1000) / 10 + "%";
}

/** The wait estimate against each admitted fan's real wait (lib/wait-estimate.js). */
function waitEstimateSection(s) {
	const figures = [
		["median |estimate - actual| / actual", pct(s.medianError)],
		["p90", pct(s.p90Error)],
		["median signed", s.medianSigned === null ? "-" : (s.medianSigned > 0 ? "+" : "") + pct(s.medianSigned)],
		["fans judged", s.judged],
		["admitted with no estimate", s.untold],
	];
	return (
		'<h2 id="wait-estimate">Wait estimate</h2><p class="muted">For every admitted fan, the first wait it was told after the opening ' +
		"(from the measured admission pace) against how long it then waited until its batch went in; a signed error below zero means the estimate was too short. " +
		"A fan admitted at its first answer, or only ever told the wait is not known yet, has nothing to judge. " +
		esc(waitEstimateText(s)) +
		'</p><div class="figures">' +
		figures
			.map(function (f) {
				return '<div><span class="muted">' + esc(f[0]) + "</span><b>" + esc(f[1]) + "</b></div>";
			})
			.join("") +
		"</div>"
	);
}

// ---------------------------------------------------------------------------
// What only a simulation has (npm run simulate -- --report, sim/report.ts)

const KIND_NAMES = { room: "pacer", line: "line", shard: "shard" };

/**
 * The objects of a kind over the simulated seconds: the busiest object's requests each
 * second (its own series), and the deepest queue any of them had each second.
 */
function kindSeries(objects, kind, from, to) {
	const mine = objects.filter(function (o) {
		return o.kind === kind;
	});
	let busiest = null;
	for (const o of mine) if (busiest === null || o.peak.requests > busiest.peak.requests) busiest = o;
	const requests = [];
	const depth = [];
	for (let s = from; s < to; s++) {
		requests.push(busiest && s < busiest.perSecond.length ? busiest.perSecond[s] : 0);
		let deepest = 0;
		for (const o of mine) if (s < o.depthPerSecond.length && o.depthPerSecond[s] > deepest) deepest = o.depthPerSecond[s];
		depth.push(deepest);
	}
	return { busiest: busiest, requests: requests, depth: depth, count: mine.length };
}

/**
 * Requests a second at each kind's busiest object against the platform's limit, and the
 * deepest queue at each kind's objects, over the simulated seconds; the hottest object and
 * when. Shown only for a report that has a simulation's objects.
 */
export function simulationSection(sim) {
	const objects = sim.objects || [];
	let last = 0;
	for (const o of objects) if (o.perSecond.length > last) last = o.perSecond.length;
	// From the first second any object served to the last; seconds after the opening on the axis.
	let first = last;
	for (const o of objects) {
		for (let s = 0; s < o.perSecond.length; s++) {
			if (o.perSecond[s] > 0) {
				if (s < first) first = s;
				break;
			}
		}
	}
	const x = [];
	for (let s = first; s < last; s++) x.push(s - sim.openAtS);
	const kinds = ["line", "room", "shard"].map(function (k) {
		return { kind: k, series: kindSeries(objects, k, first, last) };
	}).filter(function (k) {
		return k.series.count > 0;
	});
	const h = sim.hottest;
	const marks = [{ x: 0, label: "opening" }];
	if (h) marks.push({ x: h.atS, label: "hottest", row: 1 });
	/** @type {{name: string, label: string, values: number[], color?: string, dash?: boolean}[]} */
	const requestSeries = kinds.map(function (k) {
		const b = k.series.busiest;
		return { name: KIND_NAMES[k.kind] + " busiest", label: b.name + " (busiest " + KIND_NAMES[k.kind] + " of " + k.series.count + ")", values: k.series.requests };
	});
	requestSeries.push({
		name: "limit",
		label: "the limit: " + sim.limit + " requests a second an object",
		values: x.map(function () {
			return sim.limit;
		}),
		// Dark grey: the kinds' colours stay the other charts' (the pacer's is red).
		color: "#374151",
		dash: true,
	});
	const charts = [
		lineChart({
			id: "sim-object-rate",
			title: "Requests a second at the busiest object of each kind, against the limit of " + sim.limit,
			unit: "",
			x: x,
			series: requestSeries,
			marks: marks,
			note: "Every request an object served in each simulated second, its alarms included; past the limit requests queue (below).",
		}),
		lineChart({
			id: "sim-queue-depth",
			title: "Queue depth: the deepest queue a request found at any object of each kind",
			unit: "",
			x: x,
			series: kinds.map(function (k) {
				return { name: KIND_NAMES[k.kind] + " queue", label: KIND_NAMES[k.kind] + "s (" + k.series.count + ")", values: k.series.depth };
			}),
			marks: marks,
		}),
	];
	const bars = objects
		.slice()
		.sort(function (a, b) {
			return b.peak.requests - a.peak.requests;
		})
		.slice(0, 12)
		.map(function (o) {
			return { label: o.name, value: o.peak.requests, note: "(" + num((100 * o.peak.requests) / sim.limit, 0) + "% at " + num(o.peak.atS, 0) + "s, queue " + o.deepestQueue + ")" };
		});
	charts.push(barChart({ id: "sim-peaks", title: "Each object's busiest second (requests; its share of the limit, when, its deepest queue), the busiest first", bars: bars }));
	// A simulation with D1 reports the sale to its row there; an older one only to the Queue's batch.
	const toD1 = sim.saleToTicket !== undefined;
	const q = sim.saleToTicket || sim.saleToQueue || {};
	const figures = [
		["hottest object", h ? h.name : "-"],
		["its busiest second", h ? h.requests + " requests at " + num(h.atS, 1) + "s" : "-"],
		["of the limit", h ? num(100 * h.shareOfLimit, 0) + "%" : "-"],
		[toD1 ? "sale to its row in D1 p50" : "sale to the Queue's batch p50", formatMs(q.medianMs)],
		["p90", formatMs(q.p90Ms)],
		["max", formatMs(q.maxMs)],
		["events simulated", sim.events],
	];
	return (
		'<section id="simulation" data-hottest="' + esc(h ? h.name : "") + '"><h2>The simulation: each object against its limit</h2>' +
		'<p class="muted">Seed ' + esc(sim.seed) + ", faults " + esc(sim.faults && sim.faults.length > 0 ? sim.faults.join(",") : "none") +
		". Seconds of simulated time after the opening; one point a second. Each object serves one request at a time at the CPU the bench measured, and never more than " +
		sim.limit +
		" a second (Cloudflare's figure for one Durable Object). " +
		(toD1 ? "Sale to ticket here is to the order's row written in D1 by the sales consumer (the follow-up and the order read are not simulated)." : "Sale to ticket here is up to the sales consumer's batch (its D1 write is not simulated).") +
		"</p>" +
		'<div class="figures">' +
		figures
			.map(function (f) {
				return '<div><span class="muted">' + esc(f[0]) + "</span><b>" + esc(f[1]) + "</b></div>";
			})
			.join("") +
		'</div><div class="grid-charts">' + charts.join("") + "</div>" +
		(sim.summary ? "<h3>The run's summary</h3><pre>" + esc(sim.summary.join("\n")) + "</pre>" : "") +
		"</section>"
	);
}

// ---------------------------------------------------------------------------
// The page

const CSS = [
	"body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1280px;padding:0 16px;color:#111827;background:#fff;overflow-wrap:anywhere}",
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}",
	".muted{color:#6b7280}",
	".verdict{border-radius:8px;padding:12px 16px;margin:16px 0;border:2px solid}",
	".verdict.passed{border-color:#16a34a;background:#f0fdf4}.verdict.failed{border-color:#dc2626;background:#fef2f2}",
	".verdict h2{margin:0 0 8px}",
	"table{border-collapse:collapse;font-variant-numeric:tabular-nums}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #e5e7eb}",
	"td:first-child,th:first-child{text-align:left}",
	".ok{color:#16a34a}.bad{color:#dc2626;font-weight:600}",
	".figures{display:flex;flex-wrap:wrap;gap:8px 28px;margin:8px 0}.figures b{display:block;font-size:18px}",
	// On a phone a chart keeps a readable size and scrolls inside its own box; the page never scrolls sideways.
	".grid-charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(560px,100%),1fr));gap:18px}",
	"figure{margin:0;border:1px solid #e5e7eb;border-radius:8px;padding:8px;min-width:0}figcaption{font-weight:600;margin-bottom:4px}",
	".chart-box,.scroll{overflow-x:auto;max-width:100%}",
	"svg.chart{width:100%;min-width:440px;height:auto;display:block}",
	".note{margin:6px 0 0;font-size:13px;color:#374151}p.note[data-note=sellout]{font-size:14px;color:#111827}",
	".grid{stroke:#e5e7eb;stroke-width:1}.axis{stroke:#9ca3af;stroke-width:1}",
	".series{fill:none;stroke-width:1.8;stroke-linejoin:round}",
	".mark{stroke:#6b7280;stroke-dasharray:3 3}.mark-label{font-size:10px;fill:#374151}",
	".tick{font-size:10px;fill:#4b5563}",
	".legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:4px}.key i{display:inline-block;width:14px;height:3px;margin-right:5px;vertical-align:middle}",
	"pre{background:#f9fafb;padding:8px;overflow:auto;font-size:12px}",
].join("\n");

function stepTable(steps) {
	const rows = Object.keys(steps || {}).map(function (name) {
		const s = steps[name];
		const statuses = Object.keys(s.statuses || {})
			.map(function (k) {
				return k + ":" + s.statuses[k];
			})
			.join(" ");
		return (
			"<tr><td>" + esc(name) + "</td><td>" + s.count + "</td><td>" + formatMs(s.p50) + "</td><td>" + formatMs(s.p95) + "</td><td>" + formatMs(s.p99) +
			"</td><td>" + formatMs(s.max) + '</td><td style="text-align:left">' + esc(statuses) + "</td></tr>"
		);
	});
	return "<div class=\"scroll\" tabindex=\"0\" role=\"group\" aria-label=\"Latency per step\"><table><tr><th>step</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th style=\"text-align:left\">statuses</th></tr>" + rows.join("") + "</table></div>";
}

function comparisonTable(cmp) {
	const rows = cmp.rows.map(function (r) {
		return (
			'<tr data-metric="' + esc(r.metric) + '" data-worse="' + r.worse + '"><td>' + esc(r.metric) + "</td><td>" + esc(formatValue(r.base, r.unit)) + "</td><td>" +
			esc(formatValue(r.current, r.unit)) + "</td><td>" + (r.ratio === null ? "-" : r.ratio.toFixed(2) + "×") + "</td><td>" +
			(r.worse ? '<span class="bad">✗ worse beyond noise</span>' : '<span class="muted">' + (r.better === "lower" ? "lower is better" : "higher is better") + "</span>") +
			"</td></tr>"
		);
	});
	return (
		'<section id="comparison"><h2>Compared with ' + esc(cmp.baseLabel) + "</h2>" +
		'<div class="scroll" tabindex="0" role="group" aria-label="Compared figures"><table><tr><th>figure</th><th>before</th><th>now</th><th>ratio</th><th></th></tr>' + rows.join("") + "</table></div>" +
		'<p class="muted">Marked worse: worse by more than the noise between runs of one build (' + esc(noiseText(cmp.noise)) +
		"; docs/load-testing.md).</p></section>"
	);
}

function describe(report) {
	const k = report.knobs || {};
	const d = report.drop || {};
	return (
		esc(report.scenario || "spike") + " · " + k.fans + " fans, " + k.tickets + " tickets, " + (d.shards || k.shards) + " shards, " +
		(d.lines || k.lines || "?") + " line(s), maxPerFan " + k.maxPerFan + (d.id ? " · drop " + esc(d.id) : "") + " · " + esc(report.at || "") +
		(report.source === "k6" ? " · k6" : report.source === "simulator" ? " · simulator" : " · Node runner")
	);
}

/**
 * The whole page. opts: {comparison?: {rows, baseLabel, noise}} (from
 * compareReports) shown side by side.
 */
export function renderReport(report, opts) {
	const o = opts || {};
	const v = reportVerdict(report);
	const parts = [];
	parts.push('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">');
	const heading = report.simulation ? "Drop simulation" : "Drop load test";
	parts.push("<title>" + heading + ": " + (v.passed ? "passed" : "FAILED") + " · " + esc(report.scenario || "spike") + "</title><style>" + CSS + "</style></head><body>");
	parts.push("<h1>" + heading + "</h1><div class=\"muted\">" + describe(report) + "</div>");
	parts.push('<section class="verdict ' + (v.passed ? "passed" : "failed") + '" data-verdict="' + (v.passed ? "passed" : "failed") + '">');
	parts.push("<h2>" + (v.passed ? "✓ PASSED: no invariant broken, every threshold met" : "✗ FAILED") + '</h2><div class="scroll" tabindex="0" role="group" aria-label="Checks"><table>');
	for (const c of v.checks) {
		parts.push('<tr data-check="' + c.name + '" data-ok="' + c.ok + '"><td class="' + (c.ok ? "ok" : "bad") + '">' + (c.ok ? "✓" : "✗") + "</td><td style=\"text-align:left\">" + esc(c.text) + "</td></tr>");
	}
	for (const t of v.thresholds) {
		parts.push(
			'<tr data-threshold="' + esc(t.label) + '" data-ok="' + t.ok + '"><td class="' + (t.ok ? "ok" : "bad") + '">' + (t.ok ? "✓" : "✗") + '</td><td style="text-align:left">' +
				esc(t.label) + ": " + (t.value === null ? "no value" : esc(formatMs(t.value))) + "</td></tr>",
		);
	}
	parts.push("</table></div>");
	if (v.failures.length > 0) parts.push("<ul>" + v.failures.map(function (f) {
		return '<li class="bad">' + esc(f) + "</li>";
	}).join("") + "</ul>");
	parts.push("</section>");
	const sold = report.soldAfterOpenSeconds || {};
	parts.push('<div class="figures">');
	const figures = [
		["requests", report.requests],
		["requests/s", num(report.requestsPerSecond, 1)],
		["time to sell out", typeof report.timeToSellOutSeconds === "number" ? num(report.timeToSellOutSeconds, 1) + "s" : "not sold out"],
		["first sale", typeof report.firstSaleAfterOpenSeconds === "number" ? "+" + num(report.firstSaleAfterOpenSeconds, 1) + "s" : "-"],
		["half sold", typeof sold["50%"] === "number" ? "+" + sold["50%"] + "s" : "-"],
		["90% sold", typeof sold["90%"] === "number" ? "+" + sold["90%"] + "s" : "-"],
		["duration", num(report.durationSeconds, 1) + "s"],
	];
	for (const f of figures) parts.push("<div><span class=\"muted\">" + esc(f[0]) + "</span><b>" + esc(f[1]) + "</b></div>");
	parts.push("</div>");
	const waited = selloutText(report);
	if (waited !== null) parts.push('<p class="note" data-note="sellout">' + esc(waited) + "</p>");
	if (o.comparison) parts.push(comparisonTable(o.comparison));
	parts.push("<h2>Over time</h2>");
	if (report.timeline) {
		parts.push('<p class="muted">Seconds after the opening; one point per ' + report.timeline.bucketSeconds + " s. Fans' view: what the load generator's fans were answered. The watermark and remaining stock are read from the public API once a point.</p>");
		parts.push('<div class="grid-charts">' + timelineCharts(report.timeline, report).join("") + "</div>");
	} else parts.push('<p class="muted">This report has no per-second series.</p>');
	if (report.saleToTicket && report.saleToTicket.buyers > 0) parts.push(saleToTicketSection(report.saleToTicket));
	if (report.waitEstimate && report.waitEstimate.admitted > 0) parts.push(waitEstimateSection(report.waitEstimate));
	if (report.queue && report.queue.totals) parts.push(queueStatsSection(report.queue));
	if (report.simulation && report.simulation.objects) parts.push(simulationSection(report.simulation));
	parts.push("<h2>Latency per step</h2>" + stepTable(report.steps));
	if (report.load && report.load.objects && report.load.objects.length > 0) {
		parts.push("<h2>Load per object</h2>");
		const h = report.load.hottest;
		if (h) parts.push("<p>Busiest: " + esc(h.kind + " " + h.index) + ", " + h.requests + " requests, " + h.perFan + " per fan who joined.</p>");
		parts.push('<div class="grid-charts">' + loadChart(report.load) + "</div>");
	}
	parts.push("</body></html>\n");
	return parts.join("");
}
