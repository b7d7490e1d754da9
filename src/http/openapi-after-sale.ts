// The OpenAPI document's operations for after the sale: the gate's scan, refunds
// and cancelling a drop, a failed order's retry, the dev receipt mailbox, and the
// payment provider's webhook (whose actions are a refund and a refund's failure). Rendered by openapi.ts. Pure.
import { DevMailQuery, RefundsQuery } from "../contract/requests";
import { type Operation, json } from "./openapi-operation";

export const AFTER_SALE_OPERATIONS: Operation[] = [
	{
		operationId: "scanTicket",
		method: "POST",
		path: "/api/admin/drops/:id/scan",
		tag: "gate",
		summary: "Admit a ticket at the gate, once",
		description: "The ticket's token (its QR code) is verified offline (ES256, the JWKS, this drop); its one admission is a conditional write.",
		security: ["gate"],
		body: { schema: "ScanBody", required: true },
		answers: { 200: json("ScanAnswer", "Admitted.") },
		errors: {
			401: "unauthorized: no valid gate credential (with WWW-Authenticate); the admin token is not one",
			404: "not_found: no such drop, or no such ticket",
			409: "already_used (scannedAt), ticket_refunded, payment_not_taken",
			422: "invalid_ticket, wrong_drop (field ticket), too_short, too_long",
		},
	},
	{
		operationId: "refundOrder",
		method: "POST",
		path: "/api/admin/drops/:id/orders/:orderId/refund",
		tag: "promoter",
		summary: "Refund an order, whole or some tickets",
		description:
			"Idempotent: tickets already refunded are left alone, so a repeat changes nothing (changed: false), finishes a refund the provider had not answered (the cron does too, with backoff) and asks again for one the provider failed (state failed, with detail), under a new key.",
		security: ["admin"],
		body: { schema: "RefundBody", required: false },
		answers: { 200: json("OrderRefunds", "The order's refunds.") },
		errors: { 404: "not_found", 422: "unknown_ticket (field tickets), empty, too_long, out_of_range", 503: "provider_unavailable: recorded, repeat to finish (Retry-After)" },
	},
	{
		operationId: "listRefunds",
		method: "GET",
		path: "/api/admin/drops/:id/refunds",
		tag: "promoter",
		summary: "A drop's refunds, oldest first, with totals",
		security: ["admin"],
		query: RefundsQuery,
		answers: { 200: json("RefundList", "A page; nextCursor is null on the last.") },
		errors: { 400: "invalid_type (limit), invalid_cursor", 404: "not_found", 422: "out_of_range (limit)" },
	},
	{
		operationId: "cancelDrop",
		method: "POST",
		path: "/api/admin/drops/:id/cancel",
		tag: "promoter",
		summary: "Cancel a drop for good and refund its orders, a page per call",
		description: "The pacer, the lines and every shard hear of it at once: nothing more is joined, admitted, held or bought, and nothing is put back on sale. Each call goes on from where the last stopped; left names the orders it could not refund, with why (payment_method_unavailable, refund_failed, provider_unavailable), and they hold up no other.",
		security: ["admin"],
		body: { schema: "CancelBody", required: false },
		answers: { 200: json("DropCancelled", "Call again until ordersLeft is 0.") },
		errors: { 404: "not_found", 503: "provider_unavailable (Retry-After)" },
	},
	{
		operationId: "retryOrder",
		method: "POST",
		path: "/api/admin/drops/:id/orders/:orderId/retry",
		tag: "promoter",
		summary: "Run a failed order's post-sale steps again",
		security: ["admin"],
		answers: { 200: json("OrderRetry", "A new run of its follow-up is queued.") },
		errors: { 404: "not_found", 409: "not_failed" },
	},
	{
		operationId: "devMail",
		method: "GET",
		path: "/api/admin/dev/mail",
		tag: "promoter",
		summary: "The dev receipt mailbox (RECEIPT_SENDER = dev only), newest first",
		security: ["admin"],
		query: DevMailQuery,
		answers: { 200: json("DevMailList", "The receipts the dev sender kept.") },
		errors: { 400: "invalid_type (limit)", 404: "not_found: the dev sender is not on", 422: "out_of_range (limit), too_long (orderId)" },
	},
	{
		operationId: "stripeWebhook",
		method: "POST",
		path: "/api/payments/stripe/webhook",
		tag: "engine",
		summary: "Stripe's events, believed once their signature checks out",
		description:
			"Stripe-Signature: t=<seconds>,v1=<HMAC-SHA256 of \"t.body\" with STRIPE_WEBHOOK_SECRET>, within 300 s. Each event id is acted on once; a replay answers duplicate: true. " +
			"charge.refunded (in full) refunds the order's tickets; refund.failed, and refund.updated or charge.refund.updated with status failed, mark the engine's refund failed with why. 404 when no webhook secret is set.",
		answers: { 200: json("WebhookAnswer", "Received.") },
		errors: { 400: "invalid_signature, signature_expired, invalid_event", 404: "not_found", 413: "body_too_large" },
	},
];
