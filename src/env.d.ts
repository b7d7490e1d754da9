// Optional secrets: absent unless the deployment sets them, so they are not in
// `[secrets] required` and `wrangler types` does not know them.
declare namespace Cloudflare {
	interface Env {
		/** Extra public keys (a JWKS) that still verify tokens, so a signing key can be rotated. */
		JWT_PUBLIC_JWKS?: string;
		/** Enables the Turnstile check on join. */
		TURNSTILE_SECRET?: string;
		/** Enables fan identity mode with an HS256 secret shared with the promoter's site. */
		FAN_IDENTITY_SECRET?: string;
		/** Enables the "stripe" payment method (a restricted or secret key, sk_…). */
		STRIPE_SECRET_KEY?: string;
		/** Verifies POST /api/payments/stripe/webhook (the endpoint's whsec_… secret). */
		STRIPE_WEBHOOK_SECRET?: string;
		/** The gate's credential for POST /api/admin/drops/:id/scan (not the admin token). */
		GATE_TOKEN?: string;
	}
}
