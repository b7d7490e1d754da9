// Payment providers behind one small interface. Every charge carries an
// idempotency key (derived from the hold and the attempt), so asking again
// after a crash answers the first charge instead of making a second one.
//
// The built-in `test` provider approves token "ok" and declines anything else.
// It works only where the deployment turns it on (TEST_PAYMENTS = "on": local
// dev through .dev.vars, and the tests); a plain `wrangler deploy` has it off.
import { type RawSettings, config } from "../shared/config";
import { type Outcome, fail, ok } from "../shared/outcome";
import { stripeProvider } from "./stripe";
import { type ChargeResult, type PaymentProvider } from "./provider";

export interface TestPayment {
	paymentId: string;
	idempotencyKey: string;
	amountCents: number;
	currency: string;
	refunded: boolean;
	/** Partial refunds by their key, in cents. */
	refunds: Map<string, number>;
}

/**
 * What the test provider has charged in this isolate, by payment id: tests read it
 * to prove that money and tickets agree (a refund for every lost race). Bounded,
 * since the test provider may also serve a local demo.
 */
export const testPayments = new Map<string, TestPayment>();
const TEST_LEDGER_LIMIT = 10_000;
/** Declined test charges by key, so a lookup after a crash answers what the charge did. */
const testDeclines = new Map<string, string>();

const testPaymentId = (idempotencyKey: string) => `pay_test_${idempotencyKey.replace(/[^A-Za-z0-9_-]/g, "_")}`;

export const testProvider: PaymentProvider = {
	async charge({ idempotencyKey, amountCents, currency, token }) {
		const paymentId = testPaymentId(idempotencyKey);
		if (testPayments.has(paymentId)) return { status: "approved", paymentId };
		const declined = testDeclines.get(idempotencyKey);
		if (declined !== undefined) return { status: "declined", reason: declined };
		if (token !== "ok") {
			const reason = token === "decline" ? "The test card was declined." : "Unknown test token.";
			testDeclines.set(idempotencyKey, reason);
			if (testDeclines.size > TEST_LEDGER_LIMIT) testDeclines.delete(testDeclines.keys().next().value as string);
			return { status: "declined", reason };
		}
		testPayments.set(paymentId, { paymentId, idempotencyKey, amountCents, currency, refunded: false, refunds: new Map() });
		if (testPayments.size > TEST_LEDGER_LIMIT) testPayments.delete(testPayments.keys().next().value as string);
		return { status: "approved", paymentId };
	},
	async lookup(idempotencyKey) {
		const paymentId = testPaymentId(idempotencyKey);
		if (testPayments.has(paymentId)) return { status: "approved", paymentId };
		const declined = testDeclines.get(idempotencyKey);
		return declined === undefined ? { status: "none" } : { status: "declined", reason: declined };
	},
	async refund(paymentId, part) {
		const payment = testPayments.get(paymentId);
		if (!payment) return;
		if (part === undefined) payment.refunded = true;
		else if (!payment.refunds.has(part.key)) payment.refunds.set(part.key, part.amountCents);
	},
	async confirm(paymentId) {
		// Its ids are made from the charge's key, so they read the same in every isolate;
		// a payment refunded whole is no longer taken.
		if (!paymentId.startsWith(TEST_PAYMENT_PREFIX)) return "missing";
		return testPayments.get(paymentId)?.refunded === true ? "missing" : "confirmed";
	},
};

const TEST_PAYMENT_PREFIX = "pay_test";

/** The provider for a method, or 422 when this deployment does not take it. */
export function paymentProvider(env: RawSettings, method: string): Outcome<PaymentProvider> {
	const settings = config(env);
	if (method === "test" && settings.testPayments) return ok(testProvider);
	if (method === "stripe" && settings.stripe !== null) return ok(stripeProvider(settings.stripe));
	return fail(422, "payment_method_unavailable", `This engine does not take "${method}" payments.`, { field: "payment.method" });
}

/** The provider that took a payment, told by its id ("pay_test…" or Stripe's "pi_…"). */
export function paymentProviderOf(env: RawSettings, paymentId: string): Outcome<PaymentProvider> {
	return paymentProvider(env, paymentId.startsWith(TEST_PAYMENT_PREFIX) ? "test" : "stripe");
}
