// Queue, access and order tokens: ES256 JWTs signed with jose, `kid` in the
// header, verified against the published JWKS. Each kind has its own `typ`, and
// the audience binds it to one drop, so none stands in for another.
import { type JWK, type JWTPayload, SignJWT, createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, importJWK, jwtVerify } from "jose";
import { type RawSettings, config } from "./config";
import { ApiError } from "./errors";
import { base64url } from "./crypto";

export const ISSUER = "ticket-drop-engine";
export const QUEUE_TYP = "queue+jwt";
export const ACCESS_TYP = "access+jwt";
export const ORDER_TYP = "order+jwt";
const QUEUE_TOKEN_SECONDS = 24 * 3600;
/**
 * A year. Tickets often go on sale months before the event, and the buyer needs
 * their codes at the door and after it (a refund, a dispute), long after their
 * turn ended. The token reads its one order and nothing else, so a long life
 * risks no more than the codes it shows; and it does end, so a rotated-out
 * signing key can be dropped from the JWKS a year later.
 */
export const ORDER_TOKEN_SECONDS = 365 * 24 * 3600;

export interface QueueClaims {
	dropId: string;
	fanId: string;
	/** Null until the fan is placed: at the opening for the pre-queue, when their slot is sealed after it. */
	position: number | null;
	/** The fan's line, and their place in it: what the position is derived from. */
	line: number;
	/** Place in the line's pre-queue (1-based), or null for a fan who joined after the opening. */
	prequeueSeq: number | null;
	/** After the opening: the slot of the join and the fan's index among the line's joins in it. */
	slot: number | null;
	slotIndex: number | null;
	/** The sale window whose line the fan joined; absent for the general sale's line. */
	window?: string;
}

export interface AccessClaims {
	dropId: string;
	fanId: string;
	jti: string;
	/** Seconds since the epoch. */
	exp: number;
	/** The drop's shard count, so holds are routed without a lookup. */
	shards: number;
	/** The sale window that admitted the fan: its shards judge the window's rules; absent for the general sale. */
	window?: string;
	/** The fan's position in line, so after a sell-out a hold can tell an offer of returned stock from an earlier turn (0: not carried). */
	position: number;
	/**
	 * When the batch that admitted the fan went in (ms), so a purchase is dated from the turn's start however the
	 * turn ends (a window's close or an offer's shorter turn); absent on a token signed before it was carried.
	 */
	admittedAt?: number;
}

/** A buyer's lasting right to read one order: their fan id, the drop and the order id. */
export interface OrderClaims {
	dropId: string;
	fanId: string;
	orderId: string;
}

interface KeyMaterial {
	kid: string;
	privateKey: CryptoKey;
	jwks: { keys: JWK[] };
	verifyKeys: ReturnType<typeof createLocalJWKSet>;
}

let cached: { source: string; material: Promise<KeyMaterial> } | null = null;

/** Parses the key secrets once per isolate; a changed secret means a new deployment and a new isolate. */
function keyMaterial(env: RawSettings): Promise<KeyMaterial> {
	const { privateJwk, publicJwks } = config(env).signing;
	const source = `${privateJwk}\n${publicJwks ?? ""}`;
	if (cached?.source !== source) {
		const material = buildKeyMaterial(privateJwk, publicJwks ?? undefined);
		cached = { source, material };
		material.catch(() => {
			if (cached?.material === material) cached = null;
		});
	}
	return cached.material;
}

async function buildKeyMaterial(privateJwkText: string, extraJwksText: string | undefined): Promise<KeyMaterial> {
	if (!privateJwkText) throw new Error("JWT_PRIVATE_JWK is not set");
	const priv = JSON.parse(privateJwkText) as JWK;
	if (priv.kty !== "EC" || priv.crv !== "P-256" || typeof priv.d !== "string" || typeof priv.kid !== "string") {
		throw new Error("JWT_PRIVATE_JWK must be a P-256 private JWK with a kid");
	}
	const privateKey = (await importJWK({ ...priv, alg: "ES256" }, "ES256")) as CryptoKey;
	const current: JWK = { kty: "EC", crv: "P-256", x: priv.x, y: priv.y, kid: priv.kid, alg: "ES256", use: "sig" };
	const keys: JWK[] = [current];
	if (extraJwksText) {
		const extra = JSON.parse(extraJwksText) as { keys?: JWK[] };
		for (const key of extra.keys ?? []) {
			if (key.kty !== "EC" || key.crv !== "P-256" || typeof key.kid !== "string") continue;
			if (keys.some((k) => k.kid === key.kid)) continue;
			keys.push({ kty: "EC", crv: "P-256", x: key.x, y: key.y, kid: key.kid, alg: "ES256", use: "sig" });
		}
	}
	const jwks = { keys };
	return { kid: priv.kid, privateKey, jwks, verifyKeys: createLocalJWKSet(jwks) };
}

export async function publicJwks(env: Env): Promise<{ keys: JWK[] }> {
	return (await keyMaterial(env)).jwks;
}

const audience = (dropId: string) => `drop:${dropId}`;

export const invalidToken = () => new ApiError(401, "invalid_token", "The token is not valid here.");

/** Every kind is signed the same way: its own typ, our issuer, the drop as audience, the fan as subject. */
async function sign(
	env: Env,
	typ: string,
	who: { dropId: string; fanId: string },
	times: { now: number; exp: (iat: number) => number },
	payload: JWTPayload,
): Promise<string> {
	const key = await keyMaterial(env);
	const iat = Math.floor(times.now / 1000);
	return new SignJWT(payload)
		.setProtectedHeader({ alg: "ES256", kid: key.kid, typ })
		.setIssuer(ISSUER)
		.setAudience(audience(who.dropId))
		.setSubject(who.fanId)
		.setIssuedAt(iat)
		.setExpirationTime(times.exp(iat))
		.sign(key.privateKey);
}

export function signQueueToken(env: Env, claims: QueueClaims, now = Date.now()): Promise<string> {
	const payload = { pos: claims.position, ln: claims.line, pq: claims.prequeueSeq, sl: claims.slot, si: claims.slotIndex, ...windowClaim(claims.window) };
	return sign(env, QUEUE_TYP, claims, { now, exp: (iat) => iat + QUEUE_TOKEN_SECONDS }, payload);
}

export function signAccessToken(env: Env, claims: AccessClaims, now = Date.now()): Promise<string> {
	return sign(env, ACCESS_TYP, claims, { now, exp: () => claims.exp }, { shards: claims.shards, jti: claims.jti, pos: claims.position, ...windowClaim(claims.window), ...(claims.admittedAt === undefined ? {} : { adm: claims.admittedAt }) });
}

/** A window's id as a token carries it (`win`), only when there is one, so a general-sale token is as before. */
const windowClaim = (window: string | undefined) => (window === undefined ? {} : { win: window });

/** The `win` claim read back: a window id, none, or (anything else) an invalid token. */
function windowOf(payload: JWTPayload): { window?: string } {
	if (payload.win === undefined) return {};
	if (typeof payload.win !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(payload.win)) throw invalidToken();
	return { window: payload.win };
}

export function signOrderToken(env: Env, claims: OrderClaims, now = Date.now()): Promise<string> {
	return sign(env, ORDER_TYP, claims, { now, exp: (iat) => iat + ORDER_TOKEN_SECONDS }, { oid: claims.orderId });
}

/**
 * What a token says it is and which drop it names, unverified: only to choose
 * the verifier and the drop, which then check everything. Undefined for what
 * cannot be read.
 */
export function peekToken(token: string): { typ: string | undefined; dropId: string | undefined } {
	try {
		const typ = decodeProtectedHeader(token).typ;
		const aud = decodeJwt(token).aud;
		const first = Array.isArray(aud) ? aud[0] : aud;
		return { typ, dropId: first?.startsWith("drop:") ? first.slice(5) : undefined };
	} catch {
		return { typ: undefined, dropId: undefined };
	}
}

async function verify(env: Env, token: string, dropId: string, typ: string): Promise<JWTPayload> {
	const key = await keyMaterial(env);
	try {
		const { payload } = await jwtVerify(token, key.verifyKeys, {
			algorithms: ["ES256"],
			issuer: ISSUER,
			typ,
			requiredClaims: ["sub", "aud", "exp", "iat"],
		});
		const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
		if (!aud.includes(audience(dropId))) {
			throw new ApiError(403, "wrong_drop", "This token is for another drop.");
		}
		return payload;
	} catch (err) {
		if (err instanceof ApiError) throw err;
		if (err instanceof errors.JOSEError) {
			if (err.code === "ERR_JWT_EXPIRED") throw new ApiError(401, "token_expired", "The token has expired.");
			throw invalidToken();
		}
		throw err;
	}
}

const isInt = (v: unknown, min: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= min;

export async function verifyQueueToken(env: Env, token: string, dropId: string): Promise<QueueClaims> {
	const payload = await verify(env, token, dropId, QUEUE_TYP);
	const { pos, ln, pq, sl, si } = payload;
	const placeOk = (isInt(pq, 1) && sl === null && si === null) || (pq === null && isInt(sl, 0) && isInt(si, 0));
	if (!(pos === null || isInt(pos, 1)) || !isInt(ln, 0) || !placeOk) {
		throw invalidToken();
	}
	return {
		dropId,
		fanId: payload.sub!,
		position: pos as number | null,
		line: ln,
		prequeueSeq: pq as number | null,
		slot: sl as number | null,
		slotIndex: si as number | null,
		...windowOf(payload),
	};
}

/**
 * The access grant's id: the same for the same fan, position and batch, so
 * polling again mints the same grant (same `jti`, same expiry), never a new turn.
 */
export async function accessJti(dropId: string, fanId: string, position: number, admittedAt: number): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${dropId}\n${fanId}\n${position}\n${admittedAt}`));
	return `a_${base64url(new Uint8Array(digest).slice(0, 16))}`;
}

export async function verifyAccessToken(env: Env, token: string, dropId: string): Promise<AccessClaims> {
	const payload = await verify(env, token, dropId, ACCESS_TYP);
	const shards = payload.shards;
	if (typeof payload.jti !== "string" || typeof shards !== "number" || !Number.isInteger(shards) || shards < 1 || shards > 64) {
		throw invalidToken();
	}
	// A token signed before positions were carried reads as position 0: a turn from before any sell-out.
	const position = typeof payload.pos === "number" && Number.isInteger(payload.pos) && payload.pos > 0 ? payload.pos : 0;
	// The admission time, when carried and sound (a whole ms before the expiry); otherwise the purchase falls back to exp less the turn.
	const adm = payload.adm;
	const admittedAt = typeof adm === "number" && Number.isInteger(adm) && adm > 0 && adm < payload.exp! * 1000 ? { admittedAt: adm } : {};
	return { dropId, fanId: payload.sub!, jti: payload.jti, exp: payload.exp!, shards, position, ...windowOf(payload), ...admittedAt };
}

export async function verifyOrderToken(env: Env, token: string, dropId: string): Promise<OrderClaims> {
	const payload = await verify(env, token, dropId, ORDER_TYP);
	if (typeof payload.oid !== "string" || payload.oid.length === 0) throw invalidToken();
	return { dropId, fanId: payload.sub!, orderId: payload.oid };
}

// ── Tickets ───────────────────────────────────────────────────────

export const TICKET_TYP = "ticket+jwt";

/** What a ticket's signed token names; `unit` is the ticket type or seat where the drop has them. */
export interface TicketClaims {
	dropId: string;
	orderId: string;
	code: string;
	unit?: string;
}

/**
 * A ticket as a compact ES256 token, signed with the same key and JWKS as every
 * other token, so a gate can check it offline. Kept short for its QR code: the drop
 * as audience, the order, the ticket code, an optional unit, the issue time; no
 * expiry (a ticket is good until it is scanned or refunded, which the scan checks).
 */
export async function signTicketToken(env: Env, claims: TicketClaims, now = Date.now()): Promise<string> {
	const key = await keyMaterial(env);
	const payload: JWTPayload = { oid: claims.orderId, tid: claims.code, ...(claims.unit === undefined ? {} : { u: claims.unit }) };
	return new SignJWT(payload)
		.setProtectedHeader({ alg: "ES256", kid: key.kid, typ: TICKET_TYP })
		.setAudience(audience(claims.dropId))
		.setIssuedAt(Math.floor(now / 1000))
		.sign(key.privateKey);
}

/** A ticket token for this drop, verified; 401 invalid_token for anything else (403 wrong_drop for another drop's). */
export async function verifyTicketToken(env: Env, token: string, dropId: string): Promise<TicketClaims> {
	const key = await keyMaterial(env);
	let payload: JWTPayload;
	try {
		({ payload } = await jwtVerify(token, key.verifyKeys, { algorithms: ["ES256"], typ: TICKET_TYP, requiredClaims: ["aud", "iat"] }));
	} catch (err) {
		if (err instanceof errors.JOSEError) throw invalidToken();
		throw err;
	}
	const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
	if (!aud.includes(audience(dropId))) throw new ApiError(403, "wrong_drop", "This ticket is for another drop.");
	const { oid, tid, u } = payload;
	if (typeof oid !== "string" || typeof tid !== "string" || !(u === undefined || typeof u === "string")) throw invalidToken();
	return { dropId, orderId: oid, code: tid, ...(u === undefined ? {} : { unit: u }) };
}
