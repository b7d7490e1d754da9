// The queue's figures in the load report: read after the run from the same admin
// route the promoter page draws (GET /api/admin/drops/:id/queue-stats), so a rehearsal
// and a real drop read alike, and rendered as figures and a table per minute.
// Plain JavaScript with no Node or k6 import and no syntax past k6 v0.48.
import { adminHeaders, json, request } from "./journey.js";

/** The drop's queue figures as the API answers them. */
export function* readQueueStats(client, cfg, dropId) {
	const res = yield request("GET", cfg.baseUrl + "/api/admin/drops/" + dropId + "/queue-stats", { headers: adminHeaders(cfg), step: "admin" });
	if (res.status !== 200) throw new Error("reading the queue figures failed: " + res.status + " " + String(res.body).slice(0, 300));
	return json(res);
}

function secs(s) {
	return s === null || s === undefined ? "-" : s + " s";
}

function waitText(w, none) {
	return w ? "p50 " + secs(w.p50) + ", p90 " + secs(w.p90) + ", max " + secs(w.max) : none || "nobody admitted";
}

/** One line for the console. */
export function queueStatsText(q) {
	const t = q.totals;
	return (
		t.joined + " joined, " + t.admitted + " admitted, " + t.buyers + " bought (conversion " + (t.conversion === null ? "-" : Math.round(t.conversion * 1000) / 10 + "%") + "), " +
		t.leftWithoutBuying + (t.leftWithoutBuyingExact ? "" : " so far") + " left without buying (" + t.leftAfterHolding + " after holding, " +
		t.leftWithoutHolding + " without holding); time in queue " + waitText(t.wait) + "; admission to purchase " + waitText(t.purchase, "nobody bought") +
		"; " + t.tickets + " tickets sold, " + t.refundedTickets + " refunded, " + t.expiredTickets + " back from " + t.expiredHolds + " holds run out"
	);
}

function esc(s) {
	return String(s).replace(/[&<>"]/g, function (c) {
		return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
	});
}

/** The report's section: the drop's totals and a row per minute. */
export function queueStatsSection(q) {
	const t = q.totals;
	const figures = [
		["joined", t.joined],
		["admitted", t.admitted],
		["buyers", t.buyers],
		["conversion", t.conversion === null ? "-" : Math.round(t.conversion * 1000) / 10 + "%"],
		["left without buying", t.leftWithoutBuying + (t.leftWithoutBuyingExact ? "" : " so far")],
		["left after holding", t.leftAfterHolding],
		["left without holding", t.leftWithoutHolding],
		["held tickets", t.shoppers],
		["time in queue p50", secs(t.wait && t.wait.p50)],
		["p90", secs(t.wait && t.wait.p90)],
		["max", secs(t.wait && t.wait.max)],
		["admission to purchase p50", secs(t.purchase && t.purchase.p50)],
		["purchase p90", secs(t.purchase && t.purchase.p90)],
		["purchase max", secs(t.purchase && t.purchase.max)],
		["tickets sold", t.tickets],
		["refunded", t.refundedTickets],
		["back from holds run out", t.expiredTickets],
	];
	const head = ["minute (UTC)", "arrivals", "admitted", "turns ended", "wait p50", "p90", "max", "buyers", "tickets", "refunded", "held first", "to purchase p50", "p90", "max", "holds run out", "tickets back"];
	const rows = q.minutes.map(function (m) {
		const w = m.wait;
		const p = m.purchase;
		return [m.minute.slice(11, 16), m.arrivals, m.admitted, m.turnsEnded, secs(w && w.p50), secs(w && w.p90), secs(w && w.max), m.buyers, m.tickets, m.refundedTickets,
			m.shoppers, secs(p && p.p50), secs(p && p.p90), secs(p && p.max), m.expiredHolds, m.expiredTickets];
	});
	return (
		'<h2 id="queue">The queue</h2><p class="muted">Read after the run from GET /api/admin/drops/:id/queue-stats, the figures the promoter page shows' +
		(typeof q.readMs === "number" ? " (one read took " + q.readMs + " ms)" : "") +
		". Time in queue is from join to admission; a pre-queue fan's counts from the opening. " + esc(queueStatsText(q)) + '</p><div class="figures" data-section="queue">' +
		figures
			.map(function (f) {
				return '<div><span class="muted">' + esc(f[0]) + '</span><b data-queue="' + esc(f[0]) + '">' + esc(f[1]) + "</b></div>";
			})
			.join("") +
		'</div><div class="scroll" tabindex="0" role="group" aria-label="The queue per minute"><table data-table="queue"><caption>The queue per minute</caption><tr>' +
		head.map(function (h) {
			return '<th scope="col">' + esc(h) + "</th>";
		}).join("") +
		"</tr>" +
		rows
			.map(function (r) {
				return "<tr>" + r.map(function (c, i) {
					return i === 0 ? '<th scope="row">' + esc(c) + "</th>" : "<td>" + esc(c) + "</td>";
				}).join("") + "</tr>";
			})
			.join("") +
		"</table></div>"
	);
}
