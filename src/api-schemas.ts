// The HTTP contract as schemas: every request body, query and header the routes
// take, and every answer they give. The routes parse their input with these and
// type their answers with them (`satisfies`); src/openapi.ts renders them as the
// OpenAPI document. The drop's own schemas (create, patch, the drop) are in
// src/drops.ts, the field kinds and the reason for zod in src/validation.ts.
import { DEFAULT_GRACE_SECONDS } from "./audit";
import { Drop } from "./drops";
import { FAN_SECRET } from "./fan-secret";
import { PAYMENT_METHODS } from "./payments";
import { int, object, oneOf, parse, text, z } from "./validation";

// ---- Requests -------------------------------------------------------------

const FAN_ID = /^[A-Za-z0-9._:@+-]+$/;

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
});

/** The body of POST /api/drops/:id/holds. */
export const HoldBody = object({ quantity: int(1, 20) });

/** The body of POST /api/drops/:id/holds/:holdId/purchase. */
export const PurchaseBody = object({
	payment: object({
		method: oneOf(PAYMENT_METHODS),
		token: text(1, 256).meta({ description: 'With the test method: "ok" or "decline".' }),
	}),
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

/** A page's position, opaque to clients: the `nextCursor` of the page before. */
const cursor = z
	.string()
	.meta({ description: "The nextCursor of the previous page." })
	.transform((raw, ctx): [string, string] => {
		try {
			const parts = JSON.parse(atob(raw)) as unknown;
			if (Array.isArray(parts) && parts.length === 2 && parts.every((p) => typeof p === "string" && p.length <= 200)) {
				return parts as [string, string];
			}
		} catch {
			// not base64 or not JSON: refused below
		}
		ctx.issues.push({ code: "custom", input: raw, params: { code: "invalid_cursor", status: 400 }, message: "is not one this API gave out" });
		return z.NEVER;
	})
	.optional();

/** The cursor for the page after one that ended at this (sort key, id). */
export const nextCursor = (page: unknown[], limit: number, last: [string, string] | null) =>
	page.length === limit && last !== null ? encodeParts(last) : null;

/** Queries ignore parameters they do not know; a repeated one counts once (its first value). */
const query = <S extends z.ZodRawShape>(shape: S) => z.object(shape);

export const ListDropsQuery = query({ limit: wholeNumber(1, 200, 50), cursor });

export const SalesQuery = query({
	limit: wholeNumber(1, 1000, 100),
	cursor,
	format: z.string().optional().meta({ description: '"csv" for the whole CSV export (as with Accept: text/csv); the JSON pages otherwise.' }),
});

export const AuditQuery = query({
	graceSeconds: wholeNumber(0, 3600, DEFAULT_GRACE_SECONDS),
});

/** A route's query, parsed: the first value of a repeated parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, raw: Record<string, string | string[] | undefined>): z.output<S> {
	const first: Record<string, string> = {};
	for (const [key, value] of Object.entries(raw)) {
		const one = Array.isArray(value) ? value[0] : value;
		if (one !== undefined) first[key] = one;
	}
	return parse(schema, first);
}

// ---- Answers --------------------------------------------------------------

const instant = () => z.iso.datetime();
const count = () => z.int().min(0);
const hex64 = () => z.string().regex(/^[0-9a-f]{64}$/);
const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();

/** Every refusal: `{"error": {"code", "message", ...}}`, with the details a code carries. */
export const ApiErrorBody = z.strictObject({
	error: z.strictObject({
		code: z.string().meta({ description: "Stable, machine-readable; see each status for the codes it carries." }),
		message: z.string().meta({ description: "For people; never a stack or an internal message." }),
		field: z.string().optional().meta({ description: "The input at fault, as a dotted path (payment.method, admission.batchSize)." }),
		retryAfter: z.int().min(1).optional().meta({ description: "On every 429 and 503: whole seconds, as in the Retry-After header." }),
		available: count().optional().meta({ description: "not_enough_left: tickets left." }),
		maxPerFan: z.int().optional().meta({ description: "limit_exceeded: the drop's limit per fan." }),
		alreadyHeldOrBought: count().optional().meta({ description: "limit_exceeded: tickets the fan already holds or bought." }),
		holdId: z.string().optional().meta({ description: "payment_declined: the hold, which is kept." }),
		holdKept: z.boolean().optional(),
	}),
});

export const Health = z.strictObject({ ok: z.literal(true), time: instant() });

export const Jwks = z.strictObject({
	keys: z.array(
		z.strictObject({
			kty: z.literal("EC"),
			crv: z.literal("P-256"),
			x: z.string(),
			y: z.string(),
			kid: z.string(),
			alg: z.literal("ES256"),
			use: z.literal("sig"),
		}),
	),
});

export const OpenApiDocument = z.looseObject({
	openapi: z.literal("3.1.0"),
	info: z.looseObject({ title: z.string(), version: z.string() }),
	paths: z.record(z.string(), z.unknown()),
});

const dropStatus = z.enum(["scheduled", "open", "sold_out", "closed"]);

export const PublicDrop = z.strictObject({
	id: z.string(),
	name: z.string(),
	opensAt: instant(),
	closesAt: nullable(instant()),
	status: dropStatus,
	remaining: count().meta({ description: "At most a second or two old." }),
	capacity: z.int(),
	maxPerFan: z.int(),
	priceCents: count(),
	currency: z.string(),
	holdSeconds: z.int(),
	paused: z.boolean(),
	lines: z.int(),
	seedCommitment: hex64().meta({ description: "SHA-256 of the shuffle's seed, public from creation." }),
	serverTime: instant(),
});

export const Fairness = z.strictObject({
	dropId: z.string(),
	algorithm: z.string(),
	seedCommitment: hex64(),
	seed: nullable(z.string()).meta({ description: "Null before the opening." }),
	lines: z.int(),
	prequeue: nullable(z.array(count())).meta({ description: "Each line's pre-queue size; null before the opening." }),
	prequeueSize: nullable(count()),
	admittedThrough: count(),
	lastPosition: count(),
	opensAt: instant(),
	serverTime: instant(),
});

/** Where a fan stands, as every join and poll tells it. */
const queueFields = {
	position: nullable(z.int().min(1)).meta({ description: "Null in the pre-queue until the opening, and until the pacer places a later join." }),
	ahead: nullable(count()),
	estimatedWaitMs: nullable(count()),
	pollAfterMs: nullable(count()).meta({ description: "When to poll again; null once there is nothing to wait for." }),
	paused: z.boolean(),
	opensAt: instant(),
	serverTime: instant(),
};

const placeFields = {
	line: count(),
	prequeuePlace: nullable(z.int().min(1)).meta({ description: "The fan's place in their line's pre-queue, or null." }),
	slot: nullable(count()),
	slotIndex: nullable(count()),
};

export const JoinAnswer = z.union([
	z.strictObject({
		...queueFields,
		...placeFields,
		fanId: z.string(),
		status: z.enum(["waiting", "admitted", "sold_out"]),
		queueToken: z.string(),
		fanSecret: nullable(z.string()).meta({ description: "Shown once, in the answer that made the place; null on a rejoin and in fan identity mode." }),
		rejoined: z.boolean(),
	}),
	z.strictObject({
		...queueFields,
		fanId: z.string(),
		status: z.literal("sold_out"),
		queueToken: z.null(),
		fanSecret: z.null(),
		rejoined: z.literal(false),
	}),
]);

export const QueueStatus = z.strictObject({
	...queueFields,
	status: z.enum(["waiting", "admitted", "sold_out", "expired", "closed"]),
	queueToken: z.string().optional().meta({ description: "A new queue token once a fan without a position has been placed: use it from then on." }),
	accessToken: z.string().optional().meta({ description: "Once admitted: the token for holds and purchases." }),
	accessExpiresAt: instant().optional(),
});

export const Hold = z.strictObject({ holdId: z.string(), quantity: z.int().min(1), expiresAt: instant() });

export const Order = z.strictObject({
	orderId: z.string(),
	dropId: z.string(),
	holdId: z.string(),
	quantity: z.int().min(1),
	tickets: z.array(z.string()),
	unitPriceCents: count(),
	totalCents: count(),
	currency: z.string(),
	createdAt: instant(),
});

export const Purchase = Order.extend({
	orderToken: z.string().meta({ description: "Reads this order for a year from the purchase (GET /api/orders/:orderId)." }),
});

export const AdminDrop = Drop.extend({ seedCommitment: hex64() });

export const AdminDropView = AdminDrop.extend({
	stats: z.strictObject({
		joined: count(),
		waiting: count(),
		admitted: count(),
		held: count(),
		sold: count(),
		remaining: count(),
		recorded: count().meta({ description: "Orders in D1." }),
		recordedTickets: count(),
	}),
});

export const DropList = z.strictObject({ drops: z.array(Drop), nextCursor: nullable(z.string()) });

export const Sale = z.strictObject({
	orderId: z.string(),
	createdAt: instant(),
	recordedAt: instant(),
	fanId: z.string(),
	quantity: z.int().min(1),
	unitPriceCents: count(),
	totalCents: count(),
	currency: z.string(),
	paymentId: z.string(),
	shard: count(),
	tickets: z.array(z.string()),
});

export const SalesPage = z.strictObject({ dropId: z.string(), sales: z.array(Sale), nextCursor: nullable(z.string()) });

const idSample = () =>
	z.strictObject({ count: count(), ids: z.array(z.string()).meta({ description: "The first ids in id order, at most 50." }) });

const ShardAudit = z.strictObject({
	shard: count(),
	allocation: count(),
	remaining: count(),
	held: count(),
	sold: count(),
	buyers: count(),
	received: count(),
	given: count(),
	orders: count(),
	activeHolds: count(),
	outboxPending: count(),
	transfersPending: count(),
	accountable: z.int(),
	recentlySent: count(),
	unreconciledCharges: count(),
	recorded: count(),
	missingInD1: idSample(),
	inTransit: idSample(),
	unknownInD1: idSample(),
});

const LineAudit = z.strictObject({
	line: count(),
	joined: count(),
	prequeue: count(),
	consistent: z.boolean(),
	slots: z.array(z.strictObject({ slot: count(), count: count(), start: nullable(z.int().min(1)) })),
});

const objectKind = z.enum(["room", "line", "shard"]);

export const AuditReport = z.strictObject({
	dropId: z.string(),
	capacity: z.int(),
	shards: z.array(ShardAudit),
	totals: z.strictObject({ sold: count(), held: count(), remaining: count(), orders: count(), inFlight: z.int() }),
	recorded: count(),
	recordedTickets: count(),
	outboxPending: count(),
	inTransit: count(),
	oversold: count(),
	lost: count(),
	phantom: count(),
	unreconciledCharges: count(),
	otherShardsInD1: idSample(),
	balanced: z.boolean(),
	admission: z.strictObject({
		seed: nullable(z.string()),
		seedCommitment: hex64(),
		commitmentVerified: nullable(z.boolean()),
		openedAt: nullable(instant()),
		prequeueSize: count(),
		prequeue: nullable(z.array(count())),
		algorithm: z.string(),
		shuffleVerified: nullable(z.boolean()),
		admittedThrough: count(),
		admittedInOrder: z.boolean(),
		placed: count(),
		batches: count(),
		largestBatch: count(),
		closestBatchesMs: nullable(count()),
		lines: z.array(LineAudit),
	}),
	load: z.strictObject({
		fans: count(),
		objects: z.array(z.strictObject({ kind: objectKind, index: count(), requests: count() })),
		hottest: nullable(z.strictObject({ kind: objectKind, index: count(), requests: count(), perFan: z.number().min(0) })),
	}),
	ok: z.boolean(),
});

export const Reconciled = z.strictObject({
	dropId: z.string(),
	resent: count().meta({ description: "Sales sent again." }),
	missingInD1: count().meta({ description: "Sales missing from D1 and sent over 10 minutes ago." }),
	inTransit: count().meta({ description: "Sales missing but newer: left to the pipeline." }),
	unknownInD1: count().meta({ description: "Rows in D1 no shard sold (never touched)." }),
});

export type JoinAnswer = z.output<typeof JoinAnswer>;
export type QueueStatus = z.output<typeof QueueStatus>;
export type PublicDrop = z.output<typeof PublicDrop>;
export type Fairness = z.output<typeof Fairness>;
export type Hold = z.output<typeof Hold>;
export type Order = z.output<typeof Order>;
export type Purchase = z.output<typeof Purchase>;
export type AdminDrop = z.output<typeof AdminDrop>;
export type AdminDropView = z.output<typeof AdminDropView>;
export type DropList = z.output<typeof DropList>;
export type SalesPage = z.output<typeof SalesPage>;
export type AuditReport = z.output<typeof AuditReport>;
export type Reconciled = z.output<typeof Reconciled>;
export type Health = z.output<typeof Health>;
export type Jwks = z.output<typeof Jwks>;
