// The OpenAPI document's operations for a registered sale window: a fan's
// registration and its verification, the public draw, and the promoter's draw.
// Rendered by openapi.ts. Pure.
import { DrawQuery } from "../contract/registrations";
import { type Operation, json } from "./openapi-operation";

const PROTECTIONS = "The join's protections, in the join's order: the client's join limit (429 with Retry-After), fan identity mode (an identity token, one registration per fan), Turnstile.";

export const REGISTRATION_OPERATIONS: Operation[] = [
	{
		operationId: "register",
		method: "POST",
		path: "/api/drops/:id/registrations",
		tag: "fan",
		summary: "Register an email for a registered sale window's draw",
		description: `${PROTECTIONS} An 8-digit code is mailed to the address in the fan's language (good for 30 minutes, 5 tries). One address is one registration per window (case and spaces do not matter): asking again renews an unverified code at most once a minute and otherwise mails nothing; the answer is the same either way.`,
		body: { schema: "RegisterBody", required: true },
		answers: { 202: json("RegistrationSent", "A code is on its way (or was sent within the minute, or the address is verified already).") },
		errors: {
			400: "missing_field (window, when the drop has several registered windows), unknown_field, invalid_type",
			401: "identity_required, invalid_identity, identity_expired",
			403: "turnstile_required, turnstile_failed",
			404: "not_found: no such drop, or no registered window of this id",
			409: "registration_not_open, registration_closed (the time has passed or the draw is made), already_registered (identity mode: this fan with another address), registration_full (200,000 a window)",
			422: "invalid_format (email), too_long, invalid_value (locale)",
			429: "rate_limited",
			503: "mail_unavailable (this deployment sends no email), challenge_unavailable, identity_unavailable, try_again",
		},
	},
	{
		operationId: "verifyRegistration",
		method: "POST",
		path: "/api/drops/:id/registrations/verify",
		tag: "fan",
		summary: "Verify a registration's address with its mailed code",
		description: "Only verified registrations are drawn. A wrong code costs the client 10 joins of its join limit, as a wrong presale code does, and counts on the registration: after 5, or 30 minutes, the code is void (register again for a new one). An address never registered answers as a wrong code does. The answer's registrationId is the fan's opaque id in the draw's public list.",
		body: { schema: "VerifyRegistrationBody", required: true },
		answers: { 200: json("RegistrationVerified", "Verified (again: the same id).") },
		errors: {
			400: "missing_field, unknown_field, invalid_type",
			403: "verification_invalid",
			404: "not_found",
			409: "registration_not_open, registration_closed",
			410: "verification_expired",
			422: "invalid_format (email), too_long",
			429: "rate_limited",
		},
	},
	{
		operationId: "getDraw",
		method: "GET",
		path: "/api/drops/:id/draw",
		tag: "fan",
		summary: "A registered window's draw, as anyone re-derives it",
		description:
			"Before the draw: the seed's commitment (made no later than the first registration). After: the seed, every registration id drawn from and the ids invited (never an email); `npm run verify-fairness -- --drop ID --draw` re-derives the invited ids from this answer alone. A read never draws: the cron draws within a minute of the registration's close, or the promoter at once.",
		query: DrawQuery,
		answers: { 200: json("Draw", "Cacheable for 5 s before the draw, a minute after it.") },
		errors: { 400: "missing_field (window, when the drop has several registered windows)", 404: "not_found", 503: "try_again" },
	},
	{
		operationId: "drawWindow",
		method: "POST",
		path: "/api/admin/drops/:id/windows/:windowId/draw",
		tag: "promoter",
		summary: "Draw a registered window now that its registration has closed",
		description:
			"The cron draws every window within a minute of its registration's close; this makes it at once. One draw per window however many ask (two requests, the cron): the first answers 201, the rest 200 with the same draw. The invited fans' unique codes are a code group issued by the engine; the emails go out with the draw and the minute's cron (500 a run). Owner keys and the operator's token; a draw made is in the activity log (draw.made).",
		security: ["admin"],
		answers: { 201: json("DrawMade", "Drawn by this request."), 200: json("DrawMade", "Drawn before.") },
		errors: { 403: "forbidden", 404: "not_found: no such drop, or no sale window of this id", 409: "registration_open, too_many_groups", 422: "not_registered: the window is not drawn from registrations" },
	},
];
