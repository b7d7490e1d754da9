// What a payment provider does, behind one small interface the shard and the
// post-sale path call. Every charge carries an idempotency key (derived from the
// hold and the attempt), so asking again after a crash answers the first charge
// instead of making a second one.

export type ChargeResult = { status: "approved"; paymentId: string } | { status: "declined"; reason: string };

/** A charge the fan's bank must confirm first (3-D Secure): the fan's page finishes it with the client secret. */
export type ActionResult = { status: "requires_action"; paymentId: string; clientSecret: string };

/** One charge as it is asked of the provider; the same request under the same key is the same charge. */
export interface ChargeRequest {
	idempotencyKey: string;
	amountCents: number;
	currency: string;
	token: string;
}

export interface PaymentProvider {
	/**
	 * How long after a key was first used the provider may still hold a charge under it (or
	 * make one, if a request is still on its way). Until then a charge it has no trace of is
	 * not void: its trace may come late.
	 */
	readonly keyLifeMs: number;
	/** Charges once per `idempotencyKey`: a repeat answers the first result, never a second charge. */
	charge(input: ChargeRequest): Promise<ChargeResult | ActionResult>;
	/**
	 * What became of the charge made under `idempotencyKey`: its result, or "none" if the
	 * provider has no trace of it. `repeat`, the first request, is sent again under its key
	 * where only that answers for sure (Stripe's search lags): the provider answers the first
	 * charge, or makes it now. Given only while the provider keeps the key.
	 */
	lookup(idempotencyKey: string, repeat: ChargeRequest | null): Promise<ChargeResult | ActionResult | { status: "none" }>;
	/** Where a payment that waited on the fan's action stands now; null while the provider is still deciding. */
	paymentStatus(paymentId: string): Promise<ChargeResult | ActionResult | null>;
	/**
	 * Cancels a payment that waits on the fan's action: declined once cancelled, or approved
	 * when the fan finished it first (the caller then refunds or orders). Cancelling twice is one cancel.
	 */
	cancel(paymentId: string): Promise<ChargeResult>;
	/**
	 * Gives a charge back: the whole of it, or `part.amountCents` under `part.key`.
	 * Refunding twice (the same payment, or the same part's key) refunds once.
	 */
	refund(paymentId: string, part?: { amountCents: number; key: string }): Promise<void>;
	/** Whether the provider has the payment as taken (a post-sale check; "pending" means ask again later). */
	confirm(paymentId: string): Promise<"confirmed" | "pending" | "missing">;
}
