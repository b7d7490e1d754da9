// The fan API: the public view of a drop, join, status polls, holds,
// purchases and orders.
import { type IRequest, Router } from "itty-router";
import { decodeJwt } from "jose";
import { estimatedWaitMs, pollAfterMs } from "./admission";
import { shardOfId } from "./codes";
import { DROP_ID, publicStatus } from "./drops";
import { getDrop } from "./drops-store";
import { ApiError, bearerToken, notFound, readJson } from "./http";
import { homeShard, inventoryTotals, shardStub } from "./inventory";
import { fanIdFromIdentity, fanIdentityEnabled, verifyTurnstile } from "./join-guard";
import { failureOf, unwrap } from "./outcome";
import { PAYMENT_METHODS, paymentProvider } from "./payments";
import { signAccessToken, signQueueToken, verifyAccessToken, verifyQueueToken } from "./tokens";
import { parse } from "./validation";
import type { JoinLimits, Watermark } from "./waiting-room";
import { roomName } from "./waiting-room";
import { cachedWatermark } from "./watermark-cache";

type Args = [Env, ExecutionContext];

export const fanRouter = Router<IRequest, Args>({ base: "/api" });

const FAN_ID = /^[A-Za-z0-9._:@+-]+$/;

const joinSchema = {
	fanId: { kind: "string", minLength: 1, maxLength: 128, pattern: FAN_ID, patternHint: "may use letters, digits and . _ : @ + -", optional: true },
	turnstileToken: { kind: "string", minLength: 1, maxLength: 2048, optional: true },
	identityToken: { kind: "string", minLength: 1, maxLength: 8192, optional: true },
} as const;

const holdSchema = { quantity: { kind: "int", min: 1, max: 20 } } as const;

const purchaseSchema = {
	payment: {
		kind: "object",
		fields: {
			method: { kind: "enum", values: PAYMENT_METHODS },
			token: { kind: "string", minLength: 1, maxLength: 256 },
		},
	},
} as const;

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

function dropIdOf(request: IRequest): string {
	const id = request.params.id;
	if (id === undefined || !DROP_ID.test(id)) throw notFound("drop");
	return id;
}

function requireBearer(request: IRequest, what: string): string {
	const token = bearerToken(request);
	if (token === null) {
		throw new ApiError(401, "missing_token", `Send your ${what} as "Authorization: Bearer <token>".`, {}, { "WWW-Authenticate": "Bearer" });
	}
	return token;
}

const clientIp = (request: Request) => request.headers.get("cf-connecting-ip");

const DEFAULT_JOIN_RATE_PER_IP = 120;
const DEFAULT_JOIN_RATE_PER_FAN = 20;

/** A join limit from configuration: "0" turns it off; a value that is not a whole number keeps the default rather than silently lifting the limit. */
function joinLimit(raw: string, fallback: number): number {
	return /^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : fallback;
}

async function watermark(env: Env, dropId: string): Promise<Watermark> {
	return unwrap(await cachedWatermark(env, dropId));
}

/** Where the fan stands, from the token's position and the cached watermark. */
function queueView(w: Watermark, position: number, now: number) {
	const ahead = Math.max(0, position - w.admittedThrough - 1);
	const wait = w.paused ? null : estimatedWaitMs(ahead + 1, w.pacePerSecond);
	return {
		position,
		ahead,
		estimatedWaitMs: wait,
		pollAfterMs: w.paused ? 5_000 : pollAfterMs(wait ?? 0),
		paused: w.paused,
		opensAt: w.opensAt,
		serverTime: new Date(now).toISOString(),
	};
}

/** Before the open: come back around the opening, not before a second nor later than 30 s. */
function prequeueView(w: Watermark, now: number) {
	const untilOpen = Date.parse(w.opensAt) - now;
	return {
		position: null,
		ahead: null,
		estimatedWaitMs: null,
		pollAfterMs: Math.round(Math.min(30_000, Math.max(1_000, untilOpen * (0.9 + 0.2 * Math.random())))),
		paused: w.paused,
		opensAt: w.opensAt,
		serverTime: new Date(now).toISOString(),
	};
}

fanRouter.get("/drops/:id", async (request, env) => {
	const id = dropIdOf(request);
	const drop = await getDrop(env.DB, id);
	if (drop === null) throw notFound("drop");
	const now = Date.now();
	const [w, totals] = await Promise.all([watermark(env, id), inventoryTotals(env, id, drop.shards)]);
	const soldOut = w.soldOut || (totals.remaining === 0 && totals.held === 0);
	return Response.json(
		{
			id: drop.id,
			name: drop.name,
			opensAt: drop.opensAt,
			closesAt: drop.closesAt,
			status: publicStatus(drop, soldOut, now),
			remaining: totals.remaining,
			capacity: drop.capacity,
			maxPerFan: drop.maxPerFan,
			priceCents: drop.priceCents,
			currency: drop.currency,
			holdSeconds: drop.holdSeconds,
			paused: drop.paused,
			serverTime: new Date(now).toISOString(),
		},
		{ headers: { "Cache-Control": "public, max-age=1" } },
	);
});

fanRouter.post("/drops/:id/join", async (request, env) => {
	const dropId = dropIdOf(request);
	// No body reads as {}; a JSON `null` body is a wrong type, not an absent one.
	const raw = await readJson(request, { optional: true });
	const body = parse(joinSchema, raw === undefined ? {} : raw);
	const ip = clientIp(request);
	let fanId: string;
	if (fanIdentityEnabled(env)) {
		fanId = await fanIdFromIdentity(env, body.identityToken);
		if (body.fanId !== undefined && body.fanId !== fanId) {
			throw new ApiError(422, "fan_mismatch", `"fanId" must match the identity token, or be left out.`, { field: "fanId" });
		}
	} else {
		if (body.fanId === undefined) throw new ApiError(400, "missing_field", `"fanId" is required.`, { field: "fanId" });
		fanId = body.fanId;
	}
	await verifyTurnstile(env, body.turnstileToken, ip);
	const limits: JoinLimits = {
		perIp: joinLimit(env.JOIN_RATE_PER_IP, DEFAULT_JOIN_RATE_PER_IP),
		perFan: joinLimit(env.JOIN_RATE_PER_FAN, DEFAULT_JOIN_RATE_PER_FAN),
		loopbackExempt: env.RATE_LIMIT_LOOPBACK_EXEMPT === "true",
	};
	const outcome = await env.WAITING_ROOM.getByName(roomName(dropId)).join({ fanId, ip, limits });
	const failure = failureOf(outcome);
	if (failure?.status === 429) {
		const retryAfter = String(failure.details?.retryAfter ?? 60);
		throw new ApiError(429, failure.code, failure.message, { retryAfter: Number(retryAfter) }, { "Retry-After": retryAfter });
	}
	const joined = unwrap(outcome);
	const now = Date.now();
	const [queueToken, w] = await Promise.all([
		signQueueToken(env, { dropId, fanId, position: joined.position }, now),
		watermark(env, dropId),
	]);
	const view = joined.position === null ? prequeueView(w, now) : queueView(w, joined.position, now);
	return Response.json({ ...view, fanId, status: joined.status, queueToken, rejoined: joined.rejoined }, { status: joined.rejoined ? 200 : 201 });
});

fanRouter.get("/drops/:id/status", async (request, env) => {
	const dropId = dropIdOf(request);
	const claims = await verifyQueueToken(env, requireBearer(request, "queue token"), dropId);
	const now = Date.now();
	const w = await watermark(env, dropId);
	let position = claims.position;
	let queueToken: string | undefined;
	if (position === null) {
		if (!w.opened) return { status: w.closed ? "closed" : "waiting", ...prequeueView(w, now) };
		// The shuffle has placed the fan: one call to learn where, then a token that says so.
		position = unwrap(await env.WAITING_ROOM.getByName(roomName(dropId)).locate({ fanId: claims.fanId })).position;
		if (position === null) throw new ApiError(503, "not_ready", "The queue is being ordered; try again.", {}, { "Retry-After": "1" });
		queueToken = await signQueueToken(env, { dropId, fanId: claims.fanId, position }, now);
	}
	const view = { ...queueView(w, position, now), ...(queueToken ? { queueToken } : {}) };
	if (position <= w.admittedThrough) {
		const room = env.WAITING_ROOM.getByName(roomName(dropId));
		const grant = await room.claimAccess({ fanId: claims.fanId });
		if (failureOf(grant)?.code === "access_expired") return { ...view, status: "expired", pollAfterMs: null };
		const { jti, exp } = unwrap(grant);
		const accessToken = await signAccessToken(env, { dropId, fanId: claims.fanId, jti, exp, shards: w.shards }, now);
		return { ...view, status: "admitted", ahead: 0, estimatedWaitMs: 0, pollAfterMs: null, accessToken, accessExpiresAt: new Date(exp * 1000).toISOString() };
	}
	if (w.closed) return { ...view, status: "closed", pollAfterMs: null };
	if (w.soldOut) return { ...view, status: "sold_out", pollAfterMs: null };
	return { ...view, status: "waiting" };
});

async function accessFor(request: IRequest, env: Env, dropId: string) {
	return verifyAccessToken(env, requireBearer(request, "access token"), dropId);
}

fanRouter.post("/drops/:id/holds", async (request, env) => {
	const dropId = dropIdOf(request);
	const access = await accessFor(request, env, dropId);
	const key = request.headers.get("idempotency-key");
	if (key === null) throw new ApiError(400, "missing_idempotency_key", `Send an "Idempotency-Key" header with each new hold.`);
	if (!IDEMPOTENCY_KEY.test(key)) {
		throw new ApiError(400, "invalid_idempotency_key", `"Idempotency-Key" must be 1 to 128 letters, digits or . _ : -`);
	}
	const { quantity } = parse(holdSchema, await readJson(request));
	const w = await watermark(env, dropId);
	if (w.closed) throw new ApiError(409, "drop_closed", "This drop has closed.");
	// Sold out is final (no stock, no holds that could come back), so the cached flag may answer.
	if (w.soldOut) throw new ApiError(409, "sold_out", "No tickets are left to hold.");
	const shard = shardStub(env, dropId, homeShard(access.fanId, access.shards));
	const outcome = await shard.hold({ fanId: access.fanId, quantity, idempotencyKey: key });
	const hold = unwrap(outcome);
	return Response.json(hold, { status: 201, headers: outcome.ok && outcome.replayed ? { "Idempotent-Replayed": "true" } : {} });
});

fanRouter.post("/drops/:id/holds/:holdId/purchase", async (request, env, ctx) => {
	const dropId = dropIdOf(request);
	const access = await accessFor(request, env, dropId);
	const shardIndex = shardOfId(request.params.holdId ?? "", "h", access.shards);
	if (shardIndex === null) throw notFound("hold");
	const { payment } = parse(purchaseSchema, await readJson(request));
	const shard = shardStub(env, dropId, shardIndex);
	const holdId = request.params.holdId!;
	const quote = unwrap(await shard.quote({ holdId, fanId: access.fanId }));
	if ("orderId" in quote) return Response.json(quote, { status: 201, headers: { "Idempotent-Replayed": "true" } });

	const provider = paymentProvider(payment.method);
	const charge = await provider.charge({ reference: holdId, amountCents: quote.totalCents, currency: quote.currency, token: payment.token });
	if (charge.status === "declined") {
		throw new ApiError(402, "payment_declined", charge.reason, { holdId, holdKept: true });
	}
	const outcome = await shard.completePurchase({ holdId, fanId: access.fanId, paymentId: charge.paymentId });
	if (failureOf(outcome)?.status === 410) {
		// The hold ran out while the payment ran: exactly one outcome, and it is this one.
		await provider.refund(charge.paymentId);
	}
	const order = unwrap(outcome);
	ctx.waitUntil(
		env.WAITING_ROOM.getByName(roomName(dropId))
			.fanCompleted({ fanId: access.fanId })
			.catch((err: unknown) => console.warn("fanCompleted failed", err)),
	);
	return Response.json(order, { status: 201 });
});

fanRouter.delete("/drops/:id/holds/:holdId", async (request, env) => {
	const dropId = dropIdOf(request);
	const access = await accessFor(request, env, dropId);
	const shardIndex = shardOfId(request.params.holdId ?? "", "h", access.shards);
	if (shardIndex === null) throw notFound("hold");
	unwrap(await shardStub(env, dropId, shardIndex).release({ holdId: request.params.holdId!, fanId: access.fanId }));
	return new Response(null, { status: 204 });
});

fanRouter.get("/orders/:orderId", async (request, env) => {
	const token = requireBearer(request, "access token");
	// The token names its drop; it is verified against that drop right after.
	let dropId: string | undefined;
	try {
		const aud = decodeJwt(token).aud;
		const first = Array.isArray(aud) ? aud[0] : aud;
		dropId = first?.startsWith("drop:") ? first.slice(5) : undefined;
	} catch {
		dropId = undefined;
	}
	if (dropId === undefined || !DROP_ID.test(dropId)) throw new ApiError(401, "invalid_token", "The token is not valid here.");
	const access = await verifyAccessToken(env, token, dropId);
	const shardIndex = shardOfId(request.params.orderId ?? "", "o", access.shards);
	if (shardIndex === null) throw notFound("order");
	return unwrap(await shardStub(env, dropId, shardIndex).order({ orderId: request.params.orderId!, fanId: access.fanId }));
});
