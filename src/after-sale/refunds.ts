// Refunds. A refund is written first, in one D1 batch with
// the tickets it takes back (a ticket is refunded once: the batch claims only
// tickets no refund has), then asked of the payment provider under the refund's
// id as its idempotency key, then marked refunded; and, if the promoter asked,
// its tickets go back on sale through the order's shard, once per refund id.
// A refund whose provider call failed stays pending: repeating the request (or
// the cancel) finishes it without refunding anything twice, and so does the cron
// (refund-sweep.ts), with a backoff after each failed try. One the provider fails
// later (Stripe's refund.failed) is marked failed with why; its tickets stay taken
// back, the order says its refund failed, and the promoter's repeat asks again.
import type { OrderRefunds, RefundList } from "../contract/admin-answers";
import { randomId } from "../shared/ids";
import type { DropConfig } from "../drops/rules";
import { allows, dropState } from "../drops/lifecycle";
import { ApiError, notFound } from "../shared/errors";
import { type OrderRecord, orderRecord, orderTickets } from "./order-store";
import { refundedEventStatement } from "./webhook-events";
import { cancelListingsStatements } from "./resale-store";
import { unwrap } from "../shared/outcome";
import { paymentProviderOf } from "../payments/providers";
import { putBackOnSale } from "./put-back";

interface RefundRow {
	refund_id: string;
	order_id: string;
	drop_id: string;
	shard: number;
	tickets: number;
	amount_cents: number;
	currency: string;
	restock: number;
	state: "pending" | "refunded" | "failed";
	provider_refund_id: string | null;
	restocked_at: string | null;
	created_at: string;
	updated_at: string;
	/** Why it failed, or why its last try did not finish. */
	detail: string | null;
	/** Tries that did not finish since it was made (or last retried): its backoff. */
	attempts: number;
	/** How often the promoter retried it after the provider failed it: each round asks under a key of its own. */
	round: number;
	next_attempt_at: string | null;
}

const view = (r: RefundRow) => ({
	refundId: r.refund_id,
	tickets: r.tickets,
	amountCents: r.amount_cents,
	currency: r.currency,
	state: r.state,
	detail: r.detail,
	restock: r.restock === 1,
	restocked: r.restocked_at !== null,
	createdAt: r.created_at,
});

/** A new refund is finished by the request that made it: the cron leaves it alone this long. */
const REFUND_GRACE_MS = 60_000;

/** After `attempts` failed tries the next waits 10 minutes, doubling each time up to 4 hours (the cron runs every 30 minutes). */
export const refundBackoffMs = (attempts: number) => Math.min(10 * 60_000 * 2 ** Math.max(0, attempts - 1), 4 * 3_600_000);

/** The provider's idempotency key of a refund's round: a round after a failure is a new refund at the provider. */
const providerKey = (refundId: string, round: number) => (round === 0 ? refundId : `${refundId}.${round}`);

/** How an order's statusDetail begins while one of its refunds stands failed. */
const REFUND_FAILED = "refund failed";

/**
 * Refunds an order's tickets (`codes`, or every one not refunded yet). A repeat changes nothing, and finishes a
 * refund left pending; with `retryFailed` (the promoter's repeat) it also asks the provider again for a refund it failed.
 */
export async function refundOrder(
	env: Env,
	drop: DropConfig,
	orderId: string,
	asked: { codes?: string[]; restock: boolean; retryFailed?: boolean },
): Promise<OrderRefunds & { byThisCall: OrderRefunds["refunds"] }> {
	// A cancelled drop puts nothing back on sale (its state machine allows no restock): the refund is made without one.
	const input = asked.restock && !allows(dropState(drop, false, Date.now()), "restock") ? { ...asked, restock: false } : asked;
	const order = await orderRecord(env.DB, orderId);
	if (order === null || order.drop_id !== drop.id) throw notFound("order");
	if (input.restock && order.ticket_type !== null) {
		// A seat or a slot's place goes back through its own unit shard, which this does not do yet.
		throw new ApiError(422, "restock_unsupported", "Only general-admission tickets can be put back on sale; refund these without restock.", { field: "restock" });
	}
	// The provider that took the payment must be one this deployment takes before anything is recorded (422 otherwise).
	if (order.unit_price_cents > 0) unwrap(paymentProviderOf(env, order.payment_id));
	const tickets = await orderTickets(env.DB, orderId);
	if (input.codes !== undefined) {
		const known = new Set(tickets.map((t) => t.code));
		const stranger = input.codes.find((code) => !known.has(code));
		if (stranger !== undefined) throw new ApiError(422, "unknown_ticket", `Ticket ${stranger} is not one of this order's.`, { field: "tickets" });
	}
	const wanted = new Set(input.codes ?? tickets.map((t) => t.code));
	let claim = tickets.filter((t) => wanted.has(t.code) && t.refund_id === null);
	const listed = claim.find((t) => t.listing_id !== null);
	if (listed !== undefined) {
		// A listed ticket's unit is on sale already: refunded as well, its buyer would take a ticket the venue does not have.
		// A cancelled drop sells nothing more, so its listings end and their tickets are refunded like any other.
		if (drop.cancelledAt === null) {
			throw new ApiError(409, "ticket_listed", `Ticket ${listed.code} is listed for resale; its holder can withdraw the listing, or it is refunded when it is sold.`, { listingId: listed.listing_id });
		}
		await env.DB.batch(cancelListingsStatements(env.DB, orderId, new Date().toISOString()));
		claim = claim.map((t) => ({ ...t, listing_id: null }));
	}
	if (input.restock && claim.some((t) => t.scanned_at !== null)) {
		// Its holder is inside already: sold again, the venue would take one more than it has.
		throw new ApiError(422, "ticket_used", "A ticket already admitted at the gate cannot go back on sale; refund it without restock.", { field: "restock" });
	}
	// The order's refunds as they stood: what this call made or moved is told apart from the earlier ones by them.
	const stood = new Map((await refundsOf(env.DB, orderId)).map((r) => [r.refund_id, r.state]));
	const claimed = claim.length > 0 && (await recordRefund(env.DB, order, claim.map((t) => t.code), input.restock));
	// A repeat that finishes a refund left pending (its provider call failed) changed something too: it is logged then.
	const changed = (await finishRefunds(env, order, { retryFailed: input.retryFailed ?? true })) > 0 || claimed;
	const after = (await orderRecord(env.DB, orderId))!;
	const refunds = await refundsOf(env.DB, orderId);
	return {
		orderId,
		status: after.status,
		refundedTickets: after.refunded_tickets,
		changed,
		refunds: refunds.map(view),
		byThisCall: refunds.filter((r) => stood.get(r.refund_id) !== r.state).map(view),
	};
}

/** Claims the tickets for a new refund, in one batch: those another refund took meanwhile are left out. False: none were left. */
async function recordRefund(db: D1Database, order: OrderRecord, codes: string[], restock: boolean, done: { byProvider: string } | null = null): Promise<boolean> {
	const refundId = randomId("r_");
	const at = Date.now();
	const now = new Date(at).toISOString();
	const [claimed] = await db.batch([
		db
			// A restock never takes a ticket admitted meanwhile (a scan between the check and this batch).
			.prepare(`UPDATE tickets SET refund_id = ?1 WHERE order_id = ?2 AND refund_id IS NULL AND listing_id IS NULL AND code IN (SELECT value FROM json_each(?3)) AND (?4 = 0 OR scanned_at IS NULL) RETURNING code`)
			.bind(refundId, order.order_id, JSON.stringify(codes), restock ? 1 : 0),
		db
			.prepare(
				`INSERT INTO refunds (refund_id, order_id, drop_id, shard, tickets, amount_cents, currency, restock, state, provider_refund_id, created_at, updated_at, next_attempt_at)
				 SELECT ?1, o.order_id, o.drop_id, o.shard, n.c, n.c * o.unit_price_cents, o.currency, ?3, ?5, ?6, ?4, ?4, ?7
				 FROM orders o, (SELECT COUNT(*) AS c FROM tickets WHERE refund_id = ?1) n WHERE o.order_id = ?2 AND n.c > 0`,
			)
			.bind(refundId, order.order_id, restock ? 1 : 0, now, done === null ? "pending" : "refunded", done?.byProvider ?? null, new Date(at + REFUND_GRACE_MS).toISOString()),
		db
			.prepare(
				`UPDATE orders SET refunded_tickets = (SELECT COUNT(*) FROM tickets WHERE order_id = ?1 AND refund_id IS NOT NULL),
				   status = CASE WHEN (SELECT COUNT(*) FROM tickets WHERE order_id = ?1 AND refund_id IS NULL) = 0 THEN 'refunded' ELSE status END,
				   status_at = ?2
				 WHERE order_id = ?1`,
			)
			.bind(order.order_id, now),
		refundedEventStatement(db, refundId, now),
	]);
	return (claimed?.results.length ?? 0) > 0;
}

/**
 * Every refund of the order not finished yet: the provider's refund (idempotent by its key), then the restock;
 * with `retryFailed`, a refund the provider failed too, in a new round. A try that does not finish puts the
 * refund off by its backoff from `now`. Answers how many this call moved to refunded.
 */
export async function finishRefunds(env: Env, order: OrderRecord, options: { retryFailed: boolean; now?: number }): Promise<number> {
	const now = options.now ?? Date.now();
	let finished = 0;
	for (const refund of await refundsOf(env.DB, order.order_id)) {
		let { state, round } = refund;
		if (state === "failed" && options.retryFailed) {
			const again = await env.DB.prepare(
				`UPDATE refunds SET state = 'pending', round = round + 1, attempts = 0, detail = NULL, next_attempt_at = ?, updated_at = ? WHERE refund_id = ? AND state = 'failed' RETURNING round`,
			)
				.bind(new Date(now + REFUND_GRACE_MS).toISOString(), new Date(now).toISOString(), refund.refund_id)
				.first<{ round: number }>();
			if (again !== null) [state, round] = ["pending", again.round];
		}
		if (state === "pending") {
			if (refund.amount_cents > 0) {
				const provider = paymentProviderOf(env, order.payment_id);
				if (!provider.ok) {
					// Tried again later: the deployment may take the method again.
					await putOff(env.DB, refund, now, provider.message);
					throw new ApiError(provider.status, provider.code, provider.message, provider.details ?? {});
				}
				try {
					await provider.value.refund(order.payment_id, { amountCents: refund.amount_cents, key: providerKey(refund.refund_id, round) });
				} catch (err) {
					console.error(`refund ${refund.refund_id}: the provider did not answer`, err);
					await putOff(env.DB, refund, now, "The payment provider did not answer; it is tried again.");
					throw new ApiError(503, "provider_unavailable", "The refund is recorded; the payment provider did not answer. Repeat the request to finish it.", { retryAfter: 5 });
				}
			}
			// Not if the provider failed it meanwhile (its webhook): that failure stands.
			const moved = await env.DB.prepare(`UPDATE refunds SET state = 'refunded', detail = NULL, updated_at = ? WHERE refund_id = ? AND state = 'pending' AND round = ?`)
				.bind(new Date(now).toISOString(), refund.refund_id, round)
				.run();
			finished += moved.meta.changes;
		}
		if (refund.restock === 1 && refund.restocked_at === null) {
			try {
				await putBackOnSale(env, order.drop_id, refund.shard, refund.refund_id, refund.tickets);
			} catch (err) {
				await putOff(env.DB, refund, now, "Its tickets are not back on sale yet; it is tried again.");
				throw err;
			}
			await env.DB.prepare(`UPDATE refunds SET restocked_at = ? WHERE refund_id = ?`).bind(new Date(now).toISOString(), refund.refund_id).run();
		}
	}
	if (finished > 0) {
		await env.DB.prepare(`UPDATE orders SET status_detail = NULL WHERE order_id = ?1 AND status_detail LIKE '${REFUND_FAILED}%' AND NOT EXISTS (SELECT 1 FROM refunds WHERE order_id = ?1 AND state = 'failed')`)
			.bind(order.order_id)
			.run();
	}
	return finished;
}

/** A try that did not finish: counted, with why, and the next one put off by the backoff. */
async function putOff(db: D1Database, refund: RefundRow, now: number, why: string): Promise<void> {
	await db
		.prepare(`UPDATE refunds SET attempts = attempts + 1, detail = ?, next_attempt_at = ? WHERE refund_id = ?`)
		.bind(why, new Date(now + refundBackoffMs(refund.attempts + 1)).toISOString(), refund.refund_id)
		.run();
}

/**
 * The provider failed a refund after making it (Stripe's refund.failed: the card was closed, say), told by the
 * key the refund was asked under. The refund reads failed with why, and its order says so; its tickets stay taken
 * back (they may be on sale again). A failure of an earlier round, or of a refund not ours, changes nothing.
 */
export async function recordRefundFailure(db: D1Database, key: string, reason: string): Promise<boolean> {
	const named = /^(r_[A-Za-z0-9_-]{1,40})(?:\.(\d{1,6}))?$/.exec(key);
	if (named === null) return false;
	const failed = await db
		.prepare(`UPDATE refunds SET state = 'failed', detail = ?, updated_at = ? WHERE refund_id = ? AND round = ? AND state IN ('pending', 'refunded') RETURNING order_id`)
		.bind(`The payment provider failed the refund: ${reason}.`, new Date().toISOString(), named[1], Number(named[2] ?? 0))
		.first<{ order_id: string }>();
	if (failed === null) return false;
	await db.prepare(`UPDATE orders SET status_detail = ? WHERE order_id = ?`).bind(`${REFUND_FAILED}: ${reason}`, failed.order_id).run();
	return true;
}

/** The order a provider's payment id names (an index lookup: a webhook event never scans every order). */
export const ORDER_BY_PAYMENT_SQL = `SELECT * FROM orders WHERE payment_id = ?`;

/**
 * A refund made at the provider itself (Stripe's dashboard), learnt from its webhook:
 * the order's tickets still good are refunded here too, so the gate refuses them.
 * Nothing is asked of the provider. Answers whether anything changed; null when no order
 * has the payment (yet: its sale may be on its way to D1, see applyEarlyProviderRefunds).
 */
export async function recordProviderRefund(db: D1Database, paymentId: string, eventId: string): Promise<boolean | null> {
	const order = await db.prepare(ORDER_BY_PAYMENT_SQL).bind(paymentId).first<OrderRecord>();
	if (order === null) return null;
	// The money went back at the provider: a listing of the order's ends, and its ticket is refunded with the rest.
	if ((await orderTickets(db, order.order_id)).some((t) => t.listing_id !== null)) await db.batch(cancelListingsStatements(db, order.order_id, new Date().toISOString()));
	const open = (await orderTickets(db, order.order_id)).filter((t) => t.refund_id === null).map((t) => t.code);
	return open.length > 0 && recordRefund(db, order, open, false, { byProvider: eventId });
}

/**
 * The sales consumer, once a batch's orders are in D1: refund events the webhook kept because
 * their payment had no order yet are applied to the orders that now have it (one indexed read
 * per batch). Answers how many were applied.
 */
export async function applyEarlyProviderRefunds(db: D1Database, paymentIds: string[]): Promise<number> {
	const { results } = await db
		.prepare(`SELECT event_id, payment_id FROM payment_events WHERE unmatched_refund = 1 AND payment_id IN (SELECT value FROM json_each(?))`)
		.bind(JSON.stringify(paymentIds))
		.all<{ event_id: string; payment_id: string }>();
	let applied = 0;
	for (const { event_id, payment_id } of results) {
		if ((await recordProviderRefund(db, payment_id, event_id)) === null) continue;
		await db.prepare(`UPDATE payment_events SET unmatched_refund = 0 WHERE event_id = ?`).bind(event_id).run();
		applied++;
	}
	return applied;
}

async function refundsOf(db: D1Database, orderId: string): Promise<RefundRow[]> {
	const { results } = await db.prepare(`SELECT * FROM refunds WHERE order_id = ? ORDER BY created_at, refund_id`).bind(orderId).all<RefundRow>();
	return results;
}

/** When the drop was cancelled, or null. */
export async function cancellation(db: D1Database, dropId: string): Promise<string | null> {
	return (await db.prepare(`SELECT cancelled_at FROM drop_cancellations WHERE drop_id = ?`).bind(dropId).first<{ cancelled_at: string }>())?.cancelled_at ?? null;
}

/** A drop's refunds, newest last, a page at a time, with the drop's totals. */
export async function listRefunds(db: D1Database, dropId: string, limit: number, after: { createdAt: string; refundId: string } | null): Promise<Omit<RefundList, "nextCursor"> & { last: RefundRow | null; count: number }> {
	const select = `SELECT * FROM refunds WHERE drop_id = ?`;
	const stmt = after
		? db.prepare(`${select} AND (created_at, refund_id) > (?, ?) ORDER BY created_at, refund_id LIMIT ?`).bind(dropId, after.createdAt, after.refundId, limit)
		: db.prepare(`${select} ORDER BY created_at, refund_id LIMIT ?`).bind(dropId, limit);
	const [{ results }, totals] = await Promise.all([stmt.all<RefundRow>(), refundTotals(db, dropId)]);
	return { dropId, refunds: results.map((r) => ({ ...view(r), orderId: r.order_id })), totals, last: results.at(-1) ?? null, count: results.length };
}

export async function refundTotals(db: D1Database, dropId: string): Promise<{ refunds: number; tickets: number; amountCents: number }> {
	const row = await db
		.prepare(`SELECT COUNT(*) AS refunds, COALESCE(SUM(tickets), 0) AS tickets, COALESCE(SUM(amount_cents), 0) AS amountCents FROM refunds WHERE drop_id = ?`)
		.bind(dropId)
		.first<{ refunds: number; tickets: number; amountCents: number }>();
	return { refunds: row?.refunds ?? 0, tickets: row?.tickets ?? 0, amountCents: row?.amountCents ?? 0 };
}

/** A drop's refunds the money of which is not settled: pending past `graceMs` since they were made, and failed. */
export async function refundsOwed(db: D1Database, dropId: string, graceMs: number): Promise<{ pending: number; failed: number }> {
	const row = await db
		.prepare(`SELECT COALESCE(SUM(state = 'pending' AND created_at <= ?), 0) AS pending, COALESCE(SUM(state = 'failed'), 0) AS failed FROM refunds WHERE drop_id = ?`)
		.bind(new Date(Date.now() - graceMs).toISOString(), dropId)
		.first<{ pending: number; failed: number }>();
	return { pending: row?.pending ?? 0, failed: row?.failed ?? 0 };
}
