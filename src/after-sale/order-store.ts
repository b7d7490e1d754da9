// An order's life after the sale, in D1: its status (moved by its follow-up, and
// by refunds), its tickets' signed tokens, admissions at the gate and refunds.
// A refunded order never moves back: every status change but a refund's leaves
// 'refunded' alone.
import { ORDER_STATUSES } from "../contract/answer-parts";
import { type OrderColumns, type SaleMessage, saleMessageOf } from "../contract/sale-message";
import { signTicketToken } from "../shared/tokens";
import { dropGate, secretOf } from "./gate-store";
import { ROTATION_STEP_SECONDS } from "./rotating-codes";
import { acceptedFrom, orderTransfers, transferRules, transfersOpen } from "./transfer-store";
import { failedEventStatement, ticketedEventStatement } from "./webhook-events";

export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** An order's row in D1: the columns it shares with its row on the shard, and what the post-sale path adds. */
export interface OrderRecord extends OrderColumns {
	drop_id: string;
	shard: number;
	created_at: string;
	recorded_at: string;
	status: OrderStatus;
	status_detail: string | null;
	status_at: string | null;
	refunded_tickets: number;
	receipt_to: string | null;
	/** The buyer's language for the receipt; null when the purchase named none (and for orders older than it). */
	locale: string | null;
	/** When the buyer's turn began (ISO); null for orders older than it. */
	admitted_at: string | null;
	/** Named units: the order's ticket type and slot; null for the general admission spread over the shards. */
	ticket_type: string | null;
	slot_id: string | null;
	receipt_sent_at: string | null;
	/** When the follow-up claimed the receipt to send it (the claim comes before the send). */
	receipt_claimed_at: string | null;
	/** When the follow-up found the payment not taken at its provider: the tickets admit nobody. */
	payment_missing_at: string | null;
	/** The order's follow-up runs: 1 once the sales consumer queued it, one more for each promoter's retry. */
	workflow_runs: number;
}

export interface TicketRecord {
	code: string;
	order_id: string;
	drop_id: string;
	seq: number;
	token: string | null;
	scanned_at: string | null;
	refund_id: string | null;
	/** Named units: the ticket's type and seat, when it has them. */
	ticket_type: string | null;
	seat_id: string | null;
	/** The accepted transfer whose recipient holds this ticket now (its code is the one the transfer made); null: the buyer does. */
	transfer_id: string | null;
	/** The open resale listing of this ticket (the gate refuses it meanwhile); null: none. */
	listing_id: string | null;
}

/** The sale as the shard sent it, rebuilt from its row and its tickets (in ticket order) in D1: what a receipt lists. */
export function saleOfRecord(order: OrderRecord, tickets: Pick<TicketRecord, "code" | "seat_id">[]): SaleMessage {
	return saleMessageOf(order, {
		dropId: order.drop_id,
		shard: order.shard,
		tickets: tickets.map((t) => t.code),
		createdAt: order.created_at,
		email: order.receipt_to,
		locale: order.locale,
		admittedAt: order.admitted_at,
		ticketType: order.ticket_type,
		seats: tickets.flatMap((t) => (t.seat_id === null ? [] : [t.seat_id])),
		slot: order.slot_id,
	});
}

export async function orderRecord(db: D1Database, orderId: string): Promise<OrderRecord | null> {
	return db.prepare(`SELECT * FROM orders WHERE order_id = ?`).bind(orderId).first<OrderRecord>();
}

export async function orderTickets(db: D1Database, orderId: string): Promise<TicketRecord[]> {
	const { results } = await db.prepare(`SELECT * FROM tickets WHERE order_id = ? ORDER BY seq`).bind(orderId).all<TicketRecord>();
	return results;
}

/** Moves an order's status, unless it has been refunded (or `from` is given and the status is not one of them). */
function setStatus(db: D1Database, orderId: string, status: OrderStatus, detail: string | null, from?: OrderStatus[]): D1PreparedStatement {
	const guard = from ? `AND status IN (${from.map((s) => `'${s}'`).join(", ")})` : `AND status <> 'refunded'`;
	return db
		.prepare(`UPDATE orders SET status = ?, status_detail = ?, status_at = ? WHERE order_id = ? ${guard}`)
		.bind(status, detail, new Date().toISOString(), orderId);
}

/** Stores each ticket's token (the first one issued stays: a retried step shows the same QR codes) and marks the order ticketed. */
export async function storeTicketTokens(db: D1Database, orderId: string, tokens: { code: string; token: string }[]): Promise<void> {
	await db.batch([
		...tokens.map((t) => db.prepare(`UPDATE tickets SET token = ? WHERE code = ? AND order_id = ? AND token IS NULL`).bind(t.token, t.code, orderId)),
		setStatus(db, orderId, "ticketed", null, ["paid", "failed"]),
		ticketedEventStatement(db, orderId, new Date().toISOString()),
	]);
}

/** The follow-up's last step: the order's final status (receipt_sent when a receipt went out, else ticketed). */
export async function recordOutcome(db: D1Database, orderId: string, receiptSent: boolean): Promise<void> {
	await setStatus(db, orderId, receiptSent ? "receipt_sent" : "ticketed", null, ["paid", "ticketed", "failed"]).run();
}

/** A step that used up its retries: the promoter sees the order failed, and which step, and may retry it. */
/** The follow-up found the order's payment not taken at its provider: its tickets admit nobody from now on. */
export async function markPaymentMissing(db: D1Database, orderId: string, now: number): Promise<void> {
	await db.prepare(`UPDATE orders SET payment_missing_at = COALESCE(payment_missing_at, ?) WHERE order_id = ?`).bind(new Date(now).toISOString(), orderId).run();
}

/**
 * Only for the run that failed, and only while nothing finished the order (a ticketed order with no receipt owed is
 * finished): a late copy of a replaced run, or one whose other delivery got through, writes nothing over the outcome.
 */
export async function recordFailure(db: D1Database, orderId: string, run: number, detail: string): Promise<void> {
	const failed = db
		.prepare(
			`UPDATE orders SET status = 'failed', status_detail = ?, status_at = ? WHERE order_id = ? AND workflow_runs = ?
			 AND (status IN ('paid', 'failed') OR (status = 'ticketed' AND receipt_to IS NOT NULL AND receipt_sent_at IS NULL))`,
		)
		.bind(detail, new Date().toISOString(), orderId, run);
	await db.batch([failed, failedEventStatement(db, orderId, new Date().toISOString())]);
}

/**
 * An order whose follow-up stopped without recording anything since the time bound to its `?`: paid, or ticketed
 * with a receipt still to send. A ticketed order with no receipt to send is finished, not stuck.
 */
export const STUCK_SQL = `(status = 'paid' OR (status = 'ticketed' AND receipt_to IS NOT NULL AND receipt_sent_at IS NULL)) AND COALESCE(status_at, recorded_at) <= ?`;

/**
 * A failed order goes back to the start, in a new follow-up run: paid, until its steps move it again. Answers the
 * run's number, or null if the order is not failed. `stuckBefore`: a paid or ticketed order whose status has not
 * moved since then (its run ended without recording its failure) is retried as a failed one. A receipt claimed
 * and never recorded as sent is released: the promoter's retry is the decision to send it.
 */
export async function markRetrying(db: D1Database, orderId: string, stuckBefore: string | null = null): Promise<number | null> {
	const row = await db
		.prepare(
			`UPDATE orders SET status = 'paid', status_detail = 'retrying', status_at = ?, workflow_runs = workflow_runs + 1,
			   receipt_claimed_at = CASE WHEN receipt_sent_at IS NULL THEN NULL ELSE receipt_claimed_at END
			 WHERE order_id = ? AND (status = 'failed' OR (${STUCK_SQL})) RETURNING workflow_runs`,
		)
		.bind(new Date().toISOString(), orderId, stuckBefore ?? "")
		.first<{ workflow_runs: number }>();
	return row?.workflow_runs ?? null;
}

export type ScanResult =
	| { kind: "admitted"; ticket: TicketRecord }
	| { kind: "already_used"; ticket: TicketRecord }
	| { kind: "refunded"; ticket: TicketRecord }
	| { kind: "unpaid"; ticket: TicketRecord }
	| { kind: "listed"; ticket: TicketRecord }
	| { kind: "transferred"; acceptedAt: string }
	| { kind: "unknown" };

/** Admits a ticket once: one conditional write, so two gates scanning at once admit it once. */
export async function admitTicket(db: D1Database, dropId: string, orderId: string, code: string, now: string): Promise<ScanResult> {
	const admitted = await db
		.prepare(
			`UPDATE tickets SET scanned_at = ? WHERE code = ? AND order_id = ? AND drop_id = ? AND scanned_at IS NULL AND refund_id IS NULL AND listing_id IS NULL
			   AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = tickets.order_id AND o.payment_missing_at IS NOT NULL) RETURNING *`,
		)
		.bind(now, code, orderId, dropId)
		.first<TicketRecord>();
	if (admitted !== null) return { kind: "admitted", ticket: admitted };
	const ticket = await db.prepare(`SELECT * FROM tickets WHERE code = ? AND order_id = ? AND drop_id = ?`).bind(code, orderId, dropId).first<TicketRecord>();
	if (ticket === null) {
		// A code handed on by an accepted transfer is no ticket any more: its row took the recipient's new code.
		const moved = await acceptedFrom(db, dropId, code);
		return moved !== null && moved.order_id === orderId ? { kind: "transferred", acceptedAt: moved.accepted_at! } : { kind: "unknown" };
	}
	if (ticket.refund_id !== null) return { kind: "refunded", ticket };
	if (ticket.listing_id !== null && ticket.scanned_at === null) return { kind: "listed", ticket };
	if (ticket.scanned_at === null) return { kind: "unpaid", ticket };
	return { kind: "already_used", ticket };
}

/** transferred: handed on to someone else by an accepted transfer; the buyer's page shows no token or secret for it. */
export type PassState = "valid" | "used" | "refunded" | "transferred";

/** A seated ticket's seat as the fan reads it: its section, row and number from the seat directory. */
export interface PassSeat {
	id: string;
	section: string;
	row: string;
	number: number;
}

export interface OrderProgress {
	status: OrderStatus;
	statusDetail: string | null;
	refundedTickets: number;
	/**
	 * Each ticket with its signed token (null until the order is ticketed), its rotating-code secret (with the token),
	 * whether it is still good at the gate, and its seat when it has one.
	 */
	passes: { code: string; token: string | null; secret?: string; state: PassState; seat?: PassSeat; transfer?: PassTransfer }[];
	/** Whether the buyer may transfer a ticket now (the promoter's switch and deadline), once the order is in D1. */
	transfers?: { open: boolean; deadline: string | null };
	/** How the tickets are shown at the gate, once any has a token: the rotating code's window, and whether the static QR still admits. */
	gate?: { stepSeconds: number; staticQr: boolean };
}

/** A ticket's open or accepted transfer, as its buyer sees it: what the page cancels, or why the ticket is gone. */
export interface PassTransfer {
	transferId: string;
	state: "pending" | "accepted";
	createdAt: string;
	acceptedAt: string | null;
	/** The ticket's code when the buyer held it (an accepted transfer gave the row a new one). */
	ticket: string;
}

/** The named seats in the drop's seat directory, by id: what a ticket's seat is called. */
async function seatsByIdIn(db: D1Database, dropId: string, ids: string[]): Promise<Map<string, PassSeat>> {
	if (ids.length === 0) return new Map();
	// A hold names at most 20 seats, so the ids fit one statement's bound parameters.
	const { results } = await db
		.prepare(`SELECT seat_id, section, row_name, number FROM seats WHERE drop_id = ?1 AND seat_id IN (${ids.map((_, i) => `?${i + 2}`).join(", ")})`)
		.bind(dropId, ...ids)
		.all<{ seat_id: string; section: string; row_name: string; number: number }>();
	return new Map(results.map((r) => [r.seat_id, { id: r.seat_id, section: r.section, row: r.row_name, number: r.number }]));
}

/**
 * What became of an order after the sale. One not in D1 yet is paid, its tickets not issued yet. A ticket in D1
 * with no stored token is signed here, at the read: the gate admits any token the engine signed for a ticket D1
 * holds and has not refunded, so a fan holds a scannable ticket as soon as the sale is durable, with no write and
 * no wait for the follow-up. A refunded ticket, or one whose payment the follow-up found not taken, is given no token.
 * A seated ticket names its seat (`seats` is the shard's, in ticket order, for an order not in D1 yet).
 */
export async function orderProgress(env: Env, orderId: string, codes: string[], order?: { dropId: string; seats?: string[] }): Promise<OrderProgress> {
	const [record, tickets] = await Promise.all([orderRecord(env.DB, orderId), orderTickets(env.DB, orderId)]);
	const seatIds = record === null ? (order?.seats ?? []) : tickets.flatMap((t) => (t.seat_id === null ? [] : [t.seat_id]));
	const dropId = record?.drop_id ?? order?.dropId;
	const seats = dropId === undefined ? new Map<string, PassSeat>() : await seatsByIdIn(env.DB, dropId, seatIds);
	const seatOf = (id: string | null | undefined) => {
		const seat = id == null ? undefined : seats.get(id);
		return seat === undefined ? {} : { seat };
	};
	if (record === null)
		return { status: "paid", statusDetail: null, refundedTickets: 0, passes: codes.map((code, i) => ({ code, token: null, state: "valid", ...seatOf(order?.seats?.[i]) })) };
	const [rules, transfers] = await Promise.all([transferRules(env.DB, record.drop_id), orderTransfers(env.DB, orderId)]);
	// A pending transfer names the ticket's code; an accepted one, the code the recipient now holds.
	const transferOf = new Map(transfers.flatMap((x) => (x.state === "pending" ? [[x.from_code, x] as const] : x.state === "accepted" && x.to_code !== null ? [[x.to_code, x] as const] : [])));
	const signed = (t: TicketRecord) => t.refund_id === null && record.payment_missing_at === null && t.transfer_id === null;
	// The drop's gate key, only when there is a ticket to show: it is made on first use.
	const gate = tickets.some(signed) ? await dropGate(env.DB, record.drop_id) : null;
	const passes = await Promise.all(
		tickets.map(async (t) => {
			const transfer = transferOf.get(t.code);
			return {
				code: t.code,
				token: !signed(t) ? null : (t.token ?? (await ticketTokenOf(env, record, t))),
				...(gate === null || !signed(t) ? {} : { secret: await secretOf(gate, t.code) }),
				state: (t.refund_id !== null ? "refunded" : t.transfer_id !== null ? "transferred" : t.scanned_at !== null ? "used" : "valid") satisfies PassState as PassState,
				...seatOf(t.seat_id),
				...(transfer === undefined
					? {}
					: { transfer: { transferId: transfer.transfer_id, state: transfer.state as PassTransfer["state"], createdAt: transfer.created_at, acceptedAt: transfer.accepted_at, ticket: transfer.from_code } }),
			};
		}),
	);
	return {
		status: record.status,
		statusDetail: record.status_detail,
		refundedTickets: record.refunded_tickets,
		passes,
		...(gate === null ? {} : { gate: { stepSeconds: ROTATION_STEP_SECONDS, staticQr: gate.staticQr } }),
		transfers: { open: transfersOpen(rules, Date.now()), deadline: rules.deadline },
	};
}

/**
 * A ticket's signed token, from its order and its row alone: the same claims whoever signs it and whenever (its
 * issue time is the order's), so the read and the follow-up sign the same ticket.
 */
export function ticketTokenOf(env: Env, order: Pick<OrderRecord, "drop_id" | "order_id" | "created_at" | "ticket_type" | "slot_id">, t: Pick<TicketRecord, "code" | "ticket_type" | "seat_id">): Promise<string> {
	const unit = unitOf(t, order);
	return signTicketToken(env, { dropId: order.drop_id, orderId: order.order_id, code: t.code, ...(unit === null ? {} : { unit }) }, Date.parse(order.created_at));
}

/** What a ticket of a named type admits to, for the gate (claim `u`): `type:seat`, `type@slot` or the type; none for general admission. */
function unitOf(t: Pick<TicketRecord, "ticket_type" | "seat_id">, order: Pick<OrderRecord, "ticket_type" | "slot_id">): string | null {
	const type = t.ticket_type ?? order.ticket_type ?? null;
	if (type === null) return null;
	if (t.seat_id !== null) return `${type}:${t.seat_id}`;
	return order.slot_id !== null ? `${type}@${order.slot_id}` : type;
}
