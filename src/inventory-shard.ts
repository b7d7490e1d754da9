// One shard of a drop's tickets. Every change to stock, holds and sales is one
// synchronous SQLite transaction, so a hold either takes tickets that exist or
// fails, and a sale is written together with its outbox row.
import { DurableObject } from "cloudflare:workers";
import { holdId as newHoldId, orderId as newOrderId, randomId, ticketCode } from "./codes";
import { RequestCounter } from "./load";
import { type Outcome, fail, ok } from "./outcome";
import { paymentProvider } from "./payments";
import { SALES_PER_MESSAGE, type SaleMessage, type SalesMessage } from "./sale";
import { Sql } from "./sql";

export interface ShardInit {
	dropId: string;
	shard: number;
	shards: number;
	allocation: number;
	maxPerFan: number;
	holdSeconds: number;
	priceCents: number;
	currency: string;
}

export interface HoldView {
	holdId: string;
	quantity: number;
	expiresAt: string;
}

export interface OrderView {
	orderId: string;
	dropId: string;
	holdId: string;
	quantity: number;
	tickets: string[];
	unitPriceCents: number;
	totalCents: number;
	currency: string;
	createdAt: string;
}

export interface ShardTotals {
	remaining: number;
	held: number;
	sold: number;
	/** Fans with an order here (this is their home shard, so each is counted on one shard only). */
	buyers: number;
}

/** One shard's totals read in one go, with the stock it has given to and received from its peers. */
export interface ShardCounts extends ShardTotals {
	given: number;
	received: number;
}

export interface ShardStats extends ShardTotals {
	shard: number;
	allocation: number;
	received: number;
	given: number;
	orders: number;
	activeHolds: number;
	outboxPending: number;
	transfersPending: number;
	/** What this shard answers for: allocation + received − given. */
	accountable: number;
	/** Sales sent to the Queue within the grace period: possibly not in D1 yet. */
	recentlySent: number;
}

/** A purchase that may go on to payment: the amount to charge. */
export interface PurchaseQuote {
	holdId: string;
	quantity: number;
	totalCents: number;
	currency: string;
}

const OUTBOX_RETRY_MS = 5_000;
/** Rounds of asking peers for stock before a contended hold gives up with "try again". */
const MAX_HOLD_ROUNDS = 16;
const TRANSFER_RETRY_MS = 2_000;
/** Sales per sendBatch: packed 25 a message, about 150 KB, inside the Queue's 256 KB per batch. */
const SEND_SALES_LIMIT = 200;
/** How long the pacer's look at every shard's free stock guides a dry shard's asking (it looks about once a second). */
const HINT_FRESH_MS = 2_000;
/** How long a sweep of every peer that found nothing answers for the holds after it. */
const EMPTY_SWEEP_MS = 1_000;
/** The most a dry shard takes from a peer beyond what the hold at hand lacks. */
const MAX_EXTRA_TAKE = 16;

type Meta = {
	drop_id: string;
	shard: number;
	shards: number;
	allocation: number;
	max_per_fan: number;
	hold_seconds: number;
	price_cents: number;
	currency: string;
	remaining: number;
	received: number;
	given: number;
};

type HoldRow = {
	hold_id: string;
	fan_id: string;
	quantity: number;
	created_at: number;
	expires_at: number;
	state: "active" | "purchased" | "released" | "expired";
	order_id: string | null;
};

type OrderRow = {
	order_id: string;
	hold_id: string;
	fan_id: string;
	quantity: number;
	tickets: string;
	unit_price_cents: number;
	total_cents: number;
	currency: string;
	payment_id: string;
	created_at: number;
};

export class InventoryShard extends DurableObject<Env> {
	private readonly sql: Sql;
	/** Holds being made right now, by fan and key, so a concurrent replay waits for the first answer. */
	private readonly inFlight = new Map<string, { request: string; outcome: Promise<Outcome<HoldView>> }>();
	/** Transfers this instance is waiting on right now. */
	private readonly transfersRunning = new Set<string>();
	private flushing: Promise<void> | null = null;
	private flushAgain = false;
	private readonly served: RequestCounter;
	/** Each peer's free stock when the pacer last looked: a dry shard asks the richest first. */
	private peerStock: number[] = [];
	private peerStockAt = -Infinity;
	/** When a sweep of every peer last found no stock at all. */
	private peersEmptyAt = -Infinity;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = new Sql(ctx.storage.sql);
		this.sql.run(`CREATE TABLE IF NOT EXISTS meta (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			drop_id TEXT NOT NULL, shard INTEGER NOT NULL, shards INTEGER NOT NULL,
			allocation INTEGER NOT NULL, max_per_fan INTEGER NOT NULL, hold_seconds INTEGER NOT NULL,
			price_cents INTEGER NOT NULL, currency TEXT NOT NULL,
			remaining INTEGER NOT NULL CHECK (remaining >= 0),
			received INTEGER NOT NULL DEFAULT 0, given INTEGER NOT NULL DEFAULT 0)`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS holds (
			hold_id TEXT PRIMARY KEY, fan_id TEXT NOT NULL, quantity INTEGER NOT NULL,
			created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
			state TEXT NOT NULL, order_id TEXT)`);
		this.sql.run(`CREATE INDEX IF NOT EXISTS holds_by_fan ON holds (fan_id, state)`);
		this.sql.run(`CREATE INDEX IF NOT EXISTS holds_by_expiry ON holds (state, expires_at)`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS idempotency (
			fan_id TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL, result TEXT NOT NULL,
			created_at INTEGER NOT NULL, PRIMARY KEY (fan_id, key))`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS orders (
			order_id TEXT PRIMARY KEY, hold_id TEXT NOT NULL UNIQUE, fan_id TEXT NOT NULL,
			quantity INTEGER NOT NULL, tickets TEXT NOT NULL, unit_price_cents INTEGER NOT NULL,
			total_cents INTEGER NOT NULL, currency TEXT NOT NULL, payment_id TEXT NOT NULL,
			created_at INTEGER NOT NULL)`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS outbox (
			order_id TEXT PRIMARY KEY, payload TEXT NOT NULL, created_at INTEGER NOT NULL,
			sent_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0)`);
		this.sql.run(`CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, created_at)`);
		// Stock moved between shards: the giver records what it gave (and decrements first),
		// the taker records what it asked for, so a transfer cut short is completed, never lost or doubled.
		this.sql.run(`CREATE TABLE IF NOT EXISTS transfers_out (
			transfer_id TEXT PRIMARY KEY, to_shard INTEGER NOT NULL, amount INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS transfers_in (
			transfer_id TEXT PRIMARY KEY, from_shard INTEGER NOT NULL, requested INTEGER NOT NULL,
			amount INTEGER, created_at INTEGER NOT NULL)`);
		this.sql.run(`CREATE INDEX IF NOT EXISTS orders_by_fan ON orders (fan_id)`);
		this.served = new RequestCounter(this.sql);
	}

	/** Sets the shard up once; later calls only update what may change (hold length). */
	init(config: ShardInit): ShardStats {
		this.served.count();
		const existing = this.meta();
		if (existing === null) {
			this.sql.run(
				`INSERT INTO meta (id, drop_id, shard, shards, allocation, max_per_fan, hold_seconds, price_cents, currency, remaining)
				 VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				config.dropId, config.shard, config.shards, config.allocation, config.maxPerFan,
				config.holdSeconds, config.priceCents, config.currency, config.allocation,
			);
		} else if (existing.drop_id !== config.dropId || existing.shard !== config.shard) {
			throw new Error("shard identity mismatch");
		} else {
			this.sql.run(`UPDATE meta SET hold_seconds = ? WHERE id = 1`, config.holdSeconds);
		}
		return this.stats();
	}

	/**
	 * Holds `quantity` tickets for a fan. This shard is the fan's home shard and
	 * keeps their ledger, so `maxPerFan` is checked in one place for the whole drop.
	 */
	async hold(input: { fanId: string; quantity: number; idempotencyKey: string; now?: number }): Promise<Outcome<HoldView>> {
		this.served.count();
		const key = `${input.fanId}\n${input.idempotencyKey}`;
		const request = holdRequest(input.quantity);
		const running = this.inFlight.get(key);
		if (running) {
			// The same key in flight: the first answer, or a conflict when the body differs (failed or not).
			if (running.request !== request) return keyConflict();
			const first = await running.outcome;
			return first.ok ? { ...first, replayed: true } : first;
		}
		const attempt = this.holdOnce(input, request);
		this.inFlight.set(key, { request, outcome: attempt });
		try {
			return await attempt;
		} finally {
			this.inFlight.delete(key);
		}
	}

	private async holdOnce(input: { fanId: string; quantity: number; idempotencyKey: string; now?: number }, request: string): Promise<Outcome<HoldView>> {
		const now = () => input.now ?? Date.now();
		let unreachable = false;
		for (let round = 1; ; round++) {
			let shortBy = 0;
			const decided = this.tryHold(this.requireMeta(), input, request, now(), (missing) => (shortBy = missing));
			if (decided !== null) return decided;
			// Every peer was asked a moment ago and had nothing: answer from that sweep.
			if (round === 1 && this.peersLatelyEmpty(now())) break;
			// Not enough here: take stock from the other shards and decide again. Other requests
			// ran during the await and may have taken what arrived, so this repeats for as long
			// as the peers still have stock to give: a hold answers sold out only when a sweep of
			// every peer, this one or one at most EMPTY_SWEEP_MS ago, found nothing. (Each round
			// that gets stock moves it here for some hold to take.)
			const sweep = await this.takeStockFromPeers(this.requireMeta(), shortBy);
			unreachable = sweep.unreachable;
			if (sweep.got === 0 && !sweep.unreachable) this.peersEmptyAt = now();
			if (sweep.got === 0 || round >= MAX_HOLD_ROUNDS) break;
		}
		// One more look: stock may have come back while the last sweep ran.
		const last = this.tryHold(this.requireMeta(), input, request, now(), () => {});
		if (last !== null) return last;
		if (unreachable) {
			// A peer did not answer: it may have stock, so "sold out" would be a guess. Not remembered,
			// so a retry with the same key tries again.
			return fail(503, "try_again", "Tickets are being moved between shards; try again in a moment.", { retryAfter: 1 });
		}
		const left = this.requireMeta().remaining;
		const outcome =
			left === 0
				? fail(409, "sold_out", "No tickets are left to hold.")
				: fail(409, "not_enough_left", `Only ${left} ticket(s) are left; ask for fewer.`, { available: left });
		this.rememberOutcome(input.fanId, input.idempotencyKey, request, outcome, now());
		return outcome;
	}

	/** The synchronous decision. Returns null when the only problem is stock this shard lacks. */
	private tryHold(
		meta: Meta,
		input: { fanId: string; quantity: number; idempotencyKey: string },
		request: string,
		now: number,
		short: (missing: number) => void,
	): Outcome<HoldView> | null {
		return this.ctx.storage.transactionSync(() => {
			const stored = this.sql.first<{ request: string; result: string }>(
				`SELECT request, result FROM idempotency WHERE fan_id = ? AND key = ?`,
				input.fanId, input.idempotencyKey,
			);
			if (stored !== null) {
				if (stored.request !== request) return keyConflict();
				return { ...(JSON.parse(stored.result) as Outcome<HoldView>), replayed: true };
			}
			// Holds past their time are free stock even when the alarm is late.
			this.releaseDueHolds(now);
			const used = this.fanTickets(input.fanId);
			if (used + input.quantity > meta.max_per_fan) {
				const outcome = fail(422, "limit_exceeded", `A fan may hold or buy at most ${meta.max_per_fan} ticket(s) in this drop.`, {
					maxPerFan: meta.max_per_fan,
					alreadyHeldOrBought: used,
				});
				this.rememberOutcome(input.fanId, input.idempotencyKey, request, outcome, now);
				return outcome;
			}
			if (meta.remaining < input.quantity) {
				short(input.quantity - meta.remaining);
				return null;
			}
			const hold: HoldView = {
				holdId: newHoldId(meta.shard),
				quantity: input.quantity,
				expiresAt: new Date(now + meta.hold_seconds * 1000).toISOString(),
			};
			this.sql.run(`UPDATE meta SET remaining = remaining - ? WHERE id = 1`, input.quantity);
			this.sql.run(
				`INSERT INTO holds (hold_id, fan_id, quantity, created_at, expires_at, state) VALUES (?, ?, ?, ?, ?, 'active')`,
				hold.holdId, input.fanId, input.quantity, now, now + meta.hold_seconds * 1000,
			);
			const outcome = ok(hold);
			this.rememberOutcome(input.fanId, input.idempotencyKey, request, outcome, now);
			this.scheduleAlarm();
			return outcome;
		});
	}

	private rememberOutcome(fanId: string, key: string, request: string, outcome: Outcome<unknown>, now: number): void {
		this.sql.run(
			`INSERT INTO idempotency (fan_id, key, request, result, created_at) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (fan_id, key) DO NOTHING`,
			fanId, key, request, JSON.stringify(outcome), now,
		);
	}

	/** Tickets a fan holds or has bought in this drop (this shard is their home, so this is all of them). */
	private fanTickets(fanId: string): number {
		return this.sql.number(
			`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE fan_id = ? AND state IN ('active', 'purchased')`,
			fanId,
		);
	}

	/**
	 * Asks the other shards, nearest first, until `needed` tickets have arrived or all have
	 * been asked. A peer that fails to answer is skipped: its transfer stays pending and the
	 * alarm completes it, so nothing is lost or doubled.
	 */
	/**
	 * Whether a sweep of every peer found nothing within EMPTY_SWEEP_MS, and the pacer
	 * has not seen stock at a peer since: then a hold answers from that sweep. In a
	 * sold-out endgame a dry shard costs its peers a sweep a second, not one per fan.
	 */
	private peersLatelyEmpty(now: number): boolean {
		// A fresh look that saw no stock at any peer: nobody to ask.
		if (this.peerStock.length > 0 && Date.now() - this.peerStockAt < HINT_FRESH_MS) {
			const shard = this.meta()?.shard;
			if (!this.peerStock.some((n, k) => k !== shard && n > 0)) return true;
		}
		if (now - this.peersEmptyAt >= EMPTY_SWEEP_MS) return false;
		const shard = this.meta()?.shard;
		return !(this.peerStockAt > this.peersEmptyAt && this.peerStock.some((n, k) => k !== shard && n > 0));
	}

	private async takeStockFromPeers(meta: Meta, needed: number): Promise<{ got: number; unreachable: boolean }> {
		// Stock a peer already gave this shard, in a transfer cut short by a restart, comes first.
		let { got, failed: unreachable } = await this.completePendingTransfers(meta);
		// With a fresh look from the pacer, the peers that had free stock then are asked, the
		// richest first; without one, every peer. Either way a hold answers sold out only when
		// no peer had stock at a look at most HINT_FRESH_MS old, or every peer was asked.
		let peers = Array.from({ length: meta.shards - 1 }, (_, i) => (meta.shard + 1 + i) % meta.shards);
		const known = this.peerStock.length === meta.shards && Date.now() - this.peerStockAt < HINT_FRESH_MS ? this.peerStock : null;
		if (known) peers = peers.filter((k) => known[k]! > 0).sort((a, b) => known[b]! - known[a]!);
		for (const from of peers) {
			if (got >= needed) break;
			// From a peer with plenty, take a little more than this hold lacks, so the next holds here find it.
			const spare = known ? Math.max(0, known[from]! - (needed - got)) : 0;
			const asked = needed - got + Math.min(MAX_EXTRA_TAKE, Math.floor(spare / 2));
			try {
				const amount = await this.transferFrom(meta, from, asked);
				got += amount;
				if (known) known[from] = Math.max(0, known[from]! - amount);
			} catch (err) {
				console.warn("stock transfer failed; the alarm completes it", from, err);
				unreachable = true;
			}
		}
		return { got, unreachable };
	}

	private async transferFrom(meta: Meta, from: number, requested: number): Promise<number> {
		const transferId = randomId(`t_${from}_${meta.shard}_`);
		this.sql.run(
			`INSERT INTO transfers_in (transfer_id, from_shard, requested, created_at) VALUES (?, ?, ?, ?)`,
			transferId, from, requested, Date.now(),
		);
		this.scheduleAlarm();
		return this.completeTransfer(meta.drop_id, transferId, from, requested);
	}

	/** Idempotent on both sides: the giver answers a repeated id with what it gave the first time. */
	private async completeTransfer(dropId: string, transferId: string, from: number, requested: number): Promise<number> {
		const giver = this.env.INVENTORY.getByName(shardName(dropId, from));
		this.transfersRunning.add(transferId);
		let amount: number;
		try {
			amount = await giver.give({ transferId, toShard: this.requireMeta().shard, amount: requested });
		} finally {
			this.transfersRunning.delete(transferId);
		}
		this.ctx.storage.transactionSync(() => {
			const credited = this.sql.run(
				`UPDATE transfers_in SET amount = ? WHERE transfer_id = ? AND amount IS NULL`,
				amount, transferId,
			);
			if (credited > 0) {
				this.sql.run(`UPDATE meta SET remaining = remaining + ?, received = received + ? WHERE id = 1`, amount, amount);
			}
		});
		return amount;
	}

	/** Gives up to `amount` of this shard's free stock to another shard, once per transfer id. */
	async give(input: { transferId: string; toShard: number; amount: number }): Promise<number> {
		this.served.count();
		const done = this.sql.first<{ amount: number }>(`SELECT amount FROM transfers_out WHERE transfer_id = ?`, input.transferId);
		if (done !== null) return done.amount;
		// Stock this shard was given but never credited (a restart cut a transfer short) is
		// still this shard's to give: finish those first rather than answer "none". Transfers
		// already running here are skipped, so shards asking each other cannot loop.
		const meta = this.requireMeta();
		if (this.hasPendingTransfers()) await this.completePendingTransfers(meta);
		return this.ctx.storage.transactionSync(() => {
			const done = this.sql.first<{ amount: number }>(`SELECT amount FROM transfers_out WHERE transfer_id = ?`, input.transferId);
			if (done !== null) return done.amount;
			this.releaseDueHolds(Date.now());
			const meta = this.requireMeta();
			const amount = Math.max(0, Math.min(input.amount, meta.remaining));
			this.sql.run(`UPDATE meta SET remaining = remaining - ?, given = given + ? WHERE id = 1`, amount, amount);
			this.sql.run(
				`INSERT INTO transfers_out (transfer_id, to_shard, amount, created_at) VALUES (?, ?, ?, ?)`,
				input.transferId, input.toShard, amount, Date.now(),
			);
			return amount;
		});
	}

	/**
	 * A purchase in one call: quote the hold, charge the fan, and turn the hold
	 * into an order. While the payment runs, other requests go on here (only
	 * the synchronous steps hold the object). A hold that ran out meanwhile is
	 * refunded: exactly one outcome, and it is that one. A repeat after the order
	 * answers the order, marked replayed.
	 */
	async purchase(input: { holdId: string; fanId: string; payment: { method: string; token: string } }): Promise<Outcome<OrderView>> {
		this.served.count();
		const quote = this.quote({ holdId: input.holdId, fanId: input.fanId });
		if (!quote.ok) return quote;
		if ("orderId" in quote.value) return { ok: true, value: quote.value, replayed: true };
		const provider = paymentProvider(input.payment.method);
		const charge = await provider.charge({ reference: input.holdId, amountCents: quote.value.totalCents, currency: quote.value.currency, token: input.payment.token });
		if (charge.status === "declined") return fail(402, "payment_declined", charge.reason, { holdId: input.holdId, holdKept: true });
		const outcome = await this.completePurchase({ holdId: input.holdId, fanId: input.fanId, paymentId: charge.paymentId });
		if (!outcome.ok && outcome.status === 410) await provider.refund(charge.paymentId);
		return outcome;
	}

	/** Checks a hold can be bought and what it costs; an existing order is returned as is. */
	quote(input: { holdId: string; fanId: string; now?: number }): Outcome<PurchaseQuote | OrderView> {
		const now = input.now ?? Date.now();
		return this.ctx.storage.transactionSync((): Outcome<PurchaseQuote | OrderView> => {
			const meta = this.requireMeta();
			const hold = this.holdFor(input.holdId, input.fanId);
			if (hold === null) return fail(404, "not_found", "No such hold.");
			if (hold.order_id !== null) return ok(this.orderView(meta, this.orderRow(hold.order_id)!));
			const gone = this.expireIfDue(hold, now);
			if (gone !== null) return gone;
			return ok({ holdId: hold.hold_id, quantity: hold.quantity, totalCents: hold.quantity * meta.price_cents, currency: meta.currency });
		});
	}

	/**
	 * Turns a paid hold into an order, with its outbox row, in one transaction. A
	 * hold that expired while the payment ran answers 410 (the caller refunds).
	 */
	async completePurchase(input: { holdId: string; fanId: string; paymentId: string; now?: number }): Promise<Outcome<OrderView>> {
		const now = input.now ?? Date.now();
		const outcome = this.ctx.storage.transactionSync((): Outcome<OrderView> => {
			const meta = this.requireMeta();
			const hold = this.holdFor(input.holdId, input.fanId);
			if (hold === null) return fail(404, "not_found", "No such hold.");
			if (hold.order_id !== null) return ok(this.orderView(meta, this.orderRow(hold.order_id)!));
			const gone = this.expireIfDue(hold, now);
			if (gone !== null) return gone;
			const order: OrderRow = {
				order_id: newOrderId(meta.shard),
				hold_id: hold.hold_id,
				fan_id: hold.fan_id,
				quantity: hold.quantity,
				tickets: JSON.stringify(Array.from({ length: hold.quantity }, ticketCode)),
				unit_price_cents: meta.price_cents,
				total_cents: meta.price_cents * hold.quantity,
				currency: meta.currency,
				payment_id: input.paymentId,
				created_at: now,
			};
			this.sql.run(
				`INSERT INTO orders (order_id, hold_id, fan_id, quantity, tickets, unit_price_cents, total_cents, currency, payment_id, created_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				order.order_id, order.hold_id, order.fan_id, order.quantity, order.tickets,
				order.unit_price_cents, order.total_cents, order.currency, order.payment_id, order.created_at,
			);
			this.sql.run(`UPDATE holds SET state = 'purchased', order_id = ? WHERE hold_id = ?`, order.order_id, hold.hold_id);
			const message: SaleMessage = {
				v: 1,
				orderId: order.order_id,
				dropId: meta.drop_id,
				shard: meta.shard,
				fanId: order.fan_id,
				holdId: order.hold_id,
				quantity: order.quantity,
				unitPriceCents: order.unit_price_cents,
				totalCents: order.total_cents,
				currency: order.currency,
				paymentId: order.payment_id,
				tickets: JSON.parse(order.tickets) as string[],
				createdAt: new Date(now).toISOString(),
			};
			this.sql.run(`INSERT INTO outbox (order_id, payload, created_at) VALUES (?, ?, ?)`, order.order_id, JSON.stringify(message), now);
			this.scheduleAlarm();
			return ok(this.orderView(meta, order));
		});
		// The sale is stored; sending it is only a delay if it fails (the alarm re-sends).
		if (outcome.ok) await this.flushOutbox();
		return outcome;
	}

	/** Gives a hold's tickets back. Releasing twice, or a hold already gone, changes nothing. */
	release(input: { holdId: string; fanId: string }): Outcome<{ released: boolean }> {
		this.served.count();
		return this.ctx.storage.transactionSync(() => {
			const hold = this.holdFor(input.holdId, input.fanId);
			if (hold === null) return fail(404, "not_found", "No such hold.");
			if (hold.state === "purchased") return fail(409, "already_purchased", "This hold has been bought; it cannot be released.");
			if (hold.state !== "active") return ok({ released: false });
			this.returnHold(hold, "released");
			return ok({ released: true });
		});
	}

	order(input: { orderId: string; fanId: string }): Outcome<OrderView> {
		this.served.count();
		const meta = this.requireMeta();
		const row = this.orderRow(input.orderId);
		if (row === null || row.fan_id !== input.fanId) return fail(404, "not_found", "No such order.");
		return ok(this.orderView(meta, row));
	}

	/** The pacer's look at this shard, once a tick; it brings every shard's free stock as last seen. */
	totals(input: { peerStock?: number[] } = {}): ShardCounts {
		this.served.count();
		if (input.peerStock) {
			this.peerStock = input.peerStock;
			this.peerStockAt = Date.now();
		}
		return this.counts();
	}

	private counts(): ShardCounts {
		const meta = this.meta();
		if (meta === null) return { remaining: 0, held: 0, sold: 0, buyers: 0, given: 0, received: 0 };
		return {
			given: meta.given,
			received: meta.received,
			remaining: meta.remaining,
			held: this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE state = 'active'`),
			sold: this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM orders`),
			buyers: this.sql.number(`SELECT COUNT(DISTINCT fan_id) FROM orders`),
		};
	}

	load(): number {
		return this.served.requests;
	}

	stats(graceMs = 0): ShardStats {
		this.served.count();
		const meta = this.requireMeta();
		const totals = this.counts();
		return {
			shard: meta.shard,
			allocation: meta.allocation,
			accountable: meta.allocation + meta.received - meta.given,
			...totals,
			orders: this.sql.number(`SELECT COUNT(*) FROM orders`),
			activeHolds: this.sql.number(`SELECT COUNT(*) FROM holds WHERE state = 'active'`),
			outboxPending: this.sql.number(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`),
			transfersPending: this.sql.number(`SELECT COUNT(*) FROM transfers_in WHERE amount IS NULL`),
			recentlySent: this.sql.number(`SELECT COUNT(*) FROM outbox WHERE sent_at > ?`, Date.now() - graceMs),
		};
	}

	/** Transfer ids this shard gave or received, for the audit to match stock in flight. */
	transfers(): { given: { id: string; amount: number }[]; received: string[] } {
		this.served.count();
		return {
			given: this.sql.all<{ id: string; amount: number }>(`SELECT transfer_id AS id, amount FROM transfers_out WHERE amount > 0`),
			received: this.sql.all<{ id: string }>(`SELECT transfer_id AS id FROM transfers_in WHERE amount IS NOT NULL`).map((r) => r.id),
		};
	}

	/** Expired holds go back to stock, unsent sales are re-sent, cut-short transfers completed. Idempotent. */
	override async alarm(): Promise<void> {
		const meta = this.meta();
		if (meta === null) return;
		this.alarmAt = null;
		this.releaseExpiredHolds(Date.now());
		await this.completePendingTransfers(meta);
		await this.flushOutbox();
		this.scheduleAlarm();
	}

	private hasPendingTransfers(): boolean {
		return this.sql.all<{ id: string }>(`SELECT transfer_id AS id FROM transfers_in WHERE amount IS NULL`).some((t) => !this.transfersRunning.has(t.id));
	}

	/** Finishes transfers this shard asked for and never heard back from (idempotent on both sides). */
	private async completePendingTransfers(meta: Meta): Promise<{ got: number; failed: boolean }> {
		const pending = this.sql.all<{ transfer_id: string; from_shard: number; requested: number }>(
			`SELECT transfer_id, from_shard, requested FROM transfers_in WHERE amount IS NULL`,
		);
		let got = 0;
		let failed = false;
		// Those still running in this instance will finish by themselves; after a restart none are.
		for (const t of pending.filter((p) => !this.transfersRunning.has(p.transfer_id))) {
			try {
				got += await this.completeTransfer(meta.drop_id, t.transfer_id, t.from_shard, t.requested);
			} catch (err) {
				console.warn("transfer retry failed", t.transfer_id, err);
				failed = true;
			}
		}
		return { got, failed };
	}

	releaseExpiredHolds(now: number): number {
		return this.ctx.storage.transactionSync(() => this.releaseDueHolds(now));
	}

	/** Returns the stock of every hold past its time; call inside a transaction. */
	private releaseDueHolds(now: number): number {
		const due = this.sql.all<HoldRow>(`SELECT * FROM holds WHERE state = 'active' AND expires_at <= ?`, now);
		for (const hold of due) this.returnHold(hold, "expired");
		return due.length;
	}

	/** Sends unsent outbox rows to the Queue, a batch at a time; one flush runs at once. */
	async flushOutbox(): Promise<void> {
		if (this.flushing) {
			this.flushAgain = true;
			return this.flushing;
		}
		this.flushing = (async () => {
			try {
				do {
					this.flushAgain = false;
					await this.sendUnsent();
				} while (this.flushAgain);
			} catch (err) {
				console.warn("outbox send failed; the alarm will retry", err);
				this.scheduleAlarm();
			} finally {
				this.flushing = null;
			}
		})();
		return this.flushing;
	}

	/**
	 * Sales waiting here go out packed, up to SALES_PER_MESSAGE in a Queue message:
	 * while one send is on its way the next purchases wait in the outbox, so a busy
	 * shard sends many sales a message and the Queue's message rate is not the limit.
	 */
	private async sendUnsent(): Promise<void> {
		for (;;) {
			const rows = this.sql.all<{ order_id: string; payload: string }>(
				`SELECT order_id, payload FROM outbox WHERE sent_at IS NULL ORDER BY created_at LIMIT ?`,
				SEND_SALES_LIMIT,
			);
			if (rows.length === 0) return;
			const ids = rows.map((r) => r.order_id);
			for (let i = 0; i < ids.length; i += 100) {
				const part = ids.slice(i, i + 100);
				this.sql.run(`UPDATE outbox SET attempts = attempts + 1 WHERE order_id IN (${part.map(() => "?").join(",")})`, ...part);
			}
			const messages: { body: SalesMessage; contentType: "json" }[] = [];
			for (let i = 0; i < rows.length; i += SALES_PER_MESSAGE) {
				const sales = rows.slice(i, i + SALES_PER_MESSAGE).map((r) => JSON.parse(r.payload) as SaleMessage);
				messages.push({ body: { v: 2, sales }, contentType: "json" });
			}
			await this.env.SALES.sendBatch(messages);
			const sentAt = Date.now();
			for (let i = 0; i < ids.length; i += 100) {
				const part = ids.slice(i, i + 100);
				this.sql.run(`UPDATE outbox SET sent_at = ? WHERE order_id IN (${part.map(() => "?").join(",")})`, sentAt, ...part);
			}
			if (rows.length < SEND_SALES_LIMIT) return;
		}
	}

	private alarmAt: number | null = null;

	/** The next alarm, from stored state: the earliest hold expiry, or a retry of unsent sales or transfers. */
	private scheduleAlarm(): void {
		const candidates: number[] = [];
		const expiry = this.sql.first<{ at: number | null }>(`SELECT MIN(expires_at) AS at FROM holds WHERE state = 'active'`);
		if (expiry?.at != null) candidates.push(expiry.at);
		const now = Date.now();
		if (this.sql.number(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`) > 0) candidates.push(now + OUTBOX_RETRY_MS);
		if (this.sql.number(`SELECT COUNT(*) FROM transfers_in WHERE amount IS NULL`) > 0) candidates.push(now + TRANSFER_RETRY_MS);
		if (candidates.length === 0) return;
		const next = Math.min(...candidates);
		if (this.alarmAt !== null && this.alarmAt <= next && this.alarmAt > now) return;
		this.alarmAt = next;
		void this.ctx.storage.setAlarm(next);
	}

	private returnHold(hold: HoldRow, state: "released" | "expired"): void {
		const changed = this.sql.run(`UPDATE holds SET state = ? WHERE hold_id = ? AND state = 'active'`, state, hold.hold_id);
		// rowsWritten counts index entries too (holds has two on state), so "changed" is > 0, not === 1.
		if (changed > 0) this.sql.run(`UPDATE meta SET remaining = remaining + ? WHERE id = 1`, hold.quantity);
	}

	/** 410 for a hold past its time (returning its stock now if the alarm has not yet), null if it can be bought. */
	private expireIfDue(hold: HoldRow, now: number): Outcome<never> | null {
		if (hold.state === "active" && hold.expires_at <= now) this.returnHold(hold, "expired");
		else if (hold.state === "active") return null;
		return fail(410, hold.state === "released" ? "hold_released" : "hold_expired", "This hold is no longer valid; make a new one.");
	}

	private holdFor(holdId: string, fanId: string): HoldRow | null {
		const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ?`, holdId);
		return hold !== null && hold.fan_id === fanId ? hold : null;
	}

	private orderRow(orderId: string): OrderRow | null {
		return this.sql.first<OrderRow>(`SELECT * FROM orders WHERE order_id = ?`, orderId);
	}

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
		};
	}

	private meta(): Meta | null {
		return this.sql.first<Meta>(`SELECT * FROM meta WHERE id = 1`);
	}

	private requireMeta(): Meta {
		const meta = this.meta();
		if (meta === null) throw new Error("shard not initialised");
		return meta;
	}

	/**
	 * One page of this shard's order ids in id order, after `after` and up to `through`
	 * (inclusive; null for no bound), so the audit can set them against D1 a page at a
	 * time. `recent` are the page's ids still on their way: unsent, or sent within
	 * `graceMs`. `next` is the last id when the page is full (more may follow), else null.
	 */
	orderIdsPage(input: { after: string | null; through: string | null; limit: number; graceMs: number }): {
		ids: string[];
		recent: string[];
		next: string | null;
	} {
		this.served.count();
		const limit = Math.max(1, Math.min(Math.trunc(input.limit) || 1, 10_000));
		const bound = input.through === null ? [] : [input.through];
		const rows = this.sql.all<{ id: string; recent: number }>(
			`SELECT o.order_id AS id, (b.order_id IS NOT NULL AND (b.sent_at IS NULL OR b.sent_at > ?)) AS recent
			 FROM orders o LEFT JOIN outbox b ON b.order_id = o.order_id
			 WHERE o.order_id > ? ${input.through === null ? "" : "AND o.order_id <= ?"}
			 ORDER BY o.order_id LIMIT ?`,
			Date.now() - input.graceMs, input.after ?? "", ...bound, limit,
		);
		return {
			ids: rows.map((r) => r.id),
			recent: rows.filter((r) => r.recent === 1).map((r) => r.id),
			next: rows.length === limit ? rows[rows.length - 1]!.id : null,
		};
	}

	/**
	 * Marks sales sent at least `minAgeMs` ago as unsent, so the outbox sends them again
	 * (now, and on the alarm until the Queue takes them): sales whose message went to the
	 * dead-letter queue, or that the reconcile found missing from D1. Ids this shard did
	 * not sell, and rows not sent yet, are left alone. Returns how many were marked. Safe
	 * to repeat: the consumer's insert is idempotent.
	 */
	async resendSales(input: { orderIds: string[]; minAgeMs?: number }): Promise<number> {
		// A shard never set up sold nothing: answer without writing, so no storage is made for it.
		if (this.sql.first(`SELECT id FROM meta WHERE id = 1`) === null) return 0;
		this.served.count();
		const sentBy = Date.now() - Math.max(0, input.minAgeMs ?? 0);
		const marked = this.ctx.storage.transactionSync(() => {
			let n = 0;
			for (let i = 0; i < input.orderIds.length; i += 100) {
				const part = input.orderIds.slice(i, i + 100);
				n += this.sql.all(
					`UPDATE outbox SET sent_at = NULL WHERE sent_at <= ? AND order_id IN (${part.map(() => "?").join(",")}) RETURNING order_id`,
					sentBy, ...part,
				).length;
			}
			return n;
		});
		if (marked > 0) {
			this.scheduleAlarm();
			await this.flushOutbox();
		}
		return marked;
	}
}

export const shardName = (dropId: string, shard: number) => `drop:${dropId}:shard:${shard}`;

/** What an Idempotency-Key is bound to: the request body that matters. */
const holdRequest = (quantity: number) => JSON.stringify({ quantity });

const keyConflict = () => fail(409, "idempotency_key_conflict", "This Idempotency-Key was used with a different request.");
