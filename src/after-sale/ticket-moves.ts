// Whether one of an order's tickets may change hands, by a transfer or a resale listing: the
// ticket read with its order, and each reason it cannot go refused with a 409 in words.
import { ApiError, notFound } from "../shared/errors";
import { type OrderRecord, type TicketRecord, orderRecord } from "./order-store";

const conflict = (code: string, message: string, details: Record<string, unknown> = {}) => new ApiError(409, code, message, details);

/** How an act names itself in its refusals: "transferred" or "listed", and what it says of a ticket already listed. */
export interface TicketMove {
	done: string;
	whenListed: string;
}

/** Why a ticket cannot change hands now: 409 with the reason, or null. */
export function ticketRefusal(ticket: TicketRecord, order: OrderRecord, move: TicketMove): ApiError | null {
	if (ticket.refund_id !== null) return conflict("ticket_refunded", `This ticket was refunded; it cannot be ${move.done}.`);
	if (order.payment_missing_at !== null) return conflict("payment_not_taken", `This ticket's payment was not taken; it cannot be ${move.done}.`);
	if (ticket.scanned_at !== null) return conflict("already_used", `This ticket was already scanned at ${ticket.scanned_at}; it cannot be ${move.done}.`, { scannedAt: ticket.scanned_at });
	if (ticket.transfer_id !== null) return conflict("ticket_transferred", "This ticket was already transferred to someone else.");
	if (ticket.listing_id !== null) return conflict("ticket_listed", move.whenListed, { listingId: ticket.listing_id });
	return null;
}

/** The order and its ticket `code` of `dropId`, when the ticket may change hands: 409 not_ticketed, 404, or the refusal. */
export async function movableTicket(db: D1Database, dropId: string, orderId: string, code: string, move: TicketMove): Promise<{ order: OrderRecord; ticket: TicketRecord }> {
	const [order, ticket] = await Promise.all([
		orderRecord(db, orderId),
		db.prepare(`SELECT * FROM tickets WHERE code = ? AND order_id = ? AND drop_id = ?`).bind(code, orderId, dropId).first<TicketRecord>(),
	]);
	if (order === null) throw conflict("not_ticketed", "This order's tickets are not issued yet; try again in a moment.");
	if (ticket === null) throw notFound("ticket");
	const refusal = ticketRefusal(ticket, order, move);
	if (refusal !== null) throw refusal;
	return { order, ticket };
}
