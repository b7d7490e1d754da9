// Sale-to-ticket time: how long after its purchase's 201 a fan held tickets
// the gate accepts (lib/journey.js awaitTickets), as the runners report it:
// p50, p95, p99 and max over the fans who got theirs, the fans who never did
// within the deadline (a failure of the run), and a histogram over fixed bins
// for the HTML report's chart. Plain JavaScript with no Node or k6 import: the
// Node runner builds the figures from its fans' results, k6's report from the
// `sale_to_ticket` Trend and the counters drop.js keeps.
import { formatMs } from "./report-compare.js";

/** Upper edges of the histogram's bins, in ms; a time past the last lands in `over`. */
export const TICKET_BINS_MS = [250, 500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 60000];

/** k6's metrics: the Trend, the counters of fans with no ticket, and one count per bin (tag `le`: an edge or "more"). */
export const K6_TICKET_METRICS = { trend: "sale_to_ticket", missed: "tickets_missed", refunded: "tickets_refunded", bins: "sale_to_ticket_fans" };

/** The `le` tag of the bin a time falls in. */
export function ticketBinTag(ms) {
	for (let i = 0; i < TICKET_BINS_MS.length; i++) if (ms <= TICKET_BINS_MS[i]) return String(TICKET_BINS_MS[i]);
	return "more";
}

/** The thresholds that make k6 hand each bin's submetric to handleSummary (always true). */
export function ticketBinThresholds() {
	/** @type {Record<string, string[]>} */
	const out = {};
	const tags = TICKET_BINS_MS.map(String).concat(["more"]);
	for (let i = 0; i < tags.length; i++) out[K6_TICKET_METRICS.bins + "{le:" + tags[i] + "}"] = ["count>=0"];
	return out;
}

function nearestRank(sorted, p) {
	if (sorted.length === 0) return null;
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function emptyBins() {
	return TICKET_BINS_MS.map(function (le) {
		return { leMs: le, fans: 0 };
	});
}

/**
 * The figures from the fans' results (fanJourney's): buyers (fans answered 201),
 * ticketed, missed (no ticket by the deadline, or an order read the contract
 * does not allow), refunded (refunded before a ticket: no token is due), the
 * percentiles in ms, and the histogram.
 */
export function saleToTicketStats(results, deadlineSeconds) {
	const times = [];
	const out = { buyers: 0, ticketed: 0, missed: 0, refunded: 0, p50: null, p95: null, p99: null, max: null, mean: null, deadlineSeconds: deadlineSeconds, bins: emptyBins(), over: 0 };
	for (let i = 0; i < results.length; i++) {
		const r = results[i];
		if (!r || r.outcome !== "bought" || r.ticket === undefined) continue;
		out.buyers++;
		if (r.ticket === "ticketed" && typeof r.ticketMs === "number") times.push(r.ticketMs);
		else if (r.ticket === "refunded") out.refunded++;
		else out.missed++;
	}
	times.sort(function (a, b) {
		return a - b;
	});
	out.ticketed = times.length;
	let sum = 0;
	for (let i = 0; i < times.length; i++) {
		sum += times[i];
		const tag = ticketBinTag(times[i]);
		if (tag === "more") out.over++;
		else out.bins[TICKET_BINS_MS.indexOf(Number(tag))].fans++;
	}
	out.p50 = nearestRank(times, 50);
	out.p95 = nearestRank(times, 95);
	out.p99 = nearestRank(times, 99);
	out.max = times.length ? times[times.length - 1] : null;
	out.mean = times.length ? Math.round((sum / times.length) * 100) / 100 : null;
	return out;
}

function metric(m, name) {
	return m[name] && m[name].values ? m[name].values : null;
}

/** The same figures from the metrics k6 hands to handleSummary (loadtest/drop.js). */
export function saleToTicketFromK6(m, deadlineSeconds) {
	const t = metric(m, K6_TICKET_METRICS.trend);
	const missed = metric(m, K6_TICKET_METRICS.missed);
	const refunded = metric(m, K6_TICKET_METRICS.refunded);
	const out = {
		buyers: 0,
		ticketed: t && t.count ? t.count : 0,
		missed: missed ? missed.count : 0,
		refunded: refunded ? refunded.count : 0,
		p50: t && t.count ? t.med : null,
		p95: t && t.count ? t["p(95)"] : null,
		p99: t && t.count ? t["p(99)"] : null,
		max: t && t.count ? t.max : null,
		mean: t && t.count ? t.avg : null,
		deadlineSeconds: deadlineSeconds,
		bins: emptyBins(),
		over: 0,
	};
	out.buyers = out.ticketed + out.missed + out.refunded;
	for (let i = 0; i < out.bins.length; i++) {
		const b = metric(m, K6_TICKET_METRICS.bins + "{le:" + out.bins[i].leMs + "}");
		out.bins[i].fans = b ? b.count : 0;
	}
	const more = metric(m, K6_TICKET_METRICS.bins + "{le:more}");
	out.over = more ? more.count : 0;
	return out;
}

/** The failure of a run where a fan answered 201 held no ticket by the deadline, or null. */
export function saleToTicketFailure(s) {
	if (!s || s.missed === 0) return null;
	return (
		"sale to ticket: " + s.missed + " of " + s.buyers + " fan(s) answered 201 had no ticket the gate accepts within " + s.deadlineSeconds +
		" s of it (TICKET_DEADLINE_SECONDS)"
	);
}

/** One line for the runners' summaries. */
export function saleToTicketText(s) {
	if (!s || s.buyers === 0) return "no sale";
	return (
		"p50 " + formatMs(s.p50) + "  p95 " + formatMs(s.p95) + "  p99 " + formatMs(s.p99) + "  max " + formatMs(s.max) + " (" + s.ticketed + " fans)" +
		"; missed " + s.missed + " (no ticket within " + s.deadlineSeconds + " s)" + (s.refunded > 0 ? "; refunded first " + s.refunded : "")
	);
}
