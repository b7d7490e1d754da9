// One shard of a drop's tickets: the I/O around its ledger (src/inventory/ledger.ts).
// Every state change is one synchronous ledger call; this class only sequences
// what talks to the outside: other shards (stock transfers), the payment
// provider, the sales Queue, and the alarm that finishes whatever a crash or a
// failed call left open.
import { DurableObject } from "cloudflare:workers";
import { type HoldView, KEEP_MS, Ledger, type Notice, type OrderView, type ShardCounts, type ShardInit, type ShardStats } from "./ledger";
import { RequestCounter } from "../shared/request-counter";
import { type Outcome, fail } from "../shared/outcome";
import { paymentProvider } from "../payments/providers";
import { SALES_PER_MESSAGE, type SalesMessage } from "../contract/sale-message";
import { Sql } from "../shared/sql";
import { shardStub } from "../shared/names";
import { type ClaimInput, type Claimed, type PoolCounts, type PoolInit, type SectionSeats, type UnitCounts, UnitLedger } from "./unit-ledger";
import { type PaymentProvider } from "../payments/provider";

export type { HoldView, OrderView, ShardCounts, ShardInit, ShardStats, ShardTotals } from "./ledger";

/** A shard's totals with its named units (the pools placed on it). */
export type ShardCountsWithUnits = ShardCounts & { named: UnitCounts };
/** A shard's stats with each pool placed on it. */
export type ShardStatsWithUnits = ShardStats & { pools: PoolCounts[] };
/** What a shard shows fans of its named units: each pool's free count, and each section's free seats. */
export interface ShardAvailability {
	/** This shard's part of the general admission spread over the shards (as the pacer's totals count it). */
	general: { remaining: number; given: number; received: number };
	pools: { typeId: string; pool: string; free: number }[];
	sections: SectionSeats[];
}

/** Where a named hold may be claimed: the shard and pool, best first (best available may name a few sections). */
export interface ClaimTarget {
	shard: number;
	pool: string;
}

const OUTBOX_RETRY_MS = 5_000;
const TRANSFER_RETRY_MS = 2_000;
/** A charge left open this long (its request died, or is very slow) is settled by the alarm. */
const CHARGE_SETTLE_MS = 30_000;
/** A charge the provider has no trace of this long after it was asked is void: no money moved. */
const CHARGE_VOID_MS = 120_000;
/** How often the alarm comes back to prune when nothing else needs it sooner. */
const PRUNE_RETRY_MS = 60 * 60 * 1000;
/** Rounds of asking peers for stock before a contended hold gives up. */
const MAX_HOLD_ROUNDS = 16;
/** Sales per sendBatch: packed 25 a message, about 150 KB, inside the Queue's 256 KB per batch. */
const SEND_SALES_LIMIT = 200;
/** How long the pacer's look at every shard's free stock guides a dry shard's asking (it looks about once a second). */
const HINT_FRESH_MS = 2_000;
/** How long a sweep of every peer that found nothing answers for the holds after it. */
const EMPTY_SWEEP_MS = 1_000;
/** How long a sweep that found stock on its way (or a peer not answering) answers "try again" for the holds after it. */
const BUSY_SWEEP_MS = 500;
/** The most a dry shard takes from a peer beyond what the hold at hand lacks. */
const MAX_EXTRA_TAKE = 16;

/** What a peer answers when asked for stock: what it gave, and whether stock is on its way to it. */
export interface GiveAnswer {
	amount: number;
	incoming: boolean;
}

export class InventoryShard extends DurableObject<Env> {
	private readonly ledger: Ledger;
	private readonly units: UnitLedger;
	private readonly served: RequestCounter;
	/**
	 * The time. Tests move it, and set `afterCharge` to crash a purchase between the
	 * charge and its recording: instance fields, which no RPC caller can reach.
	 */
	clock: () => number = () => Date.now();
	afterCharge: (() => void) | null = null;
	/** Holds being made right now, by fan and key, so a concurrent replay waits for the first answer. */
	private readonly holding = new Map<string, { request: string; outcome: Promise<Outcome<HoldView>> }>();
	/** Purchases running right now, by fan and hold: a second one waits for the first. */
	private readonly purchasing = new Map<string, Promise<Outcome<OrderView>>>();
	/** Transfers this instance is waiting on right now. */
	private readonly transfersRunning = new Set<string>();
	private flushing: Promise<void> | null = null;
	private flushAgain = false;
	private alarmAt: number | null = null;
	/** Each peer's free stock, and the stock between shards, when the pacer last looked. */
	private hint: { stock: number[]; inFlight: number; held: number; at: number } = { stock: [], inFlight: 0, held: 0, at: -Infinity };
	/** When a sweep of every peer last found no stock and none on its way. */
	private peersEmptyAt = -Infinity;
	/** When a sweep last found no stock but some on its way, or a peer that did not answer. */
	private peersBusyAt = -Infinity;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const sql = new Sql(ctx.storage.sql);
		this.ledger = new Ledger(sql, (fn) => ctx.storage.transactionSync(fn));
		this.units = new UnitLedger(sql, (fn) => ctx.storage.transactionSync(fn));
		this.served = new RequestCounter(sql);
	}

	/** Sets the shard up once; later calls only update what may change (hold length). `pools`: the named pools placed here. */
	init(config: ShardInit & { pools?: PoolInit[] }): ShardStats {
		this.served.count();
		this.ledger.init(config);
		if (config.pools && config.pools.length > 0) this.units.setPools(config.pools);
		return this.ledger.stats(this.clock(), 0);
	}

	/** A seated type's seats replaced before the opening (a CSV upload): its sections here are set anew. */
	replaceSeats(input: { typeId: string; pools: PoolInit[] }): void {
		this.served.count();
		this.units.setPools(input.pools, [input.typeId]);
	}

	// ── Named units ──────────────────────────────────────────────────────────

	/**
	 * A hold of a type's named units, made on the fan's home shard (this one), which
	 * judges the fan's limits over all their holds, then claimed on the shard that keeps
	 * the units (`targets`, tried in order until one has them). All or none.
	 */
	async holdNamed(input: {
		fanId: string;
		idempotencyKey: string;
		notAfter: number;
		request: string;
		typeId: string;
		quantity: number;
		seats: string[] | null;
		targets: ClaimTarget[];
	}): Promise<Outcome<HoldView>> {
		this.served.count();
		return this.once(input.fanId, input.idempotencyKey, input.request, () => this.decideNamed(input));
	}

	private async decideNamed(input: Parameters<InventoryShard["holdNamed"]>[0]): Promise<Outcome<HoldView>> {
		const reserved = this.ledger.reserveNamed({ fanId: input.fanId, key: input.idempotencyKey, request: input.request, typeId: input.typeId, quantity: input.quantity, now: this.clock(), notAfter: input.notAfter, nowhere: input.targets.length === 0 });
		if (reserved.kind === "answered") return reserved.outcome;
		const me = this.ledger.requireMeta();
		this.alarmBy(reserved.expiresAt);
		let last: Outcome<Claimed> = fail(409, "sold_out", "None of these are left.");
		// A hold resumed after a restart asks first where it had asked (its claim may be there).
		const at = reserved.resumed;
		const targets = at === null ? input.targets : [at, ...input.targets.filter((t) => t.shard !== at.shard || t.pool !== at.pool)];
		for (const target of targets) {
			// Ended while an earlier target was asked: a claim made now would have no release owed.
			if (!this.ledger.aimNamed(reserved.holdId, target.shard, target.pool)) {
				return fail(410, "hold_expired", "This hold ran out while its seats were claimed; make a new one.");
			}
			const ask: ClaimInput = { holdId: reserved.holdId, homeShard: me.shard, typeId: input.typeId, pool: target.pool, quantity: input.quantity, seats: input.seats, now: this.clock() };
			try {
				last = target.shard === me.shard ? this.units.claim(ask) : ((await shardStub(this.env, me.drop_id, target.shard).claim(ask)) as Outcome<Claimed>);
			} catch (err) {
				// Unknown whether it was claimed: the claim is released (and refused should it arrive late).
				console.warn("claim failed; its release is owed", target.shard, err);
				this.ledger.abandonNamed(reserved.holdId, true, this.clock());
				await this.deliverNotices();
				return fail(503, "try_again", "The seats could not be reached; try again in a moment.", { retryAfter: 1 });
			}
			if (last.ok) {
				const made = this.ledger.confirmNamed({ holdId: reserved.holdId, fanId: input.fanId, key: input.idempotencyKey, request: input.request, claimed: last.value, now: this.clock() });
				if (made !== null) return made;
				// It ran out while being claimed: its release is owed already.
				await this.deliverNotices();
				return fail(410, "hold_expired", "This hold ran out while its seats were claimed; make a new one.");
			}
			// Taken or unknown seats are not found in another section.
			if (input.seats !== null) break;
		}
		this.ledger.abandonNamed(reserved.holdId, false, this.clock());
		return last.ok ? fail(409, "sold_out", "None of these are left.") : last;
	}

	/** Claims units here for a hold of another shard (its home). Once per hold id. */
	claim(input: ClaimInput): Outcome<Claimed> {
		this.served.count();
		return this.units.claim(input);
	}

	/** Ends claims here as their home shard decided (sold, or released). Idempotent. */
	settleClaims(input: { sold: string[]; release: string[] }): void {
		this.served.count();
		this.units.settle({ ...input, now: this.clock() });
		// Ended claims are forgotten after a day by this shard's alarm, which may have nothing else to do.
		if (input.release.length > 0) this.alarmBy(this.clock() + KEEP_MS);
	}

	/** The free units here, for the availability fans see (gathered by the pacer, not per request). */
	availability(): ShardAvailability {
		this.served.count();
		const { remaining, given, received } = this.ledger.counts();
		return {
			general: { remaining, given, received },
			pools: this.units.poolCounts().map((p) => ({ typeId: p.typeId, pool: p.pool, free: p.free })),
			sections: this.units.freeSeats(),
		};
	}

	private delivering: Promise<void> | null = null;
	private deliverAgain = false;

	/** Delivers owed endings of named holds to their units' shards; one run at a time, repeated while more were owed meanwhile. */
	private async deliverNotices(): Promise<void> {
		if (this.delivering) {
			this.deliverAgain = true;
			return this.delivering;
		}
		this.delivering = (async () => {
			try {
				do {
					this.deliverAgain = false;
					await this.sendNotices();
				} while (this.deliverAgain);
			} catch (err) {
				console.warn("claim endings not delivered; the alarm retries", err);
				this.scheduleAlarm();
			} finally {
				this.delivering = null;
			}
		})();
		return this.delivering;
	}

	private async sendNotices(): Promise<void> {
		const meta = this.ledger.requireMeta();
		const byShard = new Map<number, Notice[]>();
		for (const n of this.ledger.pendingNotices()) byShard.set(n.shard, [...(byShard.get(n.shard) ?? []), n]);
		await Promise.all(
			[...byShard].map(async ([shard, notices]) => {
				const ends = { sold: notices.filter((n) => n.kind === "sold").map((n) => n.hold_id), release: notices.filter((n) => n.kind === "release").map((n) => n.hold_id) };
				if (shard === meta.shard) this.units.settle({ ...ends, now: this.clock() });
				else await shardStub(this.env, meta.drop_id, shard).settleClaims(ends);
				this.ledger.noticesDelivered(notices);
			}),
		);
	}

	/** One decision per fan and key at a time: a concurrent repeat waits for the first answer (or conflicts when its body differs). */
	private async once(fanId: string, idempotencyKey: string, request: string, decide: () => Promise<Outcome<HoldView>>): Promise<Outcome<HoldView>> {
		const key = `${fanId}\n${idempotencyKey}`;
		const running = this.holding.get(key);
		if (running) {
			if (running.request !== request) return fail(409, "idempotency_key_conflict", "This Idempotency-Key was used with a different request.");
			const first = await running.outcome;
			return first.ok ? { ...first, replayed: true } : first;
		}
		const attempt = decide();
		this.holding.set(key, { request, outcome: attempt });
		try {
			return await attempt;
		} finally {
			this.holding.delete(key);
		}
	}

	/**
	 * Holds `quantity` tickets for a fan, until `notAfter` at the latest (the end of
	 * their turn). This shard is the fan's home shard and keeps their ledger, so
	 * `maxPerFan` is checked in one place for the whole drop.
	 */
	async hold(input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number }): Promise<Outcome<HoldView>> {
		this.served.count();
		const request = JSON.stringify({ quantity: input.quantity });
		// The same key in flight: the first answer, or a conflict when the body differs (failed or not).
		return this.once(input.fanId, input.idempotencyKey, request, () => this.decideHold({ ...input, request }));
	}

	private async decideHold(input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number; request: string }): Promise<Outcome<HoldView>> {
		const ask = () => this.ledger.hold({ fanId: input.fanId, quantity: input.quantity, key: input.idempotencyKey, request: input.request, now: this.clock(), notAfter: input.notAfter });
		let blocked = false;
		for (let round = 1; ; round++) {
			const decision = ask();
			if (decision.kind === "answered") return this.held(decision.outcome);
			// Every peer was asked a moment ago and had nothing: answer from that sweep. Or a sweep a
			// moment ago found stock only on its way: "try again", without asking everyone again (in a
			// contended endgame this keeps a dry shard to a few sweeps a second, not one per hold).
			if (round === 1 && this.peersLatelyEmpty()) break;
			if (round === 1 && this.clock() - this.peersBusyAt < BUSY_SWEEP_MS) {
				blocked = true;
				break;
			}
			// Not enough here: take stock from the other shards and decide again. Other requests
			// ran during the await and may have taken what arrived, so this repeats for as long
			// as the peers still have stock to give. (Each round that gets stock moves it here.)
			const sweep = await this.takeStockFromPeers(decision.missing);
			blocked = sweep.blocked;
			if (sweep.got === 0) {
				if (sweep.blocked) this.peersBusyAt = this.clock();
				else this.peersEmptyAt = this.clock();
			}
			if (sweep.got === 0 || round >= MAX_HOLD_ROUNDS) break;
		}
		// One more look: holds past their time are returned first, and stock may have come back.
		const last = ask();
		if (last.kind === "answered") return this.held(last.outcome);
		if (blocked) {
			// A peer did not answer, or stock is moving between shards: "sold out" would be a guess.
			return fail(503, "try_again", "Tickets are being moved between shards; try again in a moment.", { retryAfter: 1 });
		}
		return last.remaining === 0
			? fail(409, "sold_out", "No tickets are left to hold.")
			: fail(409, "not_enough_left", `Only ${last.remaining} ticket(s) are left; ask for fewer.`, { available: last.remaining });
	}

	private held(outcome: Outcome<HoldView>): Outcome<HoldView> {
		if (outcome.ok && !outcome.replayed) this.alarmBy(Date.parse(outcome.value.expiresAt));
		return outcome;
	}

	/**
	 * Whether a sweep of every peer found nothing within EMPTY_SWEEP_MS, or the pacer's
	 * fresh look saw no free stock at any peer, none moving and none held (so none can come
	 * back: sold out for good): then a hold answers without asking. In an endgame where
	 * holds may still end, a dry shard costs its peers a sweep a second.
	 */
	private peersLatelyEmpty(): boolean {
		const now = this.clock();
		const shard = this.ledger.requireMeta().shard;
		const fresh = this.hint.stock.length > 0 && now - this.hint.at < HINT_FRESH_MS;
		const peerHasStock = this.hint.stock.some((n, k) => k !== shard && n > 0) || this.hint.inFlight > 0;
		if (fresh && !peerHasStock && this.hint.held === 0) return true;
		if (now - this.peersEmptyAt >= EMPTY_SWEEP_MS) return false;
		return !(this.hint.at > this.peersEmptyAt && peerHasStock);
	}

	/**
	 * Asks the other shards until `needed` tickets have arrived or all have been asked.
	 * `blocked`: a peer did not answer (its transfer stays pending; the alarm completes
	 * it) or said stock is on its way to it, so an empty sweep is not the last word.
	 */
	private async takeStockFromPeers(needed: number): Promise<{ got: number; blocked: boolean }> {
		const meta = this.ledger.requireMeta();
		// Stock a peer already gave this shard, in a transfer cut short, comes first.
		let { got, failed: blocked } = await this.completePendingTransfers();
		// With a fresh look from the pacer, the peers that had free stock then are asked first, the
		// richest first, then the others (stock may have moved since, or be on its way to one of them).
		let peers = Array.from({ length: meta.shards - 1 }, (_, i) => (meta.shard + 1 + i) % meta.shards);
		const known = this.hint.stock.length === meta.shards && this.clock() - this.hint.at < HINT_FRESH_MS ? [...this.hint.stock] : null;
		if (known) {
			const rich = peers.filter((k) => known[k]! > 0).sort((a, b) => known[b]! - known[a]!);
			peers = [...rich, ...peers.filter((k) => known[k]! === 0)];
		}
		for (const from of peers) {
			if (got >= needed) break;
			// From a peer with plenty, take a little more than this hold lacks, so the next holds here find it.
			const spare = known ? Math.max(0, known[from]! - (needed - got)) : 0;
			const asked = needed - got + Math.min(MAX_EXTRA_TAKE, Math.floor(spare / 2));
			try {
				const transferId = this.ledger.openTransfer(from, asked, this.clock());
				this.alarmBy(this.clock() + TRANSFER_RETRY_MS);
				const answer = await this.exchange(transferId, from, asked);
				got += answer.amount;
				if (answer.incoming) blocked = true;
				if (known) known[from] = Math.max(0, known[from]! - answer.amount);
			} catch (err) {
				console.warn("stock transfer failed; the alarm completes it", from, err);
				blocked = true;
			}
		}
		return { got, blocked };
	}

	/** Asks the giver for a transfer this shard has written down, credits the answer, and acks what it credited before. */
	private async exchange(transferId: string, from: number, requested: number): Promise<GiveAnswer> {
		const meta = this.ledger.requireMeta();
		const acks = this.ledger.unackedFrom(from).filter((id) => id !== transferId);
		this.transfersRunning.add(transferId);
		let answer: GiveAnswer;
		try {
			answer = await shardStub(this.env, meta.drop_id, from).give({ transferId, toShard: meta.shard, amount: requested, acks });
		} finally {
			this.transfersRunning.delete(transferId);
		}
		this.ledger.credit(transferId, answer.amount);
		this.ledger.acked(acks);
		return answer;
	}

	/**
	 * Gives up to `amount` of this shard's free stock to another shard, once per transfer
	 * id (a repeat answers the first amount). Never calls anyone: stock on its way here is
	 * reported as `incoming`, so the asker answers "try again" rather than "sold out".
	 */
	give(input: { transferId: string; toShard: number; amount: number; acks?: string[] }): GiveAnswer {
		this.served.count();
		const amount = this.ledger.give({ ...input, acks: input.acks ?? [], now: this.clock() });
		// Stock went to a peer: "every peer was empty a moment ago" no longer holds.
		if (amount > 0) this.peersEmptyAt = -Infinity;
		const pending = this.ledger.pendingTransfers();
		// A transfer to this shard that nobody here is waiting on was cut short: the alarm
		// finishes it now, so the asker's retry (it answers "try again") finds the stock.
		if (pending.some((t) => !this.transfersRunning.has(t.transfer_id))) this.wakeNow();
		return { amount, incoming: pending.length > 0 };
	}

	private wakeNow(): void {
		const now = this.clock();
		if (this.alarmAt !== null && this.alarmAt <= now) return;
		this.alarmAt = now;
		void this.ctx.storage.setAlarm(now);
	}

	/** Finishes transfers this shard asked for and never heard back from (idempotent on both sides). */
	private async completePendingTransfers(): Promise<{ got: number; failed: boolean }> {
		let got = 0;
		let failed = false;
		// Those still running in this instance will finish by themselves; after a restart none are.
		for (const t of this.ledger.pendingTransfers()) {
			// Checked again right before each: another caller may have started or finished it
			// while this one awaited the transfers before it (from here to the ask, no await).
			if (this.transfersRunning.has(t.transfer_id) || !this.ledger.isPending(t.transfer_id)) continue;
			try {
				got += (await this.exchange(t.transfer_id, t.from_shard, t.requested)).amount;
			} catch (err) {
				console.warn("transfer retry failed", t.transfer_id, err);
				failed = true;
			}
		}
		return { got, failed };
	}

	/** Tells givers which of their transfers have been credited here, so both sides forget them. */
	private async sendAcks(): Promise<void> {
		const meta = this.ledger.requireMeta();
		for (const from of this.ledger.peersToAck()) {
			const acks = this.ledger.unackedFrom(from);
			try {
				await shardStub(this.env, meta.drop_id, from).give({ transferId: "", toShard: meta.shard, amount: 0, acks });
				this.ledger.acked(acks);
			} catch (err) {
				console.warn("transfer acks not delivered; the alarm retries", from, err);
			}
		}
	}

	/**
	 * A purchase in one call: record the charge, charge the fan, and turn the hold into
	 * an order. While the payment runs, other requests go on here. Every charge ends
	 * explicitly: an order, or a refund when the hold ran out meanwhile; if this request
	 * dies on the way, the alarm settles it (see reconcileCharges). A repeat after the
	 * order answers the order, marked replayed.
	 */
	async purchase(input: { holdId: string; fanId: string; payment: { method: string; token: string }; email?: string }): Promise<Outcome<OrderView>> {
		this.served.count();
		const provider = paymentProvider(this.env, input.payment.method);
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

	private async purchaseOnce(input: { holdId: string; fanId: string; payment: { method: string; token: string }; email?: string }, chosen: PaymentProvider): Promise<Outcome<OrderView>> {
		const start = this.ledger.startCharge({ holdId: input.holdId, fanId: input.fanId, method: input.payment.method, now: this.clock() });
		if (start.kind === "answered") return start.outcome;
		const charge = start.charge;
		const key = charge.idempotency_key;
		this.alarmBy(this.clock() + CHARGE_SETTLE_MS);
		// An open charge from a request that died goes on with its own provider and key.
		const reopened = charge.method === input.payment.method ? null : paymentProvider(this.env, charge.method);
		const provider = reopened === null ? chosen : reopened.ok ? reopened.value : chosen;
		if (charge.state === "charged" && charge.payment_id !== null) return this.settle(charge.hold_id, key, charge.payment_id, provider, input.email);
		const result = await provider.charge({ idempotencyKey: key, amountCents: charge.amount_cents, currency: charge.currency, token: input.payment.token });
		this.afterCharge?.();
		if (result.status === "declined") {
			this.ledger.chargeEnded(charge.hold_id, key, "declined", this.clock());
			return fail(402, "payment_declined", result.reason, { holdId: charge.hold_id, holdKept: true });
		}
		// No await between the provider's answer and the order (settle's first step), so nothing
		// can cut in: the order records the payment. Only a refund, which awaits, records it first.
		return this.settle(charge.hold_id, key, result.paymentId, provider, input.email);
	}

	/**
	 * An approved charge (the attempt `key`) ends as the hold's order, or as a refund: when
	 * the hold ran out meanwhile, or when its order was paid by another attempt.
	 */
	private async settle(holdId: string, key: string, paymentId: string, provider: PaymentProvider, email?: string): Promise<Outcome<OrderView>> {
		const outcome = this.ledger.completePurchase({ holdId, key, paymentId, now: this.clock(), ...(email === undefined ? {} : { email }) });
		if (outcome.ok && (!outcome.replayed || this.ledger.orderPayment(holdId) === paymentId)) {
			this.alarmBy(this.clock() + OUTBOX_RETRY_MS);
			// The sale is stored; sending it is only a delay if it fails (the alarm re-sends).
			await this.flushOutbox();
			if (outcome.value.ticketType !== undefined) await this.deliverNotices();
			return outcome;
		}
		this.ledger.chargeApproved(holdId, key, paymentId, this.clock());
		await provider.refund(paymentId);
		this.ledger.chargeEnded(holdId, key, "refunded", this.clock());
		return outcome;
	}

	/**
	 * Charges left open by a request that died: an approved one becomes the order (or a
	 * refund if the hold is gone); one whose answer was never recorded is looked up by its
	 * key: approved goes the same way, declined ends so, and one the provider never had is
	 * void. Every change names the attempt's key, so an answer about an earlier attempt
	 * never touches a later one, and a charge whose purchase is running again is left to it.
	 */
	private async reconcileCharges(): Promise<void> {
		const now = this.clock();
		for (const charge of this.ledger.openCharges(now - CHARGE_SETTLE_MS)) {
			const running = () => this.purchasing.has(`${charge.fan_id}\n${charge.hold_id}`);
			if (running()) continue;
			const provider = paymentProvider(this.env, charge.method);
			if (!provider.ok) continue;
			const key = charge.idempotency_key;
			try {
				if (charge.state === "charged" && charge.payment_id !== null) {
					await this.settle(charge.hold_id, key, charge.payment_id, provider.value);
					continue;
				}
				const found = await provider.value.lookup(key);
				if (running()) continue;
				if (found.status === "approved") {
					this.ledger.chargeApproved(charge.hold_id, key, found.paymentId, this.clock());
					await this.settle(charge.hold_id, key, found.paymentId, provider.value);
				} else if (found.status === "declined") {
					this.ledger.chargeEnded(charge.hold_id, key, "declined", this.clock());
				} else if (charge.updated_at <= now - CHARGE_VOID_MS) {
					this.ledger.chargeEnded(charge.hold_id, key, "void", this.clock());
				}
			} catch (err) {
				console.warn("charge reconcile failed; the alarm retries", charge.hold_id, err);
			}
		}
	}

	/** Puts a refund's tickets back on sale here (issue 15); once per refund id. */
	restock(input: { refundId: string; quantity: number }): { restocked: boolean } {
		this.served.count();
		this.ledger.requireMeta();
		return { restocked: this.ledger.restock(input.refundId, input.quantity, this.clock()) };
	}

	/** Gives a hold's tickets back. Releasing twice, or a hold already gone, changes nothing. */
	async release(input: { holdId: string; fanId: string }): Promise<Outcome<{ released: boolean }>> {
		this.served.count();
		const outcome = this.ledger.release({ ...input, now: this.clock() });
		// A named hold's units go back on their shard now (the alarm retries if this fails).
		if (outcome.ok && outcome.value.released && this.ledger.pendingNotices(1).length > 0) await this.deliverNotices();
		return outcome;
	}

	order(input: { orderId: string; fanId: string }): Outcome<OrderView> {
		this.served.count();
		return this.ledger.order(input);
	}

	/** The pacer's look at this shard, once a tick; it brings every shard's free stock and the stock in flight as last seen. */
	totals(input: { peerStock?: number[]; inFlight?: number; held?: number } = {}): ShardCountsWithUnits {
		this.served.count();
		// Without a count of holds, assume some: "no free stock" is then never taken as final.
		if (input.peerStock) this.hint = { stock: input.peerStock, inFlight: input.inFlight ?? 0, held: input.held ?? 1, at: this.clock() };
		return { ...this.ledger.counts(), named: this.units.counts() };
	}

	load(): number {
		return this.served.requests;
	}

	stats(graceMs = 0): ShardStatsWithUnits {
		this.served.count();
		return { ...this.ledger.stats(this.clock(), graceMs), pools: this.units.poolCounts() };
	}

	/** A page of this shard's order ids, for the audit to set against D1's (see src/sales/order-ids.ts). */
	orderIdsPage(input: { after: string | null; through: string | null; limit: number; graceMs: number }): { ids: string[]; recent: string[]; next: string | null } {
		this.served.count();
		return this.ledger.orderIdsPage({ ...input, now: this.clock() });
	}

	/**
	 * Marks sales sent at least `minAgeMs` ago as unsent, so the outbox sends them again
	 * (now, and on the alarm until the Queue takes them): sales whose message went to the
	 * dead-letter queue, or that the reconcile found missing from D1. Safe to repeat: the
	 * consumer's insert is idempotent. Returns how many were marked.
	 */
	async resendSales(input: { orderIds: string[]; minAgeMs?: number }): Promise<number> {
		// A shard never set up sold nothing: answer without writing anything for it.
		if (this.ledger.meta() === null) return 0;
		this.served.count();
		const marked = this.ledger.markUnsent(input.orderIds, this.clock() - Math.max(0, input.minAgeMs ?? 0));
		if (marked > 0) {
			this.scheduleAlarm();
			await this.flushOutbox();
		}
		return marked;
	}

	/** Expired holds back to stock, cut-short transfers completed, open charges settled, unsent sales re-sent. Idempotent. */
	override async alarm(): Promise<void> {
		if (this.ledger.meta() === null) return;
		this.alarmAt = null;
		this.ledger.expireDue(this.clock());
		await this.deliverNotices();
		await this.completePendingTransfers();
		await this.sendAcks();
		await this.reconcileCharges();
		await this.flushOutbox();
		this.ledger.prune(this.clock());
		this.units.prune(this.clock(), KEEP_MS);
		this.scheduleAlarm();
	}

	/** Sends unsent outbox rows to the Queue, a batch at a time; one flush runs at once. */
	private async flushOutbox(): Promise<void> {
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
			const { orderIds, sales } = this.ledger.takeUnsent(SEND_SALES_LIMIT);
			if (orderIds.length === 0) return;
			const messages: { body: SalesMessage; contentType: "json" }[] = [];
			for (let i = 0; i < sales.length; i += SALES_PER_MESSAGE) {
				messages.push({ body: { v: 2, sales: sales.slice(i, i + SALES_PER_MESSAGE) }, contentType: "json" });
			}
			await this.env.SALES.sendBatch(messages);
			this.ledger.markSent(orderIds, this.clock());
			if (orderIds.length < SEND_SALES_LIMIT) return;
		}
	}

	/**
	 * Makes sure the alarm comes by `at`, which a change just stored needs. Cheap: no query
	 * once this instance knows its alarm (the alarm itself then reschedules from stored state).
	 */
	private alarmBy(at: number): void {
		if (this.alarmAt === null) return this.scheduleAlarm();
		// An alarm due by then (or already due: it runs, and reschedules from stored state) will do.
		if (this.alarmAt <= at) return;
		this.alarmAt = at;
		void this.ctx.storage.setAlarm(at);
	}

	/** The next alarm, from stored state: the earliest hold expiry, or a retry of what is still open. */
	private scheduleAlarm(): void {
		const now = this.clock();
		const stored = this.ledger.nextAlarm(now, { outboxMs: OUTBOX_RETRY_MS, transferMs: TRANSFER_RETRY_MS, chargeMs: CHARGE_SETTLE_MS, pruneMs: PRUNE_RETRY_MS });
		const prune = this.units.nextPrune(KEEP_MS);
		const next = prune === null ? stored : Math.min(stored ?? Infinity, Math.max(now + PRUNE_RETRY_MS, prune));
		if (next === null) return;
		if (this.alarmAt !== null && this.alarmAt <= next && this.alarmAt > now) return;
		this.alarmAt = next;
		void this.ctx.storage.setAlarm(next);
	}
}

