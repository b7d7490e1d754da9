// Face-value resale: a holder (with the order token) lists a ticket. The listing
// is written with the ticket's mark in one D1 batch that holds only while the
// ticket is good, unlisted and has no open transfer (a transfer made at the same
// moment is refused by its own guard on the mark, so exactly one of the two
// lands); then one unit goes back to the order's shard, as a refund with restock
// puts it, under the listing's id. A buyer's paid order that would take the
// drop's sold + listed tickets past its capacity is the sale of the oldest open
// listing (FIFO): one D1 batch marks it sold to that order, voids the seller's
// ticket and writes the seller's refund (face value less the fee) with its
// webhook events and activity entry; the refund is then asked of the provider
// under its own id (refunds.ts), and what a crash leaves pending the cron
// finishes. Nothing is sold or refunded before the buyer's order is in D1, which
// it is only once the payment succeeded. Withdrawing (and the close, for a
// listing unsold) takes the unit back from the stock first, only while a unit is
// free, then ends the listing; a buyer who got there in between keeps the sale.
import { type ListingRow, type ListingView, OCCUPIED_SQL, assertResaleKind, feeOf, listingRow, listingView, newListingId, resaleCapacity, resaleRules } from "./resale-store";
import type { OrderRecord, TicketRecord } from "./order-store";
import { finishRefunds } from "./refunds";
import { endedEventStatement, listedEventStatement, refundedEventStatement, soldEventStatement } from "./webhook-events";
import type { DropConfig } from "../drops/rules";
import { dropState } from "../drops/lifecycle";
import { ApiError } from "../shared/errors";
import { randomId } from "../shared/ids";
import { roomStub, shardStub } from "../shared/names";
import { guardedActivityStatement } from "../tenants/store";
import { type TicketMove, movableTicket, ticketRefusal } from "./ticket-moves";
import { putBackOnSale } from "./put-back";

const conflict = (code: string, message: string, details: Record<string, unknown> = {}) => new ApiError(409, code, message, details);
/** How this act names itself when a ticket cannot go (ticket-moves.ts). */
const LISTING: TicketMove = { done: "listed", whenListed: "This ticket is listed for resale already." };

/** The seller's refund is left to the request that made it this long before the cron takes it (as refunds.ts does). */
const REFUND_GRACE_MS = 60_000;
/** Listings one settle sells at most: a batch of orders buys at most this many at once; the next settle goes on. */
const SETTLE_LIMIT = 100;

function activity(db: D1Database, drop: DropConfig, action: string, row: Pick<ListingRow, "listing_id" | "order_id" | "code">, at: string, guard: string, ...binds: string[]) {
	const entry = { promoterId: drop.promoterId, actor: "fan" as const, keyId: null, keyLabel: null, action, dropId: drop.id, at };
	return guardedActivityStatement(db, { ...entry, detail: { listingId: row.listing_id, orderId: row.order_id, ticket: row.code } }, guard, ...binds);
}

function assertOpenForResale(drop: DropConfig, nowMs: number): void {
	if (drop.cancelledAt !== null) throw conflict("drop_cancelled", "This drop was cancelled: its orders are refunded, and nothing is resold.");
	if (dropState(drop, false, nowMs) === "closed") throw conflict("drop_closed", "This drop has closed: nothing more is sold, so nothing is listed.");
}

/** Lists one of an order's tickets at its face value. 404 for a ticket not the order's; 409 when it cannot go; 422 for a drop that takes no resale. */
export async function listTicket(env: Env, drop: DropConfig, orderId: string, code: string, nowMs: number): Promise<ListingView> {
	assertOpenForResale(drop, nowMs);
	assertResaleKind(drop);
	const rules = await resaleRules(env.DB, drop.id);
	if (!rules.enabled) throw conflict("resale_off", "The promoter has not opened resale for this drop.");
	const db = env.DB;
	const { order } = await movableTicket(db, drop.id, orderId, code, LISTING);
	const now = new Date(nowMs).toISOString();
	const row: ListingRow = {
		listing_id: newListingId(),
		drop_id: drop.id,
		order_id: orderId,
		code,
		shard: order.shard,
		state: "open",
		price_cents: order.unit_price_cents,
		fee_cents: feeOf(rules, order.unit_price_cents),
		currency: order.currency,
		created_at: now,
		restocked_at: null,
		ended_at: null,
		buyer_order_id: null,
		refund_id: null,
	};
	// Only while the ticket is good, unlisted and has no transfer waiting: whatever landed since the read leaves nothing.
	const [made] = await db.batch([
		db
			.prepare(
				`INSERT INTO resale_listings (listing_id, drop_id, order_id, code, shard, state, price_cents, fee_cents, currency, created_at)
				 SELECT ?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?9
				 WHERE EXISTS (SELECT 1 FROM tickets WHERE code = ?4 AND order_id = ?3 AND refund_id IS NULL AND scanned_at IS NULL AND transfer_id IS NULL AND listing_id IS NULL)
				   AND NOT EXISTS (SELECT 1 FROM ticket_transfers WHERE from_code = ?4 AND state = 'pending')
				   AND NOT EXISTS (SELECT 1 FROM orders WHERE order_id = ?3 AND payment_missing_at IS NOT NULL)`,
			)
			.bind(row.listing_id, drop.id, orderId, code, row.shard, row.price_cents, row.fee_cents, row.currency, now),
		db.prepare(`UPDATE tickets SET listing_id = ?1 WHERE code = ?2 AND EXISTS (SELECT 1 FROM resale_listings WHERE listing_id = ?1 AND state = 'open')`).bind(row.listing_id, code),
		activity(db, drop, "ticket.listed", row, now, `EXISTS (SELECT 1 FROM resale_listings WHERE listing_id = ?9)`, row.listing_id),
		listedEventStatement(db, row.listing_id, now),
	]);
	if (made!.meta.changes === 0) {
		const open = await db.prepare(`SELECT transfer_id FROM ticket_transfers WHERE from_code = ? AND state = 'pending'`).bind(code).first<string>("transfer_id");
		if (open !== null) throw conflict("transfer_pending", "This ticket has a transfer waiting to be accepted; cancel it first.", { transferId: open });
		const again = await db.prepare(`SELECT * FROM tickets WHERE code = ?`).bind(code).first<TicketRecord>();
		throw (again === null ? null : ticketRefusal(again, order, LISTING)) ?? conflict("ticket_transferred", "This ticket was already transferred to someone else.");
	}
	// Its unit back on sale now; one that does not make it is put back by the cron (sweepResale).
	await restockListing(env, row).catch((err) => console.error(`resale ${row.listing_id}: restock left to the cron`, err));
	return listingView((await listingRow(db, row.listing_id))!);
}

/** Puts a listing's unit back in the order's shard's stock, once per listing id, as a refund's restock does (put-back.ts): offered to the line. */
export async function restockListing(env: Env, row: Pick<ListingRow, "listing_id" | "drop_id" | "shard">): Promise<void> {
	await putBackOnSale(env, row.drop_id, row.shard, row.listing_id, 1);
	await env.DB.prepare(`UPDATE resale_listings SET restocked_at = ? WHERE listing_id = ? AND restocked_at IS NULL`).bind(new Date().toISOString(), row.listing_id).run();
}

/**
 * Takes a listing's unit back out of the stock: from its own shard, else from any other (stock moves between
 * shards). False when no shard has a unit free: a buyer holds it, or bought it and their order is on its way.
 */
async function unstockListing(env: Env, drop: DropConfig, row: ListingRow, key: string): Promise<boolean> {
	// Its restock first (a repeat changes nothing), so the unit taken back is one it put there.
	await shardStub(env, row.drop_id, row.shard).restock({ refundId: row.listing_id, quantity: 1 });
	const order = [row.shard, ...Array.from({ length: drop.shards }, (_, i) => i).filter((s) => s !== row.shard)];
	for (const shard of order) {
		if ((await shardStub(env, row.drop_id, shard).unstock({ key })).unstocked) return true;
	}
	return false;
}

/**
 * Ends an open listing with its unit taken back first (`withdrawn` by its holder, `returned` at the close). 409
 * listing_busy when a buyer holds the unit right now (try again once their hold ends), listing_sold when a buyer's
 * order took it meanwhile. A repeat of an ended listing answers it as it is.
 */
export async function endListing(env: Env, drop: DropConfig, row: ListingRow, to: "withdrawn" | "returned", nowMs: number): Promise<ListingView> {
	if (row.state === "sold") throw conflict("listing_sold", `This listing was sold at ${row.ended_at}; the ticket is the buyer's now.`, { soldAt: row.ended_at });
	if (row.state !== "open") return listingView(row);
	const key = `${row.listing_id}.end`;
	if (!(await unstockListing(env, drop, row, key))) {
		throw new ApiError(409, "listing_busy", "A buyer holds this ticket's place right now; if they do not buy it, it can be withdrawn in a few minutes.", { retryAfter: 60 });
	}
	const db = env.DB;
	const now = new Date(nowMs).toISOString();
	const [ended] = await db.batch([
		db.prepare(`UPDATE resale_listings SET state = ?2, ended_at = ?3, restocked_at = COALESCE(restocked_at, ?3) WHERE listing_id = ?1 AND state = 'open'`).bind(row.listing_id, to, now),
		db.prepare(`UPDATE tickets SET listing_id = NULL WHERE code = ?2 AND listing_id = ?1 AND EXISTS (SELECT 1 FROM resale_listings WHERE listing_id = ?1 AND state = ?3)`).bind(row.listing_id, row.code, to),
		activity(db, drop, to === "withdrawn" ? "ticket.listing_withdrawn" : "ticket.listing_returned", row, now, `EXISTS (SELECT 1 FROM resale_listings WHERE listing_id = ?9 AND state = ?10 AND ended_at = ?8)`, row.listing_id, to),
		endedEventStatement(db, row.listing_id, now),
	]);
	const after = (await listingRow(db, row.listing_id))!;
	if (ended!.meta.changes === 0 && after.state === "sold") {
		// A buyer's order took it between the two steps: the unit taken back was another one, so it goes back on sale.
		const undo = `${row.listing_id}.undo`;
		await putBackOnSale(env, row.drop_id, row.shard, undo, 1)
			.catch(() => putBackOnSale(env, row.drop_id, row.shard, undo, 1))
			.catch(async (err) => {
				// Never lost: twice refused the line's word, it goes back all the same (logged) and the pacer is told.
				console.error(`resale ${row.listing_id}: its unit put back without the line for returns`, err);
				await shardStub(env, row.drop_id, row.shard).restock({ refundId: undo, quantity: 1 });
				await roomStub(env, row.drop_id).reopen().catch(() => {});
			});
		throw conflict("listing_sold", `This listing was sold at ${after.ended_at}; the ticket is the buyer's now.`, { soldAt: after.ended_at });
	}
	return listingView(after);
}

/**
 * Sells the drop's oldest open listings while its sold + listed tickets are over its capacity (a buyer's paid order
 * took a listed unit), each to the newest paid order that bought after it was listed and has a ticket no listing
 * names yet; then asks the provider for each seller's refund. Idempotent: a repeat (a redelivered sale, the cron)
 * finds nothing over and sells nothing. Answers the listings it sold.
 */
export async function settleResale(env: Env, drop: DropConfig): Promise<string[]> {
	const capacity = resaleCapacity(drop);
	if (capacity === null) return [];
	const db = env.DB;
	const sold: string[] = [];
	for (let i = 0; i < SETTLE_LIMIT; i++) {
		const at = Date.now();
		const now = new Date(at).toISOString();
		const refundId = randomId("r_");
		const listing = `(SELECT listing_id FROM resale_listings WHERE drop_id = ?1 AND state = 'open' AND restocked_at IS NOT NULL ORDER BY created_at, listing_id LIMIT 1)`;
		const [marked] = await db.batch([
			db
				.prepare(
					`UPDATE resale_listings SET state = 'sold', ended_at = ?3, refund_id = ?4,
					   buyer_order_id = (SELECT o.order_id FROM orders o WHERE o.drop_id = ?1 AND o.ticket_type IS NULL AND o.order_id <> resale_listings.order_id
					     AND o.payment_missing_at IS NULL AND o.unit_price_cents = resale_listings.price_cents AND o.created_at >= resale_listings.created_at
					     AND (SELECT COUNT(*) FROM resale_listings b WHERE b.buyer_order_id = o.order_id) < o.quantity
					     ORDER BY o.created_at DESC, o.order_id DESC LIMIT 1)
					 WHERE listing_id = ${listing} AND ${OCCUPIED_SQL} > ?2
					   AND EXISTS (SELECT 1 FROM orders o WHERE o.drop_id = ?1 AND o.ticket_type IS NULL AND o.order_id <> resale_listings.order_id
					     AND o.payment_missing_at IS NULL AND o.unit_price_cents = resale_listings.price_cents AND o.created_at >= resale_listings.created_at
					     AND (SELECT COUNT(*) FROM resale_listings b WHERE b.buyer_order_id = o.order_id) < o.quantity)`,
				)
				.bind(drop.id, capacity, now, refundId),
			db.prepare(`UPDATE tickets SET refund_id = ?1, listing_id = NULL WHERE listing_id = (SELECT listing_id FROM resale_listings WHERE refund_id = ?1) AND refund_id IS NULL`).bind(refundId),
			db
				.prepare(
					`INSERT INTO refunds (refund_id, order_id, drop_id, shard, tickets, amount_cents, currency, restock, state, created_at, updated_at, next_attempt_at)
					 SELECT ?1, l.order_id, l.drop_id, l.shard, 1, l.price_cents - l.fee_cents, l.currency, 0, 'pending', ?2, ?2, ?3
					 FROM resale_listings l WHERE l.refund_id = ?1 AND EXISTS (SELECT 1 FROM tickets t WHERE t.code = l.code AND t.refund_id = ?1)`,
				)
				.bind(refundId, now, new Date(at + REFUND_GRACE_MS).toISOString()),
			db
				.prepare(
					`UPDATE orders SET refunded_tickets = (SELECT COUNT(*) FROM tickets WHERE order_id = orders.order_id AND refund_id IS NOT NULL),
					   status = CASE WHEN (SELECT COUNT(*) FROM tickets WHERE order_id = orders.order_id AND refund_id IS NULL) = 0 THEN 'refunded' ELSE status END,
					   status_at = ?2
					 WHERE order_id = (SELECT order_id FROM refunds WHERE refund_id = ?1)`,
				)
				.bind(refundId, now),
			soldEventStatement(db, refundId, now),
			refundedEventStatement(db, refundId, now),
			guardedActivityStatement(
				db,
				{ promoterId: drop.promoterId, actor: "fan", keyId: null, keyLabel: null, action: "ticket.resold", dropId: drop.id, at: now, detail: { refundId } },
				`EXISTS (SELECT 1 FROM refunds WHERE refund_id = ?9)`,
				refundId,
			),
		]);
		if (marked!.meta.changes === 0) break;
		sold.push(refundId);
	}
	for (const refundId of sold) {
		const sellerOrder = await db.prepare(`SELECT o.* FROM refunds r JOIN orders o ON o.order_id = r.order_id WHERE r.refund_id = ?`).bind(refundId).first<OrderRecord>();
		// A provider that does not answer leaves the refund pending, with its backoff: the cron's refund sweep finishes it.
		if (sellerOrder !== null) await finishRefunds(env, sellerOrder, { retryFailed: false }).catch((err) => console.error(`resale: seller refund ${refundId} left to the cron`, err));
	}
	return sold;
}

/** Settles each of these drops that has a listing open (one indexed read per drop). */
export async function settleDrops(env: Env, dropIds: string[], dropOf: (id: string) => Promise<DropConfig | null>): Promise<number> {
	let sold = 0;
	for (const dropId of new Set(dropIds)) {
		const open = await env.DB.prepare(`SELECT 1 AS one FROM resale_listings WHERE drop_id = ? AND state = 'open' LIMIT 1`).bind(dropId).first();
		if (open === null) continue;
		const drop = await dropOf(dropId);
		if (drop !== null) sold += (await settleResale(env, drop)).length;
	}
	return sold;
}

/** Listings one cron run looks at most. */
export const RESALE_SWEEP_LIMIT = 50;

/**
 * The cron's part: units of listings not back in the stock yet are put back, drops with listings open are settled
 * (a sale whose settle a crash cut short), and a listing still open once its drop has closed goes back to its seller.
 */
export async function sweepResale(env: Env, nowMs: number, dropOf: (id: string) => Promise<DropConfig | null>): Promise<{ restocked: number; sold: number; returned: number }> {
	const db = env.DB;
	const { results: unstocked } = await db
		.prepare(`SELECT * FROM resale_listings WHERE restocked_at IS NULL AND state IN ('open', 'sold', 'cancelled') ORDER BY created_at LIMIT ?`)
		.bind(RESALE_SWEEP_LIMIT)
		.all<ListingRow>();
	let restocked = 0;
	for (const row of unstocked) {
		try {
			await restockListing(env, row);
			restocked++;
		} catch (err) {
			console.error(`resale sweep: ${row.listing_id} not restocked`, err);
		}
	}
	const { results: drops } = await db.prepare(`SELECT DISTINCT drop_id FROM resale_listings WHERE state = 'open' LIMIT ?`).bind(RESALE_SWEEP_LIMIT).all<{ drop_id: string }>();
	let sold = 0;
	let returned = 0;
	for (const { drop_id } of drops) {
		const drop = await dropOf(drop_id);
		if (drop === null) continue;
		sold += (await settleResale(env, drop)).length;
		if (drop.cancelledAt !== null || dropState(drop, false, nowMs) !== "closed") continue;
		const { results: open } = await db.prepare(`SELECT * FROM resale_listings WHERE drop_id = ? AND state = 'open' ORDER BY created_at LIMIT ?`).bind(drop_id, RESALE_SWEEP_LIMIT).all<ListingRow>();
		for (const row of open) {
			try {
				await endListing(env, drop, row, "returned", nowMs);
				returned++;
			} catch (err) {
				// A hold made before the close may still be bought: the next run sees it sold or its unit free.
				console.error(`resale sweep: ${row.listing_id} not returned yet`, err);
			}
		}
	}
	return { restocked, sold, returned };
}
