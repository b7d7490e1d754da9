// src/shared/config.ts: every setting parsed once, typed, and a value that does not
// parse keeps its default rather than lifting a limit.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULTS, config, parseConfig } from "../../src/shared/config";

describe("parseConfig", () => {
	it("reads the deployment's [vars] as wrangler.toml sets them", () => {
		const c = config(env);
		expect(c).toMatchObject({ joinRatePerIp: 120, joinRatePerFan: 20, loopbackExempt: false, accessTokenSeconds: 600, corsOrigins: [] });
		// The tests turn test payments on, as `npm start` does.
		expect(c.testPayments).toBe(true);
		expect(config(env)).toBe(c);
	});

	it("keeps the default for what does not parse, and takes 0 as 'off' for join limits", () => {
		expect(parseConfig({ JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: " 7 " })).toMatchObject({ joinRatePerIp: 0, joinRatePerFan: 7 });
		for (const bad of ["", "-1", "1e3", "lots", "1.5"]) {
			expect(parseConfig({ JOIN_RATE_PER_IP: bad }).joinRatePerIp).toBe(DEFAULTS.joinRatePerIp);
		}
		expect(parseConfig({ ACCESS_TOKEN_SECONDS: "29" }).accessTokenSeconds).toBe(600);
		expect(parseConfig({ ACCESS_TOKEN_SECONDS: "3601" }).accessTokenSeconds).toBe(600);
		expect(parseConfig({ ACCESS_TOKEN_SECONDS: "45" }).accessTokenSeconds).toBe(45);
		expect(parseConfig({ TEST_PAYMENTS: "yes" }).testPayments).toBe(false);
		expect(parseConfig({ RATE_LIMIT_LOOPBACK_EXEMPT: "1" }).loopbackExempt).toBe(false);
	});

	it("starts a Workflow per order unless ORDER_WORKFLOWS is exactly 'off' (the local bench switch)", () => {
		expect(config(env).orderWorkflows).toBe(true);
		expect(parseConfig({}).orderWorkflows).toBe(true);
		expect(parseConfig({ ORDER_WORKFLOWS: "on" }).orderWorkflows).toBe(true);
		expect(parseConfig({ ORDER_WORKFLOWS: "off" }).orderWorkflows).toBe(false);
		for (const nearMiss of ["Off", "no", "0", "false", ""]) expect(parseConfig({ ORDER_WORKFLOWS: nearMiss }).orderWorkflows).toBe(true);
	});

	it("turns the optional protections on only when their secret or URL is set", () => {
		expect(parseConfig({}).turnstile).toBeNull();
		expect(parseConfig({ TURNSTILE_SECRET: "s" }).turnstile).toEqual({ secret: "s", verifyUrl: DEFAULTS.turnstileVerifyUrl });
		expect(parseConfig({ TURNSTILE_VERIFY_URL: "https://t.test/v" }).turnstile).toBeNull();
		expect(parseConfig({ FAN_IDENTITY_ISSUER: "https://promoter.test" }).fanIdentity).toBeNull();
		expect(parseConfig({ FAN_IDENTITY_JWKS_URL: "https://promoter.test/jwks", FAN_IDENTITY_AUDIENCE: "drops" }).fanIdentity).toEqual({
			secret: null,
			jwksUrl: "https://promoter.test/jwks",
			issuer: null,
			audience: "drops",
		});
	});

	it("serves only a publishable key as Stripe's key for the fan page, never a secret one", () => {
		expect(parseConfig({}).stripePublishableKey).toBeNull();
		expect(parseConfig({ STRIPE_PUBLISHABLE_KEY: " pk_test_51AbCdEf " }).stripePublishableKey).toBe("pk_test_51AbCdEf");
		expect(parseConfig({ STRIPE_PUBLISHABLE_KEY: "pk_live_Xy12" }).stripePublishableKey).toBe("pk_live_Xy12");
		// A secret or restricted key put here by mistake is never handed to the page.
		for (const wrong of ["sk_test_51AbCdEf", "rk_live_Xy12", "whsec_abc", "pk_test_", "pk_test_a b", "pk_other_x"]) {
			expect(parseConfig({ STRIPE_PUBLISHABLE_KEY: wrong }).stripePublishableKey, wrong).toBeNull();
		}
	});

	it("splits the CORS origins", () => {
		expect(parseConfig({ CORS_ORIGINS: " https://a.test, ,https://b.test " }).corsOrigins).toEqual(["https://a.test", "https://b.test"]);
		expect(parseConfig({ CORS_ORIGINS: "*" }).corsOrigins).toEqual(["*"]);
	});
});
