// Payment providers behind one small interface. The built-in `test` provider
// approves token "ok" and declines anything else, deterministically, so a
// repeated charge for the same reference has the same result.

export type ChargeResult = { status: "approved"; paymentId: string } | { status: "declined"; reason: string };

export interface PaymentProvider {
	/** Charges once per `reference`: a repeat returns the first result. */
	charge(input: { reference: string; amountCents: number; currency: string; token: string }): Promise<ChargeResult>;
	/** Gives a charge back (the hold expired while the payment ran). */
	refund(paymentId: string): Promise<void>;
}

export const testProvider: PaymentProvider = {
	async charge({ reference, token }) {
		if (token === "ok") return { status: "approved", paymentId: `pay_test_${reference}` };
		return { status: "declined", reason: token === "decline" ? "The test card was declined." : "Unknown test token." };
	},
	async refund() {},
};

const providers: Record<string, PaymentProvider> = { test: testProvider };

export const PAYMENT_METHODS = Object.keys(providers);

export function paymentProvider(method: string): PaymentProvider {
	const provider = providers[method];
	if (!provider) throw new Error(`unknown payment method ${method}`);
	return provider;
}
