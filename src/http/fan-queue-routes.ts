// The fan API's line: joining the waiting room and polling it. A join goes to the
// fan's line (by the hash of their id) once the client, the challenge and the
// identity have been checked; a poll answers from the signed queue token and the
// cached watermark, and only rarely (a fan placed or admitted long ago) asks their
// line or the pacer. The access a poll grants is fixed by the batch that admitted
// the fan: the same token id and expiry on every poll.
import { type IRequest, Router } from "itty-router";
import type { JoinAnswer, QueueStatus } from "../contract/fan-answers";
import { JoinBody } from "../contract/requests";
import { requireKnownDrop } from "../drops/known-drops";
import { hasClosed } from "../drops/rules";
import { dropState, refusal } from "../drops/lifecycle";
import { config } from "../shared/config";
import { sha256Hex } from "../shared/crypto";
import { ApiError } from "../shared/errors";
import { newFanSecret } from "../shared/fan-secret";
import { lineStub, roomKey, roomStub } from "../shared/names";
import { failureOf, ok, unwrap } from "../shared/outcome";
import { readJson } from "../shared/request";
import { type QueueClaims, accessJti, signAccessToken, signQueueToken, verifyQueueToken } from "../shared/tokens";
import { parse } from "../shared/validation";
import { chargeWrongCode, fanIdFromIdentity, limitJoinsByClient, verifyTurnstile } from "../waiting-room/join-guard";
import { claimAccess } from "../waiting-room/access-codes";
import { listWindowAhead, presaleForJoin } from "../drops/presales";
import { lineOf, placedPosition, prequeuePosition } from "../waiting-room/placement";
import { accessGrant, admissionSource } from "../waiting-room/access-grant";
import { dropIdOf, requireBearer, watermark } from "./fan-request";
import type { JoinLimits, JoinProof, LineEntry } from "../waiting-room/line-core";
import { unplacedPollMs, waitView } from "../waiting-room/wait-view";
import type { Watermark } from "../waiting-room/watermark";
import { forgetWatermark } from "../waiting-room/watermark-cache";

type Args = [Env, ExecutionContext];

export const fanQueueRoutes = Router<IRequest, Args>({ base: "/api" });

const clientIp = (request: Request) => request.headers.get("cf-connecting-ip");

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

/**
 * Where the fan stands, every figure from the one watermark: the fans ahead are the
 * positions between the last admitted and theirs, their place among those still waiting
 * is one more, and the wait and the polling advice are waitView's for that place.
 */
function queueView(w: Watermark, position: number, now: number) {
	const ahead = Math.max(0, position - w.admittedThrough - 1);
	const place = ahead + 1;
	const { estimatedWaitMs, waitUnknown, pollAfterMs } = waitView(w, place, now);
	return {
		position,
		place,
		ahead,
		estimatedWaitMs,
		waitUnknown,
		admittedPerMinute: w.admittedPerMinute,
		pollAfterMs,
		returns: returnsView(w),
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
	return {
		position: null,
		place: null,
		ahead: w.opened ? Math.max(0, w.lastPosition - w.admittedThrough) : null,
		estimatedWaitMs: null,
		waitUnknown: "not_placed" as const,
		admittedPerMinute: w.admittedPerMinute,
		pollAfterMs: unplacedPollMs(w, now),
		returns: returnsView(w),
		paused: w.paused,
		opensAt: w.opensAt,
		serverTime: new Date(now).toISOString(),
	};
}

/**
 * After a sell-out, the honest news for fans still in line: the tickets that have come back and are not sold again
 * (held by a fan offered one, or free for the next offer), and the fans offered one so far. Null before any sell-out.
 */
function returnsView(w: Watermark) {
	if (w.returnsFrom === null) return null;
	return { ticketsBack: Math.max(0, w.capacity - w.sold), offered: Math.max(0, w.admittedThrough - w.returnsFrom) };
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

export async function resolvePosition(env: Env, w: Watermark, room: string, fanId: string, place: Place): Promise<number | null> {
	const known = positionOf(w, place);
	if (known !== "unlisted") return known;
	// Placed long ago and polling only now: the fan's line knows where.
	const entry = unwrap(await lineStub(env, room, place.line).locate({ fanId }));
	if (entry.position === null) throw new ApiError(503, "not_ready", "Your place is being settled; try again.", { retryAfter: 1 });
	return entry.position;
}

const placeOf = (entry: LineEntry): Place => ({ line: entry.line, prequeueSeq: entry.prequeueSeq, slot: entry.slot, slotIndex: entry.slotIndex });

/** What a fan needs to check their own place: their line and where they are in it. */
const placeView = (place: Place) => ({ line: place.line, prequeuePlace: place.prequeueSeq, slot: place.slot, slotIndex: place.slotIndex });

fanQueueRoutes.post("/drops/:id/join", async (request, env, ctx) => {
	const ip = clientIp(request);
	// First, before anything the request says is looked at: joins per client across every drop.
	await limitJoinsByClient(env, ip);
	const dropId = dropIdOf(request);
	// Its promoter's join limit comes with the drop's existence, from this isolate's cache.
	const { joinsPerMinute, presales } = await requireKnownDrop(env, dropId);
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
	// While a sale window is open, a join is a join of that window (only with its code or on its list),
	// into the window's own line, shuffled and paced by the window's own pacer; a code before its window opens
	// puts the fan in that window's pre-queue.
	let window = presaleForJoin(presales, Date.now(), body.code !== undefined);
	if (window !== null) {
		const access = await claimAccess(env.DB, { dropId, window, fanId, code: body.code, now: Date.now() });
		if (failureOf(access)?.code === "code_invalid") await chargeWrongCode(env, ip);
		unwrap(access);
	} else if (body.code === undefined) {
		// A fan on a list window still to open waits in its pre-queue, as a code's fan does; anyone else, the general sale's.
		const listed = listWindowAhead(presales, Date.now());
		if (listed !== null && (await claimAccess(env.DB, { dropId, window: listed, fanId, code: undefined, now: Date.now() })).ok) window = listed;
	}
	const room = roomKey(dropId, window?.id);
	// Without identity mode the secret proves the fan: the one offered, which becomes theirs
	// if the id is new (a client that sends its own never loses it to a lost answer), or one made now.
	const fanSecret = identified ? null : (body.fanSecret ?? newFanSecret());
	const hash = fanSecret === null ? null : await sha256Hex(fanSecret);
	const proof: JoinProof = hash === null ? { kind: "identity" } : { kind: "secret", offered: body.fanSecret === undefined ? null : hash, fresh: hash };
	const joinLine = async (w: Watermark) => {
		const limits: JoinLimits = {
			perIp: perIpPerLine(settings.joinRatePerIp, w.lines),
			perFan: settings.joinRatePerFan,
			perLine: perLineShare(joinsPerMinute, w.lines),
			loopbackExempt: settings.loopbackExempt,
		};
		return lineStub(env, room, lineOf(fanId, w.lines)).join({ fanId, ip, limits, acceptNew: window === null || !w.soldOut, proof, lines: w.lines });
	};
	let w = await watermark(env, room, ctx);
	let outcome = await joinLine(w);
	// Routed by a copy of the settings from before the line count changed: once more, by a fresh copy.
	if (failureOf(outcome)?.code === "lines_changed") {
		await forgetWatermark(room);
		w = await watermark(env, room, ctx);
		outcome = await joinLine(w);
	}
	const joined = unwrap(outcome);
	const now = Date.now();
	if (joined.status === "sold_out") {
		// A line told not to take newcomers stores nothing: there is no place to keep, only the news. The general
		// sale's line takes fans until the drop closes (after a sell-out they wait for returned tickets); a sale
		// window's takes nobody new once it has sold out.
		return Response.json(
			{ ...unplacedView(w, now), fanId, status: "sold_out", queueToken: null, fanSecret: null, rejoined: false, pollAfterMs: null } satisfies JoinAnswer,
			{ status: 200 },
		);
	}
	const place = placeOf(joined.entry);
	const known = positionOf(w, place);
	const position = joined.entry.position ?? (typeof known === "number" ? known : null);
	const queueToken = await signQueueToken(env, { dropId, fanId, position, ...place, ...(window === null ? {} : { window: window.id }) }, now);
	const view = position === null ? unplacedView(w, now) : queueView(w, position, now);
	const status = position !== null && position <= w.admittedThrough ? "admitted" : w.soldOut ? "sold_out" : "waiting";
	// The secret is shown once, in the answer that made the place; the line keeps only its hash.
	return Response.json(
		{ ...view, fanId, status, queueToken, fanSecret: joined.rejoined ? null : fanSecret, rejoined: joined.rejoined, ...placeView(place), ...(window === null ? {} : { window: window.id }) } satisfies JoinAnswer,
		{ status: joined.rejoined ? 200 : 201 },
	);
});

/**
 * The claims of the request's queue token. A token the engine signed for this drop proves
 * the drop exists; a refused one is a 404 for a drop that does not, else the refusal.
 */
export async function queueClaims(request: IRequest, env: Env, dropId: string): Promise<QueueClaims> {
	try {
		return await verifyQueueToken(env, requireBearer(request, "queue token"), dropId);
	} catch (err) {
		await requireKnownDrop(env, dropId);
		throw err;
	}
}

fanQueueRoutes.get("/drops/:id/status", async (request, env, ctx) => {
	const dropId = dropIdOf(request);
	const claims = await queueClaims(request, env, dropId);
	const now = Date.now();
	// A window's fan polls the window's room: its line, its pacer, its watermark.
	const room = roomKey(dropId, claims.window);
	const w = await watermark(env, room, ctx);
	// A cancelled drop admits nobody and grants no turn, not even to a fan let in before the cancel.
	unwrap(refusal(dropState(w, w.soldOut, now), "admit") ?? ok(null));
	let position = claims.position;
	let queueToken: string | undefined;
	if (position === null) {
		// A fan not placed yet may have been admitted all the same (their token is older than their place).
		position = await resolvePosition(env, w, room, claims.fanId, claims);
		if (position === null) {
			const status = hasClosed(w, now) ? "closed" : w.soldOut ? "sold_out" : "waiting";
			return { status, ...unplacedView(w, now), ...(status === "closed" ? { pollAfterMs: null } : {}) } satisfies QueueStatus;
		}
		// Placed: a token that says where, so later polls need nothing but the watermark.
		queueToken = await signQueueToken(env, { ...claims, position }, now);
	}
	const view = { ...queueView(w, position, now), ...(queueToken ? { queueToken } : {}) };
	if (position <= w.admittedThrough) {
		const at = await admissionTime(env, w, room, position);
		// The grant is fixed by the batch that admitted the fan: the same jti and expiry on every poll.
		const grant = accessGrant(w, { position, at, window: claims.window }, now, config(env).accessTokenSeconds);
		if (grant.kind === "expired") return { ...view, status: "expired", pollAfterMs: null } satisfies QueueStatus;
		const { exp, admittedAt: batchAt, offer } = grant;
		const jti = await accessJti(room, claims.fanId, position, batchAt);
		const accessToken = await signAccessToken(env, { dropId, fanId: claims.fanId, jti, exp, shards: w.shards, admittedAt: batchAt, position: grant.tokenPosition, ...(claims.window === undefined ? {} : { window: claims.window }) }, now);
		return {
			...view,
			status: "admitted",
			place: null,
			ahead: 0,
			estimatedWaitMs: 0,
			waitUnknown: null,
			admittedAt: new Date(batchAt).toISOString(),
			pollAfterMs: null,
			accessToken,
			accessExpiresAt: new Date(exp * 1000).toISOString(),
			offer,
		} satisfies QueueStatus;
	}
	if (hasClosed(w, now)) return { ...view, status: "closed", pollAfterMs: null } satisfies QueueStatus;
	// Sold out, the fan keeps their place and polls on: a ticket that comes back is offered to the next in line.
	// A sale window has no such line (what it leaves goes to the general sale): its sell-out is final.
	if (w.soldOut) return { ...view, status: "sold_out", ...(w.returnsFrom === null ? { pollAfterMs: null } : {}) } satisfies QueueStatus;
	return { ...view, status: "waiting" } satisfies QueueStatus;
});

/** When the batch that admitted `position` went in: from the watermark, or (rarely) the pacer; null when long past. */
async function admissionTime(env: Env, w: Watermark, room: string, position: number): Promise<number | null> {
	const source = admissionSource(w, position);
	if (source.kind === "listed") return source.at;
	if (source.kind === "gone") return null;
	return unwrap(await roomStub(env, room).admittedAt({ position })).at;
}
