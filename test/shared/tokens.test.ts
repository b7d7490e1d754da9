// Queue and access tokens: only an unexpired token signed by the engine, for
// this drop and this purpose, is accepted (invariant 6). Every forged kind is
// made here with jose and sent through the Worker the way a client would.
import { env } from "cloudflare:test";
import {
	type JWK,
	type JWTPayload,
	SignJWT,
	base64url,
	createLocalJWKSet,
	decodeJwt,
	decodeProtectedHeader,
	exportJWK,
	generateKeyPair,
	importJWK,
	jwtVerify,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ACCESS_TYP, ISSUER, ORDER_TYP, QUEUE_TYP, publicJwks, signAccessToken, signOrderToken, signQueueToken, verifyAccessToken, verifyOrderToken, verifyQueueToken } from "../../src/shared/tokens";
import { createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { admittedFan, hold, join, newHold, purchase, status } from "../support/fans";
import { fanFetch } from "../support/worker";

const currentKey = JSON.parse(env.JWT_PRIVATE_JWK) as JWK & { kid: string };

const enc = (value: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(value)));
const parts = (token: string) => token.split(".") as [string, string, string];

/** The token with its payload changed and the original signature kept. */
function tamperPayload(token: string, change: (p: JWTPayload) => JWTPayload): string {
	const [header, , signature] = parts(token);
	return `${header}.${enc(change(decodeJwt(token)))}.${signature}`;
}

function tamperHeader(token: string, change: (h: Record<string, unknown>) => Record<string, unknown>): string {
	const [, payload, signature] = parts(token);
	return `${enc(change(decodeProtectedHeader(token) as Record<string, unknown>))}.${payload}.${signature}`;
}

/** Signs the payload of a genuine token again, with the key and header given. */
async function resign(token: string, key: CryptoKey | Uint8Array, header: Record<string, unknown>): Promise<string> {
	const payload = decodeJwt(token);
	return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
}

async function attackerKey(): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
	const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
	return { privateKey, publicJwk: await exportJWK(publicKey) };
}

async function engineKey(): Promise<CryptoKey> {
	return (await importJWK({ ...currentKey, alg: "ES256" }, "ES256")) as CryptoKey;
}

/** Where a fan who joined after the opening stands in their line: what a queue token carries beside the position. */
const AFTER_OPENING = { line: 0, prequeueSeq: null, slot: 1, slotIndex: 0 };

const statusWith = (dropId: string, token: string) => fanFetch(`/api/drops/${dropId}/status`, token);

async function refusal(res: Response): Promise<{ status: number; code: string }> {
	return { status: res.status, code: await errorCode(res) };
}

let dropId: string;
let otherDropId: string;
let queueToken: string;
let accessToken: string;
let otherAccessToken: string;

beforeAll(async () => {
	const drop = await createDrop({ capacity: 50, admission: { batchSize: 100, intervalMs: 250, activeMultiple: 20 } });
	const other = await createDrop({ capacity: 50, admission: { batchSize: 100, intervalMs: 250, activeMultiple: 20 } });
	dropId = drop.id;
	otherDropId = other.id;
	accessToken = await admittedFan(dropId, "token-buyer");
	otherAccessToken = await admittedFan(otherDropId, "token-buyer");
	queueToken = (await join(dropId, "token-waiter")).queueToken;
});

describe("genuine tokens", () => {
	it("are accepted where they belong", async () => {
		expect((await statusWith(dropId, queueToken)).status).toBe(200);
		const res = await hold(dropId, accessToken, 1);
		expect(res.status).toBe(201);
	});

	it("carry what the contract says: ES256 with the current kid, drop, fan, position; access adds jti and a short expiry", async () => {
		const qh = decodeProtectedHeader(queueToken);
		expect(qh).toMatchObject({ alg: "ES256", kid: currentKey.kid, typ: QUEUE_TYP });
		const q = decodeJwt(queueToken);
		expect(q).toMatchObject({ iss: ISSUER, aud: `drop:${dropId}`, sub: "token-waiter" });
		expect(Number.isInteger(q.pos) && (q.pos as number) >= 1).toBe(true);

		expect(decodeProtectedHeader(accessToken)).toMatchObject({ alg: "ES256", kid: currentKey.kid, typ: ACCESS_TYP });
		const a = decodeJwt(accessToken);
		expect(a).toMatchObject({ iss: ISSUER, aud: `drop:${dropId}`, sub: "token-buyer" });
		expect(typeof a.jti).toBe("string");
		const lifetime = a.exp! - a.iat!;
		expect(lifetime).toBeGreaterThan(0);
		expect(lifetime).toBeLessThanOrEqual(Number(env.ACCESS_TOKEN_SECONDS));
	});

	it("polling again gives the same grant: the same jti and expiry, so a fan's turn never grows", async () => {
		const joined = await join(dropId, "token-buyer");
		const first = await status(dropId, joined.queueToken);
		const second = await status(dropId, joined.queueToken);
		const a = decodeJwt(first.accessToken as string);
		const b = decodeJwt(second.accessToken as string);
		expect(b.jti).toBe(a.jti);
		expect(b.exp).toBe(a.exp);
		expect(a.jti).toBe(decodeJwt(accessToken).jti);
		// The admission time rides along, fixed like the jti: the status's admittedAt, to the millisecond.
		expect(b.adm).toBe(a.adm);
		expect(a.adm).toBe(Date.parse(first.admittedAt as string));
	});

	it("an access token's admission time reads back when it is sound, and is left out otherwise", async () => {
		const exp = Math.floor(Date.now() / 1000) + 300;
		const base = { dropId, fanId: "adm-fan", jti: "a_adm", exp, shards: 1, position: 3 };
		const at = exp * 1000 - 120_000;
		expect((await verifyAccessToken(env, await signAccessToken(env, { ...base, admittedAt: at }), dropId)).admittedAt).toBe(at);
		expect(await verifyAccessToken(env, await signAccessToken(env, base), dropId)).not.toHaveProperty("admittedAt");
		// One at or past the expiry, or not a whole number, cannot be a turn's start.
		for (const bad of [exp * 1000, exp * 1000 + 5, at + 0.5]) {
			expect(await verifyAccessToken(env, await signAccessToken(env, { ...base, admittedAt: bad }), dropId)).not.toHaveProperty("admittedAt");
		}
	});
});

describe("forged and misused tokens are refused", () => {
	it("no token, or not a JWT at all", async () => {
		expect(await refusal(await fanFetch(`/api/drops/${dropId}/status`, null))).toEqual({ status: 401, code: "missing_token" });
		for (const junk of ["nonsense", "a.b.c", `${parts(queueToken)[0]}.${parts(queueToken)[1]}`, `${queueToken}x`]) {
			expect(await refusal(await statusWith(dropId, junk))).toEqual({ status: 401, code: "invalid_token" });
		}
	});

	it("a wrong key, under the engine's kid, under an unknown kid, or with no kid", async () => {
		const { privateKey } = await attackerKey();
		for (const kid of [currentKey.kid, "test-previous", "attacker", undefined]) {
			const forgedQueue = await resign(queueToken, privateKey, { alg: "ES256", typ: QUEUE_TYP, ...(kid ? { kid } : {}) });
			expect(await refusal(await statusWith(dropId, forgedQueue))).toEqual({ status: 401, code: "invalid_token" });
			const forgedAccess = await resign(accessToken, privateKey, { alg: "ES256", typ: ACCESS_TYP, ...(kid ? { kid } : {}) });
			expect(await refusal(await hold(dropId, forgedAccess, 1))).toEqual({ status: 401, code: "invalid_token" });
		}
	});

	it("a wrong key that brings its own public key in the header (embedded jwk)", async () => {
		const { privateKey, publicJwk } = await attackerKey();
		const forged = await resign(accessToken, privateKey, { alg: "ES256", typ: ACCESS_TYP, kid: currentKey.kid, jwk: publicJwk });
		expect(await refusal(await hold(dropId, forged, 1))).toEqual({ status: 401, code: "invalid_token" });
	});

	it("alg none, with or without a signature part", async () => {
		for (const [token, typ] of [
			[queueToken, QUEUE_TYP],
			[accessToken, ACCESS_TYP],
		] as const) {
			const header = enc({ alg: "none", typ, kid: currentKey.kid });
			const unsigned = `${header}.${parts(token)[1]}.`;
			const keptSignature = `${header}.${parts(token)[1]}.${parts(token)[2]}`;
			for (const forged of [unsigned, keptSignature]) {
				const res = typ === QUEUE_TYP ? await statusWith(dropId, forged) : await hold(dropId, forged, 1);
				expect(await refusal(res)).toEqual({ status: 401, code: "invalid_token" });
			}
		}
	});

	it("HS256 keyed with the engine's public key (algorithm confusion)", async () => {
		const { d: _d, ...pub } = currentKey;
		const secret = new TextEncoder().encode(JSON.stringify(pub));
		const forged = await resign(accessToken, secret, { alg: "HS256", typ: ACCESS_TYP, kid: currentKey.kid });
		expect(await refusal(await hold(dropId, forged, 1))).toEqual({ status: 401, code: "invalid_token" });
	});

	it("expired: a queue token past its day, an access token past the fan's turn", async () => {
		const old = Date.now() - 25 * 3600 * 1000;
		const staleQueue = await signQueueToken(env, { dropId, fanId: "token-waiter", position: 1, ...AFTER_OPENING }, old);
		expect(await refusal(await statusWith(dropId, staleQueue))).toEqual({ status: 401, code: "token_expired" });

		const now = Date.now();
		const staleAccess = await signAccessToken(
			env,
			{ dropId, fanId: "token-buyer", jti: "a_expired", exp: Math.floor(now / 1000) - 5, shards: 1, position: 1 },
			now - 700_000,
		);
		expect(await refusal(await hold(dropId, staleAccess, 1))).toEqual({ status: 401, code: "token_expired" });
		const orders = await fanFetch(`/api/orders/o_0_nothing`, staleAccess);
		expect(await refusal(orders)).toEqual({ status: 401, code: "token_expired" });

		// An order token lasts a year, and no longer.
		const orderId = "o_0_AAAAAAAAAAAAAAAA";
		const staleOrder = await signOrderToken(env, { dropId, fanId: "token-buyer", orderId }, now - 366 * 24 * 3600 * 1000);
		expect(await refusal(await fanFetch(`/api/orders/${orderId}`, staleOrder))).toEqual({ status: 401, code: "token_expired" });
	});

	it("a token for another drop", async () => {
		const otherQueue = (await join(otherDropId, "token-waiter")).queueToken;
		expect(await refusal(await statusWith(dropId, otherQueue))).toEqual({ status: 403, code: "wrong_drop" });
		expect(await refusal(await hold(dropId, otherAccessToken, 1))).toEqual({ status: 403, code: "wrong_drop" });
		expect(await refusal(await statusWith(otherDropId, queueToken))).toEqual({ status: 403, code: "wrong_drop" });
		// The same token on its own drop is fine: it is the drop that is wrong, not the token.
		expect((await statusWith(otherDropId, otherQueue)).status).toBe(200);
	});

	it("a queue token in place of an access token, and the other way round", async () => {
		expect(await refusal(await statusWith(dropId, accessToken))).toEqual({ status: 401, code: "invalid_token" });
		expect(await refusal(await hold(dropId, queueToken, 1))).toEqual({ status: 401, code: "invalid_token" });
		const purchase = await fanFetch(`/api/drops/${dropId}/holds/h_0_x/purchase`, queueToken, {
			method: "POST",
			body: JSON.stringify({ payment: { method: "test", token: "ok" } }),
		});
		expect(purchase.status).toBe(401);
		const release = await fanFetch(`/api/drops/${dropId}/holds/h_0_x`, queueToken, { method: "DELETE" });
		expect(release.status).toBe(401);
		const order = await fanFetch(`/api/orders/o_0_x`, queueToken);
		expect(order.status).toBe(401);
	});

	it("an order token where a queue or access token belongs, and a queue or access token passed off as an order token", async () => {
		const held = await newHold(dropId, accessToken, 1);
		const bought = await purchase(dropId, accessToken, held.holdId);
		expect(bought.status).toBe(201);
		const { orderId, orderToken } = (await bought.json()) as { orderId: string; orderToken: string };
		const readOrder = (token: string) => fanFetch(`/api/orders/${orderId}`, token);
		const invalid = { status: 401, code: "invalid_token" };
		// Where it belongs, it reads the order.
		expect((await readOrder(orderToken)).status).toBe(200);

		// Nowhere else: not to poll, hold, buy or release.
		expect(await refusal(await statusWith(dropId, orderToken))).toEqual(invalid);
		expect(await refusal(await hold(dropId, orderToken, 1))).toEqual(invalid);
		expect(await refusal(await purchase(dropId, orderToken, held.holdId))).toEqual(invalid);
		expect(await refusal(await fanFetch(`/api/drops/${dropId}/holds/${held.holdId}`, orderToken, { method: "DELETE" }))).toEqual(invalid);

		// The other kinds are no order token: not a queue token, not one re-typed with the original
		// signature, not even one re-signed as an order token with the engine's key (it names no order).
		expect(await refusal(await readOrder(queueToken))).toEqual(invalid);
		expect(await refusal(await readOrder(tamperHeader(accessToken, (h) => ({ ...h, typ: ORDER_TYP }))))).toEqual(invalid);
		expect(await refusal(await readOrder(tamperHeader(queueToken, (h) => ({ ...h, typ: ORDER_TYP }))))).toEqual(invalid);
		const key = await engineKey();
		for (const token of [accessToken, queueToken]) {
			const retyped = await resign(token, key, { alg: "ES256", kid: currentKey.kid, typ: ORDER_TYP });
			expect(await refusal(await readOrder(retyped))).toEqual(invalid);
		}
		// And an order token changed in any way, or signed by anyone else, reads nothing.
		expect(await refusal(await hold(dropId, tamperHeader(orderToken, (h) => ({ ...h, typ: ACCESS_TYP })), 1))).toEqual(invalid);
		expect(await refusal(await readOrder(tamperPayload(orderToken, (p) => ({ ...p, sub: "someone-else" }))))).toEqual(invalid);
		expect(await refusal(await readOrder(tamperPayload(orderToken, (p) => ({ ...p, aud: `drop:${otherDropId}` }))))).toEqual(invalid);
		const { privateKey } = await attackerKey();
		const forged = await resign(orderToken, privateKey, { alg: "ES256", kid: currentKey.kid, typ: ORDER_TYP });
		expect(await refusal(await readOrder(forged))).toEqual(invalid);

		// Verified directly, with contract codes.
		await expect(verifyAccessToken(env, orderToken, dropId)).rejects.toMatchObject(invalid);
		await expect(verifyQueueToken(env, orderToken, dropId)).rejects.toMatchObject(invalid);
		await expect(verifyOrderToken(env, accessToken, dropId)).rejects.toMatchObject(invalid);
		await expect(verifyOrderToken(env, queueToken, dropId)).rejects.toMatchObject(invalid);
		await expect(verifyOrderToken(env, orderToken, otherDropId)).rejects.toMatchObject({ status: 403, code: "wrong_drop" });
		await expect(verifyOrderToken(env, orderToken, dropId)).resolves.toEqual({ dropId, fanId: "token-buyer", orderId });
	});

	it("a token signed by the engine's own key whose typ is swapped, generic or missing", async () => {
		// Even with the real key, the type decides what a token is for.
		const key = await engineKey();
		for (const typ of [QUEUE_TYP, "JWT", "at+jwt", undefined]) {
			const forged = await resign(accessToken, key, { alg: "ES256", kid: currentKey.kid, ...(typ ? { typ } : {}) });
			expect(await refusal(await hold(dropId, forged, 1))).toEqual({ status: 401, code: "invalid_token" });
		}
		for (const typ of [ACCESS_TYP, "JWT", undefined]) {
			const forged = await resign(queueToken, key, { alg: "ES256", kid: currentKey.kid, ...(typ ? { typ } : {}) });
			expect(await refusal(await statusWith(dropId, forged))).toEqual({ status: 401, code: "invalid_token" });
		}
	});

	it("a tampered payload or header with the original signature", async () => {
		const tampered = [
			{ res: () => statusWith(dropId, tamperPayload(queueToken, (p) => ({ ...p, pos: 1 }))) },
			{ res: () => statusWith(dropId, tamperPayload(queueToken, (p) => ({ ...p, sub: "token-buyer" }))) },
			{ res: () => statusWith(dropId, tamperPayload(queueToken, (p) => ({ ...p, exp: p.exp! + 86_400 }))) },
			{ res: () => statusWith(dropId, tamperHeader(accessToken, (h) => ({ ...h, typ: QUEUE_TYP }))) },
			{ res: () => hold(dropId, tamperPayload(accessToken, (p) => ({ ...p, sub: "someone-else" })), 1) },
			{ res: () => hold(dropId, tamperPayload(accessToken, (p) => ({ ...p, shards: 2 })), 1) },
			{ res: () => hold(dropId, tamperPayload(accessToken, (p) => ({ ...p, exp: p.exp! + 3600 })), 1) },
			{ res: () => hold(dropId, tamperHeader(queueToken, (h) => ({ ...h, typ: ACCESS_TYP })), 1) },
		];
		for (const t of tampered) expect(await refusal(await t.res())).toEqual({ status: 401, code: "invalid_token" });
		// Re-pointed at the other drop, the signature no longer matches either.
		const moved = tamperPayload(accessToken, (p) => ({ ...p, aud: `drop:${otherDropId}` }));
		expect(await refusal(await hold(otherDropId, moved, 1))).toEqual({ status: 401, code: "invalid_token" });
		const order = await fanFetch(`/api/orders/o_0_x`, moved);
		expect(order.status).toBe(401);
	});

	it("refuses the same forgeries when verified directly, with contract codes", async () => {
		const { privateKey } = await attackerKey();
		const forged = await resign(queueToken, privateKey, { alg: "ES256", typ: QUEUE_TYP, kid: currentKey.kid });
		await expect(verifyQueueToken(env, forged, dropId)).rejects.toMatchObject({ status: 401, code: "invalid_token" });
		await expect(verifyAccessToken(env, queueToken, dropId)).rejects.toMatchObject({ status: 401, code: "invalid_token" });
		await expect(verifyQueueToken(env, accessToken, dropId)).rejects.toMatchObject({ status: 401, code: "invalid_token" });
		await expect(verifyQueueToken(env, queueToken, otherDropId)).rejects.toMatchObject({ status: 403, code: "wrong_drop" });
		await expect(verifyQueueToken(env, queueToken, dropId)).resolves.toMatchObject({ dropId, fanId: "token-waiter" });
		await expect(verifyAccessToken(env, accessToken, dropId)).resolves.toMatchObject({ dropId, fanId: "token-buyer", shards: 1 });
	});
});

describe("the JWKS", () => {
	async function fetchJwks(): Promise<{ keys: JWK[] }> {
		const res = await fanFetch("/.well-known/jwks.json", null);
		expect(res.status).toBe(200);
		return (await res.json()) as { keys: JWK[] };
	}

	it("publishes the signing key and the rotated-out key, public parts only", async () => {
		const jwks = await fetchJwks();
		const kids = jwks.keys.map((k) => k.kid);
		expect(kids).toContain(currentKey.kid);
		expect(kids).toContain("test-previous");
		expect(new Set(kids).size).toBe(kids.length);
		for (const key of jwks.keys) {
			expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
			expect(key).not.toHaveProperty("d");
			expect(typeof key.x).toBe("string");
			expect(typeof key.y).toBe("string");
		}
	});

	it("verifies the tokens the engine issues, with any standard JWT library", async () => {
		const keys = createLocalJWKSet(await fetchJwks());
		const q = await jwtVerify(queueToken, keys, { algorithms: ["ES256"], issuer: ISSUER, audience: `drop:${dropId}`, typ: QUEUE_TYP });
		expect(q.payload.sub).toBe("token-waiter");
		const a = await jwtVerify(accessToken, keys, { algorithms: ["ES256"], issuer: ISSUER, audience: `drop:${dropId}`, typ: ACCESS_TYP });
		expect(a.payload.sub).toBe("token-buyer");
		// And the status answer's own access token, fresh from the Worker.
		const joined = await join(dropId, "token-buyer");
		const s = await status(dropId, joined.queueToken);
		await expect(jwtVerify(s.accessToken as string, keys, { algorithms: ["ES256"], typ: ACCESS_TYP })).resolves.toBeTruthy();
		// A forgery does not verify against it either.
		const { privateKey } = await attackerKey();
		const forged = await resign(queueToken, privateKey, { alg: "ES256", typ: QUEUE_TYP, kid: currentKey.kid });
		await expect(jwtVerify(forged, keys, { algorithms: ["ES256"] })).rejects.toThrow();
	});

	it("keeps verifying tokens signed by a key published in JWT_PUBLIC_JWKS after rotation", async () => {
		// Before the rotation: the old key signs.
		const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
		const oldPrivate = { ...(await exportJWK(privateKey)), kid: "rotated-out", alg: "ES256" };
		const oldPublic = { ...(await exportJWK(publicKey)), kid: "rotated-out" };
		const before = { ...env, JWT_PRIVATE_JWK: JSON.stringify(oldPrivate), JWT_PUBLIC_JWKS: undefined } as Env;
		const issued = await signQueueToken(before, { dropId, fanId: "fan-from-before", position: 7, ...AFTER_OPENING });
		const issuedAccess = await signAccessToken(before, {
			dropId,
			fanId: "fan-from-before",
			jti: "a_before",
			exp: Math.floor(Date.now() / 1000) + 300,
			shards: 1,
			position: 7,
		});
		expect(decodeProtectedHeader(issued).kid).toBe("rotated-out");

		// After: the current key signs, and the old one is published as a public key only
		// (an operator who pastes the private JWK there must not publish its private part).
		const after = {
			...env,
			JWT_PUBLIC_JWKS: JSON.stringify({ keys: [oldPrivate, { kty: "oct", k: "c2VjcmV0", kid: "junk" }] }),
		} as Env;
		await expect(verifyQueueToken(after, issued, dropId)).resolves.toEqual({ dropId, fanId: "fan-from-before", position: 7, ...AFTER_OPENING });
		await expect(verifyAccessToken(after, issuedAccess, dropId)).resolves.toMatchObject({ fanId: "fan-from-before", jti: "a_before" });
		const published = await publicJwks(after);
		const rotated = published.keys.find((k) => k.kid === "rotated-out");
		expect(rotated).toEqual({ kty: "EC", crv: "P-256", x: oldPublic.x, y: oldPublic.y, kid: "rotated-out", alg: "ES256", use: "sig" });
		expect(published.keys.map((k) => k.kid)).not.toContain("junk");
		expect(published.keys[0]!.kid).toBe(currentKey.kid);
		// New tokens are signed with the current key, and verify against the published set.
		const fresh = await signQueueToken(after, { dropId, fanId: "fan-after", position: 8, ...AFTER_OPENING });
		expect(decodeProtectedHeader(fresh).kid).toBe(currentKey.kid);
		await expect(jwtVerify(fresh, createLocalJWKSet(published), { typ: QUEUE_TYP })).resolves.toBeTruthy();
		await expect(jwtVerify(issued, createLocalJWKSet(published), { typ: QUEUE_TYP })).resolves.toBeTruthy();

		// Once the old key is no longer published, its tokens stop working.
		const retired = { ...env, JWT_PUBLIC_JWKS: undefined } as Env;
		await expect(verifyQueueToken(retired, issued, dropId)).rejects.toMatchObject({ status: 401, code: "invalid_token" });
		// The Worker's own configuration still answers as before.
		await expect(verifyQueueToken(env, queueToken, dropId)).resolves.toMatchObject({ fanId: "token-waiter" });
	});
});

describe("the Worker's answers", () => {
	it("never carry a stack or a library message for a bad token", async () => {
		for (const token of ["e30.e30.", `${parts(queueToken)[0]}.e30.${parts(queueToken)[2]}`]) {
			const res = await statusWith(dropId, token);
			expect(res.status).toBe(401);
			expect(await res.text()).not.toMatch(/at .*\.(ts|js):\d+|JOSE|ERR_|JWS/);
		}
	});

	it("check the token before anything else in the request", async () => {
		// No Idempotency-Key and no body: the forged token is what is refused.
		const res = await fanFetch(`/api/drops/${dropId}/holds`, "forged", { method: "POST" });
		expect(await refusal(res)).toEqual({ status: 401, code: "invalid_token" });
	});
});
