// The OpenAPI document's operations for face-value resale: the buyer lists one
// of the order's tickets, reads the order's listings and withdraws one; the
// promoter sets the drop's rules (on or off, the fee) and reads an order's
// listings. Rendered by openapi.ts. Pure.
import { AUTH_ERRORS, type Operation, json } from "./openapi-operation";

export const RESALE_OPERATIONS: Operation[] = [
	{
		operationId: "listTicket",
		method: "POST",
		path: "/api/orders/:orderId/tickets/:code/resale",
		tag: "fan",
		summary: "List one of the order's tickets for resale at its face value",
		description:
			"The ticket is marked listed (refused at the gate, not transferable) and one unit goes back to the drop's stock, offered to the line like a refund's restock. When a buyer's paid order takes a listed unit, the oldest open listing of the drop is sold: the seller's ticket is void and the seller refunded once, face value less the promoter's fee, after the buyer's payment. The drop's own unsold stock sells first. Logged as ticket.listed (actor fan).",
		security: ["orderToken"],
		answers: { 201: json("Listing", "The open listing.") },
		errors: {
			...AUTH_ERRORS,
			404: "not_found: no such order for this token, or no such ticket in it",
			409: "resale_off: the promoter has not opened resale; ticket_listed (listingId); transfer_pending (transferId); not_ticketed; ticket_refunded, payment_not_taken, already_used (scannedAt), ticket_transferred, drop_cancelled, drop_closed: nothing written",
			422: "resale_unsupported: a drop with ticket types (seats, slots, several types)",
		},
	},
	{
		operationId: "listOrderListings",
		method: "GET",
		path: "/api/orders/:orderId/listings",
		tag: "fan",
		summary: "The order's resale listings, and whether a ticket may be listed now",
		security: ["orderToken"],
		answers: { 200: json("OrderListings", "Oldest first, with the promoter's fee.") },
		errors: { ...AUTH_ERRORS, 404: "not_found: no such order for this token" },
	},
	{
		operationId: "withdrawListing",
		method: "DELETE",
		path: "/api/orders/:orderId/listings/:listingId",
		tag: "fan",
		summary: "Withdraw a listing not sold yet",
		description:
			"Its unit is taken back from the stock first, only while one is free; then the listing ends and the ticket admits again. A repeat answers the listing as it is. Logged as ticket.listing_withdrawn.",
		security: ["orderToken"],
		answers: { 200: json("Listing", "The listing, withdrawn.") },
		errors: {
			...AUTH_ERRORS,
			404: "not_found: no such listing of this order",
			409: "listing_busy (retryAfter): a buyer holds the unit right now, nothing changed; listing_sold (soldAt): a buyer's order took it",
		},
	},
	{
		operationId: "getResaleRules",
		method: "GET",
		path: "/api/admin/drops/:id/resale",
		tag: "promoter",
		summary: "A drop's resale rules",
		security: ["admin"],
		answers: { 200: json("ResaleRules", "On or off, and the fee.") },
		errors: { 404: "not_found: no such drop" },
	},
	{
		operationId: "setResaleRules",
		method: "PATCH",
		path: "/api/admin/drops/:id/resale",
		tag: "promoter",
		summary: "Switch a drop's resale on or off, or set its fee",
		description: "Off stops new listings; open ones stay on offer. The fee is fixed per listing when it is made. Logged as drop.resale_changed when something changed.",
		security: ["admin"],
		body: { schema: "PatchResaleBody", required: true },
		answers: { 200: json("ResaleRules", "The rules after.") },
		errors: { 404: "not_found: no such drop", 422: "fee_conflict: a fee in cents and in percent; resale_unsupported: a drop with ticket types; out_of_range, invalid_type" },
	},
	{
		operationId: "listOrderListingsAdmin",
		method: "GET",
		path: "/api/admin/drops/:id/orders/:orderId/listings",
		tag: "promoter",
		summary: "An order's resale listings",
		security: ["admin"],
		answers: { 200: json("AdminOrderListings", "Oldest first.") },
		errors: { 404: "not_found: no such drop or order" },
	},
];
