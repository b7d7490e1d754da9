// The HTTP edge: CORS for configured origins, security headers on every
// response (a strict CSP on pages), and 5xx answers that carry nothing internal.
import { env } from "cloudflare:test";
import { SignJWT, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { ApiError, errorResponse } from "../../src/shared/errors";
import { createDrop } from "../support/drops";
import { INTERNALS } from "../support/errors";
import { admittedFan, hold } from "../support/fans";
import { type EnvOverrides, adminFetch, callWorker, fanFetch } from "../support/worker";

const ORIGINS = "https://promoter.example, https://fans.example";
const cors: EnvOverrides = { CORS_ORIGINS: ORIGINS };

function expectSecurityHeaders(res: Response, what: string): void {
	const h = res.headers;
	expect(h.get("x-content-type-options"), what).toBe("nosniff");
	expect(h.get("x-frame-options"), what).toBe("DENY");
	expect(h.get("referrer-policy"), what).toBe("no-referrer");
	expect(h.get("strict-transport-security"), what).toMatch(/^max-age=\d{7,}/);
	expect(h.get("cross-origin-opener-policy"), what).toBe("same-origin");
	expect(h.get("permissions-policy"), what).toContain("camera=()");
	const csp = h.get("content-security-policy");
	expect(csp, what).toContain("frame-ancestors 'none'");
}

function expectApiHeaders(res: Response, what: string): void {
	expectSecurityHeaders(res, what);
	expect(res.headers.get("content-security-policy"), what).toBe("default-src 'none'; frame-ancestors 'none'");
}

describe("CORS preflight", () => {
	const preflight = (path: string, origin: string | null, overrides: EnvOverrides = cors) => {
		const headers = new Headers({ "access-control-request-method": "POST", "access-control-request-headers": "content-type, authorization, idempotency-key" });
		if (origin !== null) headers.set("origin", origin);
		return callWorker(path, { method: "OPTIONS", headers }, { env: overrides });
	};

	it("allows a configured origin the methods and headers the API uses, without credentials", async () => {
		for (const path of ["/api/drops/d_x/join", "/api/drops/d_x/holds", "/api/admin/drops", "/api/orders/o_0_x"]) {
			const res = await preflight(path, "https://fans.example");
			expect(res.status, path).toBe(204);
			expect(res.headers.get("access-control-allow-origin")).toBe("https://fans.example");
			const methods = res.headers.get("access-control-allow-methods")!.split(/,\s*/);
			expect(methods).toEqual(expect.arrayContaining(["GET", "POST", "PATCH", "DELETE"]));
			const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase().split(/,\s*/);
			expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "idempotency-key"]));
			expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
			expect(res.headers.get("access-control-allow-credentials")).toBeNull();
			expect(res.headers.get("vary")).toBe("Origin");
			expect(await res.text()).toBe("");
			expectApiHeaders(res, `preflight ${path}`);
		}
		const promoter = await preflight("/api/admin/drops", "https://promoter.example");
		expect(promoter.headers.get("access-control-allow-origin")).toBe("https://promoter.example");
	});

	it("refuses origins that are not configured, however close", async () => {
		for (const origin of ["https://evil.example", "https://fans.example.evil.example", "http://fans.example", "https://fans.example:8443", "null", "https://fans.example/"]) {
			const res = await preflight("/api/drops/d_x/join", origin);
			expect(res.status, origin).toBe(403);
			expect(res.headers.get("access-control-allow-origin"), origin).toBeNull();
			expectApiHeaders(res, origin);
		}
		expect((await preflight("/api/drops/d_x/join", null)).status).toBe(403);
	});

	it("allows no origin when none is configured (the default)", async () => {
		expect(env.CORS_ORIGINS).toBe("");
		const res = await callWorker("/api/health", { method: "OPTIONS", headers: { origin: "https://fans.example", "access-control-request-method": "GET" } }, { via: "self" });
		expect(res.status).toBe(403);
		expect(res.headers.get("access-control-allow-origin")).toBeNull();
	});

	it("allows any origin with \"*\"", async () => {
		const res = await preflight("/api/drops/d_x/join", "https://anywhere.example", { CORS_ORIGINS: "*" });
		expect(res.status).toBe(204);
		expect(res.headers.get("access-control-allow-origin")).toBe("*");
	});
});

describe("CORS on responses", () => {
	const withOrigin = (origin: string) => ({ headers: { origin } });

	it("names an allowed origin on answers and errors alike, and exposes Retry-After", async () => {
		for (const [path, status] of [["/api/health", 200], ["/api/drops/d_AAAAAAAAAAAAAAAA", 404], ["/api/admin/drops", 401], ["/.well-known/jwks.json", 200]] as const) {
			const res = await callWorker(path, withOrigin("https://fans.example"), { env: cors });
			expect(res.status, path).toBe(status);
			expect(res.headers.get("access-control-allow-origin"), path).toBe("https://fans.example");
			expect(res.headers.get("access-control-expose-headers")).toContain("Retry-After");
			expect(res.headers.get("vary")?.split(/,\s*/).filter((v) => v.toLowerCase() === "origin")).toEqual(["Origin"]);
			expect(res.headers.get("access-control-allow-credentials")).toBeNull();
		}
	});

	it("lets a browser read a 429's Retry-After", async () => {
		const drop = await createDrop();
		const overrides = { ...cors, JOIN_RATE_PER_IP: "1" };
		const join = (fanId: string) =>
			callWorker(`/api/drops/${drop.id}/join`, { method: "POST", headers: { origin: "https://fans.example", "content-type": "application/json", "cf-connecting-ip": "203.0.113.5" }, body: JSON.stringify({ fanId }) }, { env: overrides });
		expect((await join("cors-1")).status).toBe(201);
		const limited = await join("cors-2");
		expect(limited.status).toBe(429);
		expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
		expect(limited.headers.get("access-control-allow-origin")).toBe("https://fans.example");
		expect(limited.headers.get("access-control-expose-headers")).toContain("Retry-After");
	});

	it("says nothing to an origin that is not allowed, nor without configuration", async () => {
		expect((await callWorker("/api/health", withOrigin("https://evil.example"), { env: cors })).headers.get("access-control-allow-origin")).toBeNull();
		expect((await callWorker("/api/health", {}, { env: cors })).headers.get("access-control-allow-origin")).toBeNull();
		expect((await callWorker("/api/health", withOrigin("https://fans.example"), { via: "self" })).headers.get("access-control-allow-origin")).toBeNull();
	});

	it("with a list of origins, every answer varies by Origin, so no cache mixes them up", async () => {
		const drop = await createDrop();
		// The public view may be cached briefly: its answer must say it depends on the Origin.
		for (const init of [{}, withOrigin("https://evil.example"), withOrigin("https://fans.example")]) {
			const res = await callWorker(`/api/drops/${drop.id}`, init, { env: cors });
			expect(res.status).toBe(200);
			expect(res.headers.get("cache-control")).toMatch(/^public/);
			expect(res.headers.get("vary")?.split(/,\s*/)).toContain("Origin");
		}
		// With "*" or nothing configured the answer is the same for everyone.
		expect((await callWorker(`/api/drops/${drop.id}`, withOrigin("https://a.example"), { env: { CORS_ORIGINS: "*" } })).headers.get("vary")).toBeNull();
		expect((await callWorker(`/api/drops/${drop.id}`, withOrigin("https://a.example"), { via: "self" })).headers.get("vary")).toBeNull();
	});

	it("pages carry no CORS headers", async () => {
		const res = await callWorker("/", withOrigin("https://fans.example"), { env: cors });
		expect(res.headers.get("access-control-allow-origin")).toBeNull();
	});
});

describe("security headers", () => {
	it("are on every kind of API answer", async () => {
		const drop = await createDrop();
		const token = await admittedFan(drop.id, "fan-headers");
		const h = await hold(drop.id, token, 1);
		const { holdId } = (await h.json()) as { holdId: string };
		const answers: [string, Response][] = [
			["200", await callWorker("/api/health", {}, { via: "self" })],
			["201", h],
			["204", await fanFetch(`/api/drops/${drop.id}/holds/${holdId}`, token, { method: "DELETE" })],
			["400", await adminFetch("/api/admin/drops", { method: "POST", body: "{" })],
			["401", await callWorker("/api/admin/drops", {}, { via: "self" })],
			["404", await callWorker("/api/nothing-here", {}, { via: "self" })],
			["413", await adminFetch("/api/admin/drops", { method: "POST", body: "x".repeat(20_000) })],
			["415", await adminFetch("/api/admin/drops", { method: "POST", body: "{}", headers: { "content-type": "text/plain" } })],
			["jwks", await callWorker("/.well-known/jwks.json", {}, { via: "self" })],
		];
		for (const [what, res] of answers) {
			expectApiHeaders(res, what);
			if (what !== "jwks") expect(res.headers.get("cache-control"), what).toBe("no-store");
		}
		expect(answers.map(([, r]) => r.status)).toEqual([200, 201, 204, 400, 401, 404, 413, 415, 200]);
		// The key set may be cached: it is public and changes only with a deployment.
		expect(answers.at(-1)![1].headers.get("cache-control")).toMatch(/^public/);
	});

	it("pages get a CSP that runs only the engine's own scripts", async () => {
		for (const path of ["/", "/index.html", "/drops/d_AAAAAAAAAAAAAAAA", "/admin", "/no-such-page"]) {
			const res = await callWorker(path, {}, { via: "self" });
			await res.arrayBuffer();
			expectSecurityHeaders(res, path);
			const csp = res.headers.get("content-security-policy")!;
			const directives = Object.fromEntries(csp.split(/;\s*/).map((d) => [d.split(" ")[0], d.split(" ").slice(1)]));
			expect(directives["default-src"], path).toEqual(["'self'"]);
			expect(directives["script-src"], path).toEqual(["'self'"]);
			expect(directives["object-src"], path).toEqual(["'none'"]);
			expect(directives["base-uri"], path).toEqual(["'none'"]);
			expect(csp, path).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
		}
		// The gate scanner reads QR codes with the camera, itself only; no other page may.
		const gate = await callWorker("/gate", {}, { via: "self" });
		await gate.arrayBuffer();
		expect(gate.headers.get("permissions-policy")).toContain("camera=(self)");
		expect(gate.headers.get("content-security-policy")).toContain("script-src 'self'");
		const home = await callWorker("/", {}, { via: "self" });
		expect(home.status).toBe(200);
		expect(home.headers.get("content-type")).toMatch(/^text\/html/);
	});
});

describe("the fan page on a deployment that takes cards", () => {
	const stripe: EnvOverrides = { STRIPE_PUBLISHABLE_KEY: "pk_test_51EdgeTest" };
	const directivesOf = (res: Response) => Object.fromEntries(res.headers.get("content-security-policy")!.split(/;\s*/).map((d) => [d.split(" ")[0], d.split(" ").slice(1)]));

	it("lets the fan page load Stripe.js, its card field and 3-D Secure frames, and nothing more", async () => {
		const res = await callWorker("/drops/d_AAAAAAAAAAAAAAAA", {}, { env: stripe });
		await res.arrayBuffer();
		expect(res.status).toBe(200);
		expectSecurityHeaders(res, "fan page");
		const d = directivesOf(res);
		expect(d["script-src"]).toEqual(["'self'", "https://js.stripe.com"]);
		expect(d["connect-src"]).toEqual(["'self'", "https://api.stripe.com"]);
		expect(d["frame-src"]).toEqual(["https://js.stripe.com", "https://hooks.stripe.com"]);
		expect(d["default-src"]).toEqual(["'self'"]);
		expect(d["object-src"]).toEqual(["'none'"]);
		expect(res.headers.get("content-security-policy")).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
	});

	it("keeps every other page, and the fan page without the key or without Stripe, to the engine's own scripts", async () => {
		const cases: [string, EnvOverrides][] = [
			["/", stripe],
			["/admin", stripe],
			["/index.html", stripe],
			["/drops/d_AAAAAAAAAAAAAAAA", {}],
			// A publishable key without Stripe's secret key takes no card: the page loads no Stripe.js.
			["/drops/d_AAAAAAAAAAAAAAAA", { ...stripe, STRIPE_SECRET_KEY: "" }],
			// A secret key set as the publishable one by mistake is not a publishable key.
			["/drops/d_AAAAAAAAAAAAAAAA", { STRIPE_PUBLISHABLE_KEY: "sk_test_oops" }],
		];
		for (const [path, overrides] of cases) {
			const res = await callWorker(path, {}, { env: overrides });
			await res.arrayBuffer();
			const d = directivesOf(res);
			expect(d["script-src"], path).toEqual(["'self'"]);
			expect(d["connect-src"], path).toEqual(["'self'"]);
			expect(d["frame-src"], path).toBeUndefined();
		}
		// The API keeps its own CSP with the key set.
		expectApiHeaders(await callWorker("/api/health", {}, { env: stripe }), "api");
	});
});

describe("5xx answers", () => {
	async function expectBare500(res: Response, what: string): Promise<void> {
		expect(res.status, what).toBe(500);
		const text = await res.text();
		expect(JSON.parse(text), what).toEqual({ error: { code: "internal", message: expect.any(String) } });
		expect(text, what).not.toMatch(INTERNALS);
		expectApiHeaders(res, what);
	}

	it("a broken signing key: 500 with nothing about the key", async () => {
		const res = await callWorker("/.well-known/jwks.json", {}, { env: { JWT_PRIVATE_JWK: '{"kty":"oct","k":"secret-detail"}' } });
		await expectBare500(res, "jwks");
	});

	it("a failing database: 500 with nothing from D1, and CORS still lets the page read it", async () => {
		const failingDb = new Proxy(env.DB, {
			get(target, prop) {
				if (prop === "prepare") {
					return () => {
						throw new Error("D1_ERROR: no such table: drops: SQLITE_ERROR secret-detail");
					};
				}
				return Reflect.get(target, prop);
			},
		});
		const admin = { authorization: `Bearer ${env.ADMIN_TOKEN}`, origin: "https://promoter.example" };
		for (const path of ["/api/admin/drops", "/api/admin/drops/d_AAAAAAAAAAAAAAAA"]) {
			const res = await callWorker(path, { headers: admin }, { env: { ...cors, DB: failingDb } });
			expect(res.headers.get("access-control-allow-origin")).toBe("https://promoter.example");
			await expectBare500(res, path);
		}
		// The public view is the pacer's published document: once the isolate knows the drop
		// exists (D1, asked once an hour at most), it needs D1 no more.
		const drop = await createDrop();
		expect((await callWorker(`/api/drops/${drop.id}`)).status).toBe(200);
		const fan = await callWorker(`/api/drops/${drop.id}`, {}, { env: { DB: failingDb } });
		expect(fan.status).toBe(200);
		expect(await fan.json()).toMatchObject({ id: drop.id, status: "open" });
		// One it does not know yet: 503 try_again (unknown-drops.test.ts), never a 500.
		const unknown = await callWorker(`/api/drops/${(await createDrop()).id}`, {}, { env: { DB: failingDb } });
		expect(unknown.status).toBe(503);
		expect(unknown.headers.get("retry-after")).toBe("1");
		expect(await unknown.text()).not.toMatch(INTERNALS);
	});

	it("a Durable Object that throws: 500 with nothing from the object", async () => {
		const drop = await createDrop();
		const throwingLine = {
			getByName: () => ({
				join: async () => {
					throw new Error("secret-detail: storage exploded at WaitingLine.join (waiting-line.ts:120)");
				},
			}),
		};
		const res = await callWorker(
			`/api/drops/${drop.id}/join`,
			{ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ fanId: "fan-500" }) },
			{ env: { WAITING_LINE: throwingLine } },
		);
		await expectBare500(res, "join");
		const throwingPacer = {
			getByName: () => ({
				watermark: async () => {
					throw new Error("secret-detail: storage exploded at WaitingRoom.watermark (waiting-room.ts:200)");
				},
			}),
		};
		await expectBare500(await callWorker(`/api/drops/${drop.id}`, {}, { env: { WAITING_ROOM: throwingPacer, WATERMARK_CACHE_MS: "0" } }), "public view");
	});
});

describe("Retry-After on every 429 and 503", () => {
	/** The header and the body's retryAfter: the same whole number of seconds, at least 1. */
	async function expectRetryAfter(res: Response, status: number, code: string, seconds?: number): Promise<void> {
		expect(res.status, code).toBe(status);
		const header = res.headers.get("retry-after");
		expect(header, code).toMatch(/^[1-9]\d*$/);
		const body = (await res.json()) as { error: { code: string; retryAfter: number } };
		expect(body.error.code).toBe(code);
		expect(body.error.retryAfter).toBe(Number(header));
		if (seconds !== undefined) expect(Number(header), code).toBe(seconds);
	}

	it("is set wherever a failure becomes an answer, from its retryAfter, 1 when it gave none", async () => {
		await expectRetryAfter(errorResponse(new ApiError(503, "busy", "Later.")), 503, "busy", 1);
		await expectRetryAfter(errorResponse(new ApiError(429, "slow_down", "Later.", { retryAfter: 7 })), 429, "slow_down", 7);
		await expectRetryAfter(errorResponse(new ApiError(503, "busy", "Later.", { retryAfter: 2.2 })), 503, "busy", 3);
		await expectRetryAfter(errorResponse(new ApiError(503, "busy", "Later.", { retryAfter: "soon" })), 503, "busy", 1);
		// Other statuses carry none.
		const conflict = errorResponse(new ApiError(409, "sold_out", "Gone."));
		expect(conflict.headers.get("retry-after")).toBeNull();
		expect(await conflict.json()).toEqual({ error: { code: "sold_out", message: "Gone." } });
	});

	it("on the hold route's 503 try_again, which comes from the shard as an outcome", async () => {
		const drop = await createDrop();
		const access = await admittedFan(drop.id, "retry-fan");
		const shardAnswering = (outcome: unknown) => ({ getByName: () => ({ hold: async () => outcome }) });
		const tryAgain = { ok: false, status: 503, code: "try_again", message: "Tickets are being moved; try again." };
		for (const [outcome, seconds] of [
			[{ ...tryAgain, details: { retryAfter: 2 } }, 2],
			[tryAgain, 1],
		] as const) {
			const res = await callWorker(
				`/api/drops/${drop.id}/holds`,
				{ method: "POST", headers: { authorization: `Bearer ${access}`, "idempotency-key": `k-${seconds}`, "content-type": "application/json" }, body: JSON.stringify({ quantity: 1 }) },
				{ env: { INVENTORY: shardAnswering(outcome) } },
			);
			await expectRetryAfter(res, 503, "try_again", seconds);
		}
	});

	it("on every join refusal that says to come back: the client limit, a line's limit, Turnstile and identity outages", async () => {
		const drop = await createDrop();
		const joinFrom = (ip: string, fanId: string, overrides: EnvOverrides, body: Record<string, unknown> = {}) =>
			callWorker(
				`/api/drops/${drop.id}/join`,
				{ method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": ip }, body: JSON.stringify({ fanId, ...body }) },
				{ env: overrides },
			);
		const limiterSaysNo = { JOIN_LIMITER: { limit: async () => ({ success: false }) } };
		await expectRetryAfter(await joinFrom("198.18.0.1", "ra-1", limiterSaysNo), 429, "rate_limited", 60);
		const onePerIp = { JOIN_RATE_PER_IP: "1" };
		expect((await joinFrom("198.18.0.2", "ra-2", onePerIp)).status).toBe(201);
		await expectRetryAfter(await joinFrom("198.18.0.2", "ra-3", onePerIp), 429, "rate_limited");
		const verifierDown = { TURNSTILE_SECRET: "turnstile-secret", TURNSTILE_VERIFY_URL: "https://verifier-down.test/siteverify" };
		await expectRetryAfter(await joinFrom("198.18.0.3", "ra-4", verifierDown, { turnstileToken: "pass" }), 503, "challenge_unavailable", 5);
		const identityDown = { FAN_IDENTITY_JWKS_URL: `https://idp-down.test/${crypto.randomUUID()}.json` };
		const { privateKey } = await generateKeyPair("ES256");
		const identityToken = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k" }).setSubject("ra-5").setExpirationTime("5m").sign(privateKey);
		await expectRetryAfter(await joinFrom("198.18.0.4", "ra-5", identityDown, { fanId: undefined, identityToken }), 503, "identity_unavailable", 5);
	});
});
