// The built-in `test` payment provider: approves token "ok" and declines anything
// else. It works only where the deployment turns it on (TEST_PAYMENTS = "on":
// local dev through .dev.vars, and the tests); a plain `wrangler deploy` has it
// off. It keeps what it charged in the isolate, so tests can prove that money
// and tickets agree.
import { BoundedMap } from "../shared/bounded-map";
import type { PaymentProvider } from "./provider";

export interface TestPayment {
	paymentId: string;
	idempotencyKey: string;
	amountCents: number;
	currency: string;
	refunded: boolean;
	/** Partial refunds by their key, in cents. */
	refunds: Map<string, number>;
}

const TEST_LEDGER_LIMIT = 10_000;

/**
 * What the test provider has charged in this isolate, by payment id: tests read it
 * to prove that money and tickets agree (a refund for every lost race). Bounded,
 * since the test provider may also serve a local demo.
 */
export const testPayments = new BoundedMap<string, TestPayment>(TEST_LEDGER_LIMIT);
/** Declined test charges by key, so a lookup after a crash answers what the charge did. */
const testDeclines = new BoundedMap<string, string>(TEST_LEDGER_LIMIT);

const testPaymentId = (idempotencyKey: string) => `${TEST_PAYMENT_PREFIX}_${idempotencyKey.replace(/[^A-Za-z0-9_-]/g, "_")}`;

export const testProvider: PaymentProvider = {
	// Its record is in the isolate and read at once; a charge it has no trace of two
	// minutes on was never sent.
	keyLifeMs: 120_000,
	async charge({ idempotencyKey, amountCents, currency, token }) {
		const paymentId = testPaymentId(idempotencyKey);
		if (testPayments.has(paymentId)) return { status: "approved", paymentId };
		const declined = testDeclines.get(idempotencyKey);
		if (declined !== undefined) return { status: "declined", reason: declined };
		if (token !== "ok") {
			const reason = token === "decline" ? "The test card was declined." : "Unknown test token.";
			testDeclines.set(idempotencyKey, reason);
			return { status: "declined", reason };
		}
		testPayments.set(paymentId, { paymentId, idempotencyKey, amountCents, currency, refunded: false, refunds: new Map() });
		return { status: "approved", paymentId };
	},
	// Its record answers for sure, so nothing is sent again.
	async lookup(idempotencyKey) {
		const paymentId = testPaymentId(idempotencyKey);
		if (testPayments.has(paymentId)) return { status: "approved", paymentId };
		const declined = testDeclines.get(idempotencyKey);
		return declined === undefined ? { status: "none" } : { status: "declined", reason: declined };
	},
	// It never asks for the fan's action, so a payment it made is simply approved.
	async paymentStatus(paymentId) {
		return testPayments.has(paymentId) ? { status: "approved", paymentId } : { status: "declined", reason: "Unknown test payment." };
	},
	async cancel(paymentId) {
		return testPayments.has(paymentId) ? { status: "approved", paymentId } : { status: "declined", reason: "Unknown test payment." };
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

/** How the test provider's payment ids begin, so a payment tells which provider took it. */
export const TEST_PAYMENT_PREFIX = "pay_test";
