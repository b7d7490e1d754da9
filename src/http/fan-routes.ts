// The fan API: the public view of a drop, join, status polls, holds,
// purchases and orders.
import { type IRequest, Router } from "itty-router";
import { estimatedWaitMs, pollAfterMs } from "../waiting-room/admission";
import type { Availability, SeatMap, Fairness, Hold, JoinAnswer, OrderDetail, PublicDrop, Purchase, QueueStatus } from "../contract/answers";
import { orderProgress } from "../after-sale/order-store";
import { HoldBody, IdempotencyKey, JoinBody, PurchaseBody } from "../contract/requests";
import { cachedAvailability } from "../inventory/availability";
import { seatMap } from "../drops/seat-map";
import { claimTargets } from "../inventory/named-holds";
import { holdRequest, holdRequestText } from "../drops/ticket-types";
import { shardOfId } from "../shared/ids";
import { DROP_ID, LIMITS, publicStatus } from "../drops/rules";
import { ApiError, notFound } from "../shared/errors";
import { homeShard } from "../inventory/drop-shards";
import { newFanSecret } from "../shared/fan-secret";
import { config } from "../shared/config";
import { fanIdFromIdentity, limitJoinsByClient, verifyTurnstile } from "../waiting-room/join-guard";
import { requireKnownDrop } from "../drops/known-drops";
import { type Outcome, failureOf, unwrap } from "../shared/outcome";
import type { HoldView } from "../inventory/ledger-store";
import { paymentProvider } from "../payments/providers";
import { admittedAt, lineOf, placedPosition, prequeuePosition } from "../waiting-room/placement";
import { ORDER_TYP, type QueueClaims, accessJti, invalidToken, peekToken, signAccessToken, signOrderToken, signQueueToken, verifyAccessToken, verifyOrderToken, verifyQueueToken } from "../shared/tokens";
import { parse } from "../shared/validation";
import { type JoinLimits, type JoinProof, type LineEntry } from "../waiting-room/waiting-line";
import { SHUFFLE_ALGORITHM, type Watermark } from "../waiting-room/waiting-room";
import { cachedWatermark } from "../waiting-room/watermark-cache";
import { lineStub, roomStub, shardStub } from "../shared/names";
import { bearerToken, readJson } from "../shared/request";
import { sha256Hex } from "../shared/crypto";

type Args = [Env, ExecutionContext];

export const fanRouter = Router<IRequest, Args>({ base: "/api" });

function dropIdOf(request: IRequest): string {
	const id = request.params.id;
	if (id === undefined || !DROP_ID.test(id)) throw notFound("drop");
	return id;
}

/** The drop's id, once D1 says it exists: nothing calls an object by the name of a drop that does not. */
async function knownDropId(request: IRequest, env: Env): Promise<string> {
	const id = dropIdOf(request);
	await requireKnownDrop(env, id);
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

async function watermark(env: Env, dropId: string, ctx?: ExecutionContext): Promise<Watermark> {
	return unwrap(await cachedWatermark(env, dropId, Date.now(), ctx));
}

const isClosed = (w: Watermark, now: number) => w.closesAt !== null && Date.parse(w.closesAt) <= now;

/** Joins an IP may make on each line: its share of the limit, with room for an uneven spread over lines. */
export function perIpPerLine(perIp: number, lines: number): number {
	return perIp === 0 ? 0 : Math.min(perIp, Math.ceil((2 * perIp) / lines));
}

/**
 * A line's share of its drop's joins a minute (the promoter's limit, all fans together):
 * fans spread evenly over lines by hash, so each line takes limit / lines, rounded up.
 */
export function perLineShare(joinsPerMinute: number | null, lines: number): number {
	return joinsPerMinute === null ? 0 : Math.max(1, Math.ceil(joinsPerMinute / lines));
}

/** Where the fan stands, from their position and the cached watermark. */
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

/**
 * Not placed yet. Before the opening: come back around it, not before a second
 * nor later than 30 s. After it (a join whose slot is being sealed): in about a second.
 */
function unplacedView(w: Watermark, now: number) {
	const untilOpen = Date.parse(w.opensAt) - now;
	const jitter = 0.9 + 0.2 * Math.random();
	return {
		position: null,
		ahead: w.opened ? Math.max(0, w.lastPosition - w.admittedThrough) : null,
		estimatedWaitMs: null,
		pollAfterMs: Math.round(w.opened ? 1_000 * jitter : Math.min(30_000, Math.max(1_000, untilOpen * jitter))),
		paused: w.paused,
		opensAt: w.opensAt,
		serverTime: new Date(now).toISOString(),
	};
}

type Place = Pick<QueueClaims, "line" | "prequeueSeq" | "slot" | "slotIndex">;

/**
 * A fan's position from public data: the pre-queue's from the revealed seed and
 * the lines' counts, a later join's from the published placements. Null while
 * not placed yet; "unlisted" when placed but no longer in the published window.
 */
function positionOf(w: Watermark, place: Place): number | null | "unlisted" {
	if (place.prequeueSeq !== null) {
		if (w.seed === null || w.prequeue === null) return null;
		return prequeuePosition(w.seed, w.prequeue, place.line, place.prequeueSeq);
	}
	if (w.sealedThrough === null || place.slot === null || place.slotIndex === null || place.slot > w.sealedThrough) return null;
	return placedPosition(w.placements, place.slot, place.line, place.slotIndex) ?? "unlisted";
}

async function resolvePosition(env: Env, w: Watermark, dropId: string, fanId: string, place: Place): Promise<number | null> {
	const known = positionOf(w, place);
	if (known !== "unlisted") return known;
	// Placed long ago and polling only now: the fan's line knows where.
	const entry = unwrap(await lineStub(env, dropId, place.line).locate({ fanId }));
	if (entry.position === null) throw new ApiError(503, "not_ready", "Your place is being settled; try again.", { retryAfter: 1 });
	return entry.position;
}

const placeOf = (entry: LineEntry): Place => ({ line: entry.line, prequeueSeq: entry.prequeueSeq, slot: entry.slot, slotIndex: entry.slotIndex });

/** What a fan needs to check their own place: their line and where they are in it. */
const placeView = (place: Place) => ({ line: place.line, prequeuePlace: place.prequeueSeq, slot: place.slot, slotIndex: place.slotIndex });

fanRouter.get("/drops/:id", async (request, env, ctx) => {
	const id = await knownDropId(request, env);
	const w = await watermark(env, id, ctx);
	const now = Date.now();
	const soldOut = w.soldOut || (w.remaining === 0 && w.held === 0);
	return Response.json(
		{
			id: w.dropId,
			name: w.name,
			opensAt: w.opensAt,
			closesAt: w.closesAt,
			status: publicStatus(w, soldOut, now),
			remaining: w.remaining,
			capacity: w.capacity,
			maxPerFan: w.maxPerFan,
			priceCents: w.priceCents,
			currency: w.currency,
			holdSeconds: w.holdSeconds,
			paused: w.paused,
			lines: w.lines,
			seedCommitment: w.seedCommitment,
			ticketTypes: w.ticketTypes,
			serverTime: new Date(now).toISOString(),
		} satisfies PublicDrop,
		{ headers: { "Cache-Control": "public, max-age=1" } },
	);
});

// What is left per type, slot and section (issue 14): from the Worker's copy of what the pacer
// gathered (src/inventory/availability.ts), at most a second or two old; never a call to the shards.
fanRouter.get("/drops/:id/availability", async (request, env, ctx) => {
	const id = await knownDropId(request, env);
	const doc = unwrap(await cachedAvailability(env, id, ctx));
	return Response.json({ ...doc, serverTime: new Date().toISOString() } satisfies Availability, { headers: { "Cache-Control": "public, max-age=1" } });
});

// Every seat with its section, row and number, for the seat map (src/drops/seat-map.ts): cached a minute.
fanRouter.get("/drops/:id/seats", async (request, env) => {
	const id = await knownDropId(request, env);
	return Response.json((await seatMap(env.DB, id, request.query)) satisfies SeatMap, { headers: { "Cache-Control": "public, max-age=60" } });
});

fanRouter.get("/drops/:id/fairness", async (request, env, ctx) => {
	const id = await knownDropId(request, env);
	const w = await watermark(env, id, ctx);
	return Response.json(
		{
			dropId: w.dropId,
			algorithm: SHUFFLE_ALGORITHM,
			seedCommitment: w.seedCommitment,
			seed: w.seed,
			lines: w.lines,
			prequeue: w.prequeue,
			prequeueSize: w.prequeue === null ? null : w.prequeue.reduce((a, b) => a + b, 0),
			admittedThrough: w.admittedThrough,
			lastPosition: w.lastPosition,
			opensAt: w.opensAt,
			serverTime: new Date().toISOString(),
		} satisfies Fairness,
		{ headers: { "Cache-Control": "public, max-age=1" } },
	);
});

fanRouter.post("/drops/:id/join", async (request, env, ctx) => {
	const ip = clientIp(request);
	// First, before anything the request says is looked at: joins per client across every drop.
	await limitJoinsByClient(env, ip);
	const dropId = dropIdOf(request);
	// Its promoter's join limit comes with the drop's existence, from this isolate's cache.
	const { joinsPerMinute } = await requireKnownDrop(env, dropId);
	// No body reads as {}; a JSON `null` body is a wrong type, not an absent one.
	const raw = await readJson(request, { optional: true });
	const body = parse(JoinBody, raw === undefined ? {} : raw);
	const settings = config(env);
	const identified = settings.fanIdentity !== null;
	let fanId: string;
	if (identified) {
		fanId = await fanIdFromIdentity(env, body.identityToken);
		if (body.fanId !== undefined && body.fanId !== fanId) {
			throw new ApiError(422, "fan_mismatch", `"fanId" must match the identity token, or be left out.`, { field: "fanId" });
		}
	} else {
		if (body.fanId === undefined) throw new ApiError(400, "missing_field", `"fanId" is required.`, { field: "fanId" });
		fanId = body.fanId;
	}
	await verifyTurnstile(env, body.turnstileToken, ip);
	const w = await watermark(env, dropId, ctx);
	const limits: JoinLimits = {
		perIp: perIpPerLine(settings.joinRatePerIp, w.lines),
		perFan: settings.joinRatePerFan,
		perLine: perLineShare(joinsPerMinute, w.lines),
		loopbackExempt: settings.loopbackExempt,
	};
	// Without identity mode the secret proves the fan: the one offered, which becomes theirs
	// if the id is new (a client that sends its own never loses it to a lost answer), or one made now.
	const fanSecret = identified ? null : (body.fanSecret ?? newFanSecret());
	const hash = fanSecret === null ? null : await sha256Hex(fanSecret);
	const proof: JoinProof = hash === null ? { kind: "identity" } : { kind: "secret", offered: body.fanSecret === undefined ? null : hash, fresh: hash };
	const line = lineStub(env, dropId, lineOf(fanId, w.lines));
	const joined = unwrap(await line.join({ fanId, ip, limits, acceptNew: !w.soldOut, proof }));
	const now = Date.now();
	if (joined.status === "sold_out") {
		// Nothing was stored: there is no place to keep, only the news.
		return Response.json(
			{ ...unplacedView(w, now), fanId, status: "sold_out", queueToken: null, fanSecret: null, rejoined: false, pollAfterMs: null } satisfies JoinAnswer,
			{ status: 200 },
		);
	}
	const place = placeOf(joined.entry);
	const known = positionOf(w, place);
	const position = joined.entry.position ?? (typeof known === "number" ? known : null);
	const queueToken = await signQueueToken(env, { dropId, fanId, position, ...place }, now);
	const view = position === null ? unplacedView(w, now) : queueView(w, position, now);
	const status = position !== null && position <= w.admittedThrough ? "admitted" : w.soldOut ? "sold_out" : "waiting";
	// The secret is shown once, in the answer that made the place; the line keeps only its hash.
	return Response.json(
		{ ...view, fanId, status, queueToken, fanSecret: joined.rejoined ? null : fanSecret, rejoined: joined.rejoined, ...placeView(place) } satisfies JoinAnswer,
		{ status: joined.rejoined ? 200 : 201 },
	);
});

/**
 * The claims of the request's queue token. A token the engine signed for this drop proves
 * the drop exists; a refused one is a 404 for a drop that does not, else the refusal.
 */
async function queueClaims(request: IRequest, env: Env, dropId: string): Promise<QueueClaims> {
	try {
		return await verifyQueueToken(env, requireBearer(request, "queue token"), dropId);
	} catch (err) {
		await requireKnownDrop(env, dropId);
		throw err;
	}
}

fanRouter.get("/drops/:id/status", async (request, env, ctx) => {
	const dropId = dropIdOf(request);
	const claims = await queueClaims(request, env, dropId);
	const now = Date.now();
	const w = await watermark(env, dropId, ctx);
	let position = claims.position;
	let queueToken: string | undefined;
	if (position === null) {
		// A fan not placed yet may have been admitted all the same (their token is older than their place).
		position = await resolvePosition(env, w, dropId, claims.fanId, claims);
		if (position === null) {
			const status = isClosed(w, now) ? "closed" : w.soldOut ? "sold_out" : "waiting";
			return { status, ...unplacedView(w, now), ...(status === "waiting" ? {} : { pollAfterMs: null }) } satisfies QueueStatus;
		}
		// Placed: a token that says where, so later polls need nothing but the watermark.
		queueToken = await signQueueToken(env, { ...claims, position }, now);
	}
	const view = { ...queueView(w, position, now), ...(queueToken ? { queueToken } : {}) };
	if (position <= w.admittedThrough) {
		const at = await admissionTime(env, w, dropId, position);
		const exp = at === null ? 0 : Math.floor((at + config(env).accessTokenSeconds * 1000) / 1000);
		if (at === null || exp * 1000 <= now) return { ...view, status: "expired", pollAfterMs: null } satisfies QueueStatus;
		// The grant is fixed by the batch that admitted the fan: the same jti and expiry on every poll.
		const jti = await accessJti(dropId, claims.fanId, position, at);
		const accessToken = await signAccessToken(env, { dropId, fanId: claims.fanId, jti, exp, shards: w.shards }, now);
		return {
			...view,
			status: "admitted",
			ahead: 0,
			estimatedWaitMs: 0,
			pollAfterMs: null,
			accessToken,
			accessExpiresAt: new Date(exp * 1000).toISOString(),
		} satisfies QueueStatus;
	}
	if (isClosed(w, now)) return { ...view, status: "closed", pollAfterMs: null } satisfies QueueStatus;
	if (w.soldOut) return { ...view, status: "sold_out", pollAfterMs: null } satisfies QueueStatus;
	return { ...view, status: "waiting" } satisfies QueueStatus;
});

/** When the batch that admitted `position` went in: from the watermark, or (rarely) the pacer; null when long past. */
async function admissionTime(env: Env, w: Watermark, dropId: string, position: number): Promise<number | null> {
	if (position > w.batchesFrom) return admittedAt(w.batches, position);
	// Admitted before every listed batch: longer ago than a turn lasts, unless the list was cut short.
	if (w.batchesComplete) return null;
	return unwrap(await roomStub(env, dropId).admittedAt({ position })).at;
}

async function accessFor(request: IRequest, env: Env, dropId: string) {
	return verifyAccessToken(env, requireBearer(request, "access token"), dropId);
}

fanRouter.post("/drops/:id/holds", async (request, env, ctx) => {
	const dropId = dropIdOf(request);
	const access = await accessFor(request, env, dropId);
	const key = request.headers.get("idempotency-key");
	if (key === null) throw new ApiError(400, "missing_idempotency_key", `Send an "Idempotency-Key" header with each new hold.`);
	if (!IdempotencyKey.safeParse(key).success) {
		throw new ApiError(400, "invalid_idempotency_key", `"Idempotency-Key" must be 1 to 128 letters, digits or . _ : -`);
	}
	const body = parse(HoldBody, await readJson(request));
	const w = await watermark(env, dropId, ctx);
	if (isClosed(w, Date.now())) throw new ApiError(409, "drop_closed", "This drop has closed.");
	const asked = holdRequest(body, w.ticketTypes);
	// No sold-out shortcut from the cached flag here: the shard answers, so a replayed key gets its
	// first answer and the per-fan limit is judged the same way before and after the last sale.
	const shard = shardStub(env, dropId, homeShard(access.fanId, access.shards));
	// The hold ends with the fan's turn at the latest: past it, they could neither buy nor release it.
	const outcome =
		asked.kind === "primary"
			? await shard.hold({ fanId: access.fanId, quantity: asked.quantity, idempotencyKey: key, notAfter: access.exp * 1000 })
			: // Named units: the fan's home shard judges their limits, the units' shard decides the units (src/inventory/named-holds.ts).
				await shard.holdNamed({
					fanId: access.fanId,
					idempotencyKey: key,
					notAfter: access.exp * 1000,
					request: holdRequestText(asked),
					typeId: asked.typeId,
					quantity: asked.quantity,
					seats: asked.kind === "seats" ? asked.seats : null,
					targets: await claimTargets(env, dropId, asked, access.shards, ctx),
				});
	const hold = unwrap(outcome as Outcome<HoldView>);
	return Response.json(hold satisfies Hold, { status: 201, headers: outcome.ok && outcome.replayed ? { "Idempotent-Replayed": "true" } : {} });
});

fanRouter.post("/drops/:id/holds/:holdId/purchase", async (request, env) => {
	const dropId = dropIdOf(request);
	const access = await accessFor(request, env, dropId);
	const shardIndex = shardOfId(request.params.holdId ?? "", "h", access.shards);
	if (shardIndex === null) throw notFound("hold");
	const { payment, email } = parse(PurchaseBody, await readJson(request));
	// Refused here too, before any object is asked (the shard checks again).
	unwrap(paymentProvider(env, payment.method));
	// One call: the hold's shard quotes, charges, and turns the hold into an order (or refunds).
	const outcome = await shardStub(env, dropId, shardIndex).purchase({ holdId: request.params.holdId!, fanId: access.fanId, payment, ...(email === undefined ? {} : { email }) });
	const order = unwrap(outcome);
	// The buyer's lasting key to this order, for reading it after their turn has ended. Its
	// year runs from the purchase, so a replay answers the same claims (signed afresh).
	const orderToken = await signOrderToken(env, { dropId, fanId: access.fanId, orderId: order.orderId }, Date.parse(order.createdAt));
	return Response.json({ ...order, orderToken } satisfies Purchase, { status: 201, headers: outcome.ok && outcome.replayed ? { "Idempotent-Replayed": "true" } : {} });
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
	const token = requireBearer(request, "order token or access token");
	// The token names its kind and its drop; it is verified as that kind, for that drop, right after.
	const { typ, dropId } = peekToken(token);
	if (dropId === undefined || !DROP_ID.test(dropId)) throw invalidToken();
	const orderId = request.params.orderId ?? "";
	let fanId: string;
	let shardIndex: number | null;
	if (typ === ORDER_TYP) {
		const claims = await verifyOrderToken(env, token, dropId);
		// Good for its own order only: any other id is the 404 of an unknown one, and no shard is asked.
		if (claims.orderId !== orderId) throw notFound("order");
		fanId = claims.fanId;
		// The id was made by one of the drop's shards and signed by us: its shard is real.
		shardIndex = shardOfId(orderId, "o", LIMITS.shards.max);
	} else {
		// Anything else is read as the access token of the buyer's turn, while it lasts.
		const access = await verifyAccessToken(env, token, dropId);
		fanId = access.fanId;
		shardIndex = shardOfId(orderId, "o", access.shards);
	}
	if (shardIndex === null) throw notFound("order");
	const order = unwrap(await shardStub(env, dropId, shardIndex).order({ orderId, fanId }));
	// Its status and signed tickets after the sale (issue 15), from D1.
	return { ...order, ...(await orderProgress(env.DB, orderId, order.tickets)) } satisfies OrderDetail;
});
