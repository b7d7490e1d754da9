import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { newSigningJwk } from "./scripts/dev-vars.mjs";
import { createFakeStripe } from "./scripts/lib/fake-stripe.mjs";

// Stripe's stand-in for this run: it answers the Worker's fetches to https://stripe.test (below).
const STRIPE_SECRET_KEY = `sk_test_${randomBytes(8).toString("hex")}`;
// The fake signs the webhook events it makes (3-D Secure finished) with the endpoint's secret, as Stripe does.
const STRIPE_WEBHOOK_SECRET = `whsec_${randomBytes(16).toString("hex")}`;
const fakeStripe = createFakeStripe({ secretKey: STRIPE_SECRET_KEY, webhookSecret: STRIPE_WEBHOOK_SECRET });

// Fresh signing keys per run, as `npm start` makes for local use.
const { d: _unused, ...previousKey } = newSigningJwk("test-previous") as Record<string, string>;

export default defineConfig({
	plugins: [
		cloudflareTest(async () => ({
			wrangler: { configPath: "./wrangler.toml" },
			miniflare: {
				bindings: {
					ADMIN_TOKEN: `test-admin-${randomBytes(8).toString("hex")}`,
					JWT_PRIVATE_JWK: JSON.stringify(newSigningJwk("test-current")),
					// A rotated-out key that still verifies: published, never used to sign.
					JWT_PUBLIC_JWKS: JSON.stringify({ keys: [previousKey] }),
					// Tests read the watermark fresh; the cache itself has its own test.
					WATERMARK_CACHE_MS: "0",
					// The test payment provider, as in local dev (a deployment has it off).
					TEST_PAYMENTS: "on",
					// Stripe (method "stripe") against the fake; receipts into the dev mailbox; the gate's credential.
					STRIPE_SECRET_KEY,
					STRIPE_WEBHOOK_SECRET,
					STRIPE_API_BASE: "https://stripe.test",
					RECEIPT_SENDER: "dev",
					GATE_TOKEN: `gate-${randomBytes(8).toString("hex")}`,
					TEST_MIGRATIONS: await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url))),
				},
				// Outbound fetches (Turnstile, a promoter's JWKS) go to stubs, never the internet.
				outboundService: async (request: Request) => {
					const url = new URL(request.url);
					if (url.hostname === "stripe.test") return fakeStripe.handle(request);
					if (url.hostname === "turnstile.test") {
						const form = await request.formData();
						const success = form.get("secret") === "turnstile-secret" && form.get("response") === "pass";
						return Response.json({ success, "error-codes": success ? [] : ["invalid-input-response"] });
					}
					// A promoter's webhook endpoint that takes every delivery (deliveries through the real Queue).
					if (url.hostname === "hooks.test") return new Response(null, { status: 204 });
					return new Response("no network in tests", { status: 502 });
				},
			},
		})),
	],
	test: {
		include: ["test/**/*.test.ts"],
		setupFiles: ["./test/setup.ts"],
		testTimeout: 60_000,
		hookTimeout: 60_000,
	},
});
