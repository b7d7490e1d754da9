// Stripe as a payment provider: PaymentIntents over Stripe's HTTP API with
// fetch (form-encoded bodies, a secret key as bearer). Every charge carries the
// shard's charge key (`drop:hold:attempt`) as Stripe's Idempotency-Key, and in
// the intent's metadata; refunds carry their own keys, in their metadata too (a
// repeat after Stripe forgot the key finds it). Stripe keeps idempotency keys for
// 24 hours, longer than any hold lives: while it does, a charge whose answer was
// lost is looked up by sending its request again under its key (Stripe answers the
// first PaymentIntent), since search is eventually consistent and may not find an
// intent that exists. A card that needs the fan's bank (3-D Secure) leaves its intent
// in `requires_action`: the charge answers its client secret, for the fan's page to
// finish with Stripe.js, and the intent is cancelled if the fan never does. The base
// URL comes from config, so tests point it at a local fake.
import type { StripeSettings } from "../shared/config";
import type { ActionResult, ChargeRequest, ChargeResult, PaymentProvider } from "./provider";

/** How long Stripe keeps an idempotency key (it documents 24 hours; a key may go any time after). */
export const STRIPE_KEY_LIFE_MS = 24 * 60 * 60 * 1000;

interface PaymentIntent {
	id: string;
	status: string;
	amount: number;
	client_secret?: string | null;
	metadata?: Record<string, string>;
	last_payment_error?: { message?: string } | null;
}

interface StripeErrorBody {
	error?: { type?: string; code?: string; message?: string; payment_intent?: PaymentIntent };
}

/** A Stripe answer the engine cannot act on: the caller keeps the charge open and asks again later. */
export class StripeUnavailable extends Error {
	constructor(readonly status: number) {
		super(`Stripe answered ${status}`);
		this.name = "StripeUnavailable";
	}
}

export function formBody(fields: Record<string, string | number | undefined>): string {
	const body = new URLSearchParams();
	for (const [key, value] of Object.entries(fields)) if (value !== undefined) body.append(key, String(value));
	return body.toString();
}

async function call<T>(settings: StripeSettings, method: "GET" | "POST", path: string, options: { form?: Record<string, string | number | undefined>; idempotencyKey?: string } = {}): Promise<{ status: number; body: T & StripeErrorBody }> {
	const headers: Record<string, string> = { Authorization: `Bearer ${settings.secretKey}`, "Stripe-Version": "2024-06-20" };
	if (options.form) headers["Content-Type"] = "application/x-www-form-urlencoded";
	if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
	const response = await fetch(`${settings.apiBase}${path}`, { method, headers, body: options.form ? formBody(options.form) : undefined });
	const body = (await response.json().catch(() => ({}))) as T & StripeErrorBody;
	return { status: response.status, body };
}

/** What an intent means for a charge; null while Stripe is still deciding (asked again later). */
function resultOf(intent: PaymentIntent): ChargeResult | ActionResult | null {
	if (intent.status === "succeeded") return { status: "approved", paymentId: intent.id };
	if (intent.status === "processing") return null;
	// The fan's bank asks for them (3-D Secure): their page finishes it with the client secret.
	if (intent.status === "requires_action" && typeof intent.client_secret === "string") return { status: "requires_action", paymentId: intent.id, clientSecret: intent.client_secret };
	// requires_payment_method (the bank refused, or the fan failed its check), canceled.
	return { status: "declined", reason: intent.last_payment_error?.message ?? "The payment was not completed." };
}

/** Creates and confirms the PaymentIntent of a charge; the same request under the same key answers the first intent. */
async function createIntent(settings: StripeSettings, { idempotencyKey, amountCents, currency, token }: ChargeRequest): Promise<ChargeResult | ActionResult> {
	const { status, body } = await call<PaymentIntent>(settings, "POST", "/v1/payment_intents", {
		idempotencyKey,
		form: {
			amount: amountCents,
			currency: currency.toLowerCase(),
			payment_method: token,
			confirm: "true",
			"automatic_payment_methods[enabled]": "true",
			"automatic_payment_methods[allow_redirects]": "never",
			"metadata[idempotency_key]": idempotencyKey,
		},
	});
	// A card error is a decline: Stripe answers 402 with the reason, for the buyer.
	if (status === 402 && body.error?.type === "card_error") return { status: "declined", reason: body.error.message ?? "The card was declined." };
	if (status !== 200) throw new StripeUnavailable(status);
	const result = resultOf(body);
	if (result === null) throw new StripeUnavailable(status);
	return result;
}

export function stripeProvider(settings: StripeSettings): PaymentProvider {
	return {
		keyLifeMs: STRIPE_KEY_LIFE_MS,
		charge: (request) => createIntent(settings, request),
		async lookup(idempotencyKey, repeat) {
			// Search may not yet show an intent made a minute ago; the repeated request answers it for sure.
			if (repeat !== null) return createIntent(settings, repeat);
			const query = `metadata['idempotency_key']:'${idempotencyKey.replace(/'/g, "\\'")}'`;
			const { status, body } = await call<{ data: PaymentIntent[] }>(settings, "GET", `/v1/payment_intents/search?${formBody({ query, limit: 10 })}`);
			if (status !== 200) throw new StripeUnavailable(status);
			const intents = body.data ?? [];
			if (intents.length === 0) return { status: "none" };
			const approved = intents.find((i) => i.status === "succeeded");
			if (approved) return { status: "approved", paymentId: approved.id };
			const result = resultOf(intents[0]!);
			if (result === null) throw new StripeUnavailable(status);
			return result;
		},
		async paymentStatus(paymentId) {
			const { status, body } = await call<PaymentIntent>(settings, "GET", `/v1/payment_intents/${encodeURIComponent(paymentId)}`);
			if (status !== 200) throw new StripeUnavailable(status);
			return resultOf(body);
		},
		async cancel(paymentId) {
			const path = `/v1/payment_intents/${encodeURIComponent(paymentId)}`;
			const cancelled = await call<PaymentIntent>(settings, "POST", `${path}/cancel`, { idempotencyKey: `cancel:${paymentId}`, form: { cancellation_reason: "abandoned" } });
			// Stripe refuses to cancel an intent that succeeded (the fan finished just in time) or was cancelled: read what it is.
			const intent = cancelled.status === 200 ? cancelled : await call<PaymentIntent>(settings, "GET", path);
			if (intent.status !== 200) throw new StripeUnavailable(intent.status);
			const result = resultOf(intent.body);
			if (result === null || result.status === "requires_action") throw new StripeUnavailable(intent.status);
			return result;
		},
		async refund(paymentId, part) {
			const key = part?.key ?? `refund:${paymentId}`;
			// Stripe forgets an idempotency key after 24 hours: a refund it made under this key before (its answer
			// lost, the promoter repeating a day later) is found by the key in its metadata, and not made again.
			// A payment has a refund per refunded part (an order's tickets, at most 20) and a few from the dashboard.
			const made = await call<{ data?: { metadata?: Record<string, string> }[] }>(settings, "GET", `/v1/refunds?${formBody({ payment_intent: paymentId, limit: 100 })}`);
			if (made.status !== 200) throw new StripeUnavailable(made.status);
			if ((made.body.data ?? []).some((r) => r.metadata?.refund_key === key)) return;
			const { status, body } = await call(settings, "POST", "/v1/refunds", {
				idempotencyKey: key,
				form: { payment_intent: paymentId, amount: part?.amountCents, "metadata[refund_key]": key },
			});
			// Already refunded in full (say, from the dashboard): nothing left to give back.
			if (status === 400 && body.error?.code === "charge_already_refunded") return;
			if (status !== 200) throw new StripeUnavailable(status);
		},
		async confirm(paymentId) {
			const { status, body } = await call<PaymentIntent>(settings, "GET", `/v1/payment_intents/${encodeURIComponent(paymentId)}`);
			if (status === 404) return "missing";
			if (status !== 200) throw new StripeUnavailable(status);
			if (body.status === "succeeded") return "confirmed";
			return body.status === "processing" ? "pending" : "missing";
		},
	};
}

/**
 * Verifies a `Stripe-Signature` header the way Stripe documents it: `t=<unix
 * seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint secret>`
 * (several v1 entries while a secret is rolled), and the timestamp within
 * `toleranceSeconds` of now, so a captured request cannot be replayed later.
 */
export async function verifyStripeSignature(
	payload: string,
	header: string | null,
	secret: string,
	now = Date.now(),
	toleranceSeconds = 300,
): Promise<"ok" | "malformed" | "stale" | "mismatch"> {
	if (header === null) return "malformed";
	let timestamp: number | null = null;
	const signatures: string[] = [];
	for (const part of header.split(",")) {
		const [key, value] = part.trim().split("=", 2);
		if (key === "t" && value !== undefined && /^\d{1,12}$/.test(value)) timestamp = Number(value);
		if (key === "v1" && value !== undefined && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
	}
	if (timestamp === null || signatures.length === 0) return "malformed";
	if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return "stale";
	const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
	const signed = new TextEncoder().encode(`${timestamp}.${payload}`);
	for (const hex of signatures) {
		const bytes = new Uint8Array(hex.match(/../g)!.map((h) => Number.parseInt(h, 16)));
		// crypto.subtle.verify compares in constant time.
		if (await crypto.subtle.verify("HMAC", key, bytes, signed)) return "ok";
	}
	return "mismatch";
}
