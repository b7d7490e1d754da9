// The OpenAPI document's operations for a promoter's webhooks: endpoints made,
// listed, paused and resumed, and their deliveries listed and sent again. Owner
// keys only. And the access codes of a drop's sale windows. Rendered by openapi.ts. Pure.
import { DeliveriesQuery, WEBHOOK_EVENTS } from "../contract/requests";
import { type Operation, json } from "./openapi-operation";

const OWNER_ONLY = "An owner key of the promoter only (a staff or gate key, and the operator's token, are 403 forbidden).";

export const WEBHOOK_OPERATIONS: Operation[] = [
	{
		operationId: "createWebhook",
		method: "POST",
		path: "/api/admin/webhooks",
		tag: "promoter",
		summary: "Register a webhook endpoint; its signing secret is answered once",
		description: `${OWNER_ONLY} Events: ${WEBHOOK_EVENTS.join(", ")}. See docs/webhooks.md for payloads, the signature and retries.`,
		security: ["admin"],
		body: { schema: "CreateWebhookBody", required: true },
		answers: { 201: json("WebhookCreated", "The endpoint and its secret (shown once).") },
		errors: {
			400: "unknown_field, invalid_type",
			403: "forbidden",
			404: "not_found (dropId: not one of the promoter's drops)",
			409: "limit_reached (20 endpoints a promoter)",
			422: "invalid_url, invalid_value, out_of_range, empty, too_long",
		},
	},
	{
		operationId: "listWebhooks",
		method: "GET",
		path: "/api/admin/webhooks",
		tag: "promoter",
		summary: "The promoter's webhook endpoints, without secrets",
		description: OWNER_ONLY,
		security: ["admin"],
		answers: { 200: json("WebhookList", "Every endpoint, oldest first.") },
		errors: { 403: "forbidden" },
	},
	{
		operationId: "pauseWebhook",
		method: "POST",
		path: "/api/admin/webhooks/:webhookId/pause",
		tag: "promoter",
		summary: "Pause an endpoint: its deliveries wait, none is lost",
		description: OWNER_ONLY,
		security: ["admin"],
		answers: { 200: json("WebhookEndpoint", "The endpoint, paused (pausing again changes nothing).") },
		errors: { 403: "forbidden", 404: "not_found" },
	},
	{
		operationId: "resumeWebhook",
		method: "POST",
		path: "/api/admin/webhooks/:webhookId/resume",
		tag: "promoter",
		summary: "Resume an endpoint (paused by hand, or by a day of failing): its waiting deliveries go out",
		description: OWNER_ONLY,
		security: ["admin"],
		answers: { 200: json("WebhookEndpoint", "The endpoint, active (resuming again changes nothing).") },
		errors: { 403: "forbidden", 404: "not_found" },
	},
	{
		operationId: "listWebhookDeliveries",
		method: "GET",
		path: "/api/admin/webhooks/:webhookId/deliveries",
		tag: "promoter",
		summary: "An endpoint's deliveries, newest first: status, attempts, last response",
		description: OWNER_ONLY,
		security: ["admin"],
		query: DeliveriesQuery,
		answers: { 200: json("WebhookDeliveries", "A page; nextCursor is null on the last.") },
		errors: { 400: "invalid_type (limit), invalid_cursor", 403: "forbidden", 404: "not_found", 422: "out_of_range (limit)" },
	},
	{
		operationId: "resendWebhookDelivery",
		method: "POST",
		path: "/api/admin/webhooks/:webhookId/deliveries/:deliveryId/resend",
		tag: "promoter",
		summary: "Send a delivery again (the same event id), in its order's place",
		description: OWNER_ONLY,
		security: ["admin"],
		answers: { 200: json("WebhookDelivery", "The delivery, pending again.") },
		errors: { 403: "forbidden", 404: "not_found" },
	},
];

const CHANGE = "An owner key of the drop's promoter, or the operator's token; each change is in the activity log (codes.created, codes.revoked).";

/** The access codes of a drop's sale windows. */
export const CODE_GROUP_OPERATIONS: Operation[] = [
	{
		operationId: "createCodeGroup",
		method: "POST",
		path: "/api/admin/drops/:id/code-groups",
		tag: "promoter",
		summary: "Make a group of access codes for a sale window: unique codes, one shared code with a cap, or a list of fan ids",
		description: `${CHANGE} The codes are in this answer only (the engine keeps their HMAC-SHA256 under a key of the drop's): send Accept: text/csv to download them as CSV (one column, code). A registered window's codes are issued by the engine.`,
		security: ["admin"],
		body: { schema: "CreateCodeGroupBody", required: true },
		answers: { 201: json("CodeGroupCreated", "The group and its codes (shown once); as text/csv when asked for.") },
		errors: {
			400: "missing_field (count, cap or fans, by kind), invalid_type, unknown_field",
			403: "forbidden",
			404: "not_found",
			409: "limit_reached (200 groups a drop)",
			422: "unknown_window, codes_issued_by_engine, kind_mismatch, invalid_value, out_of_range",
		},
	},
	{
		operationId: "listCodeGroups",
		method: "GET",
		path: "/api/admin/drops/:id/code-groups",
		tag: "promoter",
		summary: "The drop's code groups, each with how many fans it let in (never the codes)",
		security: ["admin"],
		answers: { 200: json("CodeGroupList", "Every group, oldest first.") },
		errors: { 404: "not_found" },
	},
	{
		operationId: "revokeCodeGroup",
		method: "POST",
		path: "/api/admin/drops/:id/code-groups/:groupId/revoke",
		tag: "promoter",
		summary: "Revoke a code group: its codes (and listed fans) are refused from then on",
		description: `${CHANGE} Revoking again changes nothing.`,
		security: ["admin"],
		answers: { 200: json("CodeGroup", "The group, revoked.") },
		errors: { 403: "forbidden", 404: "not_found" },
	},
];
