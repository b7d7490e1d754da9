// The deployment's settings, parsed once from `env` and typed: the only module
// that reads a `[vars]` value or an optional secret. A value that does not parse
// keeps its default (it never silently lifts a limit). Bindings (DB, queues,
// Durable Objects) are used from `env` directly; their names are in src/shared/names.ts.

export interface Config {
	/** Origins allowed to call the API from a browser; "*" in the list allows any. */
	corsOrigins: string[];
	/** Joins a minute per client IP and per fan, in each drop (0: off). */
	joinRatePerIp: number;
	joinRatePerFan: number;
	/** 127.0.0.1 and ::1 skip every join limit (local load tests only). */
	loopbackExempt: boolean;
	/** How long an admitted fan's turn (their access token) lasts. */
	accessTokenSeconds: number;
	/** How long the Worker may answer from a copy of a drop's watermark (at most 1000). */
	watermarkCacheMs: number;
	/** The built-in test payment provider is accepted. */
	testPayments: boolean;
	/** Turnstile on join, when its secret is set. */
	turnstile: { secret: string; verifyUrl: string } | null;
	/** Fan identity mode: the fan id is the subject of a token from the promoter's site. */
	fanIdentity: { secret: string | null; jwksUrl: string | null; issuer: string | null; audience: string | null } | null;
	adminToken: string;
	/** The signing key (a P-256 private JWK) and earlier public keys that still verify. */
	signing: { privateJwk: string; publicJwks: string | null };
	/** Stripe payments (method "stripe"), when STRIPE_SECRET_KEY is set; the webhook when STRIPE_WEBHOOK_SECRET is. */
	stripe: StripeSettings | null;
	stripeWebhookSecret: string | null;
	/**
	 * Stripe's publishable key (`pk_test_…`, `pk_live_…`), for Stripe.js on the fan page; public by
	 * design. Anything else (a secret or restricted key set here by mistake) is never served: null.
	 */
	stripePublishableKey: string | null;
	/** Where receipts go: the send_email binding, the dev mailbox in D1, or nowhere. */
	receipts: { sender: "email"; from: string } | { sender: "dev" } | { sender: "off" };
	/** The gate's credential for the ticket scan (src/tenants/gate-auth.ts), when set. */
	gateToken: string | null;
	/**
	 * Every order's post-sale follow-up is queued (ORDER_WORKFLOWS "on", the default; the name is kept from
	 * when it was a Workflow per order). "off" is a local bench and rehearsal switch only: orders stay `paid`.
	 */
	orderWorkflows: boolean;
}

export interface StripeSettings {
	secretKey: string;
	/** Stripe's API, or a local server that speaks it (the tests' fake). */
	apiBase: string;
}

/** The settings as they arrive: strings, any of them possibly missing. */
export type RawSettings = Partial<Record<SettingName, string | undefined>>;

type SettingName =
	| "CORS_ORIGINS"
	| "JOIN_RATE_PER_IP"
	| "JOIN_RATE_PER_FAN"
	| "RATE_LIMIT_LOOPBACK_EXEMPT"
	| "ACCESS_TOKEN_SECONDS"
	| "WATERMARK_CACHE_MS"
	| "TEST_PAYMENTS"
	| "TURNSTILE_SECRET"
	| "TURNSTILE_VERIFY_URL"
	| "FAN_IDENTITY_SECRET"
	| "FAN_IDENTITY_JWKS_URL"
	| "FAN_IDENTITY_ISSUER"
	| "FAN_IDENTITY_AUDIENCE"
	| "ADMIN_TOKEN"
	| "JWT_PRIVATE_JWK"
	| "JWT_PUBLIC_JWKS"
	| "STRIPE_SECRET_KEY"
	| "STRIPE_WEBHOOK_SECRET"
	| "STRIPE_API_BASE"
	| "STRIPE_PUBLISHABLE_KEY"
	| "RECEIPT_SENDER"
	| "RECEIPT_FROM"
	| "GATE_TOKEN"
	| "ORDER_WORKFLOWS";

export const DEFAULTS = {
	joinRatePerIp: 120,
	joinRatePerFan: 20,
	accessTokenSeconds: 600,
	watermarkCacheMs: 1_000,
	turnstileVerifyUrl: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
	stripeApiBase: "https://api.stripe.com",
} as const;

/** The longest a watermark copy may be kept, whatever is configured. */
export const WATERMARK_CACHE_LIMIT_MS = 1_000;

export function parseConfig(raw: RawSettings): Config {
	const text = (name: SettingName) => (raw[name] ?? "").trim();
	const optional = (name: SettingName) => text(name) || null;
	const identitySecret = optional("FAN_IDENTITY_SECRET");
	const identityJwks = optional("FAN_IDENTITY_JWKS_URL");
	const turnstileSecret = optional("TURNSTILE_SECRET");
	return {
		corsOrigins: text("CORS_ORIGINS").split(",").map((o) => o.trim()).filter(Boolean),
		joinRatePerIp: wholeNumber(text("JOIN_RATE_PER_IP"), DEFAULTS.joinRatePerIp),
		joinRatePerFan: wholeNumber(text("JOIN_RATE_PER_FAN"), DEFAULTS.joinRatePerFan),
		// Exactly "true" and "on": a near miss keeps the limit, and test payments off.
		loopbackExempt: raw.RATE_LIMIT_LOOPBACK_EXEMPT === "true",
		accessTokenSeconds: inRange(text("ACCESS_TOKEN_SECONDS"), 30, 3_600, DEFAULTS.accessTokenSeconds),
		watermarkCacheMs: clampedNumber(text("WATERMARK_CACHE_MS"), 0, WATERMARK_CACHE_LIMIT_MS, DEFAULTS.watermarkCacheMs),
		testPayments: raw.TEST_PAYMENTS === "on",
		turnstile: turnstileSecret === null ? null : { secret: turnstileSecret, verifyUrl: text("TURNSTILE_VERIFY_URL") || DEFAULTS.turnstileVerifyUrl },
		fanIdentity:
			identitySecret === null && identityJwks === null
				? null
				: { secret: identitySecret, jwksUrl: identityJwks, issuer: optional("FAN_IDENTITY_ISSUER"), audience: optional("FAN_IDENTITY_AUDIENCE") },
		adminToken: raw.ADMIN_TOKEN ?? "",
		signing: { privateJwk: raw.JWT_PRIVATE_JWK ?? "", publicJwks: raw.JWT_PUBLIC_JWKS ?? null },
		...afterSaleSettings(raw, optional),
	};
}

/** A publishable key only: a page may show it to anyone. */
const PUBLISHABLE_KEY = /^pk_(test|live)_[A-Za-z0-9]{1,247}$/;

/** Payments, receipts and the gate. */
function afterSaleSettings(raw: RawSettings, optional: (name: SettingName) => string | null): Pick<Config, "stripe" | "stripeWebhookSecret" | "stripePublishableKey" | "receipts" | "gateToken" | "orderWorkflows"> {
	const stripeKey = optional("STRIPE_SECRET_KEY");
	const from = optional("RECEIPT_FROM");
	const sender = optional("RECEIPT_SENDER");
	return {
		stripe: stripeKey === null ? null : { secretKey: stripeKey, apiBase: (optional("STRIPE_API_BASE") ?? DEFAULTS.stripeApiBase).replace(/\/+$/, "") },
		stripeWebhookSecret: optional("STRIPE_WEBHOOK_SECRET"),
		stripePublishableKey: PUBLISHABLE_KEY.test(optional("STRIPE_PUBLISHABLE_KEY") ?? "") ? optional("STRIPE_PUBLISHABLE_KEY") : null,
		// "email" needs a sender address; anything else unknown sends nothing rather than guess.
		receipts: sender === "email" && from !== null ? { sender: "email", from } : sender === "dev" ? { sender: "dev" } : { sender: "off" },
		gateToken: optional("GATE_TOKEN"),
		// Only exactly "off" stops them: a near miss keeps every order's follow-up.
		orderWorkflows: raw.ORDER_WORKFLOWS !== "off",
	};
}

const parsed = new WeakMap<object, Config>();

/** The settings of this `env`, parsed on first use. */
export function config(env: RawSettings): Config {
	let found = parsed.get(env);
	if (found === undefined) {
		found = parseConfig(env);
		parsed.set(env, found);
	}
	return found;
}

/** "0" and up; anything else keeps the default. */
function wholeNumber(value: string, fallback: number): number {
	return /^\d{1,9}$/.test(value) ? Number(value) : fallback;
}

function inRange(value: string, min: number, max: number, fallback: number): number {
	const n = Number(value);
	return value !== "" && Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

function clampedNumber(value: string, min: number, max: number, fallback: number): number {
	const n = Number(value);
	return value !== "" && Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}
