// POST /api/payments/stripe/webhook: Stripe's events, believed only once the
// Stripe-Signature header checks out (HMAC-SHA256 with the endpoint's secret,
// timestamp within 5 minutes). Each event is acted on once: its id is stored,
// and a replay answers 200 `duplicate: true` and changes nothing (Stripe stops
// retrying on any 2xx); an event is stored after its action, so one whose action
// failed is retried by Stripe. What it acts on: a charge refunded in full at Stripe
// (say, from the dashboard) refunds the order's tickets here, so the gate
// refuses them (one whose sale is not in D1 yet, when the sale arrives); a refund
// of ours that Stripe failed after making it (refund.failed, or refund.updated and
// charge.refund.updated with status failed) is marked failed with why, for the
// promoter to retry; a payment that waited on the fan's bank (3-D Secure) and
// succeeded or failed is told to its hold's shard (stripe-payment-events.ts), which
// makes the order once. Every event is kept in D1's payment_events.
import * as z from "zod";
import type { WebhookAnswer } from "../contract/engine-answers";
import { config } from "../shared/config";
import { ApiError } from "../shared/errors";
import { applyEarlyProviderRefunds, recordProviderRefund, recordRefundFailure } from "../after-sale/refunds";
import { verifyStripeSignature } from "../payments/stripe";
import { readBounded } from "../shared/request";
import { applyPaymentEvent } from "./stripe-payment-events";

/** Stripe's events are small; this bounds what is read before the signature is checked. */
const WEBHOOK_MAX_BYTES = 256 * 1024;

const StripeEvent = z.object({
	id: z.string().regex(/^evt_[A-Za-z0-9_]{1,200}$/),
	type: z.string().max(100),
	data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

export async function stripeWebhook(request: Request, env: Env): Promise<WebhookAnswer> {
	const secret = config(env).stripeWebhookSecret;
	if (secret === null) throw new ApiError(404, "not_found", "No such route.");
	const payload = request.body == null ? "" : await readBounded(request.body, WEBHOOK_MAX_BYTES);
	const verdict = await verifyStripeSignature(payload, request.headers.get("stripe-signature"), secret);
	if (verdict === "stale") throw new ApiError(400, "signature_expired", "The Stripe-Signature timestamp is outside the 5-minute tolerance.");
	if (verdict !== "ok") throw new ApiError(400, "invalid_signature", "The Stripe-Signature header does not match this payload.");
	let event: z.output<typeof StripeEvent>;
	try {
		event = StripeEvent.parse(JSON.parse(payload));
	} catch {
		throw new ApiError(400, "invalid_event", "The body is not a Stripe event.");
	}
	const object = event.data.object;
	const paymentId = typeof object.payment_intent === "string" ? object.payment_intent : typeof object.id === "string" && object.id.startsWith("pi_") ? object.id : null;
	const seen = await env.DB.prepare(`SELECT 1 AS seen FROM payment_events WHERE event_id = ?`).bind(event.id).first();
	if (seen !== null) return { received: true, duplicate: true };
	// Acted on before it is stored (the action is idempotent): an event whose action failed is retried by Stripe.
	const refund = event.type === "charge.refunded" && paymentId !== null && object.refunded === true;
	const unmatched = refund && (await recordProviderRefund(env.DB, paymentId, event.id)) === null;
	const failedKey = refundFailureKey(event.type, object);
	if (failedKey !== null) await recordRefundFailure(env.DB, failedKey, failureReason(object.failure_reason));
	await applyPaymentEvent(env, event.type, object);
	// A refund whose payment has no order yet (its sale on its way to D1) is kept marked: the sales consumer applies it.
	await env.DB.prepare(`INSERT INTO payment_events (event_id, type, payment_id, received_at, unmatched_refund) VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`)
		.bind(event.id, event.type, paymentId, new Date().toISOString(), unmatched ? 1 : 0)
		.run();
	// The order may have arrived meanwhile, after the consumer looked for marked events: look once more.
	if (unmatched) await applyEarlyProviderRefunds(env.DB, [paymentId]);
	return { received: true, duplicate: false };
}

/** The events that tell of a refund failed after it was made: its object is the refund. */
const REFUND_FAILURE_EVENTS = new Set(["refund.failed", "refund.updated", "charge.refund.updated"]);

/** The key a failed refund of ours was asked under (in its metadata), or null: not a failure, or not ours (the dashboard's). */
function refundFailureKey(type: string, object: Record<string, unknown>): string | null {
	if (!REFUND_FAILURE_EVENTS.has(type) || object.object !== "refund" || object.status !== "failed") return null;
	const metadata = object.metadata;
	const key = metadata !== null && typeof metadata === "object" ? (metadata as Record<string, unknown>).refund_key : undefined;
	return typeof key === "string" ? key : null;
}

/** Stripe's failure_reason (lost_or_stolen_card, expired_or_canceled_card, …), or "unknown" for anything else. */
const failureReason = (reason: unknown) => (typeof reason === "string" && /^[a-z_]{1,60}$/.test(reason) ? reason : "unknown");
