// The ledger's charges and orders: a charge written down before the provider is
// asked (so every one of them ends explicitly), the provider's answer recorded, and
// a paid hold turned into its order and its sale message in one transaction. The
// asking is the shard's (charges.ts); this part is synchronous SQL.
import { orderId as newOrderId, ticketCode } from "../shared/ids";
import { type Outcome, fail, ok } from "../shared/outcome";
import { type OrderColumns, type SaleDetails, saleMessageOf, unitFields } from "../contract/sale-message";
import { type ActionView, type HoldRow, type Meta, type OrderView, LedgerSection, replayed } from "./ledger-store";

/** An order as this shard keeps it; its sale message is built from it (and waits in the outbox). */
type OrderRow = OrderColumns & {
	/** JSON: the ticket codes. */
	tickets: string;
	created_at: number;
	ticket_type: string | null;
	/** JSON: the seats (named units only). */
	units: string | null;
	pool: string | null;
};

/**
 * A charge's life, keyed by hold: `pending` (asked of the provider, answer not
 * recorded), `awaiting_action` (the fan's bank asks them to confirm it, until its
 * `deadline`), `charged` (approved, no order yet), and the endings: `ordered`,
 * `refunded`, `declined`, `void` (the provider never took it), `canceled` (the fan
 * never confirmed it, and the provider cancelled it).
 */
export type ChargeState = "pending" | "awaiting_action" | "charged" | "ordered" | "refunded" | "declined" | "void" | "canceled";

export type ChargeRow = {
	hold_id: string;
	fan_id: string;
	attempt: number;
	idempotency_key: string;
	method: string;
	amount_cents: number;
	currency: string;
	state: ChargeState;
	payment_id: string | null;
	/** The payment method the attempt sent (null in rows made before it was kept). */
	token: string | null;
	/** Awaiting the fan's action: what their page finishes it with, and until when (the hold is kept as long). */
	client_secret: string | null;
	deadline: number | null;
	/** Where the receipt goes and the fan's language, as the purchase named them (null: none named, or a row made before they were kept). */
	receipt_to: string | null;
	locale: string | null;
	/** When the fan's turn began (ms), as the purchase told it: the queue figures' time from admission to purchase. */
	admitted_at: number | null;
	created_at: number;
	updated_at: number;
};

/** What a purchase may do next with a hold: charge it (a new attempt, or `reopened`: one an earlier request left open), or answer at once. */
export type ChargeStart =
	| { kind: "charge"; charge: ChargeRow; reopened: boolean }
	| { kind: "awaiting"; charge: ChargeRow; action: ActionView }
	| { kind: "answered"; outcome: Outcome<OrderView> };

export class ChargeLedger extends LedgerSection {
	/**
	 * Opens (or reopens) the charge for a hold before the provider is asked. An order
	 * that exists is the answer; a hold gone is 410; a charge that may have happened
	 * (pending or approved, from a request that died) is charged again under the SAME
	 * idempotency key and with the same request, so the provider answers the first charge
	 * rather than make a second. After a decline, the next attempt gets a new key.
	 */
	startCharge(input: { holdId: string; fanId: string; method: string; token: string; email: string | null; locale: string | null; admittedAt: number | null; now: number }): ChargeStart {
		return this.transaction((): ChargeStart => {
			const meta = this.store.requireMeta();
			const hold = this.store.holdFor(input.holdId, input.fanId);
			if (hold === null) return { kind: "answered", outcome: fail(404, "not_found", "No such hold.") };
			if (hold.order_id !== null) return { kind: "answered", outcome: replayed(this.orderView(meta, this.orderRow(hold.order_id)!)) };
			const gone = this.expireIfDue(hold, input.now);
			if (gone !== null) return { kind: "answered", outcome: gone };
			const existing = this.charge(hold.hold_id);
			// A charge waiting on the fan's bank is the answer until it ends: never a second payment.
			if (existing !== null && existing.state === "awaiting_action") return { kind: "awaiting", charge: existing, action: actionView(existing) };
			if (existing !== null && (existing.state === "pending" || existing.state === "charged")) {
				return { kind: "charge", charge: existing, reopened: true };
			}
			// A new attempt on a cancelled drop is refused before any charge; an open one above is settled (and refunded).
			const refused = this.store.refusal("purchase", meta);
			if (refused !== null) return { kind: "answered", outcome: refused };
			const attempt = (existing?.attempt ?? 0) + 1;
			const charge: ChargeRow = {
				hold_id: hold.hold_id,
				fan_id: hold.fan_id,
				attempt,
				idempotency_key: `${meta.drop_id}:${hold.hold_id}:${attempt}`,
				method: input.method,
				amount_cents: hold.quantity * this.store.priceOf(meta, hold.ticket_type),
				currency: meta.currency,
				state: "pending",
				payment_id: null,
				token: input.token,
				client_secret: null,
				deadline: null,
				receipt_to: input.email,
				locale: input.locale,
				admitted_at: input.admittedAt,
				created_at: input.now,
				updated_at: input.now,
			};
			this.sql.run(
				`INSERT INTO charges (hold_id, fan_id, attempt, idempotency_key, method, amount_cents, currency, state, payment_id, token, receipt_to, locale, admitted_at, created_at, updated_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, ?, ?, ?, ?, ?, ?)
				 ON CONFLICT (hold_id) DO UPDATE SET attempt = excluded.attempt, idempotency_key = excluded.idempotency_key,
				   method = excluded.method, amount_cents = excluded.amount_cents, state = 'pending', payment_id = NULL,
				   token = excluded.token, receipt_to = excluded.receipt_to, locale = excluded.locale, admitted_at = excluded.admitted_at, updated_at = excluded.updated_at`,
				charge.hold_id, charge.fan_id, charge.attempt, charge.idempotency_key, charge.method, charge.amount_cents,
				charge.currency, charge.token, charge.receipt_to, charge.locale, charge.admitted_at, charge.created_at, charge.updated_at,
			);
			return { kind: "charge", charge, reopened: false };
		});
	}

	/**
	 * What a purchase of the hold would charge: the open attempt's amount, or the hold's
	 * price; null when there is nothing to pay for (no such hold, or its order is made).
	 */
	amountDue(holdId: string, fanId: string): number | null {
		const hold = this.store.holdFor(holdId, fanId);
		if (hold === null || hold.order_id !== null) return null;
		const open = this.charge(holdId);
		if (open !== null && (open.state === "pending" || open.state === "charged" || open.state === "awaiting_action")) return open.amount_cents;
		return hold.quantity * this.store.priceOf(this.store.requireMeta(), hold.ticket_type);
	}

	/**
	 * The provider asks for the fan's action (3-D Secure): the charge waits for it, and its hold
	 * is kept as long, until `until` (never past the fan's turn) or its own end if later. A hold
	 * already gone gives the charge no time at all: the alarm cancels it now. Answers what the
	 * fan's page needs, or null when the attempt has moved on.
	 */
	chargeAwaiting(input: { holdId: string; key: string; paymentId: string; clientSecret: string; until: number; now: number }): ActionView | null {
		return this.transaction(() => {
			const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ?`, input.holdId);
			const kept = hold !== null && hold.state === "active" && hold.expires_at > input.now;
			const deadline = kept ? Math.max(hold.expires_at, input.until) : input.now;
			if (kept) this.sql.run(`UPDATE holds SET expires_at = ? WHERE hold_id = ?`, deadline, input.holdId);
			this.sql.run(
				`UPDATE charges SET state = 'awaiting_action', payment_id = ?, client_secret = ?, deadline = ?, updated_at = ? WHERE hold_id = ? AND idempotency_key = ? AND state = 'pending'`,
				input.paymentId, input.clientSecret, deadline, input.now, input.holdId, input.key,
			);
			const charge = this.charge(input.holdId);
			return charge !== null && charge.idempotency_key === input.key && charge.state === "awaiting_action" ? actionView(charge) : null;
		});
	}

	/** Charges waiting on the fan's action past their deadline (or whose hold was released): what the alarm cancels. */
	dueActions(now: number, limit = 50): ChargeRow[] {
		return this.sql.all<ChargeRow>(`SELECT * FROM charges WHERE state = 'awaiting_action' AND deadline <= ? ORDER BY deadline LIMIT ?`, now, limit);
	}

	/** The attempt `key` of a hold's charge as it stands, or null when the hold's charge is a later attempt. */
	attempt(holdId: string, key: string): ChargeRow | null {
		return this.sql.first<ChargeRow>(`SELECT * FROM charges WHERE hold_id = ? AND idempotency_key = ?`, holdId, key);
	}

	/** Whether a payment under the attempt `key` has been recorded (ordered or refunded, or on its way to one). */
	paidUnder(key: string): boolean {
		return this.sql.first(`SELECT 1 AS paid FROM charge_payments WHERE idempotency_key = ?`, key) !== null;
	}

	/** The provider approved the charge: recorded before anything else happens. */
	chargeApproved(holdId: string, key: string, paymentId: string, now: number): void {
		this.transaction(() => {
			// By key as well: an answer about an earlier attempt never touches a later one. A charge that
			// waited on the fan, even one declined or cancelled meanwhile, is approved when its payment succeeded.
			this.sql.run(
				`UPDATE charges SET state = 'charged', payment_id = ?, updated_at = ? WHERE hold_id = ? AND idempotency_key = ? AND state IN ('pending', 'charged', 'void', 'awaiting_action', 'declined', 'canceled')`,
				paymentId, now, holdId, key,
			);
			this.paid(holdId, key, paymentId, now);
		});
	}

	/** A payment the provider approved, once per attempt's key, whatever becomes of it. */
	private paid(holdId: string, key: string, paymentId: string, now: number): void {
		this.sql.run(`INSERT INTO charge_payments (idempotency_key, hold_id, payment_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`, key, holdId, paymentId, now);
	}

	/** Successful payments, and the holds paid more than once (refunded or not): what the audit counts. */
	paymentCounts(): { payments: number; holdsChargedTwice: number } {
		return {
			payments: this.sql.number(`SELECT COUNT(*) FROM charge_payments`),
			holdsChargedTwice: this.sql.number(`SELECT COUNT(*) FROM (SELECT hold_id FROM charge_payments GROUP BY hold_id HAVING COUNT(*) > 1)`),
		};
	}

	/** An ending other than an order: declined, refunded, or void (the provider has no such charge). */
	chargeEnded(holdId: string, key: string, state: "declined" | "refunded" | "void" | "canceled", now: number): void {
		this.transaction(() => {
			this.sql.run(
				`UPDATE charges SET state = ?, updated_at = ? WHERE hold_id = ? AND idempotency_key = ? AND state IN ('pending', 'charged', 'awaiting_action')`,
				state, now, holdId, key,
			);
			if (state === "refunded") this.sql.run(`UPDATE charge_payments SET refunded = 1 WHERE idempotency_key = ?`, key);
		});
	}

	/** The payment an order was made with, if the hold has one. */
	orderPayment(holdId: string): string | null {
		return this.sql.first<{ payment_id: string }>(`SELECT o.payment_id FROM orders o JOIN holds h ON h.order_id = o.order_id WHERE h.hold_id = ?`, holdId)?.payment_id ?? null;
	}

	charge(holdId: string): ChargeRow | null {
		return this.sql.first<ChargeRow>(`SELECT * FROM charges WHERE hold_id = ?`, holdId);
	}

	/** Charges not ended, last touched at or before `before`: what a reconcile looks at. */
	openCharges(before: number, limit = 50): ChargeRow[] {
		return this.sql.all<ChargeRow>(
			`SELECT * FROM charges WHERE state IN ('pending', 'charged') AND updated_at <= ? ORDER BY updated_at LIMIT ?`,
			before, limit,
		);
	}

	/**
	 * Turns a paid hold into an order, with its outbox row, and ends its charge, in one
	 * transaction. A hold that ran out meanwhile answers 410: the caller refunds.
	 */
	completePurchase(input: { holdId: string; key: string; paymentId: string; now: number; email?: string }): Outcome<OrderView> {
		return this.transaction((): Outcome<OrderView> => {
			const meta = this.store.requireMeta();
			const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ?`, input.holdId);
			if (hold === null) return fail(404, "not_found", "No such hold.");
			if (hold.order_id !== null) return replayed(this.orderView(meta, this.orderRow(hold.order_id)!));
			const gone = this.expireIfDue(hold, input.now);
			if (gone !== null) return gone;
			// A charge that raced the cancel makes no order: the purchase refunds it (charges.ts, settle).
			const refused = this.store.refusal("purchase", meta);
			if (refused !== null) return refused;
			const order: OrderRow = {
				order_id: newOrderId(meta.shard),
				hold_id: hold.hold_id,
				fan_id: hold.fan_id,
				quantity: hold.quantity,
				tickets: JSON.stringify(Array.from({ length: hold.quantity }, ticketCode)),
				unit_price_cents: this.store.priceOf(meta, hold.ticket_type),
				total_cents: this.store.priceOf(meta, hold.ticket_type) * hold.quantity,
				currency: meta.currency,
				payment_id: input.paymentId,
				created_at: input.now,
				ticket_type: hold.ticket_type,
				units: hold.units,
				pool: hold.pool,
			};
			this.sql.run(
				`INSERT INTO orders (order_id, hold_id, fan_id, quantity, tickets, unit_price_cents, total_cents, currency, payment_id, created_at, ticket_type, units, pool)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				order.order_id, order.hold_id, order.fan_id, order.quantity, order.tickets,
				order.unit_price_cents, order.total_cents, order.currency, order.payment_id, order.created_at,
				order.ticket_type, order.units, order.pool,
			);
			this.store.owe(hold, "sold", input.now);
			this.sql.run(`UPDATE holds SET state = 'purchased', order_id = ? WHERE hold_id = ?`, order.order_id, hold.hold_id);
			this.sql.run(
				`UPDATE charges SET state = 'ordered', payment_id = ?, updated_at = ? WHERE hold_id = ? AND idempotency_key = ?`,
				input.paymentId, input.now, hold.hold_id, input.key,
			);
			this.paid(hold.hold_id, input.key, input.paymentId, input.now);
			const charge = this.charge(hold.hold_id);
			const message = saleMessageOf(order, {
				dropId: meta.drop_id,
				shard: meta.shard,
				tickets: JSON.parse(order.tickets) as string[],
				createdAt: new Date(input.now).toISOString(),
				// The request's, else the hold's charge's: Stripe's webhook and the alarm make orders too, and know no request.
				email: input.email ?? charge?.receipt_to ?? null,
				locale: charge?.locale ?? null,
				admittedAt: charge?.admitted_at == null ? null : new Date(charge.admitted_at).toISOString(),
				...unitsOf(order),
			});
			this.sql.run(`INSERT INTO outbox (order_id, payload, created_at) VALUES (?, ?, ?)`, order.order_id, JSON.stringify(message), input.now);
			return ok(this.orderView(meta, order));
		});
	}

	order(input: { orderId: string; fanId: string }): Outcome<OrderView> {
		const meta = this.store.requireMeta();
		const row = this.orderRow(input.orderId);
		if (row === null || row.fan_id !== input.fanId) return fail(404, "not_found", "No such order.");
		return ok(this.orderView(meta, row));
	}

	/** 410 for a hold past its time (returning its stock now if the alarm has not yet), null if it can be bought. */
	private expireIfDue(hold: HoldRow, now: number): Outcome<never> | null {
		if (hold.state === "active" && hold.expires_at <= now) this.store.returnHold(hold, "expired", now);
		else if (hold.state === "active") return null;
		return fail(410, hold.state === "released" ? "hold_released" : "hold_expired", "This hold is no longer valid; make a new one.");
	}

	private orderRow(orderId: string): OrderRow | null {
		return this.sql.first<OrderRow>(`SELECT * FROM orders WHERE order_id = ?`, orderId);
	}

	/** An order as the fan is answered it. */
	private orderView(meta: Meta, row: OrderRow): OrderView {
		return {
			orderId: row.order_id,
			dropId: meta.drop_id,
			holdId: row.hold_id,
			quantity: row.quantity,
			tickets: JSON.parse(row.tickets) as string[],
			unitPriceCents: row.unit_price_cents,
			totalCents: row.total_cents,
			currency: row.currency,
			createdAt: new Date(row.created_at).toISOString(),
			...unitFields(unitsOf(row)),
		};
	}
}

/** What the fan's page needs to finish a charge waiting on their bank. */
function actionView(charge: ChargeRow): ActionView {
	return {
		holdId: charge.hold_id,
		status: "requires_action",
		method: charge.method,
		paymentId: charge.payment_id ?? "",
		clientSecret: charge.client_secret ?? "",
		amountCents: charge.amount_cents,
		currency: charge.currency,
		expiresAt: new Date(charge.deadline ?? charge.updated_at).toISOString(),
	};
}

/** An order's named units as its row keeps them: none for the stock spread over the shards. */
function unitsOf(order: OrderRow): Pick<SaleDetails, "ticketType" | "seats" | "slot"> {
	if (order.ticket_type === null) return { ticketType: null, seats: [], slot: null };
	return {
		ticketType: order.ticket_type,
		seats: order.units === null ? [] : (JSON.parse(order.units) as string[]),
		slot: order.pool?.startsWith("t:") ? order.pool.slice(2) : null,
	};
}
