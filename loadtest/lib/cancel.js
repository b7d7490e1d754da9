// A load run that cancels its drop mid-sale (the Node runner's --cancel-after-sold):
// the promoter's cancel calls, what the run reads back afterwards, and the
// verdict: after the cancel no sale is made, every order is refunded for what
// it cost, and the audit balances. The verdict is a pure function of what the
// run gathered, so test-node/cancel-run.test.mjs holds it to both sides.
// Plain JavaScript with no k6 or Node import (k6 v0.48 parses it: no ?? or ?.).
import { adminHeaders, eachListed, errorCode, json, pause, request } from "./journey.js";

/**
 * Cancels the drop as a promoter does: `POST /api/admin/drops/:id/cancel`
 * until `ordersLeft` is 0 and `left` is empty (each call refunds a page), or
 * until `timeoutMs` has passed. A 503 `provider_unavailable` is a refund the
 * provider did not finish: the page's other orders are refunded, call again.
 * Returns {sentAt, answeredAt, cancelledAt, calls, refundedOrders,
 * ordersLeft, left, done}: `sentAt` and `answeredAt` (the client's clock) are
 * those of the first call answered 200, the moment the cancel took effect
 * for the runner (`sentAt` when the request left, after any wait for a free
 * socket, where the client says how long it was on the wire: `elapsedMs`);
 * `cancelledAt` is the engine's own stamp of the cancel.
 */
export function* cancelDrop(client, cfg, dropId, timeoutMs) {
	const url = cfg.baseUrl + "/api/admin/drops/" + dropId + "/cancel";
	const deadline = client.now() + timeoutMs;
	const out = { sentAt: null, answeredAt: null, cancelledAt: null, calls: 0, refundedOrders: 0, ordersLeft: null, left: [], done: false };
	for (;;) {
		const sentAt = client.now();
		const res = yield request("POST", url, { headers: adminHeaders(cfg), json: {}, step: "cancel" });
		out.calls++;
		if (res.status === 200) {
			const body = json(res);
			if (out.answeredAt === null) {
				out.answeredAt = client.now();
				// Time on the wire when the client knows it (the Node client leaves out the wait for a free socket).
				out.sentAt = typeof res.elapsedMs === "number" ? out.answeredAt - Math.ceil(res.elapsedMs) : sentAt;
				out.cancelledAt = body.cancelledAt;
			}
			out.refundedOrders += body.refundedOrders;
			out.ordersLeft = body.ordersLeft;
			out.left = body.left;
			if (body.ordersLeft === 0 && body.left.length === 0) {
				out.done = true;
				return out;
			}
		} else if (!(res.status === 503 || res.status === 0 || res.status === 429)) {
			throw new Error("cancelling the drop failed: " + res.status + " " + (errorCode(res) || String(res.body).slice(0, 300)));
		}
		if (client.now() > deadline) return out;
		yield pause(500);
	}
}

/** Every sale of the drop in D1, as {orderId, createdAt, quantity, totalCents, status, refundedTickets}, walking the sales pages. */
export function* readSales(client, cfg, dropId) {
	const sales = [];
	yield* eachListed(cfg, dropId, "sales", "sales", function (s) {
		sales.push({ orderId: s.orderId, createdAt: s.createdAt, quantity: s.quantity, totalCents: s.totalCents, status: s.status, refundedTickets: s.refundedTickets });
	});
	return sales;
}

/** Every refund of the drop, as {orderId, amountCents, tickets, state}, walking the refunds pages. */
export function* readRefunds(client, cfg, dropId) {
	const refunds = [];
	yield* eachListed(cfg, dropId, "refunds", "refunds", function (r) {
		refunds.push({ orderId: r.orderId, amountCents: r.amountCents, tickets: r.tickets, state: r.state });
	});
	return refunds;
}

function wholly(sale) {
	return sale.status === "refunded" && sale.refundedTickets >= sale.quantity;
}

function examples(list, key) {
	return list
		.slice(0, 3)
		.map(function (x) {
			return x[key];
		})
		.join(", ");
}

/**
 * The verdict of a run that cancelled its drop. `run`:
 *   cancel: what cancelDrop answered at the cancel (sentAt, answeredAt, cancelledAt, ordersLeft, left, done);
 *   sweep: what cancelDrop answered when called again after the drain (sales still on their way to D1 at the cancel);
 *   salesBeforeSweep: readSales after the drain, before the sweep: what the engine had refunded by itself;
 *   sales, refunds: readSales and readRefunds after the sweep;
 *   purchases: the fans' 201 purchases, [{orderId, answeredAt}] (the client's clock);
 *   audit: the audit read after the sweep (with its grace period).
 * A sale made after the cancel answered (its createdAt on the engine's clock, past the engine's stamp of the cancel plus
 * the cancel call's round trip; a fan's 201 on the client's clock, past the cancel's answer) counts only when the engine
 * refunded it by itself, before the sweep: the engine's rule refunds a charge that raced the cancel, and a sale the
 * promoter's later call refunded is one the engine should have refused.
 * Returns {ok, failures, stats}.
 */
export function cancelVerdict(run) {
	const failures = [];
	const c = run.cancel;
	const stats = {
		cancelledAt: c.cancelledAt,
		cancelAnsweredAt: c.answeredAt,
		orders: run.sales.length,
		ordersRefunded: 0,
		soldCents: 0,
		refundedCents: 0,
		salesAfterCancel: 0,
		salesAfterCancelRefundedByEngine: 0,
		purchasesAfterCancel: 0,
		purchasesAfterCancelRefundedByEngine: 0,
	};
	if (c.answeredAt === null || c.cancelledAt === null) {
		failures.push("cancel: no cancel call was answered 200");
		return { ok: false, failures: failures, stats: stats };
	}
	if (!c.done) failures.push("cancel: the calls at the cancel ended with " + c.ordersLeft + " order(s) left and " + c.left.length + " not refundable (" + JSON.stringify(c.left.slice(0, 3)) + ")");
	if (run.sweep && !run.sweep.done) {
		failures.push("cancel: the calls after the drain ended with " + run.sweep.ordersLeft + " order(s) left and " + run.sweep.left.length + " not refundable (" + JSON.stringify(run.sweep.left.slice(0, 3)) + ")");
	}

	const before = {};
	for (const s of run.salesBeforeSweep) before[s.orderId] = s;
	const engineRefunded = function (orderId) {
		return before[orderId] !== undefined && wholly(before[orderId]);
	};

	// After the cancel no sale is made.
	const cut = Date.parse(c.cancelledAt) + (c.answeredAt - c.sentAt);
	const late = run.sales.filter(function (s) {
		return Date.parse(s.createdAt) > cut;
	});
	const lateKept = late.filter(function (s) {
		return !engineRefunded(s.orderId);
	});
	stats.salesAfterCancel = late.length;
	stats.salesAfterCancelRefundedByEngine = late.length - lateKept.length;
	if (lateKept.length > 0) {
		const tickets = lateKept.reduce(function (n, s) {
			return n + s.quantity;
		}, 0);
		failures.push(
			"cancel: " + lateKept.length + " sale(s) (" + tickets + " ticket(s)) made after the cancel answered and not refunded by the engine (e.g. " + examples(lateKept, "orderId") + ")",
		);
	}
	const latePurchases = run.purchases.filter(function (p) {
		return p.answeredAt > c.answeredAt;
	});
	const latePurchasesKept = latePurchases.filter(function (p) {
		return !engineRefunded(p.orderId);
	});
	stats.purchasesAfterCancel = latePurchases.length;
	stats.purchasesAfterCancelRefundedByEngine = latePurchases.length - latePurchasesKept.length;
	if (latePurchasesKept.length > 0) {
		failures.push("cancel: fans were answered 201 for " + latePurchasesKept.length + " purchase(s) after the cancel answered, not refunded by the engine (e.g. " + examples(latePurchasesKept, "orderId") + ")");
	}

	// Every order refunded, for what it cost.
	const refundedByOrder = {};
	for (const r of run.refunds) {
		if (r.state !== "refunded") continue;
		refundedByOrder[r.orderId] = (refundedByOrder[r.orderId] || 0) + r.amountCents;
		stats.refundedCents += r.amountCents;
	}
	const known = {};
	const notRefunded = [];
	const wrongAmount = [];
	for (const s of run.sales) {
		known[s.orderId] = true;
		stats.soldCents += s.totalCents;
		if (!wholly(s)) notRefunded.push(s);
		else {
			stats.ordersRefunded++;
			if ((refundedByOrder[s.orderId] || 0) !== s.totalCents) wrongAmount.push(s);
		}
	}
	if (notRefunded.length > 0) failures.push("cancel: " + notRefunded.length + " of " + run.sales.length + " order(s) not refunded (e.g. " + examples(notRefunded, "orderId") + ")");
	if (wrongAmount.length > 0) {
		const s = wrongAmount[0];
		failures.push(
			"cancel: " + wrongAmount.length + " refunded order(s) whose refunds do not add up to the sale (e.g. " + s.orderId + ": sold " + s.totalCents + " cents, refunded " + (refundedByOrder[s.orderId] || 0) + ")",
		);
	}
	const strangers = run.refunds.filter(function (r) {
		return !known[r.orderId];
	});
	if (strangers.length > 0) failures.push("cancel: " + strangers.length + " refund(s) of orders not in the drop's sales (e.g. " + examples(strangers, "orderId") + ")");
	const pending = run.refunds.filter(function (r) {
		return r.state === "pending";
	});
	if (pending.length > 0) failures.push("cancel: " + pending.length + " refund(s) still pending at the provider (money owed back, e.g. order " + pending[0].orderId + ")");

	// The audit balances.
	const a = run.audit;
	if (!a.ok) failures.push("cancel: the audit after the cancel is not ok");
	if (a.refundsPending > 0) failures.push("cancel: the audit counts " + a.refundsPending + " refund(s) pending past its grace period");
	if (a.holdsChargedTwice > 0) failures.push("cancel: the audit counts " + a.holdsChargedTwice + " hold(s) charged twice");
	return { ok: failures.length === 0, failures: failures, stats: stats };
}

/** One line for the summary and the report: what the cancel left, by the verdict's stats. */
export function cancelText(v) {
	const s = v.stats;
	return (
		"sales after the cancel " + (s.salesAfterCancel - s.salesAfterCancelRefundedByEngine) + " kept (" + s.salesAfterCancelRefundedByEngine + " raced and refunded), " +
		"201s after it " + (s.purchasesAfterCancel - s.purchasesAfterCancelRefundedByEngine) + " kept, " +
		"refunded " + s.ordersRefunded + "/" + s.orders + " orders, " + s.refundedCents + " of " + s.soldCents + " cents"
	);
}
