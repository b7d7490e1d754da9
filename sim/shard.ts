// One shard of the simulated drop: the engine's own shard code (the ledger, the stock
// transfers, the charges with the simulated provider, the outbox, the alarm schedule)
// over its own SQLite database (sim/sqlite.ts), built as the shard object's
// constructor builds it. Under the restart fault it is built again over the same
// database (storage kept, memory lost), and the old instance's ports stop it: what it
// would have done after its await never happens.
import { AlarmSchedule } from "../src/inventory/alarm-schedule";
import { Charges, PROVIDER_ANSWER_MS } from "../src/inventory/charges";
import { HoldOnce } from "../src/inventory/hold-once";
import { Ledger, type ShardCounts } from "../src/inventory/ledger";
import { OUTBOX_RETRY_MS, OutboxSender } from "../src/inventory/outbox-sender";
import { nextAlarmNeeded, runShardAlarm } from "../src/inventory/shard-alarm";
import { StockTransfers } from "../src/inventory/stock-transfers";
import { StockWatch } from "../src/inventory/stock-watch";
import { ok } from "../src/shared/outcome";
import { Sql } from "../src/shared/sql";
import { instanceOf } from "./instance";
import { SimObject } from "./objects";
import { type SimStorage, type SqlJs, sqliteStorage } from "./sqlite";
import type { SimConfig } from "./config";
import { EPOCH, type EventQueue } from "./events";
import { FAULT_RATES } from "./faults";
import type { Inventory } from "./shards";


/** When a shard restarted: while a request of it awaited a peer or the provider, or with none in flight. */
export type RestartMoment = "mid-request" | "between requests";

/** The simulated drop has no named units. */
export const NO_UNITS = { free: 0, held: 0, sold: 0 };

export class SimShard {
	readonly object: SimObject;
	readonly storage: SimStorage;
	ledger!: Ledger;
	private sql!: Sql;
	transfers!: StockTransfers;
	charges!: Charges;
	outbox!: OutboxSender;
	schedule!: AlarmSchedule;
	/** Set by a pacer's look that found the drop dry (memory only: a restart forgets it, as the object's does). */
	watch!: StockWatch;
	/** Tells a pacer watching a dry drop that stock freed or sold here, once (the shard object's toldIfMoved). */
	toldIfMoved!: () => Promise<void>;
	/** Holds being decided right now, by fan and key (the shard object's in-flight dedupe): memory only. */
	once!: HoldOnce;
	/** A restart between requests struck and waits for a moment none of its requests is in flight. */
	restartOwed = false;
	/** The counts its ledger last gave, read after each request it served. */
	counts: ShardCounts;
	/** The storage's version when `counts` was read: unchanged since, the counts stand without asking again. */
	countedAt = -1;
	/** The storage's alarm: kept across restarts, as Cloudflare keeps it. */
	private alarmAt: number | null = null;
	restarts = 0;

	constructor(
		readonly index: number,
		readonly allocation: number,
		private readonly inventory: Inventory,
		private readonly events: EventQueue,
		private readonly config: SimConfig,
		sqlJs: SqlJs,
	) {
		this.object = new SimObject("shard", `shard ${index}`, events);
		this.storage = sqliteStorage(sqlJs);
		this.build();
		this.ledger.init({ dropId: inventory.dropId, shard: index, shards: config.shards, allocation, maxPerFan: config.maxPerFan, holdSeconds: config.holdSeconds, priceCents: 5000, currency: "usd" });
		keepStockSums(this.sql);
		this.counts = this.stockCounts();
	}

	get name(): string {
		return this.object.name;
	}

	/**
	 * The instance as the shard object's constructor makes it, over the same storage. Its
	 * ports (storage, peers, provider, Queue, alarm, timers' work) belong to this instance:
	 * once it restarts they stop it, as an isolate that is gone does nothing more.
	 */
	private build(): void {
		const events = this.events;
		const inventory = this.inventory;
		const { alive, sql, transaction: tx, gate } = instanceOf(this.object, this.storage);
		this.sql = new Sql(sql);
		this.ledger = new Ledger(this.sql, tx);
		const clock = () => events.clock();
		this.schedule = new AlarmSchedule({
			clock,
			setAlarm: (at) => {
				if (alive()) this.setAlarm(at);
			},
			nextNeeded: (now) => nextAlarmNeeded(this.ledger, null, now),
		});
		this.transfers = new StockTransfers({ clock, ledger: this.ledger, alarm: this.schedule, peer: (_drop, k) => ({ give: (input) => gate(inventory.give(this, k, input)) }) });
		this.once = new HoldOnce();
		this.watch = new StockWatch();
		const watch = this.watch;
		this.toldIfMoved = () =>
			watch.on ? watch.tellIfMoved(() => ({ ...this.ledger.counts(), named: NO_UNITS }), () => gate(inventory.tell(this))) : Promise.resolve();
		this.outbox = new OutboxSender({ clock, outbox: this.ledger.outbox, alarm: this.schedule, send: (messages) => gate(inventory.queue.send(messages)) });
		const provider = inventory.provider.port((what) => inventory.faults.note(events.now, [this.name], what));
		const gated: typeof provider = {
			keyLifeMs: provider.keyLifeMs,
			charge: (r) => {
				inventory.maybeRestart(this);
				return gate(provider.charge(r));
			},
			lookup: (k, r) => gate(provider.lookup(k, r)),
			paymentStatus: (id) => gate(provider.paymentStatus(id)),
			cancel: (id) => gate(provider.cancel(id)),
			refund: (id, part) => gate(provider.refund(id, part)),
			confirm: (id) => gate(provider.confirm(id)),
		};
		this.charges = new Charges({
			clock,
			charges: this.ledger.charges,
			alarm: this.schedule,
			provider: () => ok(gated),
			afterCharge: () => undefined,
			providerAnswerMs: () => PROVIDER_ANSWER_MS,
			// The shard's saleMade: the order counted as the engine made it (by a purchase, or by the alarm's reconcile), and its sale sent.
			ordered: async (order) => {
				inventory.ordered(order.orderId, order.quantity);
				this.schedule.by(clock() + OUTBOX_RETRY_MS);
				await this.outbox.flush();
			},
		});
	}

	/** The object restarts: storage kept, memory lost; requests awaiting are ended, and a new instance is built over the same database. */
	restart(how: RestartMoment): void {
		this.restarts++;
		this.object.reset(this.config.hopMs);
		this.build();
		this.inventory.faults.note(this.events.now, [this.name], `restarted ${how}: memory lost, storage kept`);
	}

	/** The storage's alarm: one at a time, a later set replaces it; it runs as one of the shard's requests (late, or twice, under the alarm fault). */
	private setAlarm(at: number): void {
		this.alarmAt = at;
		const faults = this.inventory.faults;
		const late = faults.strikes("alarm", FAULT_RATES.alarmLate, "alarm late") ? Math.floor(faults.draw("alarm") * FAULT_RATES.alarmLateMaxMs) : 0;
		this.events.at(at - EPOCH + late, () => {
			if (this.alarmAt !== at) return;
			this.alarmAt = null;
			this.runAlarm(faults.strikes("alarm", FAULT_RATES.alarmTwice, "alarm twice"));
		});
	}

	private runAlarm(twice: boolean): void {
		const faults = this.inventory.faults;
		if (faults.trace) faults.note(this.events.now, [this.name], twice ? "alarm runs (and will run again)" : "alarm runs");
		// An alarm whose instance restarted under it failed: Cloudflare runs it again.
		this.object.call(1, () => this.alarm(), () => {
			if (twice) this.events.after(Math.floor(faults.draw("alarm") * 1000), () => this.runAlarm(false));
		}, 0, () => this.setAlarm(this.events.clock() + 2000), "alarm");
	}

	/** The shard's alarm: the shard object's own sequence (shard-alarm.ts), less the named units the simulated drop has none of. */
	private alarm(): Promise<void> {
		return runShardAlarm({
			clock: () => this.events.clock(),
			ledger: this.ledger,
			schedule: this.schedule,
			transfers: this.transfers,
			charges: this.charges,
			outbox: this.outbox,
			named: null,
			toldIfMoved: () => this.toldIfMoved(),
		});
	}

	/**
	 * The stock counts the invariants are checked on after every request: the shard's meta row
	 * and the sums `keepStockSums` keeps over the same rows as the ledger's `counts` (which sums
	 * the holds and orders again each time, and counts the buyers the checks do not need).
	 * The end of a run checks the two agree on every shard.
	 */
	stockCounts(): ShardCounts {
		const row = this.sql.first<{ remaining: number; given: number; received: number; held: number; ordered: number; restocked: number }>(
			`SELECT remaining, given, received, held, ordered, restocked FROM meta, sim_stock_sums WHERE meta.id = 1`,
		);
		if (row === null) return { remaining: 0, held: 0, sold: 0, buyers: 0, given: 0, received: 0, restocked: 0 };
		return { remaining: row.remaining, given: row.given, received: row.received, restocked: row.restocked, held: row.held, sold: row.ordered - row.restocked, buyers: 0 };
	}

	/** Tickets the fan holds or bought here, as the ledger's per-fan limit counts them. */
	fanTickets(fanId: string): number {
		return this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE fan_id = ? AND state IN ('claiming', 'active', 'purchased') AND ticket_type IS NULL`, fanId);
	}
}

/** Holds, orders and restocks as the ledger's `counts` sums them: active holds and orders of the stock spread over the shards, every restock. */
const HELD = (row: "NEW" | "OLD") => `(CASE WHEN ${row}.state = 'active' AND ${row}.ticket_type IS NULL THEN ${row}.quantity ELSE 0 END)`;
const ORDERED = (row: "NEW" | "OLD") => `(CASE WHEN ${row}.ticket_type IS NULL THEN ${row}.quantity ELSE 0 END)`;

/**
 * The sums the stock checks read, kept by SQLite itself as the ledger writes its rows: a
 * trigger on every insert, update and delete of a hold, an order or a restock moves them
 * by what the row adds or takes away, inside the same statement (so a rolled-back
 * transaction takes its moves back with it). Summing the orders after every request
 * instead reads the whole table, which grows with the sale: at 100,000 tickets on 64
 * shards it was most of what the checks cost. The triggers write only the simulator's own
 * table: what the cores read, and the rows a statement reports written, are unchanged.
 */
export function keepStockSums(sql: Sql): void {
	sql.run(`CREATE TABLE IF NOT EXISTS sim_stock_sums (id INTEGER PRIMARY KEY CHECK (id = 1), held INTEGER NOT NULL, ordered INTEGER NOT NULL, restocked INTEGER NOT NULL)`);
	sql.run(
		`INSERT INTO sim_stock_sums (id, held, ordered, restocked) SELECT 1,
			(SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE state = 'active' AND ticket_type IS NULL),
			(SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE ticket_type IS NULL),
			(SELECT COALESCE(SUM(quantity), 0) FROM restocks)
		ON CONFLICT (id) DO NOTHING`,
	);
	const moves: [table: string, column: string, of: (row: "NEW" | "OLD") => string][] = [
		["holds", "held", HELD],
		["orders", "ordered", ORDERED],
		["restocks", "restocked", (row) => `${row}.quantity`],
	];
	for (const [table, column, of] of moves) {
		sql.run(`CREATE TEMP TRIGGER IF NOT EXISTS sim_${table}_added AFTER INSERT ON ${table} BEGIN UPDATE sim_stock_sums SET ${column} = ${column} + ${of("NEW")}; END`);
		sql.run(`CREATE TEMP TRIGGER IF NOT EXISTS sim_${table}_removed AFTER DELETE ON ${table} BEGIN UPDATE sim_stock_sums SET ${column} = ${column} - ${of("OLD")}; END`);
		sql.run(`CREATE TEMP TRIGGER IF NOT EXISTS sim_${table}_changed AFTER UPDATE ON ${table} BEGIN UPDATE sim_stock_sums SET ${column} = ${column} - ${of("OLD")} + ${of("NEW")}; END`);
	}
}
