// Orders that cost nothing: no provider is asked (Stripe refuses a PaymentIntent of
// 0, and a deployment may take no method at all), so every deployment sells them.
// Their payment ids begin "free_", which no provider's do, so a refund or a post-sale
// check of one is told apart by its id and needs no provider either.
import type { PaymentProvider } from "./provider";

/** How a free order's payment id begins. */
export const FREE_PAYMENT_PREFIX = "free_";

/** The payment id of a free order: its charge's key, so a repeat names the same one. */
export const freePaymentId = (idempotencyKey: string) => `${FREE_PAYMENT_PREFIX}${idempotencyKey.replace(/[^A-Za-z0-9_-]/g, "_")}`;

export const freeProvider: PaymentProvider = {
	// Nothing is ever asked of anyone, so no charge of 0 is ever void: it is approved at once.
	keyLifeMs: 0,
	async charge({ idempotencyKey }) {
		return { status: "approved", paymentId: freePaymentId(idempotencyKey) };
	},
	async lookup(idempotencyKey) {
		return { status: "approved", paymentId: freePaymentId(idempotencyKey) };
	},
	async paymentStatus(paymentId) {
		return { status: "approved", paymentId };
	},
	async cancel(paymentId) {
		return { status: "approved", paymentId };
	},
	async refund() {
		// Nothing was taken, so nothing goes back.
	},
	async confirm(paymentId) {
		return paymentId.startsWith(FREE_PAYMENT_PREFIX) ? "confirmed" : "missing";
	},
};
