// Payment providers behind one small interface. Every charge carries an
// idempotency key (derived from the hold and the attempt), so asking again
// after a crash answers the first charge instead of making a second one.
//
// The built-in `test` provider approves token "ok" and declines anything else.
// It works only where the deployment turns it on (TEST_PAYMENTS = "on": local
// dev through .dev.vars, and the tests); a plain `wrangler deploy` has it off.
import { type RawSettings, config } from "./config";
import { type Outcome, fail, ok } from "./outcome";

export type ChargeResult = { status: "approved"; paymentId: string } | { status: "declined"; reason: string };

export interface PaymentProvider {
	/** Charges once per `idempotencyKey`: a repeat answers the first result, never a second charge. */
	charge(input: { idempotencyKey: string; amountCents: number; currency: string; token: string }): Promise<ChargeResult>;
	/** What became of the charge made under `idempotencyKey`: its result, or "none" if the provider never had it. */
	lookup(idempotencyKey: string): Promise<ChargeResult | { status: "none" }>;
	/** Gives a charge back. Refunding twice refunds once. */
	refund(paymentId: string): Promise<void>;
}

export interface TestPayment {
	paymentId: string;
	idempotencyKey: string;
	amountCents: number;
	currency: string;
	refunded: boolean;
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
		testPayments.set(paymentId, { paymentId, idempotencyKey, amountCents, currency, refunded: false });
		if (testPayments.size > TEST_LEDGER_LIMIT) testPayments.delete(testPayments.keys().next().value as string);
		return { status: "approved", paymentId };
	},
	async lookup(idempotencyKey) {
		const paymentId = testPaymentId(idempotencyKey);
		if (testPayments.has(paymentId)) return { status: "approved", paymentId };
		const declined = testDeclines.get(idempotencyKey);
		return declined === undefined ? { status: "none" } : { status: "declined", reason: declined };
	},
	async refund(paymentId) {
		const payment = testPayments.get(paymentId);
		if (payment) payment.refunded = true;
	},
};

const providers: Record<string, PaymentProvider> = { test: testProvider };

/** Every method the engine knows; whether one is enabled is a deployment's choice (see paymentProvider). */
export const PAYMENT_METHODS = Object.keys(providers);

/** The provider for a method, or 422 when this deployment does not take it. */
export function paymentProvider(env: RawSettings, method: string): Outcome<PaymentProvider> {
	const provider = providers[method];
	if (provider === undefined || (method === "test" && !config(env).testPayments)) {
		return fail(422, "payment_method_unavailable", `This engine does not take "${method}" payments.`, { field: "payment.method" });
	}
	return ok(provider);
}
