// The report of a k6 drop run (loadtest/drop.js), in the fields of the Node
// runner's JSON report, built from the data k6 hands to handleSummary: the
// step trends, the counters and gauges teardown() sets from the audit, and the
// per-bucket submetrics of lib/timeline.js. No k6 import, so Node tests it
// against a summary shaped as k6 writes it.
import { checkThresholds } from "./report-compare.js";
import { LOAD_KINDS } from "./k6-summary.js";
import { timelineFromK6 } from "./timeline.js";
import { unansweredFailure, unansweredFromK6 } from "./unanswered.js";
import { saleToTicketFailure, saleToTicketFromK6 } from "./ticket-time.js";
import { waitEstimateFromK6 } from "./wait-estimate.js";

/** The objects of a drop, as the load_object gauge's `o` tag values ("shard-3"). */
export function loadObjectNames(lines, shards) {
	const out = ["room-0"];
	for (let i = 0; i < lines; i++) out.push("line-" + i);
	for (let i = 0; i < shards; i++) out.push("shard-" + i);
	return out;
}

function values(m, name) {
	return m[name] && m[name].values ? m[name].values : null;
}

function count(m, name) {
	const v = values(m, name);
	return v && typeof v.count === "number" ? v.count : 0;
}

function gauge(m, name) {
	const v = values(m, name);
	return v && typeof v.value === "number" ? v.value : null;
}

/** Seconds after the opening by which half, 90% and all of the tickets were sold, to a bucket. */
function milestones(timeline, capacity) {
	const out = { "50%": null, "90%": null, "100%": null };
	const labels = ["50%", "90%", "100%"];
	const shares = [0.5, 0.9, 1];
	let sold = 0;
	for (let b = 0; b < timeline.buckets; b++) {
		sold += timeline.counts.sold[b];
		for (let i = 0; i < shares.length; i++) {
			if (out[labels[i]] === null && capacity > 0 && sold >= capacity * shares[i]) out[labels[i]] = (b + 1) * timeline.bucketSeconds - timeline.openAtS;
		}
	}
	return out;
}

/**
 * meta: {knobs, scenario, bucketSeconds, buckets, lines, shards, thresholdSpecs,
 * expectSoldOut, steps, requestTimeoutSeconds, at}. data: what k6 passes to handleSummary.
 */
export function k6Report(data, meta) {
	const m = data.metrics || {};
	const setup = data.setup_data || {};
	const knobs = meta.knobs;
	const steps = {};
	for (const name of Object.keys(m)) {
		if (name.indexOf("step_") !== 0 || name.indexOf("{") >= 0) continue;
		const v = m[name].values;
		if (!v || !v.count) continue;
		steps[name.slice(5)] = { count: v.count, p50: v.med, p95: v["p(95)"], p99: v["p(99)"], max: v.max, mean: v.avg, statuses: {} };
	}
	const timeline = timelineFromK6(m, {
		openAtS: knobs.leadSeconds,
		bucketSeconds: meta.bucketSeconds,
		buckets: meta.buckets,
		pace: { batchSize: knobs.batchSize, intervalMs: knobs.intervalMs, activeMultiple: knobs.activeMultiple },
	});
	const capacity = gauge(m, "audit_capacity");
	const sold = gauge(m, "audit_sold");
	const sale = values(m, "sale_after_open");
	const soldOut = capacity !== null && sold === capacity;
	const failures = [];
	const broken = count(m, "broken_invariants");
	if (broken > 0) failures.push(broken + " broken invariant(s): teardown() printed them in k6's output");
	if (count(m, "unexpected_answers") > 0) failures.push("unexpected answers: " + count(m, "unexpected_answers"));
	const unanswered = unansweredFromK6(m, meta.steps || []);
	const unansweredLine = unansweredFailure(unanswered, meta.requestTimeoutSeconds);
	if (unansweredLine) failures.push(unansweredLine);
	if (count(m, "bot_breaches") > 0) failures.push("bots: " + count(m, "bot_breaches") + " hostile request(s) not refused as the contract says");
	if (capacity === null) failures.push("no audit: teardown() did not finish");
	const saleToTicket = saleToTicketFromK6(m, knobs.ticketDeadlineSeconds);
	const ticketLine = saleToTicketFailure(saleToTicket);
	if (ticketLine) failures.push(ticketLine);
	const objects = [];
	for (const name of loadObjectNames(meta.lines, meta.shards)) {
		const requests = gauge(m, "load_object{o:" + name + "}");
		if (requests === null) continue;
		const dash = name.indexOf("-");
		objects.push({ kind: name.slice(0, dash), index: Number(name.slice(dash + 1)), requests: requests });
	}
	const hottestKind = gauge(m, "load_hottest_kind");
	const reqs = values(m, "http_reqs");
	const report = {
		source: "k6",
		scenario: meta.scenario,
		at: meta.at,
		knobs: knobs,
		drop: { id: setup.dropId || null, shards: meta.shards, lines: setup.lines || meta.lines, opensAt: setup.opensAt ? new Date(setup.opensAt).toISOString() : null },
		expectSoldOut: meta.expectSoldOut,
		durationSeconds: data.state && data.state.testRunDurationMs ? data.state.testRunDurationMs / 1000 : null,
		requests: reqs ? reqs.count : 0,
		requestsPerSecond: reqs ? reqs.rate : null,
		steps: steps,
		unanswered: unanswered,
		requestTimeoutSeconds: meta.requestTimeoutSeconds,
		tally: {
			joined: count(m, "fans_joined"),
			admitted: count(m, "fans_admitted"),
			sold: count(m, "orders"),
			tickets: count(m, "tickets_sold"),
			errors: count(m, "unexpected_answers"),
			breaches: count(m, "bot_breaches"),
		},
		timeToSellOutSeconds: soldOut && sale && sale.count > 0 ? sale.max / 1000 : null,
		firstSaleAfterOpenSeconds: sale && sale.count > 0 ? sale.min / 1000 : null,
		soldAfterOpenSeconds: milestones(timeline, capacity || knobs.tickets),
		saleToTicket: saleToTicket,
		waitEstimate: waitEstimateFromK6(m),
		load: {
			fans: gauge(m, "load_fans") || 0,
			objects: objects,
			hottest:
				hottestKind === null
					? null
					: { kind: LOAD_KINDS[hottestKind], index: gauge(m, "load_hottest_index"), requests: gauge(m, "load_hottest_requests"), perFan: gauge(m, "load_hottest_per_fan") },
		},
		audit:
			capacity === null
				? null
				: {
						oversold: count(m, "oversold_tickets"),
						lost: count(m, "lost_sales"),
						capacity: capacity,
						totals: { sold: sold, orders: gauge(m, "audit_orders") },
						recorded: gauge(m, "audit_recorded"),
						balanced: gauge(m, "audit_balanced") === 1,
					},
		fairness: { broken: count(m, "fairness_mismatches"), checked: count(m, "fairness_checked") },
		failures: failures,
		timeline: timeline,
		thresholdSpecs: meta.thresholdSpecs,
		thresholds: [],
	};
	report.thresholds = checkThresholds(meta.thresholdSpecs, report);
	return report;
}
