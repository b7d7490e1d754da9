// What a payment provider does, behind one small interface the shard and the
// post-sale path call. Every charge carries an idempotency key (derived from the
// hold and the attempt), so asking again after a crash answers the first charge
// instead of making a second one.

export type ChargeResult = { status: "approved"; paymentId: string } | { status: "declined"; reason: string };

export interface PaymentProvider {
	/** Charges once per `idempotencyKey`: a repeat answers the first result, never a second charge. */
	charge(input: { idempotencyKey: string; amountCents: number; currency: string; token: string }): Promise<ChargeResult>;
	/** What became of the charge made under `idempotencyKey`: its result, or "none" if the provider never had it. */
	lookup(idempotencyKey: string): Promise<ChargeResult | { status: "none" }>;
	/**
	 * Gives a charge back: the whole of it, or `part.amountCents` under `part.key`.
	 * Refunding twice (the same payment, or the same part's key) refunds once.
	 */
	refund(paymentId: string, part?: { amountCents: number; key: string }): Promise<void>;
	/** Whether the provider has the payment as taken (a post-sale check; "pending" means ask again later). */
	confirm(paymentId: string): Promise<"confirmed" | "pending" | "missing">;
}
