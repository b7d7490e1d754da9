// Payment providers behind one small interface. The built-in `test` provider
// approves token "ok" and declines anything else, deterministically, so a
// repeated charge for the same reference has the same result.

export type ChargeResult = { status: "approved"; paymentId: string } | { status: "declined"; reason: string };

export interface PaymentProvider {
	/** Charges once per `reference`: a repeated approved charge returns the first payment, never a second one. */
	charge(input: { reference: string; amountCents: number; currency: string; token: string }): Promise<ChargeResult>;
	/** Gives a charge back (the hold expired while the payment ran). Refunding twice refunds once. */
	refund(paymentId: string): Promise<void>;
}

export interface TestPayment {
	paymentId: string;
	reference: string;
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

export const testProvider: PaymentProvider = {
	async charge({ reference, amountCents, currency, token }) {
		if (token !== "ok") return { status: "declined", reason: token === "decline" ? "The test card was declined." : "Unknown test token." };
		const paymentId = `pay_test_${reference}`;
		if (!testPayments.has(paymentId)) {
			testPayments.set(paymentId, { paymentId, reference, amountCents, currency, refunded: false });
			if (testPayments.size > TEST_LEDGER_LIMIT) testPayments.delete(testPayments.keys().next().value as string);
		}
		return { status: "approved", paymentId };
	},
	async refund(paymentId) {
		const payment = testPayments.get(paymentId);
		if (payment) payment.refunded = true;
	},
};

const providers: Record<string, PaymentProvider> = { test: testProvider };

export const PAYMENT_METHODS = Object.keys(providers);

export function paymentProvider(method: string): PaymentProvider {
	const provider = providers[method];
	if (!provider) throw new Error(`unknown payment method ${method}`);
	return provider;
}
