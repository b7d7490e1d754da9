// The OpenAPI document's operations for ticket transfers: the buyer makes and
// cancels one, the recipient reads the offer, accepts and reads their ticket,
// and the promoter sets the drop's rules and reads an order's transfers.
// Rendered by openapi.ts. Pure.
import { AUTH_ERRORS, type Operation, json } from "./openapi-operation";

const REFUSED = "ticket_refunded, payment_not_taken, already_used (scannedAt), ticket_transferred, ticket_listed (listingId), transfers_off, transfer_deadline_passed (deadline), drop_cancelled";
const SECRET_401 = "missing_token: no Bearer (with WWW-Authenticate: Bearer)";

export const TRANSFER_OPERATIONS: Operation[] = [
	{
		operationId: "makeTransfer",
		method: "POST",
		path: "/api/orders/:orderId/tickets/:code/transfer",
		tag: "fan",
		summary: "Transfer one of the order's tickets to someone else",
		description:
			"Answers the accept link (its secret once; the engine keeps its hash). The ticket still admits its buyer until the transfer is accepted; the buyer may cancel it until then. Logged in the promoter's activity log as ticket.transfer_made (actor fan).",
		security: ["orderToken"],
		answers: { 201: json("TransferMade", "The pending transfer and its accept link.") },
		errors: {
			...AUTH_ERRORS,
			404: "not_found: no such order for this token, or no such ticket in it",
			409: `transfer_pending (transferId): the ticket already has one waiting; not_ticketed: the order is not in the records yet; ${REFUSED}`,
		},
	},
	{
		operationId: "cancelTransfer",
		method: "DELETE",
		path: "/api/orders/:orderId/transfers/:transferId",
		tag: "fan",
		summary: "Cancel a transfer not accepted yet",
		description: "A repeat answers it cancelled and changes nothing. Logged as ticket.transfer_cancelled.",
		security: ["orderToken"],
		answers: { 200: json("Transfer", "The transfer, cancelled.") },
		errors: { ...AUTH_ERRORS, 404: "not_found: no such transfer of this order", 409: "transfer_accepted (acceptedAt): too late to cancel" },
	},
	{
		operationId: "readTransfer",
		method: "GET",
		path: "/api/transfers/:transferId",
		tag: "fan",
		summary: "The recipient reads a transfer's offer with the accept link's secret",
		description: "The drop, the seat (when seated), the transfer's state and whether it may be accepted now. Never the ticket itself: the link's maker knows its secret too.",
		security: ["transferSecret"],
		answers: { 200: json("TransferOffer", "The offer.") },
		errors: { 401: SECRET_401, 404: "not_found: no such transfer, or the wrong secret" },
	},
	{
		operationId: "acceptTransfer",
		method: "POST",
		path: "/api/transfers/:transferId/accept",
		tag: "fan",
		summary: "Accept a transfer: the recipient's own ticket, under a new code",
		description:
			"In one write: the ticket takes a new code (a new signed token and rotating-code secret) and the old code is refused at the gate from then on. Answers the ticket and the recipient's key to read it again: the one the body brings (made and kept on the recipient's device, so an accept whose answer was lost is repeated with it and answers 200 with the same ticket), or one made here. Logged as ticket.transfer_accepted.",
		security: ["transferSecret"],
		body: { schema: "AcceptTransferBody", required: false },
		answers: {
			201: json("TransferAccepted", "The recipient's ticket and key."),
			200: json("TransferAccepted", "Accepted before with this holderKey: the same ticket again, nothing written."),
		},
		errors: {
			401: SECRET_401,
			404: "not_found: no such transfer, or the wrong secret",
			409: `transfer_cancelled, transfer_accepted (acceptedAt; another key, or none), ${REFUSED}: nothing written`,
			422: "invalid_format (field holderKey): not 43 to 128 URL-safe base64 characters; nothing written",
		},
	},
	{
		operationId: "readReceivedTicket",
		method: "GET",
		path: "/api/transfers/:transferId/ticket",
		tag: "fan",
		summary: "The recipient reads their ticket with the key the accept answered",
		security: ["holderKey"],
		answers: { 200: json("HeldTicket", "The ticket, its token and secret while it may admit.") },
		errors: { 401: SECRET_401, 404: "not_found: no such transfer accepted, or the wrong key" },
	},
	{
		operationId: "getTransferRules",
		method: "GET",
		path: "/api/admin/drops/:id/transfers",
		tag: "promoter",
		summary: "A drop's transfer rules",
		security: ["admin"],
		answers: { 200: json("TransferRules", "On or off, and the deadline.") },
		errors: { 404: "not_found: no such drop" },
	},
	{
		operationId: "setTransferRules",
		method: "PATCH",
		path: "/api/admin/drops/:id/transfers",
		tag: "promoter",
		summary: "Switch a drop's transfers off or on, or set their deadline",
		description: "Pending transfers stay pending, but none is accepted while the rules refuse it. Logged as drop.transfers_changed when something changed.",
		security: ["admin"],
		body: { schema: "PatchTransfersBody", required: true },
		answers: { 200: json("TransferRules", "The rules after.") },
		errors: { 404: "not_found: no such drop", 422: "invalid_time, invalid_type" },
	},
	{
		operationId: "listOrderTransfers",
		method: "GET",
		path: "/api/admin/drops/:id/orders/:orderId/transfers",
		tag: "promoter",
		summary: "An order's transfers: made, cancelled and accepted",
		security: ["admin"],
		answers: { 200: json("OrderTransfers", "Oldest first, each with the recipient's new code once accepted.") },
		errors: { 404: "not_found: no such drop or order" },
	},
];
