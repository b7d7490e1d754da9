// What the API takes: every request body, query and header the routes parse,
// besides the drop's create and patch bodies (src/drops/rules.ts). What it answers is
// in the answers files beside this one (src/contract/answers.ts names them all);
// src/http/openapi.ts renders both as the OpenAPI document.
// The field kinds, and why zod, are in src/shared/validation.ts. Pure.
import * as z from "zod";
import { FAN_SECRET } from "../shared/fan-secret";
import { int, object, oneOf, parse, text, time } from "../shared/validation";

const FAN_ID = /^[A-Za-z0-9._:@+-]+$/;

/** Every method the engine knows; whether one is enabled is a deployment's choice (see paymentProvider). */
export const PAYMENT_METHODS = ["test", "stripe"];

/** The languages the engine writes to fans in (its emails; the fan page speaks the same ones). */
export const LOCALES = ["en", "de", "fr", "es", "ja"] as const;
export type Locale = (typeof LOCALES)[number];

/** The body of POST /api/drops/:id/join (no body reads as `{}`). */
export const JoinBody = object({
	fanId: text(1, 128, { pattern: FAN_ID, hint: "may use letters, digits and . _ : @ + -" })
		.optional()
		.meta({ description: "Required unless fan identity mode is on (then it may be left out, or must match the identity token)." }),
	turnstileToken: text(1, 2048).optional().meta({ description: "Where a Turnstile challenge is configured." }),
	identityToken: text(1, 8192).optional().meta({ description: "In fan identity mode: the promoter's signed identity token." }),
	fanSecret: text(32, 128, { pattern: FAN_SECRET, hint: "must be base64url: letters, digits, - and _" })
		.optional()
		.meta({ description: "The secret of this fan id's first join; a new id takes the one sent (or gets one made)." }),
	code: text(1, 64).optional().meta({ description: "While a sale window with access code or registered is open: the fan's code (case, spaces and dashes do not matter)." }),
});

/** A ticket type's id, and a unit's (a seat's or a slot's): formats a hold and a drop's types share. */
export const TYPE_ID = /^[A-Za-z0-9_-]{1,32}$/;
export const UNIT_ID = /^[A-Za-z0-9._:-]{1,64}$/;
export const idText = (pattern: RegExp, what: string) => text(1, pattern === TYPE_ID ? 32 : 64, { pattern, hint: `must be 1 to ${pattern === TYPE_ID ? 32 : 64} ${what}` });
export const unitId = () => idText(UNIT_ID, "letters, digits or . _ : -");

/** The body of POST /api/drops/:id/holds: a general hold `{quantity}`, or a type's units. */
export const HoldBody = object({
	quantity: int(1, 20).optional().meta({ description: "How many; required unless `seats` names them." }),
	ticketType: idText(TYPE_ID, "letters, digits, _ or -").optional().meta({ description: "The drop's first general-admission type when left out." }),
	seats: z.array(unitId()).min(1).max(20).optional().meta({ description: "seated: these seats, all in one section (all or none)." }),
	section: text(1, 32).optional().meta({ description: "seated: the section of `seats` (saves a lookup), or where to find the best available." }),
	slot: unitId().optional().meta({ description: "timeslot: the slot." }),
});
export type HoldBody = z.output<typeof HoldBody>;

/** The body of POST /api/drops/:id/holds/:holdId/purchase. */
export const PurchaseBody = object({
	payment: object({
		method: oneOf(PAYMENT_METHODS),
		token: text(1, 256).meta({ description: 'With the test method: "ok" or "decline"; with "stripe", a PaymentMethod id (pm_…).' }),
	}),
	email: text(3, 254, { pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/, hint: "must be an email address" })
		.optional()
		.meta({ description: "Where the receipt goes; no receipt without it." }),
	locale: oneOf(LOCALES)
		.optional()
		.meta({ description: "The fan's language: the receipt is written in it (English when left out)." }),
});

/** The header that makes a hold safe to retry. */
export const IdempotencyKey = z
	.string()
	.regex(/^[A-Za-z0-9._:-]{1,128}$/)
	.meta({ description: "1 to 128 letters, digits or . _ : -; the same key answers the same hold." });

/** A query parameter holding a whole number: not one is 400, out of range 422, left out the fallback. */
function wholeNumber(min: number, max: number, fallback: number) {
	return z
		.string()
		.refine((raw) => /^\d{1,9}$/.test(raw), { params: { code: "invalid_type", status: 400 }, error: "must be a whole number" })
		.meta({ pattern: "^\\d{1,9}$", description: `A whole number from ${min} to ${max}; ${fallback} when left out.` })
		.transform(Number)
		.pipe(int(min, max))
		.optional()
		.transform((n) => n ?? fallback);
}

const encodeParts = (parts: [string, string]) => btoa(JSON.stringify(parts)).replace(/=+$/, "");

/** The (sort key, id) a cursor carries, or null when it is not one this API gave out. */
function cursorParts(raw: string): [string, string] | null {
	try {
		const parts = JSON.parse(atob(raw)) as unknown;
		if (Array.isArray(parts) && parts.length === 2 && parts.every((p) => typeof p === "string" && p.length <= 200)) {
			return parts as [string, string];
		}
	} catch {
		// not base64 or not JSON
	}
	return null;
}

/** A page's position, opaque to clients: the `nextCursor` of the page before. */
const cursor = z
	.string()
	.refine((raw) => cursorParts(raw) !== null, { params: { code: "invalid_cursor", status: 400 }, error: "is not one this API gave out" })
	.meta({ description: "The nextCursor of the previous page." })
	.transform((raw) => cursorParts(raw)!)
	.optional();

/** The cursor for the page after one that ended at this (sort key, id). */
export const nextCursor = (page: unknown[], limit: number, last: [string, string] | null) =>
	page.length === limit && last !== null ? encodeParts(last) : null;

export const ListDropsQuery = z.object({ limit: wholeNumber(1, 200, 50), cursor });

/** The query of GET /api/admin/drops/:id/queue-stats. */
export const QueueStatsQuery = z.object({
	format: z.enum(["json", "csv"]).optional().meta({ description: '"csv" for the minutes as CSV (as with Accept: text/csv); JSON otherwise.' }),
});

export const FairnessQuery = z.object({
	window: idText(TYPE_ID, "letters, digits, _ or -").optional().meta({ description: "A sale window's id: its own line's seed, commitment and pre-queue; the general sale's when left out." }),
});

export const SalesQuery = z.object({
	limit: wholeNumber(1, 1000, 100),
	cursor,
	format: z.string().optional().meta({ description: '"csv" for the whole CSV export (as with Accept: text/csv); the JSON pages otherwise.' }),
	q: text(1, 254)
		.optional()
		.meta({
			description:
				"Only the orders it finds: the order with that id or ticket code (exactly), else those whose buyer's email holds it (ASCII letters in any case); pages with the same cursor, and narrows the CSV too.",
		}),
});

/** How long a sent sale may take to reach D1 before the audit counts it lost, unless the promoter asks otherwise. */
const DEFAULT_GRACE_SECONDS = 30;

export const AuditQuery = z.object({
	graceSeconds: wholeNumber(0, 3600, DEFAULT_GRACE_SECONDS),
});

// Promoters, keys and the activity log.

export const PROMOTER_ID = /^p_[A-Za-z0-9_-]{16}$/;
export const KEY_ID = /^k_[A-Za-z0-9_-]{16}$/;

const limitField = (min: number, max: number, what: string) =>
	int(min, max).nullable().optional().meta({ description: `${what}; null lifts the limit, left out keeps it.` });

const PromoterLimits = object({
	joinsPerMinute: limitField(1, 10_000_000, "Joins a minute each of the promoter's drops takes, all fans together"),
	adminRequestsPerMinute: limitField(1, 100_000, "Admin requests a minute, all the promoter's keys together"),
	openDrops: limitField(0, 100_000, "Drops not yet closed at once (0 stops new drops)"),
});

/** The body of POST /api/admin/promoters (the operator). */
export const CreatePromoterBody = object({ name: text(1, 120), limits: PromoterLimits.optional() });

/** The body of PATCH /api/admin/promoters/:promoterId (the operator). */
export const PatchPromoterBody = object({ name: text(1, 120).optional(), limits: PromoterLimits.optional() });

/** The body of POST /api/admin/keys. */
export const MintKeyBody = object({
	label: text(1, 80),
	role: oneOf(["owner", "staff", "gate"] as const),
	promoterId: text(1, 64).optional().meta({ description: "Whose key: required from the operator; a promoter's own key may leave it out." }),
});

export const ListPromotersQuery = ListDropsQuery;

export const KeysQuery = z.object({
	promoterId: z.string().optional().meta({ description: "The operator names whose keys; a key lists its own promoter's." }),
});

export const ActivityQuery = z.object({
	limit: wholeNumber(1, 200, 50),
	cursor,
	promoterId: z.string().optional().meta({ description: "The operator may ask for one promoter's; a key sees its own promoter's." }),
});

/** A route's query, parsed: parameters it does not know are ignored, a repeated one counts once (its first value). */
export function parseQuery<S extends z.ZodType>(schema: S, raw: Record<string, string | string[] | undefined>): z.output<S> {
	const first: Record<string, string> = {};
	for (const [key, value] of Object.entries(raw)) {
		const one = Array.isArray(value) ? value[0] : value;
		if (one !== undefined) first[key] = one;
	}
	return parse(schema, first);
}

// ── After the sale ───────────────────────────────────────────────────────────

/** The body of POST /api/admin/drops/:id/scan: the ticket's signed token, as its QR code holds it. */
export const ScanBody = object({
	ticket: text(10, 2048).meta({ description: "What the gate scanned: the ticket's rotating code (`<token>~<window>~<code>`) or, where the drop allows it, its bare token (a compact ES256 JWT)." }),
	device: text(1, 64)
		.optional()
		.meta({ description: "The registered gate device (its id) that asks: an admission counts toward it and its gate. A device of another drop or none is 404, a revoked one 403 device_revoked; nothing is admitted." }),
});

/** The body of PATCH /api/admin/drops/:id/gate. */
export const PatchGateBody = object({
	staticQr: z.boolean().meta({ description: "false: only a ticket's rotating code admits at this drop's gate, not its bare token (a static QR code, a screenshot)." }),
});

/** The body of PATCH /api/admin/drops/:id/transfers: either field, or both. */
export const PatchTransfersBody = object({
	enabled: z.boolean().optional().meta({ description: "false: no ticket of this drop may be transferred (nor a pending transfer accepted)." }),
	deadline: time().nullable().optional().meta({ description: "After it no transfer may be made or accepted; null removes it." }),
});

/**
 * The body of POST /api/transfers/:transferId/accept, optional: the key the recipient's device made to read the
 * ticket with, so an accept whose answer was lost is repeated with it and answers the same ticket.
 */
export const AcceptTransferBody = object({
	holderKey: z
		.string()
		.regex(/^[A-Za-z0-9_-]{43,128}$/, "must be 43 to 128 URL-safe base64 characters (at least 32 random bytes)")
		.optional()
		.meta({ description: "At least 32 random bytes, URL-safe base64, made and kept on the recipient's device; the engine keeps its SHA-256." }),
});

/** The body of PATCH /api/admin/drops/:id/resale: any of the fields; a fee in cents or in percent, not both. */
export const PatchResaleBody = object({
	enabled: z.boolean().optional().meta({ description: "true: holders may list tickets for resale at face value; false: no new listing (open ones stay on offer)." }),
	feeCents: int(0, 100_000_000).optional().meta({ description: "The promoter's fee per ticket resold, in cents, taken from the seller's refund (never more than the face value)." }),
	feePercent: int(0, 100).optional().meta({ description: "Or the fee as a percent of the face value, rounded down; 422 fee_conflict when both end up above zero." }),
});

/** What a gate device says it did with a scan. */
export const SCAN_RESULTS = ["admitted", "refused"] as const;

const B64URL_43 = /^[A-Za-z0-9_-]{43}$/;

/** The body of POST /api/admin/drops/:id/gate/devices: the device's name and the public half of the key pair it made. */
export const RegisterDeviceBody = object({
	name: text(1, 80).meta({ description: "What the promoter page calls the device: \"North door, phone 2\"." }),
	gate: text(1, 80).optional().meta({ description: "The gate (an entrance) it scans at: \"North entrance\". Its admissions count toward it. Left out: \"Main gate\"." }),
	publicKey: object({
		kty: oneOf(["EC"]),
		crv: oneOf(["P-256"]),
		x: text(43, 43, { pattern: B64URL_43, hint: "must be 43 base64url characters" }),
		y: text(43, 43, { pattern: B64URL_43, hint: "must be 43 base64url characters" }),
	}).meta({ description: "The public JWK of the ECDSA P-256 key pair the device made (WebCrypto); its private half never leaves the device. Other JWK fields are refused." }),
});

/** The body of POST /api/admin/drops/:id/gate/devices/:deviceId/scans: up to 50 scans, each signed by the device. */
export const UploadScansBody = object({
	scans: z
		.array(
			object({
				scanId: text(8, 64, { pattern: /^[A-Za-z0-9_-]+$/, hint: "must be 8 to 64 letters, digits, _ or -" }).meta({ description: "The device's own id for the scan: an upload repeated writes it once." }),
				ticket: text(1, 64, { pattern: /^[A-Za-z0-9-]+$/, hint: "must be a ticket code" }).meta({ description: "The ticket's code." }),
				at: time().meta({ description: "When the device scanned it; not more than 5 minutes ahead of the engine's clock." }),
				result: oneOf(SCAN_RESULTS),
				reason: text(1, 80).optional().meta({ description: "Why a refused scan was refused, in the device's words." }),
				signature: text(86, 86, { pattern: /^[A-Za-z0-9_-]{86}$/, hint: "must be 86 base64url characters" }).meta({
					description: "ECDSA P-256 SHA-256 (r‖s, base64url) by the device's key of `gate-scan\\n<dropId>\\n<deviceId>\\n<scanId>\\n<ticket>\\n<at>\\n<result>`, `at` as the engine writes it back (UTC, milliseconds: `toISOString()`).",
				}),
			}),
		)
		.min(1, { error: "must have at least 1 scan" })
		.max(50, { error: "must have at most 50 scans" }),
});
export type UploadScansBody = z.output<typeof UploadScansBody>;

/** The body of POST /api/admin/drops/:id/code-groups: a group of unique codes, one shared code with a cap, or a list of fans. */
export const CreateCodeGroupBody = object({
	windowId: idText(TYPE_ID, "letters, digits, _ or -").meta({ description: "The sale window the group opens (a code window for unique and shared, a list window for list)." }),
	kind: oneOf(["unique", "shared", "list"] as const),
	name: text(1, 120).meta({ description: "What the promoter calls it: \"Fan club\", \"AMEX\"." }),
	count: int(1, 10_000).optional().meta({ description: "unique: how many codes to make (required)." }),
	cap: int(1, 10_000_000).optional().meta({ description: "shared: the most fans its one code admits (required)." }),
	fans: z.array(text(1, 128, { pattern: FAN_ID, hint: "may use letters, digits and . _ : @ + -" })).min(1).max(10_000).optional().meta({ description: "list: the fan ids (as fans join: the identity token's subject in identity mode) let into the window (required)." }),
});

/** The body of POST /api/admin/drops/:id/orders/:orderId/refund (no body: the whole order, not put back on sale). */
export const RefundBody = object({
	tickets: z
		.array(text(1, 64))
		.min(1)
		.max(20)
		.optional()
		.meta({ description: "Ticket codes of the order to refund; left out: every ticket not refunded yet." }),
	restock: z.boolean().optional().meta({ description: "true: the refunded tickets go back on sale through the drop's shards." }),
});

/** The body of POST /api/admin/drops/:id/cancel (may be left out). */
export const CancelBody = object({ restock: z.boolean().optional().meta({ description: "Put refunded tickets back on sale (usually not, for a cancelled drop)." }) });

export const RefundsQuery = z.object({ limit: wholeNumber(1, 1000, 100), cursor });

export const DevMailQuery = z.object({
	orderId: z.string().max(64).optional().meta({ description: "One order's mail (a registration's: its id)." }),
	// The dev mailbox stands in for a fan's inbox in local runs: a registration's code is mailed before the fan knows its id.
	to: z.string().max(254).optional().meta({ description: "One address's mail, as it was registered." }),
	limit: wholeNumber(1, 200, 50),
});

// Webhooks.

/** Every event a webhook endpoint may ask for. */
export const WEBHOOK_EVENTS = [
	"order.paid",
	"order.ticketed",
	"order.refunded",
	"order.failed",
	"drop.opened",
	"drop.sold_out",
	"drop.cancelled",
	"ticket.transferred",
	"resale.listed",
	"resale.sold",
	"resale.ended",
	"presale.drawn",
] as const;
export const WEBHOOK_ID = /^wh_[A-Za-z0-9_-]{16}$/;
export const DELIVERY_ID = /^wd_[0-9a-f]{24}$/;

/** https, or http to this machine only (for trying an endpoint out locally); no credentials in the URL. */
export function webhookUrlAllowed(raw: string): boolean {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return false;
	}
	if (url.username !== "" || url.password !== "") return false;
	if (url.protocol === "https:") return true;
	return url.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost");
}

/** The body of POST /api/admin/webhooks (an owner key). */
export const CreateWebhookBody = object({
	url: text(1, 2048)
		.refine(webhookUrlAllowed, { params: { code: "invalid_url", status: 422 }, error: "must be an https URL (http only to 127.0.0.1 or localhost), without credentials" })
		.meta({ description: "Where deliveries are POSTed: https, or http://127.0.0.1 / http://localhost for local testing." }),
	events: z
		.array(oneOf(WEBHOOK_EVENTS))
		.min(1, { error: "must name at least one event" })
		.max(WEBHOOK_EVENTS.length)
		.meta({ description: "The events it wants (each once)." }),
	dropId: text(1, 64).optional().meta({ description: "Only this drop's events (one of the promoter's drops); left out: every drop of the promoter." }),
});

export const DeliveriesQuery = z.object({ limit: wholeNumber(1, 200, 50), cursor });
