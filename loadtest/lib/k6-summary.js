// A plain-text end-of-test summary for k6's handleSummary, with no remote
// import (the usual jslib textSummary needs the internet): thresholds, checks,
// requests, each step's p50/p95/p99, the drop's own counters, and the
// audit's load per object from the load_* gauges drop.js sets in teardown().
import { isTimelineMetric } from "./timeline.js";

/** The kinds of object the audit counts requests for; load_hottest_kind holds an index into this. */
export const LOAD_KINDS = ["room", "line", "shard"];

function fmtMs(v) {
	if (v === undefined || v === null) return "-";
	return v >= 1000 ? (v / 1000).toFixed(2) + "s" : v.toFixed(v < 10 ? 2 : 1) + "ms";
}

function pad(s, n) {
	s = String(s);
	while (s.length < n) s = " " + s;
	return s;
}

/** A gauge's last value, or null when it was never set. @param {any} m @param {string} name */
function gauge(m, name) {
	return m[name] && m[name].values && typeof m[name].values.value === "number" ? m[name].values.value : null;
}

/** The audit's load: the busiest object, and requests per kind of object. @param {any} m */
function loadLines(m) {
	const fans = gauge(m, "load_fans");
	if (fans === null) return [];
	const kind = gauge(m, "load_hottest_kind");
	const perFan = gauge(m, "load_hottest_per_fan");
	const out = [];
	if (kind !== null && perFan !== null) {
		out.push(
			"  load ................ busiest " + (LOAD_KINDS[kind] || "?") + " " + gauge(m, "load_hottest_index") + ": " + gauge(m, "load_hottest_requests") +
				" requests, " + perFan + " per fan",
		);
	}
	out.push(
		"                        room " + gauge(m, "load_room_requests") + ", lines " + gauge(m, "load_lines_requests") + " (max " + gauge(m, "load_lines_max") +
			"), shards " + gauge(m, "load_shards_requests") + " (max " + gauge(m, "load_shards_max") + "); " + fans + " fans",
	);
	return out;
}

/** @param {any} data the object k6 passes to handleSummary @param {string} title */
export function textSummary(data, title) {
	const m = data.metrics || {};
	const lines = ["", "  " + title, ""];
	const reqs = m.http_reqs && m.http_reqs.values;
	if (reqs) lines.push("  http_reqs ........... " + reqs.count + "  " + reqs.rate.toFixed(1) + "/s");
	const failed = m.http_req_failed && m.http_req_failed.values;
	if (failed) lines.push("  http_req_failed ..... " + (failed.rate * 100).toFixed(2) + "%");
	const checks = m.checks && m.checks.values;
	if (checks) lines.push("  checks .............. " + checks.passes + " passed, " + checks.fails + " failed");
	lines.push("");
	lines.push("  step          count      p50      p95      p99      max");
	for (const name of Object.keys(m)) {
		if (name.indexOf("step_") !== 0) continue;
		const v = m[name].values;
		if (!v || !v.count) continue;
		lines.push(
			"  " + (name.slice(5) + "          ").slice(0, 10) + pad(v.count, 8) + pad(fmtMs(v.med), 9) + pad(fmtMs(v["p(95)"]), 9) + pad(fmtMs(v["p(99)"]), 9) + pad(fmtMs(v.max), 9),
		);
	}
	lines.push("");
	const counters = [
		"fans_joined",
		"fans_admitted",
		"orders",
		"tickets_sold",
		"unexpected_answers",
		"unanswered_requests",
		"oversold_tickets",
		"lost_sales",
		"unsold_tickets",
		"broken_invariants",
		"fairness_checked",
		"fairness_mismatches",
		"extra_sales",
	];
	for (const name of counters) if (m[name]) lines.push("  " + (name + " .....................").slice(0, 20) + " " + m[name].values.count);
	// The last sale after the opening: the time to sell out when the drop sold out.
	if (m.sale_after_open && m.sale_after_open.values && m.sale_after_open.values.count) {
		lines.push("  last sale ........... " + fmtMs(m.sale_after_open.values.max) + " after the opening");
	}
	// After each 201 the fan read its order until every ticket was signed (lib/journey.js awaitTickets).
	const st = m.sale_to_ticket && m.sale_to_ticket.values;
	if (st && st.count) {
		lines.push(
			"  sale to ticket ...... p50 " + fmtMs(st.med) + "  p95 " + fmtMs(st["p(95)"]) + "  p99 " + fmtMs(st["p(99)"]) + "  max " + fmtMs(st.max) + " (" + st.count + " fans)" +
				"; missed " + (m.tickets_missed ? m.tickets_missed.values.count : 0),
		);
	}
	// The first wait each admitted fan was told against its real wait (lib/wait-estimate.js), in percent.
	const we = m.wait_estimate_error && m.wait_estimate_error.values;
	if (we && we.count) {
		lines.push("  wait estimate ....... |estimate - actual| / actual: median " + we.med.toFixed(1) + "%  p90 " + we["p(90)"].toFixed(1) + "% (" + we.count + " fans)");
	}
	const load = loadLines(m);
	for (let i = 0; i < load.length; i++) lines.push(load[i]);
	lines.push("");
	const crossed = [];
	for (const name of Object.keys(m)) {
		const t = m[name].thresholds;
		if (!t) continue;
		// The always-true thresholds that only keep the report's submetrics (drop.js) are not worth a line each.
		if (isTimelineMetric(name) || name.indexOf("load_object{") === 0 || name.indexOf("sale_to_ticket_fans{") === 0) continue;
		for (const expr of Object.keys(t)) {
			lines.push("  " + (t[expr].ok ? "✓" : "✗") + " " + name + ": " + expr);
			if (!t[expr].ok) crossed.push(name);
		}
	}
	lines.push("");
	lines.push(crossed.length === 0 ? "  PASSED: every threshold held" : "  FAILED: " + crossed.length + " threshold(s) crossed");
	lines.push("");
	return lines.join("\n");
}
