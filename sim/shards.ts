// The drop's inventory in the simulation: each shard is the engine's own code over
// its own SQLite database (sim/sqlite.ts): the ledger (src/inventory/ledger*.ts)
// decides holds, releases, expiries and orders; StockTransfers takes what a short
// home shard lacks from its peers, through the simulator's network and the peers'
// request queues; Charges runs a purchase with the engine's test payment provider;
// the outbox hands sales to a Queue that takes them at once; and the alarm is set
// by the engine's AlarmSchedule. After every request a shard serves, its counts are
// read from its ledger and the invariants checked, so a broken one stops the run at
// the request that broke it.
import { allocateShards } from "../src/drops/rules";
import { AlarmSchedule } from "../src/inventory/alarm-schedule";
import { CHARGE_SETTLE_MS, Charges, type PurchaseView } from "../src/inventory/charges";
import { homeShard } from "../src/inventory/drop-shards";
import { Ledger, type ShardCounts } from "../src/inventory/ledger";
import type { HoldView } from "../src/inventory/ledger-store";
import { OUTBOX_RETRY_MS, OutboxSender } from "../src/inventory/outbox-sender";
import { ACK_AFTER_MS, type GiveAnswer, type StockPeer, StockTransfers, TRANSFER_RETRY_MS } from "../src/inventory/stock-transfers";
import { testProvider } from "../src/payments/test-provider";
import { type Outcome, ok } from "../src/shared/outcome";
import { Sql } from "../src/shared/sql";
import { SimObject } from "./objects";
import { type SimStorage, type SqlJs, sqliteStorage } from "./sqlite";
import type { SimConfig } from "./config";
import { EPOCH, type EventQueue } from "./events";

/** As the shard's own alarm: it comes back within this long to prune when nothing needs it sooner. */
const PRUNE_RETRY_MS = 60 * 60 * 1000;

export class SimShard {
	readonly object: SimObject;
	readonly storage: SimStorage;
	readonly ledger: Ledger;
	private readonly sql: Sql;
	readonly transfers: StockTransfers;
	readonly charges: Charges;
	readonly outbox: OutboxSender;
	readonly schedule: AlarmSchedule;
	/** The counts its ledger last gave, read after each request it served. */
	counts: ShardCounts;
	/** The storage's version when `counts` was read: unchanged since, the counts stand without asking again. */
	countedAt = -1;
	private alarmAt: number | null = null;

	constructor(
		readonly index: number,
		readonly allocation: number,
		inventory: Inventory,
		events: EventQueue,
		config: SimConfig,
		sqlJs: SqlJs,
	) {
		this.object = new SimObject("shard", `shard ${index}`, events);
		this.storage = sqliteStorage(sqlJs);
		const tx = <T>(fn: () => T) => this.storage.transactionSync(fn);
		this.sql = new Sql(this.storage.sql);
		this.ledger = new Ledger(this.sql, tx);
		this.ledger.init({ dropId: inventory.dropId, shard: index, shards: config.shards, allocation, maxPerFan: config.maxPerFan, holdSeconds: config.holdSeconds, priceCents: 5000, currency: "usd" });
		const clock = () => events.clock();
		this.schedule = new AlarmSchedule({ clock, setAlarm: (at) => this.setAlarm(at, events), nextNeeded: (now) => this.ledger.nextAlarm(now, { outboxMs: OUTBOX_RETRY_MS, transferMs: TRANSFER_RETRY_MS, ackMs: ACK_AFTER_MS, chargeMs: CHARGE_SETTLE_MS, pruneMs: PRUNE_RETRY_MS }) });
		this.transfers = new StockTransfers({ clock, ledger: this.ledger, alarm: this.schedule, peer: (_drop, k) => inventory.peer(k) });
		this.outbox = new OutboxSender({ clock, outbox: this.ledger.outbox, alarm: this.schedule, send: async () => undefined });
		this.charges = new Charges({
			clock,
			charges: this.ledger.charges,
			alarm: this.schedule,
			provider: () => ok(testProvider),
			afterCharge: () => undefined,
			ordered: async () => {
				this.schedule.by(clock() + OUTBOX_RETRY_MS);
				await this.outbox.flush();
			},
		});
		this.counts = this.ledger.counts();
	}

	/** The storage's alarm: one at a time, a later set replaces it; it runs as one of the shard's requests. */
	private setAlarm(at: number, events: EventQueue): void {
		this.alarmAt = at;
		events.at(at - EPOCH, () => {
			if (this.alarmAt !== at) return;
			this.alarmAt = null;
			this.object.call(1, () => this.alarm(events), () => undefined);
		});
	}

	/** The shard's alarm (inventory-shard.ts), less what the simulation has none of: named units, and telling a watching pacer. */
	private async alarm(events: EventQueue): Promise<void> {
		this.schedule.running();
		this.ledger.holds.expireDue(events.clock());
		await this.transfers.completePendingTransfers();
		await this.transfers.sendAcks();
		await this.charges.reconcile();
		await this.outbox.flush();
		this.ledger.prune(events.clock());
		this.schedule.fromStoredState();
	}

	/** Tickets the fan holds or bought here, as the ledger's per-fan limit counts them. */
	fanTickets(fanId: string): number {
		return this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE fan_id = ? AND state IN ('claiming', 'active', 'purchased') AND ticket_type IS NULL`, fanId);
	}
}

/** A test's hook: called with each shard once it is built, to plant a bug in its real path (never used by a run of the command). */
export type ShardHook = (shard: SimShard) => void;

export class Inventory {
	readonly dropId: string;
	readonly shards: SimShard[];
	/** Orders' tickets, counted from the purchases' answers apart from the shards' own counts: the two must agree. */
	orderedTickets = 0;
	orders = 0;
	soldOutAt: number | null = null;
	checks = 0;

	constructor(
		private readonly events: EventQueue,
		private readonly config: SimConfig,
		sqlJs: SqlJs,
		private readonly fail: (what: string) => never,
		hook?: ShardHook,
	) {
		this.dropId = `sim-${config.seed}`;
		this.shards = allocateShards(config.tickets, config.shards).map((allocation, k) => new SimShard(k, allocation, this, events, config, sqlJs));
		for (const shard of this.shards) hook?.(shard);
	}

	get capacity(): number {
		return this.config.tickets;
	}

	homeOf(fanId: string): number {
		return homeShard(fanId, this.shards.length);
	}

	/** Shard `k` as a peer asks it for stock: one hop there, its `give` in its queue, one hop back. */
	peer(k: number): StockPeer {
		const shard = this.shards[k]!;
		return {
			give: (input) =>
				new Promise<GiveAnswer>((resolve) => {
					this.events.after(this.config.hopMs, () =>
						shard.object.call(this.config.cpu.give, () => this.served(k, shard.transfers.give(input)), (answer) => {
							this.events.touched = true;
							resolve(answer);
						}, this.config.hopMs),
					);
				}),
		};
	}

	/** A hold at the fan's home shard, through the engine's transfers (a short shard asks its peers). */
	hold(k: number, input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number }, answer: (o: Outcome<HoldView>) => void): void {
		const shard = this.shards[k]!;
		const request = JSON.stringify({ quantity: input.quantity });
		const decide = async () => {
			const o = await shard.transfers.hold({ ...input, request });
			const mine = shard.fanTickets(input.fanId);
			if (mine > this.config.maxPerFan) this.fail(`fan ${input.fanId} holds or bought ${mine} tickets on shard ${k} > maxPerFan ${this.config.maxPerFan}`);
			return this.served(k, o);
		};
		shard.object.call(this.config.cpu.hold, decide, answer, this.config.hopMs);
	}

	/** A purchase of a hold with the test provider: token "ok" is approved, any other declined. */
	purchase(k: number, input: { holdId: string; fanId: string; declined: boolean; notAfter: number }, answer: (o: Outcome<PurchaseView>) => void): void {
		const shard = this.shards[k]!;
		const token = input.declined ? "declined" : "ok";
		// Counted when the purchase ends on the shard, not when its answer reaches the fan a hop later: the shard's next request reads the order.
		const decide = async () => {
			const o = await shard.charges.purchase({ holdId: input.holdId, fanId: input.fanId, payment: { method: "test", token }, notAfter: input.notAfter });
			if (o.ok && !o.replayed && "orderId" in o.value) {
				this.orders++;
				this.orderedTickets += o.value.quantity;
				if (this.soldOutAt === null && this.orderedTickets === this.capacity) this.soldOutAt = this.events.now;
			}
			return this.served(k, o);
		};
		shard.object.call(this.config.cpu.purchase, decide, answer, this.config.hopMs);
	}

	release(k: number, input: { holdId: string; fanId: string }, answer: () => void): void {
		const shard = this.shards[k]!;
		shard.object.call(this.config.cpu.release, () => this.served(k, shard.ledger.holds.release({ ...input, now: this.events.clock() })), () => answer(), this.config.hopMs);
	}

	/** The pacer's look at shard `k` (its `totals`): the stock every shard had at the last look comes with it, as the pacer sends it. */
	look(k: number, hint: { peerStock: number[]; inFlight: number } | null, answer: (c: ShardCounts) => void): void {
		const shard = this.shards[k]!;
		shard.object.call(this.config.cpu.look, () => {
			shard.transfers.noteLook(hint);
			return this.served(k, shard.ledger.counts());
		}, answer, this.config.hopMs);
	}

	/** After a request shard `k` served: its counts read again from its ledger, and the invariants checked. */
	private served<T>(k: number, value: T): T {
		const shard = this.shards[k]!;
		if (shard.storage.version !== shard.countedAt) {
			shard.countedAt = shard.storage.version;
			shard.counts = shard.ledger.counts();
		}
		this.check();
		return value;
	}

	totals(): { remaining: number; held: number; sold: number; given: number; received: number } {
		const t = { remaining: 0, held: 0, sold: 0, given: 0, received: 0 };
		for (const s of this.shards) {
			t.remaining += s.counts.remaining;
			t.held += s.counts.held;
			t.sold += s.counts.sold;
			t.given += s.counts.given;
			t.received += s.counts.received;
		}
		return t;
	}

	/** Transfers written down by the takers (credited or not yet), for the summary. */
	transfers(): number {
		return this.shards.reduce((a, s) => a + s.counts.received, 0);
	}

	/** The invariants of the stock, on the ledgers' own counts: no oversell, every ticket accounted, the orders' tickets = the shards' sold. */
	check(): void {
		this.checks++;
		for (const s of this.shards) {
			const c = s.counts;
			if (c.remaining < 0 || c.held < 0 || c.sold < 0) this.fail(`shard ${s.index} went below zero: remaining ${c.remaining}, held ${c.held}, sold ${c.sold}`);
			if (c.remaining + c.held + c.sold !== s.allocation + c.received - c.given) {
				this.fail(`shard ${s.index} does not account for its stock: ${c.remaining} free + ${c.held} held + ${c.sold} sold ≠ ${s.allocation} + ${c.received} received − ${c.given} given`);
			}
		}
		const t = this.totals();
		// Given and not yet credited: stock on its way between two shards, never negative.
		if (t.given < t.received) this.fail(`shards received ${t.received} tickets, more than the ${t.given} given`);
		if (t.sold + t.held > this.capacity) this.fail(`oversold: ${t.sold} sold + ${t.held} held > capacity ${this.capacity}`);
		if (t.sold + t.held + t.remaining + t.given - t.received !== this.capacity) this.fail(`tickets lost or made: ${t.sold} + ${t.held} + ${t.remaining} + ${t.given - t.received} on their way ≠ ${this.capacity}`);
		if (t.sold !== this.orderedTickets) this.fail(`the orders' ${this.orderedTickets} tickets ≠ the shards' ${t.sold} sold`);
	}

	/** Statements the shards' databases ran, for the report. */
	statements(): number {
		return this.shards.reduce((a, s) => a + s.storage.statements, 0);
	}

	close(): void {
		for (const s of this.shards) s.storage.close();
	}
}
