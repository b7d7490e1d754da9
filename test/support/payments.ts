import { type TestPayment, testPayments } from "../../src/payments/test-provider";
// The test payment provider's record of charges, read by hold.

/** The test provider's charges for a hold, one per attempt that was approved. */
export function paymentsFor(holdId: string): TestPayment[] {
	return [...testPayments.values()].filter((p) => p.idempotencyKey.split(":")[1] === holdId);
}

/** The test provider's (only) charge for a hold, if any. */
export function paymentFor(holdId: string): TestPayment | undefined {
	const found = paymentsFor(holdId);
	if (found.length > 1) throw new Error(`hold ${holdId} was charged ${found.length} times`);
	return found[0];
}
