// Ticket transfers: a holder (with the order token) hands one ticket to someone
// else. Making one writes a pending transfer and answers a secret for the accept
// link; the holder may cancel it until it is accepted. Accepting gives the
// ticket's row a new code (so a new signed token and a new rotating-code secret)
// in one D1 batch that holds only while the transfer is pending and the ticket
// is neither scanned nor refunded: the scan's own write is a single conditional
// statement on the same row, so a scan of the old code racing an accept admits
// exactly one of the two tickets. The old code is refused at the gate from that
// moment. Each of the three acts is logged in the promoter's activity log in the
// same batch as the act, or not at all; so is the accept's webhook event.
import { type OrderRecord, type TicketRecord, orderRecord, ticketTokenOf } from "./order-store";
import { dropGate, secretOf } from "./gate-store";
import { ROTATION_STEP_SECONDS } from "./rotating-codes";
import {
	type TransferRow,
	type TransferView,
	assertTransfersOpen,
	hashOf,
	newSecret,
	newTransferId,
	transferRow,
	transferRules,
	viewOf,
} from "./transfer-store";
import type { DropConfig } from "../drops/rules";
import { ApiError, notFound } from "../shared/errors";
import { ticketCode } from "../shared/ids";
import { guardedActivityStatement } from "../tenants/store";
import { type TicketMove, movableTicket, ticketRefusal } from "./ticket-moves";
import { transferredEventStatement } from "./webhook-events";

const conflict = (code: string, message: string, details: Record<string, unknown> = {}) => new ApiError(409, code, message, details);
/** How this act names itself when a ticket cannot go (ticket-moves.ts). */
const TRANSFER: TicketMove = { done: "transferred", whenListed: "This ticket is listed for resale; withdraw the listing to transfer it." };

/** The act's entry in the promoter's activity log, written only when the act was (`guard` reads the act's own row). */
function activity(db: D1Database, drop: DropConfig, action: string, row: Pick<TransferRow, "transfer_id" | "order_id" | "from_code">, at: string, guard: string, ...binds: string[]) {
	const entry = { promoterId: drop.promoterId, actor: "fan" as const, keyId: null, keyLabel: null, action, dropId: drop.id, at };
	return guardedActivityStatement(db, { ...entry, detail: { transferId: row.transfer_id, orderId: row.order_id, ticket: row.from_code } }, guard, ...binds);
}

export interface MadeTransfer {
	transfer: TransferView;
	/** The accept link's secret: answered once, kept only as its hash. */
	secret: string;
}

/** Makes a pending transfer of one of an order's tickets. 404 for a ticket not the order's; 409 when it cannot go. */
export async function makeTransfer(db: D1Database, drop: DropConfig, orderId: string, code: string, nowMs: number): Promise<MadeTransfer> {
	if (drop.cancelledAt !== null) throw conflict("drop_cancelled", "This drop was cancelled: its orders are refunded, and nothing is transferred.");
	assertTransfersOpen(await transferRules(db, drop.id), nowMs);
	const { order } = await movableTicket(db, drop.id, orderId, code, TRANSFER);
	const now = new Date(nowMs).toISOString();
	const row: TransferRow = {
		transfer_id: newTransferId(),
		drop_id: drop.id,
		order_id: orderId,
		from_code: code,
		to_code: null,
		accept_hash: "",
		holder_hash: null,
		state: "pending",
		created_at: now,
		cancelled_at: null,
		accepted_at: null,
	};
	const secret = newSecret();
	row.accept_hash = await hashOf(secret);
	// Written only while the ticket is still good and no other transfer of it is open: a refund or a scan that
	// landed since the read, or a second transfer made at the same moment, leaves nothing behind.
	const [made] = await db.batch([
		db
			.prepare(
				`INSERT INTO ticket_transfers (transfer_id, drop_id, order_id, from_code, accept_hash, state, created_at)
				 SELECT ?1, ?2, ?3, ?4, ?5, 'pending', ?6
				 WHERE EXISTS (SELECT 1 FROM tickets WHERE code = ?4 AND order_id = ?3 AND refund_id IS NULL AND scanned_at IS NULL AND transfer_id IS NULL AND listing_id IS NULL)
				   AND NOT EXISTS (SELECT 1 FROM ticket_transfers WHERE from_code = ?4 AND state = 'pending')`,
			)
			.bind(row.transfer_id, drop.id, orderId, code, row.accept_hash, now),
		activity(db, drop, "ticket.transfer_made", row, now, `EXISTS (SELECT 1 FROM ticket_transfers WHERE transfer_id = ?9)`, row.transfer_id),
	]);
	if (made!.meta.changes === 0) {
		const open = await db.prepare(`SELECT transfer_id FROM ticket_transfers WHERE from_code = ? AND state = 'pending'`).bind(code).first<string>("transfer_id");
		if (open !== null) throw conflict("transfer_pending", "This ticket already has a transfer waiting to be accepted; cancel it first.", { transferId: open });
		const again = await db.prepare(`SELECT * FROM tickets WHERE code = ?`).bind(code).first<TicketRecord>();
		throw (again === null ? null : ticketRefusal(again, order, TRANSFER)) ?? conflict("ticket_transferred", "This ticket was already transferred to someone else.");
	}
	return { transfer: viewOf(row), secret };
}

/** Cancels a pending transfer of the order's; a repeat answers it cancelled and changes nothing. 409 transfer_accepted once accepted. */
export async function cancelTransfer(db: D1Database, drop: DropConfig, orderId: string, transferId: string, nowMs: number): Promise<TransferView> {
	const before = await transferRow(db, transferId);
	if (before === null || before.order_id !== orderId || before.drop_id !== drop.id) throw notFound("transfer");
	const now = new Date(nowMs).toISOString();
	const [moved] = await db.batch([
		db.prepare(`UPDATE ticket_transfers SET state = 'cancelled', cancelled_at = ?2 WHERE transfer_id = ?1 AND state = 'pending'`).bind(transferId, now),
		activity(db, drop, "ticket.transfer_cancelled", before, now, `EXISTS (SELECT 1 FROM ticket_transfers WHERE transfer_id = ?9 AND state = 'cancelled' AND cancelled_at = ?8)`, transferId),
	]);
	const after = (await transferRow(db, transferId))!;
	if (moved!.meta.changes === 0 && after.state === "accepted") {
		throw conflict("transfer_accepted", `This transfer was accepted at ${after.accepted_at}; it can no longer be cancelled.`, { acceptedAt: after.accepted_at });
	}
	return viewOf(after);
}

/** The ticket as its holder shows it at the gate: the token and secret only while it may still admit. */
export interface HeldTicket {
	code: string;
	token: string | null;
	secret?: string;
	state: "valid" | "used" | "refunded";
	seat?: string;
}

export interface AcceptedTicket {
	transferId: string;
	dropId: string;
	ticket: HeldTicket;
	gate: { stepSeconds: number; staticQr: boolean };
}

/**
 * Accepts a pending transfer opened with its link's secret (checked by the caller). Answers the recipient's
 * ticket and a new key to read it again (the link's secret does not: whoever made the link knows it). 409
 * transfer_cancelled, transfer_accepted, already_used, ticket_refunded, transfers_off or transfer_deadline_passed,
 * each with nothing written. The holder's key is `key` (made on the recipient's device) or one made here; the same
 * key again after the accept answers the same ticket (`again`: an accept whose answer was lost); any other, 409.
 */
export async function acceptTransfer(
	env: Env,
	drop: DropConfig,
	row: TransferRow,
	nowMs: number,
	key: string | null = null,
): Promise<{ accepted: AcceptedTicket; holderKey: string; again: boolean }> {
	if (row.state === "cancelled") throw conflict("transfer_cancelled", "The sender cancelled this transfer; the ticket stays with them.");
	if (row.state === "accepted") {
		if (key !== null && row.holder_hash !== null && row.to_code !== null && (await hashOf(key)) === row.holder_hash) {
			return { accepted: await heldTicket(env, drop.id, row.transfer_id, row.to_code), holderKey: key, again: true };
		}
		throw conflict("transfer_accepted", `This transfer was already accepted at ${row.accepted_at}.`, { acceptedAt: row.accepted_at });
	}
	if (drop.cancelledAt !== null) throw conflict("drop_cancelled", "This drop was cancelled: its orders are refunded, and nothing is transferred.");
	assertTransfersOpen(await transferRules(env.DB, drop.id), nowMs);
	const db = env.DB;
	const now = new Date(nowMs).toISOString();
	const code = ticketCode();
	const holderKey = key ?? newSecret();
	const [rekeyed] = await db.batch([
		db
			.prepare(
				`UPDATE tickets SET code = ?2, token = NULL, transfer_id = ?3 WHERE code = ?1 AND order_id = ?4
				   AND scanned_at IS NULL AND refund_id IS NULL AND transfer_id IS NULL AND listing_id IS NULL
				   AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = ?4 AND o.payment_missing_at IS NOT NULL)
				   AND EXISTS (SELECT 1 FROM ticket_transfers WHERE transfer_id = ?3 AND state = 'pending')`,
			)
			.bind(row.from_code, code, row.transfer_id, row.order_id),
		db
			.prepare(
				`UPDATE ticket_transfers SET state = 'accepted', to_code = ?2, holder_hash = ?3, accepted_at = ?4
				 WHERE transfer_id = ?1 AND state = 'pending' AND EXISTS (SELECT 1 FROM tickets WHERE code = ?2 AND transfer_id = ?1)`,
			)
			.bind(row.transfer_id, code, await hashOf(holderKey), now),
		activity(db, drop, "ticket.transfer_accepted", row, now, `EXISTS (SELECT 1 FROM tickets WHERE code = ?9 AND transfer_id = ?10)`, code, row.transfer_id),
		transferredEventStatement(db, row.transfer_id, now),
	]);
	if (rekeyed!.meta.changes === 0) {
		// Something got there first: say what, from the rows as they are now.
		const fresh = (await transferRow(db, row.transfer_id))!;
		if (fresh.state !== "pending") return acceptTransfer(env, drop, fresh, nowMs, key);
		const [order, ticket] = await Promise.all([
			orderRecord(db, row.order_id),
			db.prepare(`SELECT * FROM tickets WHERE code = ?`).bind(row.from_code).first<TicketRecord>(),
		]);
		throw (ticket === null || order === null ? null : ticketRefusal(ticket, order, TRANSFER)) ?? conflict("transfer_cancelled", "This transfer can no longer be accepted.");
	}
	return { accepted: await heldTicket(env, drop.id, row.transfer_id, code), holderKey, again: false };
}

/** The recipient's ticket after an accepted transfer, as the gate will take it. */
export async function heldTicket(env: Env, dropId: string, transferId: string, code: string): Promise<AcceptedTicket> {
	const [ticket, gate] = await Promise.all([
		env.DB.prepare(`SELECT * FROM tickets WHERE code = ? AND transfer_id = ?`).bind(code, transferId).first<TicketRecord>(),
		dropGate(env.DB, dropId),
	]);
	if (ticket === null) throw notFound("ticket");
	const order = (await orderRecord(env.DB, ticket.order_id))!;
	const void_ = ticket.refund_id !== null || order.payment_missing_at !== null;
	const held: HeldTicket = {
		code: ticket.code,
		token: void_ ? null : await ticketTokenOf(env, order, ticket),
		...(void_ ? {} : { secret: await secretOf(gate, ticket.code) }),
		state: void_ ? "refunded" : ticket.scanned_at !== null ? "used" : "valid",
		...(ticket.seat_id === null ? {} : { seat: ticket.seat_id }),
	};
	return { transferId, dropId, ticket: held, gate: { stepSeconds: ROTATION_STEP_SECONDS, staticQr: gate.staticQr } };
}
