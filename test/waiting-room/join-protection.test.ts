// Join protection: per-IP and per-fan rate limits (429 + Retry-After), the
// loopback exemption for local load tests, Turnstile verified on the server
// against a stubbed siteverify, and fan identity from the promoter's JWT.
import { env } from "cloudflare:test";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RateLimiter, isLoopback } from "../../src/shared/rate-limit";
import { createDrop, getDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { postJoin, withFanSecret } from "../support/fans";
import { restartObjects } from "../support/objects";
import { lineRows, lineStub } from "../support/room";
import { type EnvOverrides, fanFetch } from "../support/worker";
import { clientKey } from "../../src/shared/rate-limit";

type Overrides = Partial<Record<keyof Env, string>>;

/**
 * A join as the fan page sends it (a fan id comes with that fan's secret for the drop), from
 * client `ip` (null: no address), with `overrides` replacing vars or bindings of the configuration.
 */
const joinAs = (dropId: string, body: Record<string, unknown>, ip: string | null, overrides: EnvOverrides) =>
	postJoin(dropId, withFanSecret(dropId, body), { ip: ip ?? undefined, env: overrides });

/** The fans a (one-line) drop's line holds: the state a refused join must not change. */
const fansInRoom = async (dropId: string) => (await lineRows(dropId)).map((r) => r.fan_id).sort();

async function expect429(res: Response): Promise<number> {
	expect(res.status).toBe(429);
	const header = res.headers.get("retry-after");
	expect(header).toMatch(/^\d+$/);
	const seconds = Number(header);
	expect(seconds).toBeGreaterThanOrEqual(1);
	expect(seconds).toBeLessThanOrEqual(60);
	const body = (await res.json()) as { error: { code: string; message: string; retryAfter: number } };
	expect(body.error.code).toBe("rate_limited");
	expect(body.error.retryAfter).toBe(seconds);
	return seconds;
}

const openDrop = () => createDrop({ opensAt: new Date(Date.now() - 1_000).toISOString(), admission: { batchSize: 1, intervalMs: 600_000, activeMultiple: 20 } });

afterEach(() => {
	vi.restoreAllMocks();
});

describe("rate limit per client IP", () => {
	const limits: Overrides = { JOIN_RATE_PER_IP: "3", JOIN_RATE_PER_FAN: "0" };

	it("lets an IP join the configured number of times a minute, then 429 with Retry-After", async () => {
		const drop = await openDrop();
		for (let i = 0; i < 3; i++) expect((await joinAs(drop.id, { fanId: `ip-fan-${i}` }, "203.0.113.7", limits)).status).toBe(201);
		await expect429(await joinAs(drop.id, { fanId: "ip-fan-3" }, "203.0.113.7", limits));
		await expect429(await joinAs(drop.id, { fanId: "ip-fan-0" }, "203.0.113.7", limits));
		// Another client is not held back by the first one's limit.
		expect((await joinAs(drop.id, { fanId: "ip-fan-4" }, "198.51.100.2", limits)).status).toBe(201);
		expect((await joinAs(drop.id, { fanId: "ip-fan-5" }, "2001:db8::1", limits)).status).toBe(201);
		expect(await fansInRoom(drop.id)).toEqual(["ip-fan-0", "ip-fan-1", "ip-fan-2", "ip-fan-4", "ip-fan-5"]);
	});

	it("counts exactly under a burst: of 40 simultaneous joins from one IP, 5 get in", async () => {
		const drop = await openDrop();
		const burst = { JOIN_RATE_PER_IP: "5", JOIN_RATE_PER_FAN: "0" };
		const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => joinAs(drop.id, { fanId: `burst-${i}` }, "192.0.2.50", burst)));
		const statuses = answers.map((r) => r.status);
		expect(statuses.filter((s) => s === 201)).toHaveLength(5);
		expect(statuses.filter((s) => s === 429)).toHaveLength(35);
		for (const res of answers) if (res.status === 429) await expect429(res);
		expect(await fansInRoom(drop.id)).toHaveLength(5);
		expect((await getDrop(drop.id)).stats.joined).toBe(5);
	});

	it("counts an IPv6 client as its /64, as the engine's other join limits do: one subscriber's addresses share one count", async () => {
		const drop = await openDrop();
		const two = { JOIN_RATE_PER_IP: "2", JOIN_RATE_PER_FAN: "0" };
		const answers = [];
		for (let i = 1; i <= 6; i++) answers.push(await joinAs(drop.id, { fanId: `v6-fan-${i}` }, `2001:db8:7:7::${i}`, two));
		expect(answers.map((r) => r.status)).toEqual([201, 201, 429, 429, 429, 429]);
		for (const res of answers.slice(2)) await expect429(res);
		// The next /64 is another client.
		expect((await joinAs(drop.id, { fanId: "v6-fan-next" }, "2001:db8:7:8::1", two)).status).toBe(201);
		expect(await fansInRoom(drop.id)).toEqual(["v6-fan-1", "v6-fan-2", "v6-fan-next"]);
	});

	it("keeps each drop's counters apart", async () => {
		const [a, b] = [await openDrop(), await openDrop()];
		const one = { JOIN_RATE_PER_IP: "1", JOIN_RATE_PER_FAN: "0" };
		expect((await joinAs(a.id, { fanId: "fan-1" }, "203.0.113.20", one)).status).toBe(201);
		await expect429(await joinAs(a.id, { fanId: "fan-2" }, "203.0.113.20", one));
		expect((await joinAs(b.id, { fanId: "fan-2" }, "203.0.113.20", one)).status).toBe(201);
	});
});

describe("rate limit per fan", () => {
	const limits: Overrides = { JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "2" };

	it("limits one fan id whatever IPs it comes from; a rejoin answers the same place until then", async () => {
		const drop = await openDrop();
		const first = await joinAs(drop.id, { fanId: "fan-many-ips" }, "203.0.113.30", limits);
		expect(first.status).toBe(201);
		const again = await joinAs(drop.id, { fanId: "fan-many-ips" }, "203.0.113.31", limits);
		expect(again.status).toBe(200);
		expect(((await again.json()) as { position: number }).position).toBe(((await first.json()) as { position: number }).position);
		await expect429(await joinAs(drop.id, { fanId: "fan-many-ips" }, "203.0.113.32", limits));
		// Other fans, even from the same addresses, are not affected.
		expect((await joinAs(drop.id, { fanId: "fan-other" }, "203.0.113.30", limits)).status).toBe(201);
		expect(await fansInRoom(drop.id)).toEqual(["fan-many-ips", "fan-other"]);
	});

	it("applies with the defaults from wrangler.toml (20 per fan a minute)", async () => {
		const drop = await openDrop();
		expect(env.JOIN_RATE_PER_FAN).toBe("20");
		const answers: number[] = [];
		for (let i = 0; i < 21; i++) answers.push((await joinAs(drop.id, { fanId: "fan-default" }, `203.0.113.${100 + i}`, {})).status);
		expect(answers.slice(0, 20).every((s) => s === 200 || s === 201)).toBe(true);
		expect(answers[20]).toBe(429);
	});

	it("keeps the default (20 per fan) when the setting is not a whole number, rather than lifting the limit", async () => {
		const drop = await openDrop();
		const mistyped = { JOIN_RATE_PER_FAN: "twenty" };
		const answers: number[] = [];
		for (let i = 0; i < 21; i++) answers.push((await joinAs(drop.id, { fanId: "fan-mistyped" }, `203.0.113.${130 + i}`, mistyped)).status);
		expect(answers.slice(0, 20).every((s) => s === 200 || s === 201)).toBe(true);
		expect(answers[20]).toBe(429);
	});

	it("is off when configured as 0", async () => {
		const drop = await openDrop();
		const off = { JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "0" };
		const answers = await Promise.all(Array.from({ length: 60 }, () => joinAs(drop.id, { fanId: "fan-unlimited" }, "203.0.113.40", off)));
		expect(answers.every((r) => r.status === 200 || r.status === 201)).toBe(true);
		expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
	});
});

describe("loopback exemption", () => {
	const tight = { JOIN_RATE_PER_IP: "1", JOIN_RATE_PER_FAN: "1" };

	it("exempts 127.0.0.1 and ::1 only when RATE_LIMIT_LOOPBACK_EXEMPT is exactly \"true\"", async () => {
		const drop = await openDrop();
		const exempt = { ...tight, RATE_LIMIT_LOOPBACK_EXEMPT: "true" };
		for (const ip of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
			for (let i = 0; i < 5; i++) {
				const res = await joinAs(drop.id, { fanId: `loop-${i}` }, ip, exempt);
				expect([200, 201], `${ip} join ${i}`).toContain(res.status);
			}
		}
		// The same setting does not exempt anyone else.
		expect((await joinAs(drop.id, { fanId: "remote-1" }, "203.0.113.50", exempt)).status).toBe(201);
		await expect429(await joinAs(drop.id, { fanId: "remote-2" }, "203.0.113.50", exempt));
		// Nor an address that merely looks local.
		for (const ip of ["127.0.0.2", "10.0.0.1", "localhost", "0.0.0.0"]) {
			expect((await joinAs(drop.id, { fanId: `near-${ip}` }, ip, exempt)).status).toBe(201);
			await expect429(await joinAs(drop.id, { fanId: `near2-${ip}` }, ip, exempt));
		}
	});

	it("limits loopback like anyone else by default and for any other value", async () => {
		expect(env.RATE_LIMIT_LOOPBACK_EXEMPT).toBe("false");
		for (const setting of [undefined, "false", "TRUE", "1", "yes", " true"]) {
			const drop = await openDrop();
			const overrides: Overrides = setting === undefined ? tight : { ...tight, RATE_LIMIT_LOOPBACK_EXEMPT: setting };
			expect((await joinAs(drop.id, { fanId: "lb-1" }, "127.0.0.1", overrides)).status).toBe(201);
			await expect429(await joinAs(drop.id, { fanId: "lb-2" }, "127.0.0.1", overrides));
		}
	});
});

describe("Turnstile", () => {
	const turnstile: Overrides = {
		TURNSTILE_SECRET: "turnstile-secret",
		TURNSTILE_VERIFY_URL: "https://turnstile.test/siteverify",
		JOIN_RATE_PER_IP: "0",
		JOIN_RATE_PER_FAN: "0",
	};

	it("admits a join whose token the verifier accepts, sending it the secret, token and client IP", async () => {
		const drop = await openDrop();
		const seen: Record<string, string>[] = [];
		const realFetch = globalThis.fetch;
		vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
			const request = new Request(input, init);
			if (new URL(request.url).hostname === "turnstile.test") {
				const form = await request.clone().formData();
				seen.push(Object.fromEntries([...form.entries()].map(([k, v]) => [k, String(v)])));
			}
			return realFetch(request);
		});
		const res = await joinAs(drop.id, { fanId: "human-1", turnstileToken: "pass" }, "198.51.100.77", turnstile);
		expect(res.status).toBe(201);
		expect(seen).toEqual([{ secret: "turnstile-secret", response: "pass", remoteip: "198.51.100.77" }]);
		expect(JSON.stringify(await res.json())).not.toContain("turnstile-secret");
		expect(await fansInRoom(drop.id)).toEqual(["human-1"]);
	});

	it("403 without a token or with one the verifier refuses; nobody joins", async () => {
		const drop = await openDrop();
		const cases: [Record<string, unknown>, Overrides, string][] = [
			[{ fanId: "bot-1" }, turnstile, "turnstile_required"],
			[{ fanId: "bot-2", turnstileToken: "fail" }, turnstile, "turnstile_failed"],
			[{ fanId: "bot-3", turnstileToken: "PASS" }, turnstile, "turnstile_failed"],
			// A wrong secret in the configuration fails closed.
			[{ fanId: "bot-4", turnstileToken: "pass" }, { ...turnstile, TURNSTILE_SECRET: "wrong-secret" }, "turnstile_failed"],
		];
		for (const [body, overrides, code] of cases) {
			const res = await joinAs(drop.id, body, "203.0.113.60", overrides);
			expect(res.status).toBe(403);
			expect(await errorCode(res)).toBe(code);
		}
		expect(await fansInRoom(drop.id)).toEqual([]);
	});

	it("503 with Retry-After when the verifier cannot be reached or answers nonsense; fails closed", async () => {
		const drop = await openDrop();
		for (const url of ["https://verifier-down.test/siteverify", "not a url"]) {
			const res = await joinAs(drop.id, { fanId: "unlucky", turnstileToken: "pass" }, "203.0.113.61", { ...turnstile, TURNSTILE_VERIFY_URL: url });
			expect(res.status).toBe(503);
			expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
			const text = await res.text();
			expect(JSON.parse(text).error.code).toBe("challenge_unavailable");
			expect(text).not.toMatch(/502|no network|TypeError|siteverify/);
		}
		vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("<html>", { status: 200 }));
		const garbled = await joinAs(drop.id, { fanId: "unlucky", turnstileToken: "pass" }, "203.0.113.61", turnstile);
		expect(garbled.status).toBe(503);
		vi.restoreAllMocks();
		vi.spyOn(globalThis, "fetch").mockResolvedValue(Response.json({ success: "true" }));
		const truthy = await joinAs(drop.id, { fanId: "unlucky", turnstileToken: "pass" }, "203.0.113.61", turnstile);
		expect(truthy.status).toBe(403);
		expect(await fansInRoom(drop.id)).toEqual([]);
	});

	it("is not asked at all when no secret is configured", async () => {
		const drop = await openDrop();
		const spy = vi.spyOn(globalThis, "fetch");
		expect((await joinAs(drop.id, { fanId: "plain" }, "203.0.113.62", { JOIN_RATE_PER_IP: "0" })).status).toBe(201);
		expect((await joinAs(drop.id, { fanId: "plain-2", turnstileToken: "anything" }, "203.0.113.62", { JOIN_RATE_PER_IP: "0" })).status).toBe(201);
		expect(spy).not.toHaveBeenCalled();
	});
});

describe("fan identity with a shared secret (HS256)", () => {
	const SECRET = "promoter-shared-secret-of-decent-length";
	const identity: Overrides = { FAN_IDENTITY_SECRET: SECRET, JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "0" };
	const key = new TextEncoder().encode(SECRET);

	function token(claims: Record<string, unknown> = {}, { secret = key, alg = "HS256", exp = "10m" as string | null } = {}) {
		const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg }).setIssuedAt();
		if (!("sub" in claims)) jwt.setSubject("fan-from-site");
		if (exp !== null) jwt.setExpirationTime(exp);
		return jwt.sign(secret);
	}

	it("takes the fan id from the token's subject, and the queue token carries it", async () => {
		const drop = await openDrop();
		const res = await joinAs(drop.id, { identityToken: await token() }, "203.0.113.70", identity);
		expect(res.status).toBe(201);
		const body = (await res.json()) as { fanId: string; queueToken: string };
		expect(body.fanId).toBe("fan-from-site");
		const status = await fanFetch(`/api/drops/${drop.id}/status`, body.queueToken, {}, { ip: "203.0.113.1", env: identity });
		expect(status.status).toBe(200);
		// The same fan id in the body is fine; the subject decides.
		const again = await joinAs(drop.id, { identityToken: await token(), fanId: "fan-from-site" }, "203.0.113.70", identity);
		expect(again.status).toBe(200);
		expect(await fansInRoom(drop.id)).toEqual(["fan-from-site"]);
	});

	it("refuses joins without a good token, and never trusts a fan id from the body", async () => {
		const drop = await openDrop();
		const none = "none";
		const unsigned = `${btoa(JSON.stringify({ alg: none, typ: "JWT" })).replace(/=+$/, "")}.${btoa(
			JSON.stringify({ sub: "fan-forged", exp: Math.floor(Date.now() / 1000) + 600 }),
		).replace(/=+$/, "")}.`;
		const cases: [string, Record<string, unknown>, number, string][] = [
			["no token, a fan id", { fanId: "fan-claimed" }, 401, "identity_required"],
			["no body fields", {}, 401, "identity_required"],
			["expired", { identityToken: await token({}, { exp: "-1m" }) }, 401, "identity_expired"],
			["wrong secret", { identityToken: await token({}, { secret: new TextEncoder().encode("another-secret-entirely-here") }) }, 401, "invalid_identity"],
			["HS512, not HS256", { identityToken: await token({}, { alg: "HS512" }) }, 401, "invalid_identity"],
			["alg none", { identityToken: unsigned }, 401, "invalid_identity"],
			["no exp", { identityToken: await token({}, { exp: null }) }, 401, "invalid_identity"],
			["no sub", { identityToken: await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(key) }, 401, "invalid_identity"],
			["a numeric sub", { identityToken: await token({ sub: 12345 }) }, 401, "invalid_identity"],
			["an object sub", { identityToken: await token({ sub: { id: "x" } }) }, 401, "invalid_identity"],
			["an empty sub", { identityToken: await token({ sub: "" }) }, 401, "invalid_identity"],
			["a sub with spaces", { identityToken: await token({ sub: "fan one" }) }, 401, "invalid_identity"],
			["a sub with a control character", { identityToken: await token({ sub: "fan\u0000" }) }, 401, "invalid_identity"],
			["a sub too long", { identityToken: await token({ sub: "s".repeat(129) }) }, 401, "invalid_identity"],
			["not yet valid", { identityToken: await token({ nbf: Math.floor(Date.now() / 1000) + 600 }) }, 401, "invalid_identity"],
			["garbage", { identityToken: "a.b.c" }, 401, "invalid_identity"],
			["a fan id that is not the subject", { identityToken: await token(), fanId: "someone-else" }, 422, "fan_mismatch"],
		];
		for (const [what, body, status, code] of cases) {
			const res = await joinAs(drop.id, body, "203.0.113.71", identity);
			expect(res.status, what).toBe(status);
			expect(await errorCode(res), what).toBe(code);
		}
		expect(await fansInRoom(drop.id)).toEqual([]);
	});

	it("checks issuer and audience when they are configured", async () => {
		const drop = await openDrop();
		const strict = { ...identity, FAN_IDENTITY_ISSUER: "https://promoter.example", FAN_IDENTITY_AUDIENCE: "ticket-drops" };
		const good = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("fan-strict").setIssuer("https://promoter.example").setAudience("ticket-drops").setExpirationTime("5m").sign(key);
		const wrongIss = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("fan-x").setIssuer("https://evil.example").setAudience("ticket-drops").setExpirationTime("5m").sign(key);
		const wrongAud = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("fan-y").setIssuer("https://promoter.example").setAudience("other").setExpirationTime("5m").sign(key);
		const bare = await token();
		expect((await joinAs(drop.id, { identityToken: good }, "203.0.113.72", strict)).status).toBe(201);
		for (const t of [wrongIss, wrongAud, bare]) {
			const res = await joinAs(drop.id, { identityToken: t }, "203.0.113.72", strict);
			expect(res.status).toBe(401);
			expect(await errorCode(res)).toBe("invalid_identity");
		}
		expect(await fansInRoom(drop.id)).toEqual(["fan-strict"]);
	});

	it("a token from the engine itself (a queue token) is not an identity", async () => {
		const drop = await openDrop();
		const queued = (await (await joinAs(drop.id, { fanId: "fan-q" }, "203.0.113.73", { JOIN_RATE_PER_IP: "0" })).json()) as { queueToken: string };
		const res = await joinAs(drop.id, { identityToken: queued.queueToken }, "203.0.113.73", identity);
		expect(res.status).toBe(401);
		expect(await errorCode(res)).toBe("invalid_identity");
	});
});

describe("fan identity from the promoter's JWKS URL", () => {
	async function promoterKeys(kid: string) {
		const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
		const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
		return { privateKey, jwks: { keys: [jwk] } };
	}

	/** Serves `jwks` at `url` to the Worker's outbound fetch; everything else goes on as before. */
	function serveJwks(url: string, jwks: unknown) {
		const realFetch = globalThis.fetch;
		const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
			const request = new Request(input, init);
			if (request.url === url) return Response.json(jwks);
			return realFetch(request);
		});
		return spy;
	}

	it("verifies ES256 tokens against the published keys and refuses others", async () => {
		const drop = await openDrop();
		const url = `https://idp.test/jwks-${crypto.randomUUID()}.json`;
		const overrides: Overrides = { FAN_IDENTITY_JWKS_URL: url, JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "0" };
		const site = await promoterKeys("site-1");
		const stranger = await promoterKeys("site-1");
		serveJwks(url, site.jwks);
		const sign = (privateKey: CryptoKey, sub: string) =>
			new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "site-1" }).setSubject(sub).setExpirationTime("5m").sign(privateKey);

		const ok = await joinAs(drop.id, { identityToken: await sign(site.privateKey, "fan-jwks") }, "203.0.113.80", overrides);
		expect(ok.status).toBe(201);
		expect(((await ok.json()) as { fanId: string }).fanId).toBe("fan-jwks");

		const forged = await joinAs(drop.id, { identityToken: await sign(stranger.privateKey, "fan-forged") }, "203.0.113.80", overrides);
		expect(forged.status).toBe(401);
		expect(await errorCode(forged)).toBe("invalid_identity");
		// A shared-secret token means nothing in JWKS mode.
		const hs = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("fan-hs").setExpirationTime("5m").sign(new TextEncoder().encode("x".repeat(32)));
		const hsRes = await joinAs(drop.id, { identityToken: hs }, "203.0.113.80", overrides);
		expect(hsRes.status).toBe(401);
		expect(await fansInRoom(drop.id)).toEqual(["fan-jwks"]);
	});

	it("503 identity_unavailable when the key set cannot be fetched; nobody joins", async () => {
		const drop = await openDrop();
		const site = await promoterKeys("site-2");
		const identityToken = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "site-2" }).setSubject("fan-w").setExpirationTime("5m").sign(site.privateKey);
		// The test network answers 502 for any host but the Turnstile stub.
		const down: Overrides = { FAN_IDENTITY_JWKS_URL: `https://idp-down.test/${crypto.randomUUID()}.json`, JOIN_RATE_PER_IP: "0" };
		const res = await joinAs(drop.id, { identityToken }, "203.0.113.81", down);
		expect(res.status).toBe(503);
		expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
		const text = await res.text();
		expect(JSON.parse(text).error.code).toBe("identity_unavailable");
		expect(text).not.toMatch(/idp-down|JSON Web Key Set|200 OK/);

		const brokenUrl = `https://idp.test/${crypto.randomUUID()}.json`;
		serveJwks(brokenUrl, { not: "a key set" });
		const broken = await joinAs(drop.id, { identityToken }, "203.0.113.81", { ...down, FAN_IDENTITY_JWKS_URL: brokenUrl });
		expect(broken.status).toBe(503);
		expect(await fansInRoom(drop.id)).toEqual([]);
	});
});

describe("order of the checks", () => {
	it("a refused identity or challenge does not use up the fan's rate limit", async () => {
		const drop = await openDrop();
		const SECRET = "promoter-shared-secret-of-decent-length";
		const overrides: Overrides = {
			FAN_IDENTITY_SECRET: SECRET,
			TURNSTILE_SECRET: "turnstile-secret",
			TURNSTILE_VERIFY_URL: "https://turnstile.test/siteverify",
			JOIN_RATE_PER_FAN: "1",
			JOIN_RATE_PER_IP: "0",
		};
		const identityToken = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("fan-order").setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
		for (let i = 0; i < 3; i++) {
			expect((await joinAs(drop.id, { identityToken, turnstileToken: "fail" }, "203.0.113.90", overrides)).status).toBe(403);
		}
		expect((await joinAs(drop.id, { identityToken, turnstileToken: "pass" }, "203.0.113.90", overrides)).status).toBe(201);
		await expect429(await joinAs(drop.id, { identityToken, turnstileToken: "pass" }, "203.0.113.90", overrides));
	});
});

describe("joins per client across every drop (the JOIN_LIMITER binding, checked first)", () => {
	// wrangler.toml: 120 joins a minute per client. The local simulation counts in windows
	// aligned to the minute; a burst that began in one and ended in the next would be counted
	// in both, so each burst starts with at least 10 s of its window left.
	const LIMIT = 120;
	async function freshWindow(): Promise<void> {
		const left = 60_000 - (Date.now() % 60_000);
		if (left < 10_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
	}
	/** An address no other test uses. */
	const newIp = () => `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
	const perDropOff: Overrides = { JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "0" };

	it("a flood of failed challenges from one client gets 429 before Turnstile is asked", async () => {
		const drop = await openDrop();
		const turnstile: Overrides = { ...perDropOff, TURNSTILE_SECRET: "turnstile-secret", TURNSTILE_VERIFY_URL: "https://turnstile.test/siteverify" };
		let asked = 0;
		const realFetch = globalThis.fetch;
		vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
			const request = new Request(input, init);
			if (new URL(request.url).hostname === "turnstile.test") asked++;
			return realFetch(request);
		});
		const ip = newIp();
		await freshWindow();
		const answers = await Promise.all(
			Array.from({ length: LIMIT + 30 }, (_, i) => joinAs(drop.id, { fanId: `bot-${i}`, turnstileToken: "fail" }, ip, turnstile)),
		);
		const statuses = answers.map((r) => r.status);
		expect(statuses.filter((s) => s === 403)).toHaveLength(LIMIT);
		expect(statuses.filter((s) => s === 429)).toHaveLength(30);
		expect(asked).toBe(LIMIT);
		for (const res of answers) if (res.status === 429) await expect429(res);
		// Another client is not held back, and Turnstile is asked for it.
		expect((await joinAs(drop.id, { fanId: "human", turnstileToken: "pass" }, newIp(), turnstile)).status).toBe(201);
		expect(asked).toBe(LIMIT + 1);
		expect(await fansInRoom(drop.id)).toEqual(["human"]);
	});

	it("holds across drops, made-up drop ids and a restart of every line", async () => {
		const [a, b] = [await openDrop(), await openDrop()];
		const ip = newIp();
		await freshWindow();
		const targets = Array.from({ length: LIMIT }, (_, i) => (i % 3 === 0 ? a.id : i % 3 === 1 ? b.id : "d_AAAAAAAAAAAAAAAA"));
		const answers = await Promise.all(targets.map((dropId, i) => joinAs(dropId, { fanId: `spread-${i}` }, ip, perDropOff)));
		expect(answers.map((r) => r.status)).toEqual(targets.map((id) => (id === "d_AAAAAAAAAAAAAAAA" ? 404 : 201)));
		// The lines restart (their own per-drop counters are memory); this client's count is not theirs.
		await restartObjects([() => lineStub(a.id, 0), () => lineStub(b.id, 0)]);
		for (const dropId of [a.id, b.id, "d_AAAAAAAAAAAAAAAA", "d_BBBBBBBBBBBBBBBB"]) {
			await expect429(await joinAs(dropId, { fanId: "one-more" }, ip, perDropOff));
		}
		expect(await fansInRoom(a.id)).toHaveLength(LIMIT / 3);
		expect(await fansInRoom(b.id)).toHaveLength(LIMIT / 3);
		// Someone else joins as usual.
		expect((await joinAs(a.id, { fanId: "someone-else" }, newIp(), perDropOff)).status).toBe(201);
	});

	it("leaves loopback alone where RATE_LIMIT_LOOPBACK_EXEMPT is \"true\" (it is never asked), and requests with no client address", async () => {
		const drop = await openDrop();
		let counted = 0;
		const counting = { limit: (options: RateLimitOptions) => (counted++, env.JOIN_LIMITER.limit(options)) };
		const exempt = { ...perDropOff, RATE_LIMIT_LOOPBACK_EXEMPT: "true" };
		for (let i = 0; i < 5; i++) {
			expect((await joinAs(drop.id, { fanId: `lo-${i}` }, "127.0.0.1", { ...exempt, JOIN_LIMITER: counting })).status).toBe(201);
			expect((await joinAs(drop.id, { fanId: `none-${i}` }, null, { ...perDropOff, JOIN_LIMITER: counting })).status).toBe(201);
		}
		expect(counted).toBe(0);
		// Not exempt: asked like any client.
		expect((await joinAs(drop.id, { fanId: "lo-counted" }, "127.0.0.1", { ...perDropOff, JOIN_LIMITER: counting })).status).toBe(201);
		expect(counted).toBe(1);
	});

	it("a limiter that fails does not stop joins (each line still counts per drop)", async () => {
		const drop = await openDrop();
		const broken = { limit: () => Promise.reject(new Error("rate limiter unavailable")) };
		expect((await joinAs(drop.id, { fanId: "unlimited" }, newIp(), { JOIN_LIMITER: broken })).status).toBe(201);
		const tight = { JOIN_LIMITER: broken, JOIN_RATE_PER_IP: "1", JOIN_RATE_PER_FAN: "0" };
		const ip = newIp();
		expect((await joinAs(drop.id, { fanId: "line-counted-1" }, ip, tight)).status).toBe(201);
		await expect429(await joinAs(drop.id, { fanId: "line-counted-2" }, ip, tight));
	});

	it("counts an IPv6 client as its /64, an IPv4 client (mapped or not) as its address", () => {
		expect(clientKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
		expect(clientKey("2001:0db8:0001:0002::9")).toBe("2001:db8:1:2::/64");
		expect(clientKey("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
		expect(clientKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
		expect(clientKey("::1")).toBe("0:0:0:0::/64");
		expect(clientKey("203.0.113.9")).toBe("203.0.113.9");
		expect(clientKey("::ffff:203.0.113.9")).toBe("203.0.113.9");
	});
});

describe("RateLimiter (the counter itself, with the clock passed in)", () => {
	it("allows `limit` per window per key, then answers the seconds until the window ends", () => {
		const limiter = new RateLimiter(60_000);
		const t0 = 1_000_000;
		expect([1, 2, 3].map(() => limiter.take("ip:a", 3, t0).allowed)).toEqual([true, true, true]);
		expect(limiter.take("ip:a", 3, t0)).toEqual({ allowed: false, retryAfter: 60 });
		expect(limiter.take("ip:a", 3, t0 + 59_001)).toEqual({ allowed: false, retryAfter: 1 });
		expect(limiter.take("ip:b", 3, t0).allowed).toBe(true);
		// A new window starts clean.
		expect(limiter.take("ip:a", 3, t0 + 60_000).allowed).toBe(true);
		// Zero or less means no limit.
		for (let i = 0; i < 100; i++) expect(limiter.take("fan:x", 0, t0).allowed).toBe(true);
	});

	it("stays bounded in memory under a flood of distinct keys, forgetting the oldest first", () => {
		const limiter = new RateLimiter(60_000, 100);
		const t0 = 5_000_000;
		for (let i = 0; i < 1_000; i++) limiter.take(`ip:${i}`, 1, t0);
		const windows = (limiter as unknown as { windows: Map<string, unknown> }).windows;
		expect(windows.size).toBeLessThanOrEqual(100);
		// The newest keys are still counted; the oldest were let go.
		expect(limiter.take("ip:999", 1, t0).allowed).toBe(false);
		expect(limiter.take("ip:0", 1, t0).allowed).toBe(true);
		// Expired windows are dropped before live ones.
		for (let i = 0; i < 200; i++) limiter.take(`late:${i}`, 1, t0 + 61_000);
		expect(windows.size).toBeLessThanOrEqual(100);
		expect(limiter.take("late:199", 1, t0 + 61_000).allowed).toBe(false);
	});

	it("recognises loopback addresses exactly", () => {
		expect(["127.0.0.1", "::1", "::ffff:127.0.0.1"].map(isLoopback)).toEqual([true, true, true]);
		expect(["127.0.0.2", "10.0.0.1", "localhost", "", null, "::2", "203.0.113.1"].map(isLoopback)).toEqual(Array(7).fill(false));
	});
});
