// A purchase with the payment provider, as the fan's home shard runs it: the charge
// is written down before the provider is asked (ledger-charges.ts), charged under an
// idempotency key of the hold and attempt, and ends explicitly: the hold's order, or
// a refund when the hold ran out meanwhile. A charge left open by a request that died
// is settled by the reconcile the alarm runs, or by the fan's retry, both under its
// key; it is void only once the provider can hold no charge under that key. A hold
// that costs nothing is no provider's: it becomes its order at once. A charge the
// fan's bank must confirm (3-D Secure) waits, its hold kept until the charge's
// deadline: the provider's webhook, or the fan asking again, ends it (an order, or a
// decline that keeps the hold), and the alarm cancels it at the deadline (a payment
// that succeeded at the last moment is refunded, since its hold is gone). Handed only
// what it needs of its shard.
import { type Outcome, fail, ok } from "../shared/outcome";
import { freeProvider } from "../payments/free-provider";
import { methodUnavailable } from "../payments/providers";
import type { ActionResult, ChargeRequest, ChargeResult, PaymentProvider } from "../payments/provider";
import type { AlarmScheduling } from "./alarm-schedule";
import type { ChargeLedger, ChargeRow } from "./ledger-charges";
import type { ActionView, OrderView } from "./ledger-store";

/** A charge left open this long (its request died, or is very slow) is settled by the alarm. */
export const CHARGE_SETTLE_MS = 30_000;

/**
 * How long a purchase waits for the provider's answer to a charge (and the alarm for a lookup).
 * Past it the purchase gives up as if the answer were lost: the charge stays open under its key,
 * the fan is told to try again, and the fan's retry or the alarm settles it by asking again under
 * that key, so the provider answers the first charge rather than make a second. Without it, a
 * provider that never answered kept the purchase running, and the alarm leaves a running purchase alone.
 */
export const PROVIDER_ANSWER_MS = 30_000;

/**
 * How long a charge may wait on the fan's bank (3-D Secure), its hold kept meanwhile: never
 * past the fan's turn. Long enough for a bank's check (Stripe's own challenges time out sooner).
 */
export const ACTION_WINDOW_MS = 10 * 60_000;

/** What a purchase answers: the order, or a payment waiting on the fan's bank (202). */
export type PurchaseView = OrderView | ActionView;

/** What the provider's webhook told of a payment that waited on the fan. */
export interface PaymentEvent {
	holdId: string;
	/** The attempt's idempotency key, from the payment's metadata. */
	key: string;
	paymentId: string;
	method: string;
	succeeded: boolean;
}

/** What a purchase asks for: the hold, the fan, how they pay, and where the receipt goes. */
export interface PurchaseRequest {
	holdId: string;
	fanId: string;
	payment: { method: string; token: string };
	/** False when the Worker that took the request does not take this method (refused unless the hold costs nothing). */
	methodTaken?: boolean;
	email?: string;
	/** The fan's language. Both it and `email` are kept with the charge, so whichever path makes the order has them. */
	locale?: string;
	/** When the fan's turn began (ms): kept with the charge for the queue figures, never checked. */
	admittedAt?: number;
	/** The end of the fan's turn: a payment waiting on their bank keeps the hold until then at the latest. */
	notAfter?: number;
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
	/** How long a provider may take to answer (PROVIDER_ANSWER_MS; tests shorten it). */
	providerAnswerMs(): number;
	/** An order was made: its sale goes out, and a named order's units are told they are sold. */
	ordered(order: OrderView): Promise<void>;
}

export class Charges {
	/** Purchases running right now, by fan and hold: a second one waits for the first. */
	private readonly purchasing = new Map<string, Promise<Outcome<PurchaseView>>>();

	constructor(private readonly host: ChargeHost) {}

	/**
	 * Records the charge, charges the fan and turns the hold into an order; a payment
	 * method this engine does not take is refused first, unless there is nothing to pay.
	 * One purchase of a hold runs at a time: a repeat meanwhile answers the first one's
	 * outcome, marked replayed.
	 */
	async purchase(input: PurchaseRequest): Promise<Outcome<PurchaseView>> {
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

	private async purchaseOnce(input: PurchaseRequest, chosen: PaymentProvider): Promise<Outcome<PurchaseView>> {
		const start = this.host.charges.startCharge({ holdId: input.holdId, fanId: input.fanId, method: input.payment.method, token: input.payment.token, email: input.email ?? null, locale: input.locale ?? null, admittedAt: input.admittedAt ?? null, now: this.host.clock() });
		if (start.kind === "answered") return start.outcome;
		if (start.kind === "awaiting") return this.stillAwaiting(start.charge, start.action, this.providerOf(start.charge, chosen), input.email);
		const charge = start.charge;
		const key = charge.idempotency_key;
		this.host.alarm.by(this.host.clock() + CHARGE_SETTLE_MS);
		// An open charge from a request that died goes on with its own provider, key and request,
		// so the provider answers that charge (or makes it) rather than make a second one.
		const provider = charge.amount_cents === 0 ? freeProvider : this.providerOf(charge, chosen);
		if (charge.state === "charged" && charge.payment_id !== null) return this.settle(charge.hold_id, key, charge.payment_id, provider, input.email);
		const request = requestOf(charge, input.payment.token);
		const result = await within(provider.charge(request), this.host.providerAnswerMs());
		if (result === null) {
			return fail(503, "try_again", "The payment provider has not answered yet. Try again in a moment: the same payment is asked for, never a second one.", {
				holdId: charge.hold_id,
				holdKept: true,
				retryAfter: 5,
			});
		}
		this.host.afterCharge();
		if (result.status === "requires_action") return this.awaitAction(charge, result, input.notAfter);
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

	/**
	 * The fan's bank asks them to confirm the charge: it waits, its hold kept until the deadline
	 * (the fan's turn at the latest), and the fan is answered what their page finishes it with.
	 */
	private awaitAction(charge: ChargeRow, result: ActionResult, notAfter: number | undefined): Outcome<PurchaseView> {
		const now = this.host.clock();
		// Without the turn's end (a charge the alarm found waiting), the hold keeps its own end.
		const until = notAfter === undefined ? 0 : Math.min(now + ACTION_WINDOW_MS, notAfter);
		const action = this.host.charges.chargeAwaiting({ holdId: charge.hold_id, key: charge.idempotency_key, paymentId: result.paymentId, clientSecret: result.clientSecret, until, now });
		const deadline = action === null ? now : Date.parse(action.expiresAt);
		this.host.alarm.by(deadline);
		if (action === null || deadline <= now) return fail(410, "hold_expired", "This hold ran out while the payment was asked for; the payment is cancelled. Make a new hold.");
		return ok(action);
	}

	/**
	 * A purchase asked again while its charge waits on the fan: the provider says where it stands.
	 * Still waiting (or the provider unreachable) answers the same 202; finished, the order or a decline.
	 */
	private async stillAwaiting(charge: ChargeRow, action: ActionView, provider: PaymentProvider, email?: string): Promise<Outcome<PurchaseView>> {
		let result: ChargeResult | ActionResult | null;
		try {
			result = await provider.paymentStatus(action.paymentId);
		} catch (err) {
			console.warn("payment status unavailable; the stored answer stands", charge.hold_id, err);
			result = null;
		}
		if (result === null || result.status === "requires_action") return { ok: true, value: action, replayed: true };
		return this.actionEnded(charge.hold_id, charge.idempotency_key, result, provider, email);
	}

	/** A charge that waited on the fan ends: an approved payment becomes the order (or a refund), a refused one a decline that keeps the hold. */
	private async actionEnded(holdId: string, key: string, result: ChargeResult, provider: PaymentProvider, email?: string): Promise<Outcome<OrderView>> {
		if (result.status === "declined") {
			this.host.charges.chargeEnded(holdId, key, "declined", this.host.clock());
			return fail(402, "payment_declined", result.reason, { holdId, holdKept: true });
		}
		this.host.charges.chargeApproved(holdId, key, result.paymentId, this.host.clock());
		return this.settle(holdId, key, result.paymentId, provider, email);
	}

	/**
	 * The provider's signed word on a payment that waited on the fan (its webhook): it succeeded
	 * (the order, made once, or a refund when the hold is gone) or failed (a decline; the hold is
	 * kept while the turn lasts). An event twice, or about a charge already ended, changes nothing;
	 * one about a charge still being asked (pending) is left to its purchase or the alarm.
	 */
	async paymentEvent(event: PaymentEvent): Promise<void> {
		const provider = this.host.provider(event.method);
		if (!provider.ok) return;
		const charge = this.host.charges.attempt(event.holdId, event.key);
		if (charge === null) {
			// An earlier attempt of the hold (or a hold long gone) paid after all: its order, or its refund.
			if (event.succeeded && !this.host.charges.paidUnder(event.key)) await this.actionEnded(event.holdId, event.key, { status: "approved", paymentId: event.paymentId }, provider.value);
			return;
		}
		if (charge.payment_id !== event.paymentId) return;
		const waited = charge.state === "awaiting_action" || (event.succeeded && (charge.state === "declined" || charge.state === "canceled"));
		if (!waited) return;
		await this.actionEnded(event.holdId, event.key, event.succeeded ? { status: "approved", paymentId: event.paymentId } : { status: "declined", reason: "The bank did not confirm the payment." }, provider.value);
	}

	/**
	 * Charges that waited on the fan past their deadline (or whose hold was released): cancelled
	 * with the provider, so no payment comes of them. One the fan finished at the last moment is
	 * approved: its hold gone, it is refunded.
	 */
	private async cancelDueActions(): Promise<void> {
		for (const charge of this.host.charges.dueActions(this.host.clock())) {
			const provider = this.host.provider(charge.method);
			if (!provider.ok || charge.payment_id === null) continue;
			try {
				const result = await provider.value.cancel(charge.payment_id);
				if (result.status === "approved") await this.actionEnded(charge.hold_id, charge.idempotency_key, result, provider.value);
				else this.host.charges.chargeEnded(charge.hold_id, charge.idempotency_key, "canceled", this.host.clock());
			} catch (err) {
				console.warn("cancelling a payment that waited on the fan failed; the alarm retries", charge.hold_id, err);
			}
		}
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
		await this.cancelDueActions();
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
				const found = await within(provider.value.lookup(key, keyAlive && charge.token !== null ? requestOf(charge, charge.token) : null), this.host.providerAnswerMs());
				if (found === null || running()) continue;
				if (found.status === "approved") {
					this.host.charges.chargeApproved(charge.hold_id, key, found.paymentId, this.host.clock());
					await this.settle(charge.hold_id, key, found.paymentId, provider.value);
				} else if (found.status === "requires_action") {
					// A lost answer that asked for the fan's bank: it waits, and the fan's retry is answered it.
					this.awaitAction(charge, found, undefined);
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

/** The provider's answer, or null when it takes longer than `ms` (the call is left to finish on its own). */
async function within<T>(answer: Promise<T>, ms: number): Promise<T | null> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const late = new Promise<null>((resolve) => {
		timer = setTimeout(() => resolve(null), ms);
	});
	try {
		return await Promise.race([answer, late]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}
