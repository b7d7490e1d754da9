// The waiting room in the simulation, on the engine's own cores over sql.js: each
// line is a LineCore (join, open, seal) and the pacer a PacerCore (open, seal and
// place, the shards' totals, admitIfDue, the sell-out), each in its own database
// and behind its own request queue. The pacer's tick is the pacer object's own
// sequence (src/waiting-room/pacer-tick.ts), handed ports whose calls to the lines
// and shards go over the simulated network (lost or late under the pacer-calls
// fault; the pacer restarts under them under the pacer-restart fault); what the
// Worker answers polls from is watermarkOf's document, a second old (its cache).
import { type DropConfig, parseCreateDrop } from "../src/drops/rules";
import type { ShardTotals } from "../src/inventory/ledger";
import { DRY_LOOK_MS } from "../src/inventory/pacer-look";
import { Sql } from "../src/shared/sql";
import { type LineEntry, LineCore } from "../src/waiting-room/line-core";
import { PacerCore } from "../src/waiting-room/pacer-core";
import { PacerTick } from "../src/waiting-room/pacer-tick";
import { lineOf, placedPosition, prequeuePosition } from "../src/waiting-room/placement";
import { type Watermark, watermarkOf } from "../src/waiting-room/watermark";
import { NO_ANSWER, SimObject } from "./objects";
import { EPOCH, seedHex, type EventQueue } from "./events";
import { type SimStorage, type SqlJs, sqliteStorage } from "./sqlite";
import type { Inventory } from "./shards";
import type { SimConfig } from "./config";
import { FAULT_RATES, SKEW_BOUND_MS, type Faults } from "./faults";
import { type Instance, instanceOf } from "./instance";
import { describePlace, samePlace } from "./joins";
import { NO_UNITS } from "./shard";

/** As Cloudflare retries an alarm that failed: a moment later (its backoff starts at about 2 s). */
const ALARM_RETRY_MS = 2000;
/**
 * How late past DRY_LOOK_MS the pacer may look after a shard's tell was lost: its faults
 * delay a look (an alarm up to 4 s late, a call given up at the tick's 5 s bound, a restart's
 * alarm run again 2 s later), each a few seconds, so a look missed by more is no fault's doing.
 */
const LOST_TELL_SLACK_MS = 30_000;

/** The pacer's core with each batch checked as it goes in (the simulation's own check, beside the core's decision). */
class CheckedPacerCore extends PacerCore {
	constructor(sql: Sql, transaction: <T>(fn: () => T) => T, accessWindowMs: number, private readonly checked: (admitted: number, moved: number) => void) {
		super(sql, transaction, accessWindowMs);
	}

	override admitIfDue(drop: DropConfig, totals: ShardTotals, now: number): number {
		const before = this.state().admitted_through;
		const admitted = super.admitIfDue(drop, totals, now);
		this.checked(admitted, this.state().admitted_through - before);
		return admitted;
	}
}


/** Joins from the load runner's address: no per-fan or per-address limit (as on 127.0.0.1), no per-line limit. */
const JOIN_LIMITS = { perIp: 0, perFan: 0, loopbackExempt: true };

interface Line {
	object: SimObject;
	storage: SimStorage;
	core: LineCore;
}

export type JoinAnswer = { kind: "sold_out" } | { kind: "prequeue"; line: number; seq: number } | { kind: "slot"; line: number; slot: number; index: number };

export class Room {
	readonly lines: Line[];
	readonly pacer: SimObject;
	readonly drop: DropConfig;
	private readonly storage: SimStorage;
	/** The pacer's core and its tick's sequence: built again, over the same storage, when the pacer restarts. */
	core!: PacerCore;
	private ticks!: PacerTick;
	private instance!: Instance;
	restarts = 0;
	/** Filled by the end-of-run checks, for the summary. */
	positionsChecked = 0;
	admittedChecked = 0;
	batchesChecked = 0;
	/** Joins sent again after the line's answer was lost, each answered the place the first was given. */
	rejoinsChecked = 0;
	/** Shards' tells to the pacer lost, and those after which the pacer looked at the shards all the same. */
	lostTells = 0;
	lostTellsFound = 0;
	/** A watermark reader has published the first copy (it lands a cache's age later: the reads meanwhile publish nothing more). */
	private firstReadPublishing = false;
	/** When the pacer last sent each shard a look at its totals (a lost tell's check wants one sent after it). */
	private readonly lookSentAt = new Map<number, number>();
	/** The places lines gave in answers that were lost, by fan: a fan's next join must be answered the same. */
	private readonly lostJoins = new Map<string, JoinAnswer>();
	/** What the Worker answers polls from: the pacer's last watermark, as published (null before the first). */
	published: Watermark | null = null;
	/** Told each watermark as it is published (the fans wake those it could tell something). */
	onPublish: ((w: Watermark) => void) | null = null;
	private alarmAt: number | null = null;
	/** Each line's clock against the pacer's (the skew fault), within SKEW_BOUND_MS of each other. */
	readonly skew: number[];

	constructor(
		private readonly events: EventQueue,
		private readonly config: SimConfig,
		private readonly inventory: Inventory,
		sqlJs: SqlJs,
		private readonly fail: (what: string) => never,
		private readonly faults: Faults,
	) {
		const body = {
			name: "Simulated drop",
			capacity: config.tickets,
			maxPerFan: config.maxPerFan,
			holdSeconds: config.holdSeconds,
			opensAt: new Date(EPOCH + config.opensAt).toISOString(),
			lines: config.lines,
			shards: config.shards,
			admission: { batchSize: config.batchSize, intervalMs: config.intervalMs, activeMultiple: config.activeMultiple },
		};
		const at = new Date(EPOCH).toISOString();
		this.drop = { ...parseCreateDrop(body, EPOCH), id: inventory.dropId, createdAt: at, updatedAt: at, promoterId: null };
		this.skew = Array.from({ length: config.lines }, () => (faults.on("skew") ? Math.round((faults.draw("skew") - 0.5) * SKEW_BOUND_MS) : 0));
		this.lines = Array.from({ length: config.lines }, (_, k) => {
			const storage = sqliteStorage(sqlJs);
			const core = new LineCore(new Sql(storage.sql), (fn) => storage.transactionSync(fn));
			core.configure({ dropId: this.drop.id, line: k, lines: config.lines, opensAt: this.drop.opensAt, closesAt: this.drop.closesAt });
			return { object: new SimObject("line", `line ${k}`, events), storage, core };
		});
		this.pacer = new SimObject("pacer", "pacer", events);
		this.storage = sqliteStorage(sqlJs);
		this.build();
		inventory.tellPacer = () => this.stockMoved();
		inventory.tellLostAt = (from) => this.tellLost(from.index, from.name);
		// The seed's commitment is a SHA-256 the simulation never checks: the seed alone decides the shuffle.
		const seed = seedHex(config.seed, "prequeue");
		this.core.commitSeed(seed, `sim:${seed}`);
		this.core.storeConfig(this.drop);
	}

	private clock(): number {
		return this.events.clock();
	}

	/** Line `k`'s clock: the simulation's, off by its skew. */
	private lineClock(k: number): number {
		return this.events.clock() + this.skew[k]!;
	}

	/** Line `k` restarts between two requests: a new core over the same database (its config and joins are stored, its memory is not). */
	private restartLine(k: number): void {
		const l = this.lines[k]!;
		l.object.reset(this.config.hopMs);
		l.core = new LineCore(new Sql(l.storage.sql), (fn) => l.storage.transactionSync(fn));
		this.faults.note(this.events.now, [`line ${k}`], "restarted: memory lost, storage kept");
	}

	get soldOut(): boolean {
		return this.core.soldOut();
	}

	get nextPosition(): number {
		return this.core.state().next_position;
	}

	get admittedThrough(): number {
		return this.core.state().admitted_through;
	}

	lineOf(fanId: string): number {
		return lineOf(fanId, this.lines.length);
	}

	/**
	 * A join at the fan's line (LineCore.join), proved by the fan's secret as the runner's fans
	 * send it (`secret`, standing for its SHA-256); a join that owes the pacer a wake sends it,
	 * not awaited, as the line does. Under the message fault the line's answer is lost on its
	 * way back (`lost`: the fan's client hears nothing), and when that fan's join comes again
	 * the line must answer the place it gave them: one place a fan.
	 */
	join(fanId: string, line: number, secret: string, answer: (a: JoinAnswer) => void, lost: () => void): void {
		const l = this.lines[line]!;
		const acceptNew = !(this.published?.soldOut ?? false);
		l.object.call(this.config.cpu.join, () => {
			const { outcome, wakePacer } = l.core.join({ fanId, ip: "127.0.0.1", limits: JOIN_LIMITS, acceptNew, proof: { kind: "secret", offered: secret, fresh: secret }, lines: this.lines.length }, this.lineClock(line));
			if (this.faults.strikes("restart", FAULT_RATES.restartLine, "line restarted")) this.events.after(1, () => this.restartLine(line));
			if (wakePacer) this.events.after(this.config.hopMs, () => this.pacer.call(this.config.cpu.read, () => this.wakeIfSleeping(), NO_ANSWER, 0, undefined, "wake"));
			if (!outcome.ok) return this.fail(`line ${line} refused a join of fan ${fanId}: ${outcome.status} ${outcome.code}`);
			if (outcome.value.status === "sold_out") return { kind: "sold_out" } as const;
			const place = answerOf(outcome.value.entry);
			const before = this.lostJoins.get(fanId);
			if (before !== undefined) {
				if (!outcome.value.rejoined || !samePlace(before, place)) this.fail(`line ${line} gave fan ${fanId}, joining again after its answer was lost, ${describePlace(place)}${outcome.value.rejoined ? "" : " as a new join"}; its first join had ${describePlace(before)}`);
				this.rejoinsChecked++;
			}
			return place;
		}, (a) => {
			if (!this.faults.strikes("message", FAULT_RATES.joinAnswerLost, "line's join answer lost")) return answer(a);
			if (this.faults.trace) this.faults.note(this.events.now, [`line ${line}`, `fan ${fanId}`], `line ${line}'s answer to the join of fan ${fanId} lost (${a.kind === "sold_out" ? "sold out" : describePlace(a)})`);
			if (a.kind !== "sold_out" && !this.lostJoins.has(fanId)) this.lostJoins.set(fanId, a);
			lost();
		}, this.config.hopMs, undefined, "join");
	}

	/**
	 * The pacer as its object's constructor builds it over its storage: its core (each batch
	 * checked as it goes in) and the tick's sequence, with this instance's ports. Once the
	 * pacer restarts they stop it: its storage throws, its calls' answers never arrive, and
	 * it sets no alarm and publishes nothing more.
	 */
	private build(): void {
		const me = instanceOf(this.pacer, this.storage);
		this.instance = me;
		this.core = new CheckedPacerCore(new Sql(me.sql), me.transaction, this.config.accessSeconds * 1000, (admitted, moved) => this.checkBatch(admitted, moved));
		const cpu = this.config.cpu;
		this.ticks = new PacerTick(this.core, {
			clock: () => this.clock(),
			setAlarm: (at) => {
				if (me.alive()) this.setAlarm(at);
			},
			openLine: (k, input) => me.gate(this.tickCall(`line ${k}`, (answer) => this.atLine(k, cpu.seal, "open", (core) => core.open(input.firstSlot), answer))),
			sealLine: (k, ask) => me.gate(this.tickCall(`line ${k}`, (answer) => this.atLine(k, cpu.seal, "seal", (core) => core.seal(ask, this.lineClock(k)), answer))),
			shardTotals: (_drop, k, look) => {
				this.lookSentAt.set(k, this.clock());
				return me.gate(this.tickCall(`shard ${k}`, (answer) => this.inventory.look(k, look, (counts) => answer({ ...counts, named: NO_UNITS }))));
			},
			windowTotals: () => Promise.reject(new Error("the simulated drop has no sale windows")),
			ticked: () => {
				if (me.alive()) this.publish();
			},
		});
	}

	/** A batch admitted: never more than the configured size, and the watermark moved by exactly the batch. */
	private checkBatch(admitted: number, moved: number): void {
		if (admitted > this.config.batchSize) this.fail(`a batch of ${admitted} > the configured ${this.config.batchSize}`);
		if (moved !== admitted) this.fail(`a batch of ${admitted} moved the watermark by ${moved}`);
		if (admitted > 0) this.batchesChecked++;
	}

	/** The pacer restarts: storage (its alarm too) kept, memory lost; a tick it was running fails, and its alarm is run again. */
	private restartPacer(): void {
		this.restarts++;
		this.pacer.reset(this.config.hopMs);
		this.build();
		this.faults.note(this.events.now, ["pacer"], "restarted: memory lost, storage kept");
	}

	/** The pacer's storage alarm: one at a time, a later one replaces it; it runs the tick as one of the pacer's requests. */
	private setAlarm(at: number): void {
		this.alarmAt = at;
		const f = this.faults;
		// A slow machine's alarm (config.alarmSlowdown), then the fault's lateness on top.
		const slow = Math.floor(Math.max(0, at - EPOCH - this.events.now) * (this.config.alarmSlowdown - 1));
		const late = slow + (f.strikes("alarm", FAULT_RATES.alarmLate, "alarm late") ? Math.floor(f.draw("alarm") * FAULT_RATES.alarmLateMaxMs) : 0);
		this.events.at(at - EPOCH + late, () => {
			if (this.alarmAt !== at) return;
			this.alarmAt = null;
			const twice = f.strikes("alarm", FAULT_RATES.alarmTwice, "alarm twice");
			this.pacer.call(this.config.cpu.tick, () => this.ticks.tick(), () => {
				if (twice) this.events.after(Math.floor(f.draw("alarm") * 1000), () => this.pacer.call(this.config.cpu.tick, () => this.ticks.tick(), NO_ANSWER, 0, () => this.alarmFailed(), "alarm"));
			}, 0, () => this.alarmFailed(), "alarm");
		});
	}

	/** An alarm whose instance restarted under it failed: Cloudflare runs it again a little later. */
	private alarmFailed(): void {
		this.faults.note(this.events.now, ["pacer"], "the alarm failed with its instance: run again in 2 s");
		this.setAlarm(this.clock() + ALARM_RETRY_MS);
	}

	/** A shard's call to the pacer's `stockMoved`: the next tick looks at every shard (as waiting-room.ts). */
	private stockMoved(): Promise<void> {
		return new Promise<void>((resolve) =>
			this.events.after(this.config.hopMs, () =>
				this.pacer.call(this.config.cpu.read, () => {
					this.core.dry.told();
					this.wakeIfSleeping();
				}, () => {
					this.events.touched = true;
					resolve();
				}, this.config.hopMs, undefined, "stockMoved"),
			),
		);
	}

	/**
	 * A shard's tell that stock moved was lost: the pacer must find that stock by its own looks
	 * (every DRY_LOOK_MS while it trusts the shards to tell it, every second otherwise). Unless
	 * it has sold out or sleeps (nobody waits to be admitted to the stock), a look at that
	 * shard must be sent after the tell, within DRY_LOOK_MS and the slack its own faults take.
	 */
	private tellLost(shard: number, from: string): void {
		const at = this.clock();
		this.lostTells++;
		this.events.after(DRY_LOOK_MS + LOST_TELL_SLACK_MS, () => {
			const state = this.core.state();
			// A look sent to that shard after the tell, not one that was on its way already (its counts predate the stock moving).
			if ((this.lookSentAt.get(shard) ?? -Infinity) > at) return void this.lostTellsFound++;
			if (state.sold_out === 1 || state.sleeping === 1) return;
			this.fail(`${from}'s tell to the pacer was lost ${((this.clock() - at) / 1000).toFixed(1)} s ago and the pacer has not looked at the shards since: stock it frees is left unsold while fans wait`);
		});
	}

	/** What the checks of lost joins' answers and lost tells saw, for the summary of a faulty run. */
	faultChecks(): string {
		return `lost answers and tells: ${this.rejoinsChecked} joins sent again after a lost answer, each answered the place the first was given; ${this.lostTellsFound} of ${this.lostTells} lost tells to the pacer followed by its own look at the shards within ${(DRY_LOOK_MS + LOST_TELL_SLACK_MS) / 1000} s (the others: sold out or nobody waiting)`;
	}

	private wakeIfSleeping(): void {
		if (this.core.wake()) this.setAlarm(this.clock());
	}

	/** The drop is configured: the pacer's first alarm, as its settings ask. */
	start(): void {
		const at = this.core.alarmForSettings(this.drop, this.clock());
		if (at !== null) this.setAlarm(at);
	}

	/**
	 * A call of the pacer's at a line or a shard (`send` puts it in that object's queue and
	 * gets its answer). Under the pacer-calls fault it is lost, its answer lost, or it arrives
	 * late (sometimes past the tick's bound, so after the tick gave up on it); under the
	 * pacer-restart fault the pacer restarts a moment after it goes out, mid-tick.
	 */
	private tickCall<T>(to: string, send: (answer: (value: T) => void) => void): Promise<T> {
		const f = this.faults;
		const lost = f.strikes("pacer-calls", FAULT_RATES.tickCallLost, "pacer's call lost");
		const answerLost = !lost && f.strikes("pacer-calls", FAULT_RATES.tickAnswerLost, "pacer's call answer lost");
		const late = f.strikes("pacer-calls", FAULT_RATES.tickCallLate, "pacer's call late") ? Math.floor(f.draw("pacer-calls") * FAULT_RATES.tickCallLateMaxMs) : 0;
		if (f.trace && (lost || answerLost || late > 0)) f.note(this.events.now, ["pacer", to], `the pacer's call to ${to}${lost ? " lost" : ""}${answerLost ? ": its answer lost" : ""}${late > 0 ? `, ${late} ms late` : ""}`);
		if (f.strikes("pacer-restart", FAULT_RATES.restartPacer, "pacer restarted mid-tick")) this.events.after(1, () => this.restartPacer());
		return new Promise<T>((resolve) => {
			if (lost) return;
			this.events.after(this.config.hopMs + late, () =>
				send((value) => {
					if (answerLost) return;
					this.events.touched = true;
					resolve(value);
				}),
			);
		});
	}

	/** A call at line `k`: its turn in the line's queue, then one hop back. */
	private atLine<T>(k: number, cpuMs: number, method: string, decide: (core: LineCore) => T, answer: (value: T) => void): void {
		const line = this.lines[k]!;
		line.object.call(cpuMs, () => decide(line.core), answer, this.config.hopMs, undefined, method);
	}

	/** The Worker's copy of the watermark is up to a second old (its cache). */
	private publish(): void {
		const snapshot = watermarkOf(this.core, this.drop, this.clock());
		this.events.after(this.config.watermarkLagMs, () => {
			if (this.published === null || snapshot.at >= this.published.at) {
				this.published = snapshot;
				this.onPublish?.(snapshot);
			}
		});
	}

	/** A fan's position from the published watermark: the shuffled pre-queue, or their slot's block (null: not placed in it yet). */
	positionOf(join: JoinAnswer): number | null {
		const w = this.published;
		if (w === null || !w.opened) return null;
		if (join.kind === "prequeue") return w.seed === null || w.prequeue === null ? null : prequeuePosition(w.seed, w.prequeue, join.line, join.seq);
		if (join.kind === "slot") return placedPosition(w.placements, join.slot, join.line, join.index);
		return null;
	}

	/**
	 * A fan whose slot the watermark no longer lists (it keeps the last minute's): the Worker
	 * asks their line (LineCore.locate), which knows the position once its slot was placed.
	 */
	locate(fanId: string, line: number, answer: (position: number | null) => void): void {
		this.lines[line]!.object.call(this.config.cpu.read, () => {
			const found = this.lines[line]!.core.locate(fanId);
			return found.ok ? found.value.position : null;
		}, answer, this.config.hopMs, undefined, "locate");
	}

	/** When the batch that admitted `position` went in, asked of the pacer (PacerCore.admittedAt) by a Worker whose watermark no longer lists it; null when none did. */
	admittedAt(position: number, answer: (at: number | null) => void): void {
		this.pacer.call(this.config.cpu.read, () => {
			const found = this.core.admittedAt(position);
			return found.ok ? found.value.at : null;
		}, answer, this.config.hopMs, undefined, "admittedAt");
	}

	/**
	 * The watermark readers: about one read a second per data center, spread over the second, for as long as fans ask the
	 * Worker (a read is its cache running out under a fan's request): from the drop's making until it sells out and every
	 * fan is done.
	 */
	readers(random: () => number, fansActive: () => boolean): void {
		const reading = () => !(this.published?.soldOut ?? false) || fansActive();
		const second = (start: number) => {
			if (!reading()) return;
			for (let c = 0; c < this.config.colos; c++) {
				this.events.at(start + Math.floor(random() * 1000), () => {
					if (!reading()) return;
					// The pacer's watermark(): stale totals are gathered first, and a sleeping pacer woken.
					// Fresh totals (nearly every read) answer at once: no promise to settle before the clock moves.
					this.pacer.call(this.config.cpu.read, () => {
						// Before the first tick the Worker's copy is what this read returns: the drop as made, not open yet.
						if (this.published === null && !this.firstReadPublishing) {
							this.firstReadPublishing = true;
							this.publish();
						}
						return this.core.readerFindsTotalsStale(this.clock()) ? this.gatherForReader() : undefined;
					}, NO_ANSWER, 0, undefined, "watermark");
				});
			}
			this.events.at(start + 1000, () => second(start + 1000));
		};
		// From the drop's making: fans in the pre-queue ask the Worker too, which reads the watermark to answer them.
		second(0);
	}

	private async gatherForReader(): Promise<void> {
		const me = this.instance;
		await this.ticks.refreshTotals(this.drop);
		if (me.alive()) this.wakeIfSleeping();
	}

	close(): void {
		for (const l of this.lines) l.storage.close();
		this.storage.close();
	}
}

function answerOf(entry: LineEntry): JoinAnswer {
	if (entry.prequeueSeq !== null) return { kind: "prequeue", line: entry.line, seq: entry.prequeueSeq };
	return { kind: "slot", line: entry.line, slot: entry.slot!, index: entry.slotIndex! };
}
