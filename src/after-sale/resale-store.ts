// Face-value resale in D1: the promoter's rules per drop (on or off, a fee in
// cents or in percent), the listings themselves, how a listing's seller is paid
// (face value less the fee), and the audit's resale check. The writes (list,
// withdraw, the sale of a listing to a buyer's order, the close) are in resale.ts.
import { ApiError } from "../shared/errors";
import { randomId } from "../shared/ids";
import type { DropConfig } from "../drops/rules";
import { generalAdmissionOnly } from "../drops/ticket-types";

export type ListingState = "open" | "sold" | "withdrawn" | "returned" | "cancelled";

export interface ListingRow {
	listing_id: string;
	drop_id: string;
	order_id: string;
	code: string;
	shard: number;
	state: ListingState;
	price_cents: number;
	fee_cents: number;
	currency: string;
	created_at: string;
	restocked_at: string | null;
	ended_at: string | null;
	buyer_order_id: string | null;
	refund_id: string | null;
}

/** A listing as its seller and the promoter read it. */
export interface ListingView {
	listingId: string;
	dropId: string;
	orderId: string;
	ticket: string;
	state: ListingState;
	/** The ticket's face value: what the buyer pays, never more. */
	priceCents: number;
	feeCents: number;
	/** What the seller is refunded once it is sold: the face value less the fee. */
	payoutCents: number;
	currency: string;
	createdAt: string;
	/** When it was sold, withdrawn, returned or cancelled. */
	endedAt: string | null;
	/** The seller's refund, once sold. */
	refundId: string | null;
}

export function listingView(r: ListingRow): ListingView {
	return {
		listingId: r.listing_id,
		dropId: r.drop_id,
		orderId: r.order_id,
		ticket: r.code,
		state: r.state,
		priceCents: r.price_cents,
		feeCents: r.fee_cents,
		payoutCents: r.price_cents - r.fee_cents,
		currency: r.currency,
		createdAt: r.created_at,
		endedAt: r.ended_at,
		refundId: r.refund_id,
	};
}

export interface ResaleRules {
	dropId: string;
	/** Tickets may be listed (off until the promoter switches resale on). */
	enabled: boolean;
	/** The promoter's fee per ticket sold, in cents; or `feePercent` of the face value; never both. */
	feeCents: number;
	feePercent: number;
	updatedAt: string | null;
}

type RulesRow = { drop_id: string; enabled: number; fee_cents: number; fee_percent: number; updated_at: string };

/** A drop's resale rules; a drop whose promoter never set any has resale off, with no fee. */
export async function resaleRules(db: D1Database, dropId: string): Promise<ResaleRules> {
	const row = await db.prepare(`SELECT * FROM drop_resale_rules WHERE drop_id = ?`).bind(dropId).first<RulesRow>();
	return row === null
		? { dropId, enabled: false, feeCents: 0, feePercent: 0, updatedAt: null }
		: { dropId, enabled: row.enabled === 1, feeCents: row.fee_cents, feePercent: row.fee_percent, updatedAt: row.updated_at };
}

export async function setResaleRules(db: D1Database, rules: ResaleRules, now: string): Promise<ResaleRules> {
	await db
		.prepare(
			`INSERT INTO drop_resale_rules (drop_id, enabled, fee_cents, fee_percent, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
			 ON CONFLICT (drop_id) DO UPDATE SET enabled = ?2, fee_cents = ?3, fee_percent = ?4, updated_at = ?5`,
		)
		.bind(rules.dropId, rules.enabled ? 1 : 0, rules.feeCents, rules.feePercent, now)
		.run();
	return { ...rules, updatedAt: now };
}

/** The fee on a ticket of face value `priceCents`: the cents, or the percent rounded down; never more than the face value. */
export const feeOf = (rules: Pick<ResaleRules, "feeCents" | "feePercent">, priceCents: number): number =>
	Math.min(priceCents, rules.feeCents + Math.floor((priceCents * rules.feePercent) / 100));

/**
 * The general-admission stock a listing's unit returns to, or null: resale takes only a drop of general admission
 * alone, whose tickets are all one kind (a seat or a slot's unit goes back through a unit shard, which this does not use).
 */
export function resaleCapacity(drop: DropConfig): number | null {
	return JSON.stringify(drop.ticketTypes) === JSON.stringify(generalAdmissionOnly(drop)) ? drop.capacity : null;
}

export function assertResaleKind(drop: DropConfig): number {
	const capacity = resaleCapacity(drop);
	if (capacity === null) throw new ApiError(422, "resale_unsupported", "Only a drop of general admission alone takes resale listings.");
	return capacity;
}

export const newListingId = () => randomId("rs_");

export async function listingRow(db: D1Database, listingId: string): Promise<ListingRow | null> {
	return db.prepare(`SELECT * FROM resale_listings WHERE listing_id = ?`).bind(listingId).first<ListingRow>();
}

export async function orderListings(db: D1Database, orderId: string): Promise<ListingRow[]> {
	const { results } = await db.prepare(`SELECT * FROM resale_listings WHERE order_id = ? ORDER BY created_at, listing_id`).bind(orderId).all<ListingRow>();
	return results;
}

/**
 * The tickets of a drop's general stock that hold a unit: every ticket sold, less those refunded with restock,
 * less the sellers' tickets whose unit went to a buyer (sold) or stays in the stock after a cancel (cancelled).
 * A listed ticket still counts (its seller holds it until it is sold), so this is sold + listed; it never exceeds
 * the capacity, and a buyer's order that would make it do so is the sale of the oldest open listing.
 */
export const OCCUPIED_SQL = `(
	(SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE drop_id = ?1 AND ticket_type IS NULL)
	- (SELECT COALESCE(SUM(tickets), 0) FROM refunds WHERE drop_id = ?1 AND restock = 1)
	- (SELECT COUNT(*) FROM resale_listings WHERE drop_id = ?1 AND state IN ('sold', 'cancelled')))`;

export interface ResaleAudit {
	/** Listings open now, and sold, withdrawn, returned at the close, and cancelled. */
	listed: number;
	sold: number;
	withdrawn: number;
	returned: number;
	cancelled: number;
	/** Sold + listed tickets of the general stock (held ones are the shards' to count): never above the capacity. */
	occupied: number;
	capacity: number | null;
	/**
	 * Every way the resale accounting could be broken: a sold listing without exactly one seller refund of its ticket
	 * (for face value less the fee) or without a paid buyer's order; a buyer's order that bought more listings than
	 * tickets; an open listing whose ticket is not marked listed by it, or a ticket marked by a listing not open;
	 * sold + listed over the capacity.
	 */
	broken: number;
}

export async function resaleAudit(db: D1Database, drop: DropConfig): Promise<ResaleAudit> {
	const capacity = resaleCapacity(drop);
	const row = await db
		.prepare(
			`SELECT
			   (SELECT COUNT(*) FROM resale_listings WHERE drop_id = ?1 AND state = 'open') AS listed,
			   (SELECT COUNT(*) FROM resale_listings WHERE drop_id = ?1 AND state = 'sold') AS sold,
			   (SELECT COUNT(*) FROM resale_listings WHERE drop_id = ?1 AND state = 'withdrawn') AS withdrawn,
			   (SELECT COUNT(*) FROM resale_listings WHERE drop_id = ?1 AND state = 'returned') AS returned,
			   (SELECT COUNT(*) FROM resale_listings WHERE drop_id = ?1 AND state = 'cancelled') AS cancelled,
			   ${OCCUPIED_SQL} AS occupied,
			   (SELECT COUNT(*) FROM resale_listings l WHERE l.drop_id = ?1 AND l.state = 'sold' AND (
			      (SELECT COUNT(*) FROM refunds r WHERE r.refund_id = l.refund_id AND r.order_id = l.order_id AND r.tickets = 1
			         AND r.restock = 0 AND r.amount_cents = l.price_cents - l.fee_cents) <> 1
			      OR NOT EXISTS (SELECT 1 FROM tickets t WHERE t.code = l.code AND t.refund_id = l.refund_id)
			      OR NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = l.buyer_order_id AND o.drop_id = ?1 AND o.order_id <> l.order_id
			         AND o.payment_missing_at IS NULL AND o.unit_price_cents = l.price_cents))) +
			   (SELECT COUNT(*) FROM (SELECT buyer_order_id, COUNT(*) AS n FROM resale_listings WHERE drop_id = ?1 AND buyer_order_id IS NOT NULL GROUP BY buyer_order_id) b
			      JOIN orders o ON o.order_id = b.buyer_order_id WHERE b.n > o.quantity) +
			   (SELECT COUNT(*) FROM resale_listings l WHERE l.drop_id = ?1 AND l.state = 'open'
			      AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.code = l.code AND t.listing_id = l.listing_id AND t.refund_id IS NULL)) +
			   (SELECT COUNT(*) FROM tickets t WHERE t.drop_id = ?1 AND t.listing_id IS NOT NULL
			      AND NOT EXISTS (SELECT 1 FROM resale_listings l WHERE l.listing_id = t.listing_id AND l.state = 'open' AND l.code = t.code)) +
			   (CASE WHEN ?2 IS NOT NULL AND ${OCCUPIED_SQL} > ?2 THEN 1 ELSE 0 END) AS broken`,
		)
		.bind(drop.id, capacity)
		.first<Omit<ResaleAudit, "capacity">>();
	return {
		listed: row?.listed ?? 0,
		sold: row?.sold ?? 0,
		withdrawn: row?.withdrawn ?? 0,
		returned: row?.returned ?? 0,
		cancelled: row?.cancelled ?? 0,
		occupied: row?.occupied ?? 0,
		capacity,
		broken: row?.broken ?? 0,
	};
}

/**
 * A drop cancelled, or a payment refunded at the provider: the order's open listings end `cancelled` with their
 * tickets unmarked, so the refund takes them like any other (the unit stays in the stock, counted freed).
 */
export function cancelListingsStatements(db: D1Database, orderId: string, now: string): D1PreparedStatement[] {
	return [
		db.prepare(`UPDATE tickets SET listing_id = NULL WHERE order_id = ?1 AND listing_id IS NOT NULL`).bind(orderId),
		db.prepare(`UPDATE resale_listings SET state = 'cancelled', ended_at = ?2 WHERE order_id = ?1 AND state = 'open'`).bind(orderId, now),
	];
}
