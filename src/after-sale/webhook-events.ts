// The webhook outbox's writes: each change a promoter's endpoints may hear of adds
// its delivery rows in the same D1 batch as the change itself (one row per endpoint
// that wants the event), so an event is never sent for a change that did not happen,
// nor lost for one that did. Each event has a fixed id (its type and what it is
// about), so a retried batch adds no second row. The statements cost nothing when no
// endpoint wants the event: the join with the endpoints finds none.
// The Queue carries the rows to the endpoints (webhook-delivery.ts).

import type { WEBHOOK_EVENTS } from "../contract/requests";

export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** An order as every order event carries it (the row aliased `o`). */
const ORDER_DATA = `json_object('orderId', o.order_id, 'dropId', o.drop_id, 'status', o.status, 'quantity', o.quantity,
	'unitPriceCents', o.unit_price_cents, 'totalCents', o.total_cents, 'currency', o.currency, 'ticketType', o.ticket_type,
	'refundedTickets', o.refunded_tickets, 'createdAt', o.created_at)`;

/** A drop as every drop event carries it (the row aliased `d`). */
const DROP_DATA = `json_object('dropId', d.id, 'name', d.name, 'capacity', d.capacity, 'opensAt', d.opens_at, 'closesAt', d.closes_at, 'timeZone', d.time_zone)`;

/**
 * The delivery rows of one event type. `source` selects the events (columns event_id, order_key, drop_id, data),
 * with its own parameters from ?3 on (?1 is the type, ?2 the time).
 */
function eventStatement(db: D1Database, type: WebhookEvent, source: string, at: string, ...binds: (string | number)[]): D1PreparedStatement {
	return db
		.prepare(
			// "WHERE true" keeps SQLite from reading ON CONFLICT as a join's ON clause.
			`INSERT INTO webhook_deliveries (id, endpoint_id, event_id, type, order_key, payload, created_at)
			 SELECT 'wd_' || lower(hex(randomblob(12))), e.id, ev.event_id, ?1, ev.order_key,
			        json_object('id', ev.event_id, 'type', ?1, 'createdAt', ?2, 'data', json(ev.data)), ?2
			 FROM (${source}) AS ev
			 JOIN drops dr ON dr.id = ev.drop_id
			 JOIN webhook_endpoints e ON e.promoter_id = dr.promoter_id AND (e.drop_id IS NULL OR e.drop_id = ev.drop_id)
			   AND EXISTS (SELECT 1 FROM json_each(e.events) WHERE value = ?1)
			 WHERE true ORDER BY ev.order_key
			 ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
		)
		.bind(type, at, ...binds);
}

/** Drops that have an endpoint at all (so the sold-out count below runs only for them). */
const HAS_ENDPOINT = `EXISTS (SELECT 1 FROM webhook_endpoints we WHERE we.promoter_id = d.promoter_id)`;

/**
 * The sales consumer's batch (its JSON payload of sales): `order.paid` for each order now in D1, and
 * `drop.sold_out` for a drop whose tickets in D1 (not refunded) reach its capacity, once per drop.
 */
export function saleEventStatements(db: D1Database, salesJson: string, at: string): D1PreparedStatement[] {
	return [
		eventStatement(
			db,
			"order.paid",
			`SELECT 'order.paid:' || o.order_id AS event_id, o.order_id AS order_key, o.drop_id, ${ORDER_DATA} AS data
			 FROM orders o WHERE o.order_id IN (SELECT json_extract(value, '$.orderId') FROM json_each(?3))`,
			at,
			salesJson,
		),
		eventStatement(
			db,
			"drop.sold_out",
			`SELECT 'drop.sold_out:' || d.id AS event_id, d.id AS order_key, d.id AS drop_id, ${DROP_DATA} AS data
			 FROM drops d WHERE d.id IN (SELECT json_extract(value, '$.dropId') FROM json_each(?3)) AND ${HAS_ENDPOINT}
			   AND (SELECT COUNT(*) FROM tickets t WHERE t.drop_id = d.id AND t.refund_id IS NULL) >= d.capacity`,
			at,
			salesJson,
		),
	];
}

/** `order.ticketed`, once per order, in the batch that stores its tickets (after the status change). */
export function ticketedEventStatement(db: D1Database, orderId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"order.ticketed",
		`SELECT 'order.ticketed:' || o.order_id AS event_id, o.order_id AS order_key, o.drop_id, ${ORDER_DATA} AS data
		 FROM orders o WHERE o.order_id = ?3 AND o.status = 'ticketed'`,
		at,
		orderId,
	);
}

/** `order.failed`, once per follow-up run that failed, in the batch that records the failure. */
export function failedEventStatement(db: D1Database, orderId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"order.failed",
		`SELECT 'order.failed:' || o.order_id || ':' || o.workflow_runs AS event_id, o.order_id AS order_key, o.drop_id,
		        json_patch(${ORDER_DATA}, json_object('detail', o.status_detail)) AS data
		 FROM orders o WHERE o.order_id = ?3 AND o.status = 'failed'`,
		at,
		orderId,
	);
}

/** `order.refunded`, once per refund, in the batch that records it (its tickets taken back; the money may still be on its way). */
export function refundedEventStatement(db: D1Database, refundId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"order.refunded",
		`SELECT 'order.refunded:' || r.refund_id AS event_id, o.order_id AS order_key, o.drop_id,
		        json_patch(${ORDER_DATA}, json_object('refund', json_object('refundId', r.refund_id, 'tickets', r.tickets, 'amountCents', r.amount_cents, 'state', r.state))) AS data
		 FROM refunds r JOIN orders o ON o.order_id = r.order_id WHERE r.refund_id = ?3`,
		at,
		refundId,
	);
}

/** `drop.cancelled`, once per drop, in the batch that marks it cancelled. */
export function cancelledEventStatement(db: D1Database, dropId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"drop.cancelled",
		`SELECT 'drop.cancelled:' || d.id AS event_id, d.id AS order_key, d.id AS drop_id, json_patch(${DROP_DATA}, json_object('cancelledAt', c.cancelled_at)) AS data
		 FROM drops d JOIN drop_cancellations c ON c.drop_id = d.id WHERE d.id = ?3`,
		at,
		dropId,
	);
}

/** How far back the opening sweep looks: a drop opened longer ago than this is not announced late. */
export const OPENED_LOOKBACK_MS = 24 * 60 * 60 * 1000;

/**
 * `drop.opened`: a drop opens by the clock, with no write of its own to ride on, so the dispatcher's sweep
 * (after each sales and follow-up batch, and the cron) writes it for drops whose opening has passed, once per
 * opening (a rescheduled drop opens again).
 */
export function openedEventStatement(db: D1Database, now: number): D1PreparedStatement {
	const at = new Date(now).toISOString();
	return eventStatement(
		db,
		"drop.opened",
		`SELECT 'drop.opened:' || d.id || ':' || d.opens_at AS event_id, d.id AS order_key, d.id AS drop_id, ${DROP_DATA} AS data
		 FROM drops d WHERE d.opens_at <= ?3 AND d.opens_at > ?4 AND d.cancelled_at IS NULL AND ${HAS_ENDPOINT}`,
		at,
		at,
		new Date(now - OPENED_LOOKBACK_MS).toISOString(),
	);
}

/** A resale listing as every resale event carries it (the row aliased `l`): the seller's order and ticket, never the buyer's fan. */
const LISTING_DATA = `json_object('listingId', l.listing_id, 'dropId', l.drop_id, 'orderId', l.order_id, 'ticket', l.code, 'state', l.state,
	'priceCents', l.price_cents, 'feeCents', l.fee_cents, 'payoutCents', l.price_cents - l.fee_cents, 'currency', l.currency,
	'createdAt', l.created_at, 'endedAt', l.ended_at)`;

/**
 * `ticket.transferred`, once per accepted transfer, in the accept's batch: written only when the accept's own
 * update made the transfer accepted (the old code void from then on, the new code the holder's). Ordered with the
 * order's other events.
 */
export function transferredEventStatement(db: D1Database, transferId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"ticket.transferred",
		`SELECT 'ticket.transferred:' || x.transfer_id AS event_id, x.order_id AS order_key, x.drop_id,
		        json_object('transferId', x.transfer_id, 'dropId', x.drop_id, 'orderId', x.order_id, 'ticket', x.from_code, 'newTicket', x.to_code,
		          'createdAt', x.created_at, 'acceptedAt', x.accepted_at) AS data
		 FROM ticket_transfers x WHERE x.transfer_id = ?3 AND x.state = 'accepted' AND x.to_code IS NOT NULL`,
		at,
		transferId,
	);
}

/** `resale.listed`, once per listing, in the batch that writes it (a refused listing writes no row, so no event). */
export function listedEventStatement(db: D1Database, listingId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"resale.listed",
		`SELECT 'resale.listed:' || l.listing_id AS event_id, l.order_id AS order_key, l.drop_id, ${LISTING_DATA} AS data
		 FROM resale_listings l WHERE l.listing_id = ?3`,
		at,
		listingId,
	);
}

/**
 * `resale.sold`, once per listing sold, in the batch that sells it and writes the seller's refund (`refundId`
 * names both): the buyer's order and the seller's refund. Ordered with the seller's order's events, before the
 * `order.refunded` of the same batch.
 */
export function soldEventStatement(db: D1Database, refundId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"resale.sold",
		`SELECT 'resale.sold:' || l.listing_id AS event_id, l.order_id AS order_key, l.drop_id,
		        json_patch(${LISTING_DATA}, json_object('buyerOrderId', l.buyer_order_id, 'refundId', l.refund_id)) AS data
		 FROM resale_listings l WHERE l.refund_id = ?3 AND l.state = 'sold' AND EXISTS (SELECT 1 FROM refunds r WHERE r.refund_id = ?3)`,
		at,
		refundId,
	);
}

/** `resale.ended`, once per listing withdrawn by its holder or returned at the close, in the batch that ends it. */
export function endedEventStatement(db: D1Database, listingId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"resale.ended",
		`SELECT 'resale.ended:' || l.listing_id AS event_id, l.order_id AS order_key, l.drop_id,
		        json_patch(${LISTING_DATA}, json_object('reason', l.state)) AS data
		 FROM resale_listings l WHERE l.listing_id = ?3 AND l.state IN ('withdrawn', 'returned')`,
		at,
		listingId,
	);
}

/**
 * `presale.drawn`, once per registered window, in the draw's batch (a second draw's batch fails whole, its event
 * with it): the window and how many were registered and drawn. Never an email or a registration.
 */
export function drawnEventStatement(db: D1Database, dropId: string, windowId: string, at: string): D1PreparedStatement {
	return eventStatement(
		db,
		"presale.drawn",
		`SELECT 'presale.drawn:' || r.drop_id || ':' || r.window_id AS event_id, r.drop_id AS order_key, r.drop_id,
		        json_object('dropId', r.drop_id, 'windowId', r.window_id,
		          'windowName', (SELECT json_extract(w.value, '$.name') FROM drop_presales dp, json_each(dp.presales) w WHERE dp.drop_id = r.drop_id AND json_extract(w.value, '$.id') = r.window_id),
		          'seedCommitment', (SELECT s.seed_commitment FROM presale_draws s WHERE s.drop_id = r.drop_id AND s.window_id = r.window_id),
		          'drawnAt', r.drawn_at, 'registered', r.registered, 'drawn', r.invited) AS data
		 FROM presale_draw_results r WHERE r.drop_id = ?3 AND r.window_id = ?4`,
		at,
		dropId,
		windowId,
	);
}
