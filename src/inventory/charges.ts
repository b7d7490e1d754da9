// A purchase with the payment provider, as the fan's home shard runs it: the charge
// is written down before the provider is asked (ledger-charges.ts), charged under an
// idempotency key of the hold and attempt, and ends explicitly: the hold's order, or
// a refund when the hold ran out meanwhile. A charge left open by a request that died
// is settled by the reconcile the alarm runs, or by the fan's retry, both under its
// key; it is void only once the provider can hold no charge under that key. A hold
// that costs nothing is no provider's: it becomes its order at once. Handed only what
// it needs of its shard.
import { type Outcome, fail, ok } from "../shared/outcome";
import { freeProvider } from "../payments/free-provider";
import { methodUnavailable } from "../payments/providers";
import type { ChargeRequest, PaymentProvider } from "../payments/provider";
import type { AlarmScheduling } from "./alarm-schedule";
import type { ChargeLedger, ChargeRow } from "./ledger-charges";
import type { OrderView } from "./ledger-store";

/** A charge left open this long (its request died, or is very slow) is settled by the alarm. */
export const CHARGE_SETTLE_MS = 30_000;

/** What a purchase asks for: the hold, the fan, how they pay, and where the receipt goes. */
export interface PurchaseRequest {
	holdId: string;
	fanId: string;
	payment: { method: string; token: string };
	/** False when the Worker that took the request does not take this method (refused unless the hold costs nothing). */
	methodTaken?: boolean;
	email?: string;
}

/** What the charges need of their shard. */
export interface ChargeHost {
	clock(): number;
	charges: ChargeLedger;
	alarm: Pick<AlarmScheduling, "by">;
	/** The provider of a payment method, or why this engine takes none. */
	provider(method: string): Outcome<PaymentProvider>;
	/** Runs between the provider's answer and its recording (tests crash a purchase there). */
	afterCharge(): void;
	/** An order was made: its sale goes out, and a named order's units are told they are sold. */
	ordered(order: OrderView): Promise<void>;
}

export class Charges {
	/** Purchases running right now, by fan and hold: a second one waits for the first. */
	private readonly purchasing = new Map<string, Promise<Outcome<OrderView>>>();

	constructor(private readonly host: ChargeHost) {}

	/**
	 * Records the charge, charges the fan and turns the hold into an order; a payment
	 * method this engine does not take is refused first, unless there is nothing to pay.
	 * One purchase of a hold runs at a time: a repeat meanwhile answers the first one's
	 * outcome, marked replayed.
	 */
	async purchase(input: PurchaseRequest): Promise<Outcome<OrderView>> {
		const free = this.host.charges.amountDue(input.holdId, input.fanId) === 0;
		const provider = free ? ok(freeProvider) : input.methodTaken === false ? methodUnavailable(input.payment.method) : this.host.provider(input.payment.method);
		if (!provider.ok) return provider;
		const key = `${input.fanId}\n${input.holdId}`;
		const running = this.purchasing.get(key);
		if (running) {
			const first = await running;
			return first.ok ? { ...first, replayed: true } : first;
		}
		const attempt = this.purchaseOnce(input, provider.value);
		this.purchasing.set(key, attempt);
		try {
			return await attempt;
		} finally {
			this.purchasing.delete(key);
		}
	}

	private async purchaseOnce(input: PurchaseRequest, chosen: PaymentProvider): Promise<Outcome<OrderView>> {
		const start = this.host.charges.startCharge({ holdId: input.holdId, fanId: input.fanId, method: input.payment.method, token: input.payment.token, now: this.host.clock() });
		if (start.kind === "answered") return start.outcome;
		const charge = start.charge;
		const key = charge.idempotency_key;
		this.host.alarm.by(this.host.clock() + CHARGE_SETTLE_MS);
		// An open charge from a request that died goes on with its own provider, key and request,
		// so the provider answers that charge (or makes it) rather than make a second one.
		const provider = charge.amount_cents === 0 ? freeProvider : this.providerOf(charge, chosen);
		if (charge.state === "charged" && charge.payment_id !== null) return this.settle(charge.hold_id, key, charge.payment_id, provider, input.email);
		const request = requestOf(charge, input.payment.token);
		const result = await provider.charge(request);
		this.host.afterCharge();
		if (result.status === "declined") {
			this.host.charges.chargeEnded(charge.hold_id, key, "declined", this.host.clock());
			// The earlier attempt is settled; the fan's own card is tried now, under a new key.
			if (start.reopened && request.token !== input.payment.token) return this.purchaseOnce(input, chosen);
			return fail(402, "payment_declined", result.reason, { holdId: charge.hold_id, holdKept: true });
		}
		// No await between the provider's answer and the order (settle's first step), so nothing
		// can cut in: the order records the payment. Only a refund, which awaits, records it first.
		return this.settle(charge.hold_id, key, result.paymentId, provider, input.email);
	}

	/** The provider of an open charge: its own method's, if this engine still takes it. */
	private providerOf(charge: ChargeRow, chosen: PaymentProvider): PaymentProvider {
		if (charge.amount_cents === 0) return freeProvider;
		const own = this.host.provider(charge.method);
		return own.ok ? own.value : chosen;
	}

	/**
	 * An approved charge (the attempt `key`) ends as the hold's order, or as a refund: when
	 * the hold ran out meanwhile, or when its order was paid by another attempt.
	 */
	private async settle(holdId: string, key: string, paymentId: string, provider: PaymentProvider, email?: string): Promise<Outcome<OrderView>> {
		const outcome = this.host.charges.completePurchase({ holdId, key, paymentId, now: this.host.clock(), ...(email === undefined ? {} : { email }) });
		if (outcome.ok && (!outcome.replayed || this.host.charges.orderPayment(holdId) === paymentId)) {
			await this.host.ordered(outcome.value);
			return outcome;
		}
		this.host.charges.chargeApproved(holdId, key, paymentId, this.host.clock());
		await provider.refund(paymentId);
		this.host.charges.chargeEnded(holdId, key, "refunded", this.host.clock());
		return outcome;
	}

	/**
	 * Charges left open by a request that died: an approved one becomes the order (or a
	 * refund if the hold is gone); one whose answer was never recorded is looked up by its
	 * key (its request sent again while the provider keeps the key, so a lagging search
	 * never hides a charge): approved goes the same way, declined ends so, and one the
	 * provider has no trace of is void only once the key's life is over, when no charge can
	 * appear under it. Every change names the attempt's key, so an answer about an earlier
	 * attempt never touches a later one, and a charge whose purchase is running again is left to it.
	 */
	async reconcile(): Promise<void> {
		const now = this.host.clock();
		for (const charge of this.host.charges.openCharges(now - CHARGE_SETTLE_MS)) {
			const running = () => this.purchasing.has(`${charge.fan_id}\n${charge.hold_id}`);
			if (running()) continue;
			const provider = charge.amount_cents === 0 ? ok(freeProvider) : this.host.provider(charge.method);
			if (!provider.ok) continue;
			const key = charge.idempotency_key;
			const keyAlive = charge.updated_at > now - provider.value.keyLifeMs;
			try {
				if (charge.state === "charged" && charge.payment_id !== null) {
					await this.settle(charge.hold_id, key, charge.payment_id, provider.value);
					continue;
				}
				const found = await provider.value.lookup(key, keyAlive && charge.token !== null ? requestOf(charge, charge.token) : null);
				if (running()) continue;
				if (found.status === "approved") {
					this.host.charges.chargeApproved(charge.hold_id, key, found.paymentId, this.host.clock());
					await this.settle(charge.hold_id, key, found.paymentId, provider.value);
				} else if (found.status === "declined") {
					this.host.charges.chargeEnded(charge.hold_id, key, "declined", this.host.clock());
				} else if (!keyAlive) {
					this.host.charges.chargeEnded(charge.hold_id, key, "void", this.host.clock());
				}
			} catch (err) {
				console.warn("charge reconcile failed; the alarm retries", charge.hold_id, err);
			}
		}
	}
}

/** The request of a charge: an attempt left open is sent again as it was first sent. */
function requestOf(charge: ChargeRow, token: string): ChargeRequest {
	return { idempotencyKey: charge.idempotency_key, amountCents: charge.amount_cents, currency: charge.currency, token: charge.token ?? token };
}
