// The returns scenario: a drop sells out, the promoter refunds a share of its
// orders with restock while the fans left keep their places in line, and each
// returned ticket must go to the waiting fans in line order. The promoter's
// side (returnTickets) runs beside the fans; the verdict (returnsVerdict) is
// a pure function of what the run gathered (each fan's position and whether
// their turn came, the audit), so test-node/returns-run.test.mjs holds it to
// both sides. k6 runs the promoter's side as its own scenario and judges the
// audit's part (returnsAuditFailures); the positions are the Node runner's.
// Plain JavaScript with no k6 or Node import (k6 v0.48 parses it: no ?? or ?.).
import { adminHeaders, errorCode, json, pause, request } from "./journey.js";
import { readSales } from "./cancel.js";

/** The drop's public view, or null on any answer but 200. */
function* publicView(cfg, dropId) {
	const res = yield request("GET", cfg.baseUrl + "/api/drops/" + dropId, { step: "drop" });
	return res.status === 200 ? json(res) : null;
}

/** The orders to refund: `share` of them (at least one), every n-th by the time it was made, so a run picks the same ones. */
export function ordersToReturn(sales, share) {
	const sorted = sales.slice().sort(function (a, b) {
		return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.orderId < b.orderId ? -1 : 1;
	});
	const count = Math.max(1, Math.round(sorted.length * share));
	const step = sorted.length / count;
	const out = [];
	for (let i = 0; i < count; i++) out.push(sorted[Math.floor(i * step)]);
	return out;
}

/**
 * The promoter's side: waits for the sell-out (the public view) and for D1 to
 * hold every ticket sold, refunds `knobs.returnShare` of the orders with
 * restock (each once; a 503 is asked again), waits until every returned
 * ticket is sold again (the audit's sold back at capacity, nothing held), then
 * closes the drop, which sends the fans still in line home. Returns
 * {soldOutAt, refundedAt, resoldAt, closedAt, orders, refundedOrders,
 * refundedTickets, timedOut, error}: times on the client's clock.
 */
export function* returnTickets(client, cfg, dropId, knobs, timeoutMs) {
	const out = { soldOutAt: null, refundedAt: null, resoldAt: null, closedAt: null, orders: 0, refundedOrders: 0, refundedTickets: 0, timedOut: false, error: null };
	const deadline = client.now() + timeoutMs;
	for (;;) {
		const v = yield* publicView(cfg, dropId);
		if (v && v.status === "sold_out") break;
		if (v && (v.status === "closed" || v.status === "cancelled")) {
			out.error = "the drop was " + v.status + " before it sold out";
			return out;
		}
		if (client.now() > deadline) {
			out.timedOut = true;
			out.error = "the drop did not sell out in time";
			return out;
		}
		yield pause(1000);
	}
	out.soldOutAt = client.now();
	// Every sale in D1 first (the Queue carries them a moment after the 201), so the share is of all the orders.
	let sales = [];
	for (;;) {
		sales = yield* readSales(client, cfg, dropId);
		let tickets = 0;
		for (const s of sales) tickets += s.quantity;
		if (tickets >= knobs.tickets || client.now() > deadline) break;
		yield pause(1000);
	}
	out.orders = sales.length;
	for (const sale of ordersToReturn(sales, knobs.returnShare)) {
		const url = cfg.baseUrl + "/api/admin/drops/" + dropId + "/orders/" + sale.orderId + "/refund";
		for (let attempt = 0; ; attempt++) {
			const res = yield request("POST", url, { headers: adminHeaders(cfg), json: { restock: true }, step: "refund" });
			if (res.status === 200) {
				out.refundedOrders++;
				out.refundedTickets += sale.quantity;
				break;
			}
			if (!(res.status === 503 || res.status === 0 || res.status === 429) || attempt >= 10) {
				out.error = "refunding order " + sale.orderId + " failed: " + res.status + " " + (errorCode(res) || String(res.body).slice(0, 200));
				return out;
			}
			yield pause(1000);
		}
	}
	out.refundedAt = client.now();
	// Sold again: the shards' sold back at capacity and no hold open (restocked tickets are not in `sold`).
	for (;;) {
		const res = yield request("GET", cfg.baseUrl + "/api/admin/drops/" + dropId + "/audit?graceSeconds=3600", { headers: adminHeaders(cfg), step: "admin" });
		const audit = res.status === 200 ? json(res) : null;
		if (audit && audit.totals.sold >= audit.capacity && audit.totals.held === 0) break;
		if (client.now() > deadline) {
			out.timedOut = true;
			break;
		}
		yield pause(2000);
	}
	out.resoldAt = out.timedOut ? null : client.now();
	// The line lasts until the drop closes: closing it now sends home the fans still waiting.
	const closesAt = new Date(client.now() + 2000).toISOString();
	const patched = yield request("PATCH", cfg.baseUrl + "/api/admin/drops/" + dropId, { headers: adminHeaders(cfg), json: { closesAt: closesAt }, step: "admin" });
	if (patched.status !== 200) out.error = "closing the drop failed: " + patched.status + " " + (errorCode(patched) || String(patched.body).slice(0, 200));
	else out.closedAt = client.now();
	return out;
}

/**
 * What the audit alone proves (k6 has no fans' positions): tickets came back
 * (`refunds.restocked` is what the promoter refunded), all were sold again
 * (sold back at capacity), and the line was offered at least one fan a ticket.
 */
export function returnsAuditFailures(audit, refundedTickets) {
	const failures = [];
	const restocked = audit.refunds ? audit.refunds.restocked : 0;
	if (restocked !== refundedTickets) failures.push("returns: the audit counts " + restocked + " ticket(s) restocked; the promoter refunded " + refundedTickets + " with restock");
	if (audit.totals.sold < audit.capacity) failures.push("returns: " + (audit.capacity - audit.totals.sold) + " returned ticket(s) never sold again");
	if (audit.admission.returnsFrom === null) failures.push("returns: the pacer never marked where the line for returned tickets began");
	if (restocked > 0 && audit.admission.offeredReturns < 1) failures.push("returns: tickets came back and no fan in line was offered one");
	return failures;
}

/**
 * The verdict on a returns run, from each fan's result ({position, admittedAt,
 * outcome, tickets, offer}) and the final audit. The fans placed after the
 * sell-out (`admission.returnsFrom`) whose turn came must be exactly the first
 * ones in line, in line order: their positions returnsFrom+1 .. returnsFrom+n
 * with none skipped, n the audit's `offeredReturns`, each turn an offer; the
 * tickets those fans bought are the tickets that came back. Returns
 * {ok, failures, stats}.
 */
export function returnsVerdict(input) {
	const audit = input.audit;
	const phase = input.phase;
	const failures = [];
	if (phase.error) failures.push("returns: " + phase.error);
	if (phase.timedOut) failures.push("returns: the returned tickets were not all sold again in time");
	const from = audit.admission.returnsFrom;
	for (const f of returnsAuditFailures(audit, phase.refundedTickets)) failures.push(f);
	const inLine = [];
	for (const r of input.results) if (typeof r.position === "number" && from !== null && r.position > from) inLine.push(r);
	inLine.sort(function (a, b) {
		return a.position - b.position;
	});
	const offered = inLine.filter(function (r) {
		return r.admittedAt != null;
	});
	let resold = 0;
	let buyers = 0;
	for (const r of offered) {
		if (r.outcome === "bought") {
			resold += r.tickets;
			buyers++;
		}
	}
	const notOffer = offered.filter(function (r) {
		return r.offer !== true;
	});
	if (notOffer.length > 0) failures.push("returns: " + notOffer.length + " fan(s) placed after the sell-out were let in with a turn that was not an offer (first at position " + notOffer[0].position + ")");
	// In line order: the k-th fan offered is the k-th in line, so no fan was passed over for a later one.
	for (let k = 0; k < offered.length && from !== null; k++) {
		if (offered[k].position !== from + 1 + k) {
			const skipped = inLine.filter(function (r) {
				return r.admittedAt == null && r.position < offered[k].position;
			});
			failures.push(
				"returns: out of line order: the fan at position " + offered[k].position + " was offered a returned ticket while " +
					(skipped.length > 0 ? "the fan at position " + skipped[0].position + " waited" : "position " + (from + 1 + k) + " was never placed"),
			);
			break;
		}
	}
	if (from !== null && offered.length !== audit.admission.offeredReturns) {
		failures.push("returns: " + offered.length + " fan(s) in line were told their turn came; the audit counts " + audit.admission.offeredReturns + " offers");
	}
	if (resold !== phase.refundedTickets) failures.push("returns: the fans in line bought " + resold + " ticket(s); " + phase.refundedTickets + " came back");
	return {
		ok: failures.length === 0,
		failures: failures,
		stats: {
			returnsFrom: from,
			refundedOrders: phase.refundedOrders,
			refundedTickets: phase.refundedTickets,
			inLine: inLine.length,
			offered: offered.length,
			buyers: buyers,
			resoldTickets: resold,
			refundToResoldMs: phase.refundedAt !== null && phase.resoldAt !== null ? phase.resoldAt - phase.refundedAt : null,
		},
	};
}

/** One line for the summary. */
export function returnsText(v) {
	const s = v.stats;
	return (
		s.refundedOrders + " order(s) refunded with restock (" + s.refundedTickets + " ticket(s)) while " + s.inLine + " fan(s) waited in line after position " + s.returnsFrom +
		"; " + s.offered + " offered in line order, " + s.buyers + " bought " + s.resoldTickets + " ticket(s)" +
		(s.refundToResoldMs !== null ? "; all sold again " + (s.refundToResoldMs / 1000).toFixed(1) + " s after the last refund" : "")
	);
}
