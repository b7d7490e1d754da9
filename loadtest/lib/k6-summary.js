// A plain-text end-of-test summary for k6's handleSummary, with no remote
// import (the usual jslib textSummary needs the internet): thresholds, checks,
// requests, each step's p50/p95/p99 and the drop's own counters.

function fmtMs(v) {
	if (v === undefined || v === null) return "-";
	return v >= 1000 ? (v / 1000).toFixed(2) + "s" : v.toFixed(v < 10 ? 2 : 1) + "ms";
}

function pad(s, n) {
	s = String(s);
	while (s.length < n) s = " " + s;
	return s;
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
	const counters = ["fans_joined", "fans_admitted", "orders", "tickets_sold", "unexpected_answers", "oversold_tickets", "lost_sales", "unsold_tickets", "broken_invariants", "extra_sales"];
	for (const name of counters) if (m[name]) lines.push("  " + (name + " .....................").slice(0, 20) + " " + m[name].values.count);
	// The last sale after the opening: the time to sell out when the drop sold out.
	if (m.sale_after_open && m.sale_after_open.values && m.sale_after_open.values.count) {
		lines.push("  last sale ........... " + fmtMs(m.sale_after_open.values.max) + " after the opening");
	}
	lines.push("");
	const crossed = [];
	for (const name of Object.keys(m)) {
		const t = m[name].thresholds;
		if (!t) continue;
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
