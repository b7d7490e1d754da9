// Refunds and cancellations. A refund is written first, in one D1 batch with
// the tickets it takes back (a ticket is refunded once: the batch claims only
// tickets no refund has), then asked of the payment provider under the refund's
// id as its idempotency key, then marked refunded; and, if the promoter asked,
// its tickets go back on sale through the order's shard, once per refund id.
// A refund whose provider call failed stays pending: repeating the request (or
// the cancel) finishes it without refunding anything twice.
import type { DropCancelled, OrderRefunds, RefundList } from "../contract/admin-answers";
import { randomId } from "../shared/ids";
import type { DropConfig } from "../drops/rules";
import { ApiError, notFound } from "../shared/errors";
import { type OrderRecord, orderRecord, orderTickets } from "./order-store";
import { unwrap } from "../shared/outcome";
import { paymentProviderOf } from "../payments/providers";
import { roomStub, shardStub } from "../shared/names";
import { forgetWatermark } from "../waiting-room/watermark-cache";

interface RefundRow {
	refund_id: string;
	order_id: string;
	drop_id: string;
	shard: number;
	tickets: number;
	amount_cents: number;
	currency: string;
	restock: number;
	state: "pending" | "refunded";
	provider_refund_id: string | null;
	restocked_at: string | null;
	created_at: string;
	updated_at: string;
}

const view = (r: RefundRow) => ({
	refundId: r.refund_id,
	tickets: r.tickets,
	amountCents: r.amount_cents,
	currency: r.currency,
	state: r.state,
	restock: r.restock === 1,
	restocked: r.restocked_at !== null,
	createdAt: r.created_at,
});

/** Refunds an order's tickets (`codes`, or every one not refunded yet). A repeat changes nothing, and finishes a refund left pending. */
export async function refundOrder(env: Env, drop: DropConfig, orderId: string, input: { codes?: string[]; restock: boolean }): Promise<OrderRefunds> {
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
	const claim = tickets.filter((t) => wanted.has(t.code) && t.refund_id === null);
	if (input.restock && claim.some((t) => t.scanned_at !== null)) {
		// Its holder is inside already: sold again, the venue would take one more than it has.
		throw new ApiError(422, "ticket_used", "A ticket already admitted at the gate cannot go back on sale; refund it without restock.", { field: "restock" });
	}
	const claimed = claim.length > 0 && (await recordRefund(env.DB, order, claim.map((t) => t.code), input.restock));
	// A repeat that finishes a refund left pending (its provider call failed) changed something too: it is logged then.
	const changed = (await finishRefunds(env, order)) > 0 || claimed;
	const after = (await orderRecord(env.DB, orderId))!;
	return { orderId, status: after.status, refundedTickets: after.refunded_tickets, changed, refunds: (await refundsOf(env.DB, orderId)).map(view) };
}

/** Claims the tickets for a new refund, in one batch: those another refund took meanwhile are left out. False: none were left. */
async function recordRefund(db: D1Database, order: OrderRecord, codes: string[], restock: boolean, done: { byProvider: string } | null = null): Promise<boolean> {
	const refundId = randomId("r_");
	const now = new Date().toISOString();
	const [claimed] = await db.batch([
		db
			// A restock never takes a ticket admitted meanwhile (a scan between the check and this batch).
			.prepare(`UPDATE tickets SET refund_id = ?1 WHERE order_id = ?2 AND refund_id IS NULL AND code IN (SELECT value FROM json_each(?3)) AND (?4 = 0 OR scanned_at IS NULL) RETURNING code`)
			.bind(refundId, order.order_id, JSON.stringify(codes), restock ? 1 : 0),
		db
			.prepare(
				`INSERT INTO refunds (refund_id, order_id, drop_id, shard, tickets, amount_cents, currency, restock, state, provider_refund_id, created_at, updated_at)
				 SELECT ?1, o.order_id, o.drop_id, o.shard, n.c, n.c * o.unit_price_cents, o.currency, ?3, ?5, ?6, ?4, ?4
				 FROM orders o, (SELECT COUNT(*) AS c FROM tickets WHERE refund_id = ?1) n WHERE o.order_id = ?2 AND n.c > 0`,
			)
			.bind(refundId, order.order_id, restock ? 1 : 0, now, done === null ? "pending" : "refunded", done?.byProvider ?? null),
		db
			.prepare(
				`UPDATE orders SET refunded_tickets = (SELECT COUNT(*) FROM tickets WHERE order_id = ?1 AND refund_id IS NOT NULL),
				   status = CASE WHEN (SELECT COUNT(*) FROM tickets WHERE order_id = ?1 AND refund_id IS NULL) = 0 THEN 'refunded' ELSE status END,
				   status_at = ?2
				 WHERE order_id = ?1`,
			)
			.bind(order.order_id, now),
	]);
	return (claimed?.results.length ?? 0) > 0;
}

/** Every refund of the order not finished yet: the provider's refund (idempotent by refund id), then the restock. Answers how many this call moved from pending to refunded. */
async function finishRefunds(env: Env, order: OrderRecord): Promise<number> {
	let finished = 0;
	const open = (await refundsOf(env.DB, order.order_id)).filter((r) => r.state === "pending" || (r.restock === 1 && r.restocked_at === null));
	for (const refund of open) {
		if (refund.state === "pending") {
			if (refund.amount_cents > 0) {
				const provider = unwrap(paymentProviderOf(env, order.payment_id));
				try {
					await provider.refund(order.payment_id, { amountCents: refund.amount_cents, key: refund.refund_id });
				} catch (err) {
					console.error(`refund ${refund.refund_id}: the provider did not answer`, err);
					throw new ApiError(503, "provider_unavailable", "The refund is recorded; the payment provider did not answer. Repeat the request to finish it.", { retryAfter: 5 });
				}
			}
			const moved = await env.DB.prepare(`UPDATE refunds SET state = 'refunded', updated_at = ? WHERE refund_id = ? AND state = 'pending'`)
				.bind(new Date().toISOString(), refund.refund_id)
				.run();
			finished += moved.meta.changes;
		}
		if (refund.restock === 1 && refund.restocked_at === null) {
			await shardStub(env, order.drop_id, refund.shard).restock({ refundId: refund.refund_id, quantity: refund.tickets });
			// A sold-out drop sells again: the pacer forgets the sell-out, the Workers' copies too.
			await roomStub(env, order.drop_id).reopen();
			await forgetWatermark(order.drop_id);
			await env.DB.prepare(`UPDATE refunds SET restocked_at = ? WHERE refund_id = ?`).bind(new Date().toISOString(), refund.refund_id).run();
		}
	}
	return finished;
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

/** Orders refunded per cancel call: the promoter calls again until none are left (bounded work per request). */
export const CANCEL_PAGE = 50;

/**
 * An order of drop ?1 with a refund not finished (its provider call failed, or its restock is due): it reads
 * `refunded` already (its tickets are claimed), but the cancel still has to finish it, or the money stays unknown.
 */
const UNFINISHED_REFUND = `order_id IN (SELECT order_id FROM refunds WHERE drop_id = ?1 AND (state = 'pending' OR (restock = 1 AND restocked_at IS NULL)))`;

/** Cancels a drop: marks it cancelled (once) and refunds its orders, a page per call. `first`: this call marked it. */
export async function cancelDrop(env: Env, drop: DropConfig, restock: boolean): Promise<DropCancelled & { first: boolean }> {
	const now = new Date().toISOString();
	const marked = await env.DB.prepare(`INSERT INTO drop_cancellations (drop_id, cancelled_at) VALUES (?, ?) ON CONFLICT (drop_id) DO NOTHING`).bind(drop.id, now).run();
	const cancelledAt = (await cancellation(env.DB, drop.id))!;
	const { results } = await env.DB.prepare(
		`SELECT order_id, ticket_type, EXISTS (SELECT 1 FROM tickets t WHERE t.order_id = orders.order_id AND t.scanned_at IS NOT NULL AND t.refund_id IS NULL) AS used
		 FROM orders WHERE drop_id = ?1 AND (status <> 'refunded' OR ${UNFINISHED_REFUND}) ORDER BY status = 'refunded', order_id LIMIT ?2`,
	)
		.bind(drop.id, CANCEL_PAGE)
		.all<{ order_id: string; ticket_type: string | null; used: number }>();
	let refundedOrders = 0;
	// A refund the provider does not finish stays pending (its order comes after those not refunded yet, next call);
	// the others of the page go on, and the call answers 503 at the end.
	let unavailable: ApiError | null = null;
	for (const { order_id, ticket_type, used } of results) {
		try {
			// Only general admission goes back on sale (see refundOrder); seats and slots are refunded and kept off sale, and so is an order with a ticket admitted at the gate.
			await refundOrder(env, drop, order_id, { restock: restock && ticket_type === null && used === 0 });
			refundedOrders++;
		} catch (err) {
			if (!(err instanceof ApiError && err.code === "provider_unavailable")) throw err;
			unavailable = err;
		}
	}
	if (unavailable !== null) throw unavailable;
	const left = await env.DB.prepare(`SELECT COUNT(*) AS n FROM orders WHERE drop_id = ?1 AND (status <> 'refunded' OR ${UNFINISHED_REFUND})`).bind(drop.id).first<{ n: number }>();
	return { dropId: drop.id, cancelledAt, refundedOrders, ordersLeft: left?.n ?? 0, first: marked.meta.changes > 0 };
}

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
