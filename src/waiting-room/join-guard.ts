// Optional protections on join: Cloudflare Turnstile, and fan identity from a
// JWT issued by the promoter's own site (the fan id is its subject).
import { type JWTVerifyGetKey, createRemoteJWKSet, errors, jwtVerify } from "jose";
import { config } from "../shared/config";
import { ApiError } from "../shared/errors";
import { clientKey, isLoopback } from "../shared/rate-limit";

/** The JOIN_LIMITER binding's period in wrangler.toml: the binding tells no reset time, so this is the wait asked for. */
export const JOIN_LIMITER_PERIOD_SECONDS = 60;

/**
 * Joins per client across every drop, the first check of a join: before its body,
 * Turnstile or identity are looked at, and before any object is called, so a flood
 * of refused challenges or made-up drop ids is stopped here. Counted by the Workers
 * Rate Limiting binding (per Cloudflare location, outside every Durable Object, so
 * a restart resets nothing). An IPv6 client counts as its /64, which one subscriber
 * usually has whole. Loopback is exempt where RATE_LIMIT_LOOPBACK_EXEMPT is "true".
 */
export async function limitJoinsByClient(env: Env, ip: string | null): Promise<void> {
	if (ip === null || (config(env).loopbackExempt && isLoopback(ip))) return;
	let allowed: boolean;
	try {
		allowed = (await env.JOIN_LIMITER.limit({ key: `join:${clientKey(ip)}` })).success;
	} catch (err) {
		// The limiter itself failing must not stop every join; each line still counts per drop.
		console.error("join rate limiter unavailable", err);
		return;
	}
	if (!allowed) {
		throw new ApiError(429, "rate_limited", "Too many join attempts from your network; wait and try again.", { retryAfter: JOIN_LIMITER_PERIOD_SECONDS });
	}
}

/** What a wrong presale code costs its client, in joins of the JOIN_LIMITER's budget: at its 120 a minute, a dozen guesses. */
export const WRONG_CODE_COST = 10;

/**
 * Charges a wrong code against the client's join budget (the join itself already took
 * one), so a bot walking the code space is stopped by the same limiter as a join flood.
 */
export async function chargeWrongCode(env: Env, ip: string | null): Promise<void> {
	if (ip === null || (config(env).loopbackExempt && isLoopback(ip))) return;
	try {
		for (let i = 1; i < WRONG_CODE_COST; i++) await env.JOIN_LIMITER.limit({ key: `join:${clientKey(ip)}` });
	} catch (err) {
		console.error("join rate limiter unavailable", err);
	}
}

export async function verifyTurnstile(env: Env, token: string | undefined, ip: string | null): Promise<void> {
	const turnstile = config(env).turnstile;
	if (turnstile === null) return;
	if (!token) throw new ApiError(403, "turnstile_required", "Complete the challenge before joining.");
	const form = new FormData();
	form.append("secret", turnstile.secret);
	form.append("response", token);
	if (ip) form.append("remoteip", ip);
	let outcome: { success?: unknown };
	try {
		// Bounded: a slow verifier must not hold joins open; it fails closed like an outage.
		const res = await fetch(turnstile.verifyUrl, { method: "POST", body: form, signal: AbortSignal.timeout(5_000) });
		if (!res.ok) throw new Error(`siteverify answered ${res.status}`);
		outcome = (await res.json()) as { success?: unknown };
	} catch (err) {
		console.error("turnstile verification unavailable", err);
		throw new ApiError(503, "challenge_unavailable", "The challenge could not be checked; try again.", { retryAfter: 5 });
	}
	if (outcome.success !== true) throw new ApiError(403, "turnstile_failed", "The challenge was not passed.");
}

let remoteKeys: { url: string; keys: JWTVerifyGetKey } | null = null;

/** The fan id from the promoter's identity token. */
export async function fanIdFromIdentity(env: Env, token: string | undefined): Promise<string> {
	if (!token) throw new ApiError(401, "identity_required", "Sign in on the promoter's site before joining.");
	const identity = config(env).fanIdentity;
	if (identity === null) throw new Error("fan identity mode is off");
	const options = {
		...(identity.issuer ? { issuer: identity.issuer } : {}),
		...(identity.audience ? { audience: identity.audience } : {}),
		requiredClaims: ["sub", "exp"],
	};
	try {
		let payload;
		if (identity.secret !== null) {
			({ payload } = await jwtVerify(token, new TextEncoder().encode(identity.secret), { ...options, algorithms: ["HS256"] }));
		} else {
			const url = identity.jwksUrl!;
			if (remoteKeys?.url !== url) {
				remoteKeys = { url, keys: createRemoteJWKSet(new URL(url)) };
			}
			({ payload } = await jwtVerify(token, remoteKeys.keys, { ...options, algorithms: ["RS256", "ES256", "EdDSA"] }));
		}
		// jose checks that `sub` is present, not that it is a string: the fan id must be one.
		const sub: unknown = payload.sub;
		if (typeof sub !== "string" || !SUBJECT.test(sub)) {
			throw new ApiError(401, "invalid_identity", "The identity token's subject is not usable.");
		}
		return sub;
	} catch (err) {
		if (err instanceof ApiError) throw err;
		const code = err instanceof errors.JOSEError ? err.code : null;
		if (code === "ERR_JWT_EXPIRED") throw new ApiError(401, "identity_expired", "The identity token has expired; sign in again.");
		// The promoter's key set could not be fetched or read: their outage, not the fan's bad token.
		if (identity.secret === null && (code === null || JWKS_UNAVAILABLE.has(code))) {
			console.error("fan identity keys unavailable", err);
			throw new ApiError(503, "identity_unavailable", "Sign-in could not be checked; try again.", { retryAfter: 5 });
		}
		if (code !== null) throw new ApiError(401, "invalid_identity", "The identity token is not valid.");
		throw err;
	}
}

/** Printable ASCII without spaces, as a fan id may be stored, exported and put in a token. */
const SUBJECT = /^[\x21-\x7e]{1,128}$/;

/** jose's codes for a key set that could not be fetched or parsed (the generic one is only thrown there). */
const JWKS_UNAVAILABLE = new Set(["ERR_JOSE_GENERIC", "ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID"]);
