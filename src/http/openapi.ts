// The API as an OpenAPI 3.1 document, served at GET /api/openapi.json. Every
// route is one entry below; its bodies, queries and answers are the zod schemas
// the routes parse and type with (src/contract/requests.ts, src/drops/rules.ts and
// src/contract/answers.ts), rendered by `z.toJSONSchema` into JSON Schema 2020-12,
// which is OpenAPI 3.1's own dialect.
// test/http/openapi.test.ts checks that every route the router knows is here and that
// the answers the engine really gives match what this document says.
import * as z from "zod";
import { type AnswerSchemas, answerSchemas } from "../contract/answers";
import { AuditQuery, CancelBody, DevMailQuery, HoldBody, IdempotencyKey, JoinBody, ListDropsQuery, PurchaseBody, RefundBody, RefundsQuery, SalesQuery, ScanBody } from "../contract/requests";
import { ActivityQuery, CreatePromoterBody, KeysQuery, ListPromotersQuery, MintKeyBody, PatchPromoterBody } from "../contract/requests";
import { CreateDropBody, DROP_ID, PatchDropBody } from "../drops/rules";
import { SeatMapQuery } from "../drops/seat-map";
import { MAX_BODY_BYTES } from "../shared/request";

/** The request bodies, by their names in the document. */
const REQUEST_SCHEMAS = { CreateDropBody, PatchDropBody, JoinBody, HoldBody, PurchaseBody, ScanBody, RefundBody, CancelBody, CreatePromoterBody, PatchPromoterBody, MintKeyBody };

type Security = "admin" | "queueToken" | "accessToken" | "orderToken" | "gate";

interface Answer {
	description: string;
	/** A JSON body, by its schema's name; an answer without one (204) has none. */
	body?: keyof AnswerSchemas;
	/** The sales export's other form. */
	csv?: boolean;
	headers?: Record<string, { description: string; schema: { type: string; minimum?: number } }>;
}

export interface Operation {
	operationId: string;
	method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
	/** As the router has it: `/api/drops/:id`. */
	path: string;
	tag: "fan" | "promoter" | "engine" | "gate";
	summary: string;
	description?: string;
	/** Any one of these bearer tokens; none: public. */
	security?: Security[];
	query?: z.ZodObject;
	headers?: { name: string; schema: z.ZodType; required: boolean }[];
	/** A JSON body (at most 16 KiB, `Content-Type: application/json`). */
	body?: { schema: keyof typeof REQUEST_SCHEMAS; required: boolean };
	/** A CSV body (`Content-Type: text/csv`): what its lines are. */
	csvBody?: string;
	/** Successful answers. */
	answers: Record<number, Answer>;
	/** Refusals, each `ApiErrorBody`: the status and the codes it carries here. */
	errors: Record<number, string>;
}

const json = (body: keyof AnswerSchemas, description: string): Answer => ({ body, description });

const AUTH_ERRORS = {
	401: "missing_token, invalid_token, token_expired (with WWW-Authenticate: Bearer)",
	403: "wrong_drop: the token is for another drop",
};

/** Every route of the API, in the order a drop lives through them. */
export const OPERATIONS: Operation[] = [
	{
		operationId: "health",
		method: "GET",
		path: "/api/health",
		tag: "engine",
		summary: "Whether the Worker answers",
		answers: { 200: json("Health", "The Worker is up.") },
		errors: {},
	},
	{
		operationId: "jwks",
		method: "GET",
		path: "/.well-known/jwks.json",
		tag: "engine",
		summary: "The public keys (ES256) that verify every token the engine signs",
		answers: { 200: json("Jwks", "Cacheable for five minutes.") },
		errors: {},
	},
	{
		operationId: "openapi",
		method: "GET",
		path: "/api/openapi.json",
		tag: "engine",
		summary: "This document",
		answers: { 200: json("OpenApiDocument", "OpenAPI 3.1; public and cacheable for an hour.") },
		errors: {},
	},
	{
		operationId: "createDrop",
		method: "POST",
		path: "/api/admin/drops",
		tag: "promoter",
		summary: "Schedule a drop",
		description:
			"Defaults: shards one per 5,000 tickets, lines one per 500, admission {batchSize 100, intervalMs 2000, activeMultiple 2}, holdSeconds 300, priceCents 0, currency USD. " +
			"opensAt at most a year in the past and five years ahead; closesAt after opensAt; shards at most capacity.",
		security: ["admin"],
		body: { schema: "CreateDropBody", required: true },
		answers: {
			201: {
				...json("AdminDrop", "The drop, with its id and the commitment to its shuffle's seed."),
				headers: { Location: { description: "The drop's promoter URL.", schema: { type: "string" } } },
			},
		},
		errors: {
			409: "open_drops_limit (openDrops): the promoter has its limit of drops not yet closed",
			400: "missing_field (capacity without ticketTypes; a type's capacity or slots)",
			413: "body_too_large: over 16 KiB, or over 8 MiB for a body with ticketTypes",
			422:
				"out_of_range, empty, too_short, too_long, invalid_format, invalid_time; ticket types: no_tickets, capacity_mismatch, duplicate_id, not_for_kind, " +
				"duplicate_seat, too_many_seats, too_many_sections, invalid_csv (seatsCsv; the error names its line)",
		},
	},
	{
		operationId: "listDrops",
		method: "GET",
		path: "/api/admin/drops",
		tag: "promoter",
		summary: "Drops, newest first",
		security: ["admin"],
		query: ListDropsQuery,
		answers: { 200: json("DropList", "A page; nextCursor is null on the last.") },
		errors: { 400: "invalid_type (limit), invalid_cursor", 422: "out_of_range (limit)" },
	},
	{
		operationId: "getDrop",
		method: "GET",
		path: "/api/admin/drops/:id",
		tag: "promoter",
		summary: "A drop with live stats",
		security: ["admin"],
		answers: { 200: json("AdminDropView", "The drop, its seed commitment and live stats.") },
		errors: { 404: "not_found" },
	},
	{
		operationId: "updateDrop",
		method: "PATCH",
		path: "/api/admin/drops/:id",
		tag: "promoter",
		summary: "Change a drop",
		description:
			"opensAt and lines change only before the opening (lines also only while nobody has joined); capacity, maxPerFan, shards, priceCents, currency and id never.",
		security: ["admin"],
		body: { schema: "PatchDropBody", required: true },
		answers: { 200: json("AdminDropView", "The drop as it is now.") },
		errors: {
			400: "empty_patch",
			404: "not_found",
			409: "open_drops_limit: moving closesAt would open a closed drop past the promoter's limit",
			422: "immutable_field, already_open, lines_in_use, invalid_time, out_of_range, empty, too_long, invalid_format",
		},
	},
	{
		operationId: "listSales",
		method: "GET",
		path: "/api/admin/drops/:id/sales",
		tag: "promoter",
		summary: "Sales recorded in D1",
		description: "JSON pages, or the whole export as CSV (streamed) with Accept: text/csv or format=csv.",
		security: ["admin"],
		query: SalesQuery,
		answers: { 200: { ...json("SalesPage", "A page of sales, oldest first; or the CSV."), csv: true } },
		errors: { 400: "invalid_type (limit), invalid_cursor", 404: "not_found", 422: "out_of_range (limit)" },
	},
	{
		operationId: "auditDrop",
		method: "GET",
		path: "/api/admin/drops/:id/audit",
		tag: "promoter",
		summary: "Every invariant, checked on live data",
		security: ["admin"],
		query: AuditQuery,
		answers: { 200: json("AuditReport", "Stock, sales against D1 by order id, admission order and load; ok when all hold.") },
		errors: { 400: "invalid_type (graceSeconds)", 404: "not_found", 422: "out_of_range (graceSeconds)" },
	},
	{
		operationId: "uploadSeats",
		method: "PUT",
		path: "/api/admin/drops/:id/ticket-types/:typeId/seats",
		tag: "promoter",
		summary: "Replace a seated type's seats with a CSV, before the opening",
		description:
			"The header id,section,row,number, then one seat a line (at most 100,000 seats a drop, 4 MiB). Checked whole first: an error names its line " +
			"(`line`, the header being 1) and nothing is stored. Answers the drop with the type's new capacity and sections.",
		security: ["admin"],
		csvBody: "id,section,row,number",
		answers: { 200: json("AdminDropView", "The drop as it is now.") },
		errors: {
			404: "not_found (drop or ticket type)",
			413: "body_too_large: over 4 MiB",
			415: "unsupported_media_type: not text/csv",
			422: "already_open, not_seated, invalid_csv (line), duplicate_seat (line), too_many_seats, too_many_sections, no_tickets, out_of_range",
		},
	},
	{
		operationId: "reconcileDrop",
		method: "POST",
		path: "/api/admin/drops/:id/reconcile",
		tag: "promoter",
		summary: "Send again the sales D1 still lacks",
		description: "Every sale of the drop sent over 10 minutes ago and still missing from D1 is sent again from its shard's outbox.",
		security: ["admin"],
		answers: { 200: json("Reconciled", "What was found and sent again.") },
		errors: { 404: "not_found" },
	},
	// Promoters, keys and the activity log (issue 17).
	{
		operationId: "createPromoter",
		method: "POST",
		path: "/api/admin/promoters",
		tag: "promoter",
		summary: "Create a promoter (the operator)",
		description: "Answers the promoter and its first owner key, shown once. limits: joinsPerMinute, adminRequestsPerMinute, openDrops (null or left out: none).",
		security: ["admin"],
		body: { schema: "CreatePromoterBody", required: true },
		answers: { 201: json("PromoterCreated", "The promoter, its first key's record and the key itself (apiKey).") },
		errors: { 422: "out_of_range, empty, too_long, invalid_format" },
	},
	{
		operationId: "listPromoters",
		method: "GET",
		path: "/api/admin/promoters",
		tag: "promoter",
		summary: "Promoters, newest first (the operator)",
		security: ["admin"],
		query: ListPromotersQuery,
		answers: { 200: json("PromoterList", "A page; nextCursor is null on the last.") },
		errors: { 400: "invalid_type (limit), invalid_cursor", 422: "out_of_range (limit)" },
	},
	{
		operationId: "updatePromoter",
		method: "PATCH",
		path: "/api/admin/promoters/:promoterId",
		tag: "promoter",
		summary: "Rename a promoter or set its limits (the operator)",
		description: "A limit left out stays; null lifts it. A join limit reaches every Worker isolate within a minute.",
		security: ["admin"],
		body: { schema: "PatchPromoterBody", required: true },
		answers: { 200: json("Promoter", "The promoter as it is now.") },
		errors: { 400: "empty_patch", 404: "not_found", 422: "out_of_range, empty, too_long, invalid_format" },
	},
	{
		operationId: "me",
		method: "GET",
		path: "/api/admin/me",
		tag: "promoter",
		summary: "Who the credential is: the operator, or a key, its role and its promoter",
		security: ["admin"],
		answers: { 200: json("Me", "The caller.") },
		errors: {},
	},
	{
		operationId: "mintKey",
		method: "POST",
		path: "/api/admin/keys",
		tag: "promoter",
		summary: "Mint an API key (owner or operator)",
		description: "role owner (everything of its promoter), staff (read only) or gate (the ticket scan only). The key is answered once; D1 keeps only its SHA-256.",
		security: ["admin"],
		body: { schema: "MintKeyBody", required: true },
		answers: { 201: json("ApiKeyMinted", "The key's record and the key itself.") },
		errors: { 400: "missing_field (promoterId, from the operator)", 404: "not_found (another promoter)", 422: "invalid_value, empty, too_long, invalid_format" },
	},
	{
		operationId: "listKeys",
		method: "GET",
		path: "/api/admin/keys",
		tag: "promoter",
		summary: "A promoter's keys, without secrets",
		security: ["admin"],
		query: KeysQuery,
		answers: { 200: json("KeyList", "Every key, revoked ones with revokedAt.") },
		errors: { 400: "missing_field (promoterId, from the operator)", 404: "not_found (another promoter)" },
	},
	{
		operationId: "revokeKey",
		method: "DELETE",
		path: "/api/admin/keys/:keyId",
		tag: "promoter",
		summary: "Revoke a key: refused from the next request on",
		security: ["admin"],
		answers: { 200: json("ApiKey", "The key, with revokedAt (revoking again changes nothing).") },
		errors: { 404: "not_found" },
	},
	{
		operationId: "listActivity",
		method: "GET",
		path: "/api/admin/activity",
		tag: "promoter",
		summary: "The activity log, newest first",
		description: "Every change made through the admin API, with the key's id and label (or the operator). A key reads its promoter's; the operator every entry, or one promoter's.",
		security: ["admin"],
		query: ActivityQuery,
		answers: { 200: json("ActivityPage", "A page; nextCursor is null on the last.") },
		errors: { 400: "invalid_type (limit), invalid_cursor", 404: "not_found (another promoter)", 422: "out_of_range (limit)" },
	},
	{
		operationId: "getPublicDrop",
		method: "GET",
		path: "/api/drops/:id",
		tag: "fan",
		summary: "A drop as fans see it",
		answers: { 200: json("PublicDrop", "Cacheable for a second.") },
		errors: { 404: "not_found", 503: "try_again: the drop could not be looked up just now" },
	},
	{
		operationId: "getAvailability",
		method: "GET",
		path: "/api/drops/:id/availability",
		tag: "fan",
		summary: "What is left per ticket type, slot and section, with the free seats row by row",
		description: "Gathered from the shards by the pacer at most once a second and cached like the watermark: a second or two old, never a call to the shards per request.",
		answers: { 200: json("Availability", "Cacheable for a second.") },
		errors: { 404: "not_found", 503: "try_again" },
	},
	{
		operationId: "getSeatMap",
		method: "GET",
		path: "/api/drops/:id/seats",
		tag: "fan",
		summary: "Every seat of the drop's seated types, for drawing the seat map",
		description: "From D1's seat directory, in the promoter's order; cached a minute (seats change only before the opening). What is free is in the availability.",
		query: SeatMapQuery,
		answers: { 200: json("SeatMap", "Cacheable for a minute.") },
		errors: { 404: "not_found", 422: "too_long (ticketType, section)", 503: "try_again" },
	},
	{
		operationId: "getFairness",
		method: "GET",
		path: "/api/drops/:id/fairness",
		tag: "fan",
		summary: "What anyone needs to re-derive the admission order",
		answers: { 200: json("Fairness", "The seed's commitment, the seed once open, and the pre-queue sizes.") },
		errors: { 404: "not_found", 503: "try_again" },
	},
	{
		operationId: "join",
		method: "POST",
		path: "/api/drops/:id/join",
		tag: "fan",
		summary: "Join the waiting room",
		description:
			"A rejoin under an id that has a place must send that place's fanSecret. A join after sell-out answers 200 status sold_out and stores nothing.",
		body: { schema: "JoinBody", required: false },
		answers: {
			201: json("JoinAnswer", "A new place, with the queue token to poll with and the fan's secret (shown once)."),
			200: json("JoinAnswer", "The same place again (a rejoin), or sold out."),
		},
		errors: {
			400: "missing_field (fanId)",
			401: "identity_required, invalid_identity, identity_expired (fan identity mode)",
			403: "turnstile_required, turnstile_failed",
			404: "not_found",
			409: "fan_id_taken (field fanSecret), drop_closed",
			422: "fan_mismatch, empty, too_short, too_long, invalid_format",
			429: "rate_limited",
			503: "try_again, challenge_unavailable, identity_unavailable",
		},
	},
	{
		operationId: "queueStatus",
		method: "GET",
		path: "/api/drops/:id/status",
		tag: "fan",
		summary: "Where a fan stands; the access token once admitted",
		security: ["queueToken"],
		answers: { 200: json("QueueStatus", "Poll again after pollAfterMs while waiting.") },
		errors: { ...AUTH_ERRORS, 404: "not_found, not_in_queue", 503: "not_ready, try_again" },
	},
	{
		operationId: "hold",
		method: "POST",
		path: "/api/drops/:id/holds",
		tag: "fan",
		summary: "Hold tickets",
		description:
			"The hold lasts holdSeconds, never past the end of the fan's turn. Only a hold that was made is remembered under its key: retrying a refused key asks again. " +
			"{quantity} holds the drop's first general-admission type; a ticketType's units: {ticketType, quantity} (general), {ticketType, slot, quantity} (timeslot), " +
			"{ticketType, seats, section?} (those seats, all or none) or {ticketType, quantity, section?} (the best available, side by side in one row where any are).",
		security: ["accessToken"],
		headers: [{ name: "Idempotency-Key", schema: IdempotencyKey, required: true }],
		body: { schema: "HoldBody", required: true },
		answers: {
			201: {
				...json("Hold", "The hold (a replay answers the same hold)."),
				headers: { "Idempotent-Replayed": { description: "true when this answers an earlier request with the same key.", schema: { type: "string" } } },
			},
		},
		errors: {
			...AUTH_ERRORS,
			400: "missing_idempotency_key, invalid_idempotency_key",
			404: "not_found",
			409: "sold_out, not_enough_left (available), seats_taken (seats), idempotency_key_conflict, drop_closed",
			410: "hold_expired: a named hold that ran out while its units were being claimed",
			422:
				"limit_exceeded (maxPerFan, alreadyHeldOrBought), type_limit_exceeded (the type's maxPerFan), out_of_range; named units: unknown_ticket_type, " +
				"unknown_slot, unknown_section, unknown_seat (seats), seat_not_in_type (seats), seats_apart, duplicate_seat, quantity_mismatch, not_for_type",
			503: "try_again: tickets are moving between shards, or a seat's shard did not answer",
		},
	},
	{
		operationId: "purchase",
		method: "POST",
		path: "/api/drops/:id/holds/:holdId/purchase",
		tag: "fan",
		summary: "Buy a hold",
		description: "A repeat answers the same order (its orderToken signed afresh); a retry never charges twice.",
		security: ["accessToken"],
		body: { schema: "PurchaseBody", required: true },
		answers: {
			201: {
				...json("Purchase", "The order, its tickets and the order token."),
				headers: { "Idempotent-Replayed": { description: "true on a repeat.", schema: { type: "string" } } },
			},
		},
		errors: {
			...AUTH_ERRORS,
			402: "payment_declined (holdId, holdKept): the hold is kept",
			404: "not_found",
			410: "hold_expired, hold_released",
			422: "payment_method_unavailable (field payment.method), invalid_value, empty, too_long, invalid_format",
		},
	},
	{
		operationId: "releaseHold",
		method: "DELETE",
		path: "/api/drops/:id/holds/:holdId",
		tag: "fan",
		summary: "Give a hold's tickets back",
		security: ["accessToken"],
		answers: { 204: { description: "Released (or already gone)." } },
		errors: { ...AUTH_ERRORS, 404: "not_found", 409: "already_purchased" },
	},
	{
		operationId: "getOrder",
		method: "GET",
		path: "/api/orders/:orderId",
		tag: "fan",
		summary: "An order and its ticket codes",
		description: "With the purchase's order token (a year), or the buyer's access token while their turn lasts. Anyone else's order, or an unknown one, is the same 404.",
		security: ["orderToken", "accessToken"],
		answers: { 200: json("OrderDetail", "The order, read from its shard, with its status, refunds and signed tickets from D1.") },
		errors: { 401: AUTH_ERRORS[401], 404: "not_found" },
	},
	// ── After the sale (issue 15) ──
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
			409: "already_used (scannedAt), ticket_refunded",
			422: "invalid_ticket, wrong_drop (field ticket), too_short, too_long",
		},
	},
	{
		operationId: "refundOrder",
		method: "POST",
		path: "/api/admin/drops/:id/orders/:orderId/refund",
		tag: "promoter",
		summary: "Refund an order, whole or some tickets",
		description: "Idempotent: tickets already refunded are left alone, so a repeat changes nothing (changed: false) and finishes a refund the provider had not answered.",
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
		summary: "Cancel a drop: pause it and refund its orders, a page per call",
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
		answers: { 200: json("OrderRetry", "A new Workflow run has started.") },
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
			"charge.refunded (in full) refunds the order's tickets. 404 when no webhook secret is set.",
		answers: { 200: json("WebhookAnswer", "Received.") },
		errors: { 400: "invalid_signature, signature_expired, invalid_event", 404: "not_found", 413: "body_too_large" },
	},
];

const BODY_ERRORS = {
	400: "invalid_json, missing_body, invalid_type, missing_field, unknown_field",
	413: `body_too_large: over ${MAX_BODY_BYTES} bytes`,
	415: "unsupported_media_type: not application/json",
};

const PATH_PARAMS: Record<string, { description: string; pattern?: string }> = {
	id: { description: "The drop's id.", pattern: DROP_ID.source },
	promoterId: { description: "A promoter's id (p_...)." },
	keyId: { description: "An API key's id (k_...), as listed; never the key itself." },
	holdId: { description: "A hold's id, as the hold answered it." },
	orderId: { description: "An order's id, as the purchase answered it." },
	typeId: { description: "A ticket type's id, as the drop lists it." },
};

type JsonSchema = Record<string, unknown>;

/** The router's path in OpenAPI's form: `/api/drops/:id` is `/api/drops/{id}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

/** A schema as a component's or a parameter's JSON Schema: no `$schema` or `$id` of its own. */
function bare(schema: JsonSchema): JsonSchema {
	const { $schema: _dialect, $id: _id, ...rest } = schema;
	return rest;
}

function components(): Record<string, JsonSchema> {
	const uri = (id: string) => `#/components/schemas/${id}`;
	const out: Record<string, JsonSchema> = {};
	for (const [named, io] of [
		[REQUEST_SCHEMAS, "input"],
		[answerSchemas(), "output"],
	] as const) {
		const registry = z.registry<{ id: string }>();
		for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
		const { schemas } = z.toJSONSchema(registry, { io, uri });
		for (const [id, schema] of Object.entries(schemas)) out[id] = bare(schema as JsonSchema);
	}
	return out;
}

const refTo = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const retryAfter = { "Retry-After": { description: "Whole seconds to wait, at least 1.", schema: { type: "integer", minimum: 1 } } };

function parameters(op: Operation): JsonSchema[] {
	const out: JsonSchema[] = [];
	for (const [, name] of op.path.matchAll(/:(\w+)/g)) {
		const param = PATH_PARAMS[name!];
		if (param === undefined) throw new Error(`no description of the path parameter ${name}`);
		out.push({ name, in: "path", required: true, description: param.description, schema: { type: "string", ...(param.pattern ? { pattern: param.pattern } : {}) } });
	}
	for (const [name, schema] of Object.entries(op.query?.shape ?? {})) {
		const rendered = bare(z.toJSONSchema(schema as z.ZodType, { io: "input" }) as JsonSchema);
		out.push({ name, in: "query", required: !(schema as z.ZodType).safeParse(undefined).success, description: rendered.description, schema: rendered });
	}
	for (const header of op.headers ?? []) {
		const rendered = bare(z.toJSONSchema(header.schema, { io: "input" }) as JsonSchema);
		out.push({ name: header.name, in: "header", required: header.required, description: rendered.description, schema: rendered });
	}
	return out;
}

function operation(op: Operation): JsonSchema {
	const responses: Record<string, JsonSchema> = {};
	for (const [status, answer] of Object.entries(op.answers)) {
		const content: JsonSchema = {};
		if (answer.body) content["application/json"] = { schema: refTo(answer.body) };
		if (answer.csv) content["text/csv"] = { schema: { type: "string" } };
		responses[status] = {
			description: answer.description,
			...(answer.headers ? { headers: answer.headers } : {}),
			...(Object.keys(content).length > 0 ? { content } : {}),
		};
	}
	const errors: Record<number, string> = { ...op.errors };
	if (op.body) {
		for (const [status, codes] of Object.entries(BODY_ERRORS)) {
			const n = Number(status);
			errors[n] = errors[n] ? `${codes}, ${errors[n]}` : codes;
		}
	}
	if (op.security?.includes("admin")) {
		errors[401] = "unauthorized: no valid admin token or API key, or a revoked one (with WWW-Authenticate)";
		errors[403] = "forbidden: the key's role may not do this (staff only reads, gate only scans, promoters are the operator's)";
		errors[429] = "rate_limited: the promoter's admin requests a minute";
	}
	errors[500] = "internal: never a stack or an internal message";
	for (const [status, codes] of Object.entries(errors)) {
		responses[status] = {
			description: codes,
			...(status === "429" || status === "503" ? { headers: retryAfter } : {}),
			content: { "application/json": { schema: refTo("ApiError") } },
		};
	}
	const params = parameters(op);
	return {
		operationId: op.operationId,
		tags: [op.tag],
		summary: op.summary,
		...(op.description ? { description: op.description } : {}),
		security: (op.security ?? []).map((name) => ({ [name]: [] })),
		...(params.length > 0 ? { parameters: params } : {}),
		...(op.body
			? { requestBody: { required: op.body.required, content: { "application/json": { schema: refTo(op.body.schema) } } } }
			: {}),
		...(op.csvBody ? { requestBody: { required: true, description: op.csvBody, content: { "text/csv": { schema: { type: "string" } } } } } : {}),
		responses,
	};
}

function render(): JsonSchema {
	const paths: Record<string, Record<string, JsonSchema>> = {};
	for (const op of OPERATIONS) {
		const path = (paths[openApiPath(op.path)] ??= {});
		path[op.method.toLowerCase()] = operation(op);
	}
	const bearer = (description: string) => ({ type: "http", scheme: "bearer", bearerFormat: "JWT", description });
	return {
		openapi: "3.1.0",
		info: {
			title: "Ticket-drop engine",
			version: "1",
			description:
				"A ticket drop with a virtual waiting room. JSON everywhere; every refusal is {\"error\": {\"code\", \"message\", \"field\"?}}: " +
				"400 malformed input, 422 a well-formed value that breaks a rule, 429 and 503 with Retry-After. " +
				"CORS preflights (OPTIONS) answer for the configured origins on every /api path.",
		},
		tags: [
			{ name: "fan", description: "Public, or with the fan's queue, access or order token." },
			{ name: "promoter", description: "Authorization: Bearer <ADMIN_TOKEN> (the operator) or a promoter's API key (tdk_...)." },
			{ name: "engine", description: "Health, keys, this document and the payment provider's webhook." },
			{ name: "gate", description: "Authorization: Bearer <a gate credential> (a gate or owner key of the drop's promoter, or the deployment's GATE_TOKEN), never the admin token." },
		],
		paths,
		components: {
			schemas: components(),
			securitySchemes: {
				admin: {
					type: "http",
					scheme: "bearer",
					description: "The deployment's ADMIN_TOKEN (the operator: every drop), or a promoter's API key (tdk_...: that promoter's drops, as its role allows).",
				},
				queueToken: bearer("The queueToken a join answered (or the newer one a status poll answered)."),
				accessToken: bearer("The accessToken a status poll answered once the fan was admitted; good until the end of their turn."),
				orderToken: bearer("The orderToken a purchase answered; reads that one order for a year."),
				gate: { type: "http", scheme: "bearer", description: "The gate's credential (GATE_TOKEN), not the admin token." },
			},
		},
	};
}

let document: JsonSchema | null = null;

/** Rendered once per isolate, on the first request for it: no cost at start-up. */
export function openApiDocument(): JsonSchema {
	return (document ??= render());
}
