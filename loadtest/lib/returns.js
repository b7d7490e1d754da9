// The returns scenario: a drop sells out, then RETURN_SHARE of its orders come
// back while the fans left keep their places in line: half of that share (the
// orders listsForResale picks) their buyers list for face-value resale, the
// rest the promoter refunds with restock; each returned ticket must go to the
// waiting fans in line order, every listing sold, each seller refunded once
// and only after the buyer's order. The promoter's side (returnTickets) and a
// listing buyer's side (returnsFan) run beside the fans; the verdict
// (returnsVerdict) is a pure function of what the run gathered, so
// test-node/returns-run.test.mjs holds it to both sides. k6 runs the promoter
// as its own scenario and judges the audit's part (returnsAuditFailures); the
// positions are the Node runner's.
// Plain JavaScript with no k6 or Node import (k6 v0.48 parses it: no ?? or ?.).
import { adminHeaders, eachListed, errorCode, fanJourney, json, pause, request } from "./journey.js";
import { readSales } from "./cancel.js";

/** The drop's public view, or null on any answer but 200. */
function* publicView(cfg, dropId) {
	const res = yield request("GET", cfg.baseUrl + "/api/drops/" + dropId, { step: "drop" });
	return res.status === 200 ? json(res) : null;
}

function byTime(a, b) {
	return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.orderId < b.orderId ? -1 : 1;
}

/**
 * Whether this order's buyer lists its tickets for resale: half of `share` of the orders, by a hash of the order
 * id (FNV-1a, mixed), so the buyer and the promoter pick the same ones without talking to each other.
 */
export function listsForResale(orderId, share) {
	let h = 0x811c9dc5;
	for (let i = 0; i < orderId.length; i++) {
		h ^= orderId.charCodeAt(i);
		h = Math.imul(h, 0x01000193);
	}
	// murmur3's finaliser: FNV alone leaves ids that differ in their last character close together in the top bits.
	h ^= h >>> 16;
	h = Math.imul(h, 0x85ebca6b);
	h ^= h >>> 13;
	h = Math.imul(h, 0xc2b2ae35);
	h ^= h >>> 16;
	return (h >>> 0) / 4294967296 < share / 2;
}

/**
 * The orders of the sale before anything came back: the first `capacity` tickets' orders by time (nothing returns
 * before the sell-out, so every later order bought a returned ticket).
 */
export function firstSale(sales, capacity) {
	const sorted = sales.slice().sort(byTime);
	const out = [];
	let tickets = 0;
	for (const s of sorted) {
		if (tickets >= capacity) break;
		out.push(s);
		tickets += s.quantity;
	}
	return out;
}

/**
 * What comes back, from the sale before the sell-out: `list`, the orders whose buyers list their tickets
 * (listsForResale), and `refund`, enough of the others, every n-th by time, that together they are `share` of the
 * orders (at least one refund).
 */
export function planReturns(sales, share, capacity) {
	const sale = firstSale(sales, capacity);
	const list = sale.filter(function (s) {
		return listsForResale(s.orderId, share);
	});
	const others = sale.filter(function (s) {
		return !listsForResale(s.orderId, share);
	});
	const count = Math.min(others.length, Math.max(1, Math.round(sale.length * share) - list.length));
	return { list: list, refund: others.length === 0 ? [] : ordersToReturn(others, share, count) };
}

/** The orders to refund: `share` of them (or `count`; at least one), every n-th by the time it was made, so a run picks the same ones. */
export function ordersToReturn(sales, share, count) {
	const sorted = sales.slice().sort(byTime);
	if (count === undefined) count = Math.max(1, Math.round(sorted.length * share));
	const step = sorted.length / count;
	const out = [];
	for (let i = 0; i < count; i++) out.push(sorted[Math.floor(i * step)]);
	return out;
}

/**
 * The promoter's side: switches the drop's resale on, waits for the sell-out
 * (the public view) and for D1 to hold every ticket sold, refunds the orders
 * planReturns picks with restock (each once; a 503 is asked again) while the
 * buyers it picks to list do so (returnsFan), waits until every returned
 * ticket is sold again (the audit's sold back at capacity, nothing held, every
 * listing sold), reads how each listing was settled (resaleFailures), then
 * closes the drop, which sends the fans still in line home. Returns
 * {soldOutAt, refundedAt, resoldAt, closedAt, orders, refundedOrders,
 * refundedTickets, listedOrders, listedTickets, resales, timedOut, error}:
 * times on the client's clock.
 */
export function* returnTickets(client, cfg, dropId, knobs, timeoutMs) {
	const out = {
		soldOutAt: null,
		refundedAt: null,
		resoldAt: null,
		closedAt: null,
		orders: 0,
		refundedOrders: 0,
		refundedTickets: 0,
		listedOrders: 0,
		listedTickets: 0,
		resales: null,
		timedOut: false,
		error: null,
	};
	const deadline = client.now() + timeoutMs;
	// Resale is off until the promoter switches it on; the buyers who list ask again until it is.
	const rules = yield request("PATCH", cfg.baseUrl + "/api/admin/drops/" + dropId + "/resale", { headers: adminHeaders(cfg), json: { enabled: true }, step: "admin" });
	if (rules.status !== 200) {
		out.error = "switching resale on failed: " + rules.status + " " + (errorCode(rules) || String(rules.body).slice(0, 200));
		return out;
	}
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
	const plan = planReturns(sales, knobs.returnShare, knobs.tickets);
	out.orders = firstSale(sales, knobs.tickets).length;
	out.listedOrders = plan.list.length;
	for (const sale of plan.list) out.listedTickets += sale.quantity;
	for (const sale of plan.refund) {
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
	// Sold again: the shards' sold back at capacity, no hold open (restocked tickets are not in `sold`), every listing sold.
	for (;;) {
		const res = yield request("GET", cfg.baseUrl + "/api/admin/drops/" + dropId + "/audit?graceSeconds=3600", { headers: adminHeaders(cfg), step: "admin" });
		const audit = res.status === 200 ? json(res) : null;
		const resale = audit ? audit.resale : null;
		if (audit && audit.totals.sold >= audit.capacity && audit.totals.held === 0 && resale && resale.listed === 0 && resale.sold >= out.listedTickets) break;
		if (client.now() > deadline) {
			out.timedOut = true;
			break;
		}
		yield pause(2000);
	}
	out.resoldAt = out.timedOut ? null : client.now();
	if (plan.list.length > 0) out.resales = yield* readResales(client, cfg, dropId, plan.list);
	// The line lasts until the drop closes: closing it now sends home the fans still waiting.
	const closesAt = new Date(client.now() + 2000).toISOString();
	const patched = yield request("PATCH", cfg.baseUrl + "/api/admin/drops/" + dropId, { headers: adminHeaders(cfg), json: { closesAt: closesAt }, step: "admin" });
	if (patched.status !== 200) out.error = "closing the drop failed: " + patched.status + " " + (errorCode(patched) || String(patched.body).slice(0, 200));
	else out.closedAt = client.now();
	return out;
}

/**
 * How the listed orders' listings were settled, as the promoter reads them: each order's listings (with the buyer's
 * order), the drop's refunds and its sales. Returns {listings, sold, failures} (resaleFailures).
 */
function* readResales(client, cfg, dropId, listedOrders) {
	const listings = [];
	for (const order of listedOrders) {
		const res = yield request("GET", cfg.baseUrl + "/api/admin/drops/" + dropId + "/orders/" + order.orderId + "/listings", { headers: adminHeaders(cfg), step: "admin" });
		if (res.status !== 200) return { listings: 0, sold: 0, failures: ["resale: reading order " + order.orderId + "'s listings failed: " + res.status] };
		for (const l of json(res).listings) listings.push(l);
	}
	const refunds = [];
	yield* eachListed(cfg, dropId, "refunds", "refunds", function (r) {
		refunds.push({ refundId: r.refundId, orderId: r.orderId, tickets: r.tickets, amountCents: r.amountCents, restock: r.restock, createdAt: r.createdAt });
	});
	const sales = yield* readSales(client, cfg, dropId);
	return resaleFailures(listedOrders, listings, refunds, sales);
}

/**
 * Every listed ticket sold, and each sale's money in order: the listing names a paid order of someone else (the
 * buyer) made no later than the seller's refund, and that refund is the only one of its id, of one ticket, without
 * restock, for the payout, on the seller's order; a seller's order has no refund without restock but its listings'.
 * Pure, over what the promoter reads. Returns {listings, sold, failures}.
 */
export function resaleFailures(listedOrders, listings, refunds, sales) {
	const failures = [];
	const saleOf = {};
	for (const s of sales) saleOf[s.orderId] = s;
	let sold = 0;
	for (const order of listedOrders) {
		const mine = listings.filter(function (l) {
			return l.orderId === order.orderId;
		});
		if (mine.length !== order.quantity) failures.push("resale: order " + order.orderId + " has " + mine.length + " listing(s) for its " + order.quantity + " ticket(s)");
		const unrestocked = refunds.filter(function (r) {
			return r.orderId === order.orderId && r.restock === false;
		});
		const soldHere = mine.filter(function (l) {
			return l.state === "sold";
		}).length;
		if (unrestocked.length !== soldHere) failures.push("resale: order " + order.orderId + " has " + unrestocked.length + " refund(s) without restock for " + soldHere + " listing(s) sold");
	}
	for (const l of listings) {
		if (l.state !== "sold") {
			failures.push("resale: listing " + l.listingId + " ended " + l.state + ", not sold");
			continue;
		}
		sold++;
		const own = refunds.filter(function (r) {
			return r.refundId === l.refundId;
		});
		const refund = own[0];
		if (own.length !== 1) failures.push("resale: listing " + l.listingId + "'s seller has " + own.length + " refund(s) under its id");
		else if (refund.orderId !== l.orderId || refund.tickets !== 1 || refund.restock !== false || refund.amountCents !== l.payoutCents) {
			failures.push("resale: listing " + l.listingId + "'s refund is not the seller's payout of one ticket (" + JSON.stringify(refund) + ")");
		}
		const buyer = l.buyerOrderId ? saleOf[l.buyerOrderId] : null;
		if (!buyer || l.buyerOrderId === l.orderId) failures.push("resale: listing " + l.listingId + " names no paid order of another fan as its buyer (" + l.buyerOrderId + ")");
		else if (refund && Date.parse(refund.createdAt) < Date.parse(buyer.createdAt)) {
			failures.push("resale: listing " + l.listingId + "'s seller was refunded at " + refund.createdAt + ", before the buyer's order at " + buyer.createdAt);
		}
	}
	return { listings: listings.length, sold: sold, failures: failures };
}

/**
 * A fan of the returns scenario: the shared journey, then, for a buyer whose turn came before the sell-out and whose
 * order listsForResale picks, the listing of each of the order's tickets once the drop is sold out (what a holder
 * who cannot go does). Adds {listed, listedAt, listingError} to the journey's result.
 */
export function* returnsFan(client, ctx) {
	const r = yield* fanJourney(client, ctx);
	if (r.outcome !== "bought" || r.offer === true || !r.orderId || !listsForResale(r.orderId, ctx.knobs.returnShare)) return r;
	r.listed = 0;
	r.listedAt = null;
	r.listingError = null;
	const deadline = client.now() + ctx.knobs.fanTimeoutSeconds * 1000;
	const cfg = { baseUrl: ctx.baseUrl };
	for (;;) {
		const v = yield* publicView(cfg, ctx.dropId);
		if (v && v.status === "sold_out") break;
		if ((v && (v.status === "closed" || v.status === "cancelled")) || client.now() > deadline) {
			r.listingError = "the drop was not sold out while the buyer waited to list (" + (v ? v.status : "no view") + ")";
			return r;
		}
		yield pause(2000);
	}
	for (const code of r.ticketCodes) {
		const url = ctx.baseUrl + "/api/orders/" + encodeURIComponent(r.orderId) + "/tickets/" + encodeURIComponent(code) + "/resale";
		for (;;) {
			const res = yield request("POST", url, { headers: { authorization: "Bearer " + r.orderToken }, step: "resale" });
			if (res.status === 201) {
				r.listed++;
				break;
			}
			// Resale not switched on yet, the tickets not issued yet, or an engine busy: asked again until the fan's patience ends.
			const code409 = errorCode(res);
			const again = (res.status === 409 && (code409 === "resale_off" || code409 === "not_ticketed")) || res.status === 503 || res.status === 429 || res.status === 0;
			if (!again || client.now() > deadline) {
				r.listingError = "listing " + code + " failed: " + res.status + " " + (code409 || String(res.body).slice(0, 160));
				if (client.event) client.event("error", { step: "resale", status: res.status, code: code409, fanId: ctx.fanId });
				return r;
			}
			yield pause(1000);
		}
	}
	r.listedAt = client.now();
	return r;
}

/**
 * What the audit alone proves (k6 has no fans' positions): tickets came back
 * (`refunds.restocked` is what the promoter refunded with restock plus what
 * the buyers listed), all were sold again (sold back at capacity), the line
 * was offered at least one fan a ticket, and the audit's resale part is clean:
 * nothing broken, no listing left open, and (when `listedTickets` is known)
 * every listed ticket sold.
 */
export function returnsAuditFailures(audit, returnedTickets, listedTickets) {
	const failures = [];
	const restocked = audit.refunds ? audit.refunds.restocked : 0;
	if (restocked !== returnedTickets) failures.push("returns: the audit counts " + restocked + " ticket(s) put back on sale; " + returnedTickets + " were refunded with restock or listed");
	if (audit.totals.sold < audit.capacity) failures.push("returns: " + (audit.capacity - audit.totals.sold) + " returned ticket(s) never sold again");
	if (audit.admission.returnsFrom === null) failures.push("returns: the pacer never marked where the line for returned tickets began");
	if (restocked > 0 && audit.admission.offeredReturns < 1) failures.push("returns: tickets came back and no fan in line was offered one");
	const resale = audit.resale;
	if (!resale) failures.push("returns: the audit has no resale part");
	else {
		if (resale.broken !== 0) failures.push("returns: the audit's resale part counts " + resale.broken + " broken (a sale without one buyer payment and one seller refund, or sold + listed over capacity)");
		if (resale.listed !== 0) failures.push("returns: " + resale.listed + " listing(s) still open");
		if (listedTickets !== undefined && listedTickets !== null && resale.sold !== listedTickets) failures.push("returns: " + resale.sold + " listing(s) sold; the buyers listed " + listedTickets + " ticket(s)");
	}
	return failures;
}

/**
 * The verdict on a returns run, from each fan's result ({position, admittedAt,
 * outcome, tickets, offer}) and the final audit. The fans placed after the
 * sell-out (`admission.returnsFrom`) whose turn came must be exactly the first
 * ones in line, in line order: their positions returnsFrom+1 .. returnsFrom+n
 * with none skipped, n the audit's `offeredReturns`, each turn an offer; the
 * tickets those fans bought are the tickets that came back (refunded and
 * listed); the buyers listed what the plan said, every listing sold and its
 * money in order (phase.resales), the audit's resale part clean. Returns
 * {ok, failures, stats}.
 */
export function returnsVerdict(input) {
	const audit = input.audit;
	const phase = input.phase;
	const failures = [];
	if (phase.error) failures.push("returns: " + phase.error);
	if (phase.timedOut) failures.push("returns: the returned tickets were not all sold again in time");
	const from = audit.admission.returnsFrom;
	const listedTickets = phase.listedTickets || 0;
	const returned = phase.refundedTickets + listedTickets;
	for (const f of returnsAuditFailures(audit, returned, listedTickets)) failures.push(f);
	if (phase.resales) for (const f of phase.resales.failures) failures.push(f);
	else if (listedTickets > 0) failures.push("returns: " + listedTickets + " ticket(s) were to be listed and their resales were never read");
	// The buyers' own count: what the promoter expected listed is what they listed, none stopped on an error.
	let listedByFans = 0;
	const listingErrors = [];
	for (const r of input.results) {
		if (typeof r.listed === "number") listedByFans += r.listed;
		if (r.listingError) listingErrors.push(r.listingError);
	}
	if (listingErrors.length > 0) failures.push("returns: " + listingErrors.length + " buyer(s) could not list (first: " + listingErrors[0] + ")");
	if (listedByFans !== listedTickets) failures.push("returns: the buyers listed " + listedByFans + " ticket(s); the promoter's plan was " + listedTickets);
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
	if (resold !== returned) failures.push("returns: the fans in line bought " + resold + " ticket(s); " + returned + " came back");
	return {
		ok: failures.length === 0,
		failures: failures,
		stats: {
			returnsFrom: from,
			refundedOrders: phase.refundedOrders,
			refundedTickets: phase.refundedTickets,
			listedOrders: phase.listedOrders || 0,
			listedTickets: listedTickets,
			resoldListings: audit.resale ? audit.resale.sold : 0,
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
		s.refundedOrders + " order(s) refunded with restock (" + s.refundedTickets + " ticket(s)) and " + s.listedOrders + " listed for resale (" + s.listedTickets + " ticket(s), " +
		s.resoldListings + " sold) while " + s.inLine + " fan(s) waited in line after position " + s.returnsFrom +
		"; " + s.offered + " offered in line order, " + s.buyers + " bought " + s.resoldTickets + " ticket(s)" +
		(s.refundToResoldMs !== null ? "; all sold again " + (s.refundToResoldMs / 1000).toFixed(1) + " s after the last refund" : "")
	);
}
