// The OpenAPI document's operations for the fan API: a drop's public view, its
// availability, seats and fairness, joining and polling the line, holds,
// purchases and orders. Rendered by openapi.ts. Pure.
import { FairnessQuery, IdempotencyKey } from "../contract/requests";
import { SeatMapQuery } from "../drops/seat-map";
import { AUTH_ERRORS, type Operation, json } from "./openapi-operation";

export const FAN_OPERATIONS: Operation[] = [
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
		description: "With ?window=ID, a sale window's own line: its seed's commitment (public from the drop's creation), the seed once the window opens, and its pre-queue sizes.",
		query: FairnessQuery,
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
			"A rejoin under an id that has a place must send that place's fanSecret. A join after sell-out gets a place (status sold_out, `returns` says how many tickets have come back): returned tickets are offered to the fans in line, in order, until the drop closes. While one of the drop's sale windows (presales) is open, a join is that window's: with its code (access code or registered) or on its list (access list); a unique code is bound to the first fan that uses it; a wrong code costs the client 10 joins of its join limit.",
		body: { schema: "JoinBody", required: false },
		answers: {
			201: json("JoinAnswer", "A new place, with the queue token to poll with and the fan's secret (shown once)."),
			200: json("JoinAnswer", "The same place again (a rejoin)."),
		},
		errors: {
			400: "missing_field (fanId)",
			401: "identity_required, invalid_identity, identity_expired (fan identity mode)",
			403: "turnstile_required, turnstile_failed, code_required, code_invalid, code_revoked",
			404: "not_found",
			409: "fan_id_taken (field fanSecret), drop_closed, drop_cancelled, code_used, code_exhausted",
			422: "fan_mismatch, empty, too_short, too_long, invalid_format",
			429: "rate_limited",
			503: "try_again (the line count is being changed), lines_changed, challenge_unavailable, identity_unavailable",
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
		errors: { ...AUTH_ERRORS, 404: "not_found, not_in_queue", 409: "drop_cancelled: no turn is granted on a cancelled drop", 503: "not_ready, try_again" },
	},
	{
		operationId: "notifyTurn",
		method: "POST",
		path: "/api/drops/:id/notify",
		tag: "fan",
		summary: "Be told by email when a returned ticket's turn comes",
		description:
			"For a fan in the drop's line with a position, not admitted yet, any time they wait (before or after a sell-out). One address per place in the line: a repeat replaces it. " +
			"The mail goes only when the fan's turn is the offer of a returned ticket after a sell-out (a normal turn during the sale sends none: the fan is watching the page then), " +
			"once the pacer has let the batch in: it says the turn has come, until when (the offer's end, in the drop's time zone) and the drop page's link, in the fan's language.",
		security: ["queueToken"],
		body: { schema: "NoticeBody", required: true },
		answers: { 200: json("TurnNotice", "Kept: the mail goes when a returned ticket's turn comes to this position.") },
		errors: {
			...AUTH_ERRORS,
			400: "invalid_json, missing_field, unknown_field, invalid_type",
			404: "not_found",
			409: "not_placed (the place is being settled: ask again), already_admitted, no_returns_line (a sale window's token), drop_closed, drop_cancelled",
			422: "too_short, too_long, invalid_format (email), invalid_value (locale)",
			503: "mail_unavailable (the deployment sends no email), not_ready, try_again",
		},
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
			409: "sold_out, not_enough_left (available), seats_taken (seats), idempotency_key_conflict, drop_closed, drop_cancelled, window_sold_out (a sale window's token: the window has sold all it may here), returns_in_line (after a sell-out, a turn from before it while fans wait for returned tickets)",
			410: "hold_expired: a named hold that ran out while its units were being claimed",
			422:
				"limit_exceeded (maxPerFan, alreadyHeldOrBought; with a sale window's token also the window's maxPerFan), type_limit_exceeded (the type's maxPerFan), window_type (ticketTypes: a sale window's token asking for a type the window does not sell), out_of_range; named units: unknown_ticket_type, " +
				"unknown_slot, unknown_section, unknown_seat (seats), seat_not_in_type (seats), seats_apart, duplicate_seat, quantity_mismatch, not_for_type",
			503: "try_again: tickets stayed on their way between shards for the whole wait (about a second), a shard did not answer within 3 s, or stock kept arriving and kept being taken by other holds",
		},
	},
	{
		operationId: "purchase",
		method: "POST",
		path: "/api/drops/:id/holds/:holdId/purchase",
		tag: "fan",
		summary: "Buy a hold",
		description:
			"A repeat answers the same order (its orderToken signed afresh); a retry never charges twice. A card that needs the fan's bank (3-D Secure) answers 202 " +
			"with the PaymentIntent's client secret: the fan finishes it with Stripe.js, and Stripe's webhook makes the order. Repeating the purchase meanwhile " +
			"answers the same 202 (no second payment), the order once the payment succeeded, or 402 when the bank refused it. A pause stops admission, not purchases.",
		security: ["accessToken"],
		body: { schema: "PurchaseBody", required: true },
		answers: {
			201: {
				...json("Purchase", "The order, its tickets and the order token."),
				headers: { "Idempotent-Replayed": { description: "true on a repeat.", schema: { type: "string" } } },
			},
			202: json("PaymentAction", "The payment waits on the fan's bank (3-D Secure): finish it with the client secret before expiresAt; the hold is kept until then."),
		},
		errors: {
			...AUTH_ERRORS,
			402: "payment_declined (holdId, holdKept): the hold is kept (also when the fan's bank refused a 3-D Secure check)",
			404: "not_found",
			409: "drop_cancelled: refused before any charge; a charge under way when the cancel reached the shard is refunded",
			410: "hold_expired, hold_released",
			422: "payment_method_unavailable (field payment.method), invalid_value, empty, too_long, invalid_format",
			503: "try_again (holdId, holdKept, retryAfter): the payment provider did not answer within 30 s; the charge stays open, and the retry or the shard's alarm asks again under its key",
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
];
