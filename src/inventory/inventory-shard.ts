// One shard of a drop's tickets: the Durable Object around its ledger (ledger.ts).
// Every state change is one synchronous ledger call; this class is the RPC
// interface, the alarm that finishes whatever a crash or a failed call left open,
// and the wiring of the protocols that talk to the outside, each handed only what
// it needs of the shard: stock transfers with the other shards (stock-transfers.ts),
// charges with the payment provider (charges.ts), named claims and their endings
// with the units' shards (named-claims.ts), and the sales Queue (outbox-sender.ts).
import { DurableObject } from "cloudflare:workers";
import type { Outcome } from "../shared/outcome";
import type { SetState } from "../drops/lifecycle";
import type { WindowRule } from "../drops/presales";
import { type MethodLoad, RequestCounter } from "../shared/request-counter";
import { Sql } from "../shared/sql";
import { roomStub, shardStub } from "../shared/names";
import { paymentProvider } from "../payments/providers";
import { AlarmSchedule } from "./alarm-schedule";
import { nextAlarmNeeded, runShardAlarm } from "./shard-alarm";
import { StockWatch } from "./stock-watch";
import { HoldOnce } from "./hold-once";
import type { HoldMinute } from "./hold-minutes";
import { Charges, PROVIDER_ANSWER_MS, type PaymentEvent, type PurchaseRequest, type PurchaseView } from "./charges";
import { Ledger, type ShardCounts, type ShardInit, type ShardStats } from "./ledger";
import { type HoldView, KEEP_MS, type OrderView } from "./ledger-store";
import { type ClaimPeer, NamedClaims, type NamedHoldRequest } from "./named-claims";
import { OUTBOX_RETRY_MS, OutboxSender } from "./outbox-sender";
import type { ReturnsLine } from "./returns-line";
import { type GiveAnswer, type StockPeer, StockTransfers } from "./stock-transfers";
import { type ClaimInput, type Claimed, type PoolCounts, type PoolInit, type SectionSeats, type UnitCounts, UnitLedger } from "./unit-ledger";

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

/** How long the holds by minute are answered from the last read: promoter pages poll every few seconds and share it. */
const HOLD_MINUTES_MAX_AGE_MS = 5_000;

export class InventoryShard extends DurableObject<Env> {
	private readonly ledger: Ledger;
	private readonly units: UnitLedger;
	private readonly served: RequestCounter;
	private readonly schedule: AlarmSchedule;
	private readonly transfers: StockTransfers;
	private readonly claims: NamedClaims;
	private readonly charges: Charges;
	private readonly outbox: OutboxSender;
	/**
	 * The time. Tests move it, and set `afterCharge` to crash a purchase between the
	 * charge and its recording: instance fields, which no RPC caller can reach.
	 */
	clock: () => number = () => Date.now();
	afterCharge: (() => void) | null = null;
	/** How long a provider may take to answer a charge or a lookup (charges.ts); tests shorten it. */
	providerAnswerMs = PROVIDER_ANSWER_MS;
	private holdMinutesCopy: { at: number; value: HoldMinute[] } | null = null;
	/** Set by a pacer's look that found the drop dry: tells the pacer when this shard frees stock or sells (stock-watch.ts). */
	private readonly stockWatch = new StockWatch();
	/** Holds being made right now, by fan and key, so a concurrent replay waits for the first answer. */
	private readonly once = new HoldOnce();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const sql = new Sql(ctx.storage.sql);
		this.ledger = new Ledger(sql, (fn) => ctx.storage.transactionSync(fn));
		this.units = new UnitLedger(sql, (fn) => ctx.storage.transactionSync(fn));
		this.served = new RequestCounter(sql);
		// Each collaborator reads the clock, the env and the instance's hooks when it asks, not
		// when it is made: tests move the clock and swap bindings on a live instance.
		const clock = () => this.clock();
		const peer = (dropId: string, shard: number) => this.peer(dropId, shard);
		this.schedule = new AlarmSchedule({ clock, setAlarm: (at) => void ctx.storage.setAlarm(at), nextNeeded: (now) => nextAlarmNeeded(this.ledger, this.units, now) });
		this.transfers = new StockTransfers({ clock, ledger: this.ledger, alarm: this.schedule, peer });
		this.claims = new NamedClaims({ clock, ledger: this.ledger, units: this.units, alarm: this.schedule, peer });
		this.outbox = new OutboxSender({ clock, outbox: this.ledger.outbox, alarm: this.schedule, send: (messages) => this.env.SALES.sendBatch(messages) });
		this.charges = new Charges({
			clock,
			charges: this.ledger.charges,
			alarm: this.schedule,
			provider: (method) => paymentProvider(this.env, method),
			afterCharge: () => this.afterCharge?.(),
			providerAnswerMs: () => this.providerAnswerMs,
			ordered: (order) => this.saleMade(order),
		});
	}

	/** Sets the shard up once; later calls only update what may change (hold length). `pools`: the named pools placed here. */
	init(config: ShardInit & { pools?: PoolInit[] }): ShardStats {
		this.served.count("init");
		this.ledger.init(config);
		if (config.pools && config.pools.length > 0) this.units.setPools(config.pools);
		return this.ledger.stats(this.clock(), 0);
	}

	/** A seated type's seats replaced before the opening (a CSV upload): its sections here are set anew. */
	replaceSeats(input: { typeId: string; pools: PoolInit[] }): void {
		this.served.count("replaceSeats");
		this.units.setPools(input.pools, [input.typeId]);
	}

	// ── Holds ────────────────────────────────────────────────────────────────

	/**
	 * Holds `quantity` tickets for a fan, until `notAfter` at the latest (the end of
	 * their turn). This shard is the fan's home shard and keeps their ledger, so
	 * `maxPerFan` is checked in one place for the whole drop. `position`: the fan's place
	 * in line, from their access token (0: none carried); `window`: the sale window's rule.
	 */
	async hold(input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number; position?: number; window?: WindowRule | null }): Promise<Outcome<HoldView>> {
		this.served.count("hold");
		const refused = this.ledger.refusal("hold");
		if (refused !== null) return refused;
		const request = JSON.stringify({ quantity: input.quantity });
		// The same key in flight: the first answer, or a conflict when the body differs (failed or not).
		return this.toldIfMoved(await this.once.run(input.fanId, input.idempotencyKey, request, () => this.transfers.hold({ ...input, position: input.position ?? 0, request })));
	}

	/**
	 * A hold of a type's named units, made on the fan's home shard (this one), which
	 * judges the fan's limits over all their holds, then claimed on the shard that keeps
	 * the units (`targets`, tried in order until one has them). All or none.
	 */
	async holdNamed(input: NamedHoldRequest): Promise<Outcome<HoldView>> {
		this.served.count("holdNamed");
		const refused = this.ledger.refusal("hold");
		if (refused !== null) return refused;
		return this.toldIfMoved(await this.once.run(input.fanId, input.idempotencyKey, input.request, () => this.claims.hold(input)));
	}

	/** The drop's state as the promoter set it (a pause, a cancel), told by the cancel route at once. Idempotent; a cancel is for good. */
	tellState(input: { state: SetState }): { state: SetState } {
		this.served.count("tellState");
		if (this.ledger.meta() !== null) this.ledger.noteDropState(input.state);
		return { state: this.ledger.dropState() };
	}

	/** Gives a hold's tickets back. Releasing twice, or a hold already gone, changes nothing. */
	async release(input: { holdId: string; fanId: string }): Promise<Outcome<{ released: boolean }>> {
		this.served.count("release");
		const outcome = this.ledger.holds.release({ ...input, now: this.clock() });
		// A payment that waited on the fan's bank for this hold is cancelled now, by the alarm.
		if (outcome.ok && outcome.value.released && this.ledger.charges.dueActions(this.clock(), 1).length > 0) this.schedule.now();
		// A named hold's units go back on their shard now (the alarm retries if this fails).
		if (outcome.ok && outcome.value.released && this.ledger.named.pendingNotices(1).length > 0) await this.claims.deliverNotices();
		return this.toldIfMoved(outcome);
	}

	// ── Asked by the other shards ────────────────────────────────────────────

	/**
	 * Gives up to `amount` of this shard's free stock to another shard, once per transfer
	 * id (a repeat answers the first amount). Never calls anyone: stock on its way here is
	 * reported as `incoming`, so the asker answers "try again" rather than "sold out".
	 */
	give(input: { transferId: string; toShard: number; amount: number; acks?: string[] }): GiveAnswer {
		// Told apart in the load's count: an ask for stock, and a taker's acks alone.
		this.served.count(input.transferId === "" ? "acks" : "give");
		const answer = this.transfers.give(input);
		// A give returns expired holds first: stock may have come back here (the tell is not awaited).
		void this.toldIfMoved(null);
		return answer;
	}

	/** Claims units here for a hold of another shard (its home). Once per hold id. */
	claim(input: ClaimInput): Outcome<Claimed> {
		this.served.count("claim");
		return this.units.claim(input);
	}

	/** Ends claims here as their home shard decided (sold, or released). Idempotent. */
	settleClaims(input: { sold: string[]; release: string[] }): void {
		this.served.count("settleClaims");
		this.units.settle({ ...input, now: this.clock() });
		// Ended claims are forgotten after a day by this shard's alarm, which may have nothing else to do.
		if (input.release.length > 0) this.schedule.by(this.clock() + KEEP_MS);
		// Units freed or sold here by their home shard's decision: a watched dry drop hears of it (not awaited).
		void this.toldIfMoved(null);
	}

	// ── Purchases and orders ─────────────────────────────────────────────────

	/**
	 * A purchase in one call: record the charge, charge the fan, and turn the hold into
	 * an order. While the payment runs, other requests go on here. Every charge ends
	 * explicitly: an order, or a refund when the hold ran out meanwhile; if this request
	 * dies on the way, the alarm settles it. A repeat after the order answers the order,
	 * marked replayed. A payment the fan's bank must confirm answers what the fan's page
	 * finishes it with, and the same while it waits.
	 */
	async purchase(input: PurchaseRequest): Promise<Outcome<PurchaseView>> {
		this.served.count("purchase");
		return this.toldIfMoved(await this.charges.purchase(input));
	}

	/** The provider's webhook on a payment that waited on the fan's bank: the order (once), a refund, or a decline. Idempotent. */
	async paymentEvent(event: PaymentEvent): Promise<void> {
		this.served.count("paymentEvent");
		if (this.ledger.meta() === null) return;
		await this.charges.paymentEvent(event);
		await this.toldIfMoved(null);
	}

	order(input: { orderId: string; fanId: string }): Outcome<OrderView> {
		this.served.count("order");
		return this.ledger.charges.order(input);
	}

	/**
	 * Puts a refund's tickets back on sale here; once per refund id. `returns`: the line for returned tickets as the
	 * pacer answered just before (refunds.ts), noted in the same moment the stock comes back, so no hold here takes it
	 * for a turn from before the sell-out.
	 */
	restock(input: { refundId: string; quantity: number; returns?: (ReturnsLine & { until?: number }) | null }): { restocked: boolean; late?: boolean } {
		this.served.count("restock");
		this.ledger.requireMeta();
		// Told no line exists, the restock must land while the pacer holds off marking a sell-out; later, the refund asks again.
		const late = input.returns?.from === null && input.returns.until !== undefined && this.clock() > input.returns.until;
		if (late && this.ledger.returns.line() === null) return { restocked: false, late: true };
		// A cancelled drop puts nothing back on sale: the refund's restock ends here, with nothing restocked.
		if (this.ledger.refusal("restock") !== null) return { restocked: false };
		if (input.returns) this.ledger.returns.note({ from: input.returns.from, waiting: input.returns.waiting }, this.clock());
		const restocked = this.ledger.transfers.restock(input.refundId, input.quantity, this.clock());
		void this.toldIfMoved(null);
		return { restocked };
	}

	/** Takes one free unit back out of the stock here, once per key; false when no unit here is free (held or sold). */
	unstock(input: { key: string }): { unstocked: boolean } {
		this.served.count("unstock");
		this.ledger.requireMeta();
		const unstocked = this.ledger.transfers.unstock(input.key, this.clock());
		if (unstocked) void this.toldIfMoved(null);
		return { unstocked };
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
		this.served.count("resendSales");
		return this.outbox.resend(input.orderIds, this.clock() - Math.max(0, input.minAgeMs ?? 0));
	}

	// ── Reading ──────────────────────────────────────────────────────────────

	/** The free units here, for the availability fans see (gathered by the pacer, not per request). */
	availability(): ShardAvailability {
		this.served.count("availability");
		const { remaining, given, received } = this.ledger.counts();
		return {
			general: { remaining, given, received },
			pools: this.units.poolCounts().map((p) => ({ typeId: p.typeId, pool: p.pool, free: p.free })),
			sections: this.units.freeSeats(),
		};
	}

	/**
	 * The pacer's look at this shard, once a tick; it brings every shard's free stock and the stock in flight as last seen,
	 * and the drop's state as the promoter set it (so a shard the cancel's own call missed learns of it here).
	 */
	totals(input: { peerStock?: number[]; inFlight?: number; held?: number; watch?: boolean; state?: SetState; returns?: ReturnsLine | null } = {}): ShardCountsWithUnits {
		this.served.count("totals");
		if (this.ledger.meta() !== null) this.ledger.returns.note(input.returns, this.clock());
		if (input.state !== undefined && this.ledger.meta() !== null) this.ledger.noteDropState(input.state);
		this.transfers.noteLook(input.peerStock ? { ...input, peerStock: input.peerStock } : null);
		const counts = { ...this.ledger.counts(), named: this.units.counts() };
		this.stockWatch.looked(input.watch === true, counts);
		return counts;
	}

	/**
	 * A sale window's pacer's look: this shard's counts (as the drop's pacer sees them) with the
	 * window's holds and sales here. Only a read: the drop's pacer alone brings looks and states.
	 */
	windowTotals(input: { window: string }): ShardCountsWithUnits & { window: { held: number; sold: number; buyers: number } } {
		this.served.count("windowTotals");
		return { ...this.ledger.counts(), named: this.units.counts(), window: this.ledger.windowCounts(input.window) };
	}

	load(): number {
		return this.served.requests;
	}

	/** The requests served, in all and by each method: where a shard's load comes from. */
	loadByMethod(): MethodLoad {
		return this.served.byMethod();
	}

	stats(graceMs = 0): ShardStatsWithUnits {
		this.served.count("stats");
		return { ...this.ledger.stats(this.clock(), graceMs), pools: this.units.poolCounts() };
	}

	/** This shard's holds by minute (shoppers, holds run out), for the queue figures; kept a few seconds, as promoter pages poll. */
	holdMinutes(): HoldMinute[] {
		this.served.count("holdMinutes");
		const now = this.clock();
		if (this.holdMinutesCopy === null || now - this.holdMinutesCopy.at >= HOLD_MINUTES_MAX_AGE_MS || now < this.holdMinutesCopy.at)
			this.holdMinutesCopy = { at: now, value: this.ledger.holdMinutes() };
		return this.holdMinutesCopy.value;
	}

	/** A page of this shard's order ids, for the audit to set against D1's (see src/sales/order-ids.ts). */
	orderIdsPage(input: { after: string | null; through: string | null; limit: number; graceMs: number }): { ids: string[]; recent: string[]; next: string | null } {
		this.served.count("orderIdsPage");
		return this.ledger.outbox.orderIdsPage({ ...input, now: this.clock() });
	}

	// ── The alarm ────────────────────────────────────────────────────────────

	/** Expired holds back to stock, cut-short transfers completed, open charges settled, unsent sales re-sent (shard-alarm.ts). Idempotent. */
	override async alarm(): Promise<void> {
		await runShardAlarm({
			clock: () => this.clock(),
			ledger: this.ledger,
			schedule: this.schedule,
			transfers: this.transfers,
			charges: this.charges,
			outbox: this.outbox,
			named: { units: this.units, claims: this.claims },
			toldIfMoved: async () => void (await this.toldIfMoved(null)),
		});
	}

	/**
	 * Watching a dry drop for the pacer: stock freed here (a hold that ended, a release, a
	 * restock) or a sale tells it once, so it looks again (stock back on sale, or the sell-out)
	 * instead of asking every shard every second. A failed call costs only time: the pacer
	 * looks within DRY_LOOK_MS all the same. Returns `value`, to wrap an answer.
	 */
	private async toldIfMoved<T>(value: T): Promise<T> {
		if (!this.stockWatch.on || this.ledger.meta() === null) return value;
		await this.stockWatch.tellIfMoved(
			() => ({ ...this.ledger.counts(), named: this.units.counts() }),
			() => roomStub(this.env, this.ledger.requireMeta().drop_id).stockMoved(),
		);
		return value;
	}

	/** An order was made: the alarm comes by the outbox's retry, its sale goes out, and a named order's units are told sold. */
	private async saleMade(order: OrderView): Promise<void> {
		this.schedule.by(this.clock() + OUTBOX_RETRY_MS);
		// The sale is stored; sending it is only a delay if it fails (the alarm re-sends).
		await this.outbox.flush();
		if (order.ticketType !== undefined) await this.claims.deliverNotices();
	}

	/** Shard `shard` of the drop, as the protocols ask it. */
	private peer(dropId: string, shard: number): StockPeer & ClaimPeer {
		const stub = shardStub(this.env, dropId, shard);
		return {
			give: (input) => stub.give(input),
			claim: async (ask) => (await stub.claim(ask)) as Outcome<Claimed>,
			settleClaims: (ends) => stub.settleClaims(ends),
		};
	}
}
