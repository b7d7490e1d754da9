// The waiting room in the simulation, on the engine's own cores over sql.js: each
// line is a LineCore (join, open, seal) and the pacer a PacerCore (open, seal and
// place, the shards' totals, admitIfDue, the sell-out), each in its own database
// and behind its own request queue. The pacer's tick follows the pacer object's
// (src/waiting-room/waiting-room.ts, runTick) step for step, with its calls to the
// lines and shards going over the simulated network; what the Worker answers polls
// from is watermarkOf's document, a second old (its cache).
import { type DropConfig, parseCreateDrop } from "../src/drops/rules";
import { sumShardTotals } from "../src/inventory/drop-shards";
import type { ShardTotals } from "../src/inventory/ledger";
import { Sql } from "../src/shared/sql";
import { type LineEntry, LineCore, type SealReport } from "../src/waiting-room/line-core";
import { PacerCore } from "../src/waiting-room/pacer-core";
import { lineOf, placedPosition, prequeuePosition, slotOf } from "../src/waiting-room/placement";
import { type Watermark, watermarkOf } from "../src/waiting-room/watermark";
import { NO_ANSWER, SimObject } from "./objects";
import { EPOCH, seedHex, type EventQueue } from "./events";
import { type SimStorage, type SqlJs, sqliteStorage } from "./sqlite";
import type { Inventory } from "./shards";
import type { SimConfig } from "./config";
import { FAULT_RATES, SKEW_BOUND_MS, type Faults } from "./faults";


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
	readonly core: PacerCore;
	/** Filled by the end-of-run checks, for the summary. */
	positionsChecked = 0;
	admittedChecked = 0;
	batchesChecked = 0;
	/** What the Worker answers polls from: the pacer's last watermark, as published (null before the first). */
	published: Watermark | null = null;
	/** Told each watermark as it is published (the fans wake those it could tell something). */
	onPublish: ((w: Watermark) => void) | null = null;
	private alarmAt: number | null = null;
	private ticking: Promise<void> | null = null;
	private gathering: Promise<ShardTotals | null> | null = null;
	private hint: { peerStock: number[]; inFlight: number; held: number } | null = null;
	/** The shards' tells counted when the last look began (the pacer's `lookMoves`). */
	private lookMoves = 0;
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
		this.core = new PacerCore(new Sql(this.storage.sql), (fn) => this.storage.transactionSync(fn), config.accessSeconds * 1000);
		// The seed's commitment is a SHA-256 the simulation never checks: the seed alone decides the shuffle.
		const seed = seedHex(config.seed, "prequeue");
		this.core.commitSeed(seed, `sim:${seed}`);
		this.core.storeConfig(this.drop);
		inventory.tellPacer = () => this.pacer.call(this.config.cpu.read, () => this.stockMoved(), NO_ANSWER, 0, undefined, "stockMoved");
	}

	/** A shard watching a dry drop saw stock come back or a sale (waiting-room.ts `stockMoved`): the pacer looks again on its next tick. */
	private stockMoved(): void {
		this.core.dry.moves++;
		this.core.dry.watching = false;
		this.wakeIfSleeping();
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

	/** A join at the fan's line (LineCore.join); a join that owes the pacer a wake sends it, not awaited, as the line does. */
	join(fanId: string, line: number, answer: (a: JoinAnswer) => void): void {
		const l = this.lines[line]!;
		const acceptNew = !(this.published?.soldOut ?? false);
		l.object.call(this.config.cpu.join, () => {
			const { outcome, wakePacer } = l.core.join({ fanId, ip: "127.0.0.1", limits: JOIN_LIMITS, acceptNew, proof: { kind: "identity" }, lines: this.lines.length }, this.lineClock(line));
			if (this.faults.strikes("restart", FAULT_RATES.restartLine, "line restarted")) this.events.after(1, () => this.restartLine(line));
			if (wakePacer) this.events.after(this.config.hopMs, () => this.pacer.call(this.config.cpu.read, () => this.wakeIfSleeping(), NO_ANSWER, 0, undefined, "wake"));
			if (!outcome.ok) return this.fail(`line ${line} refused a join: ${outcome.status} ${outcome.code}`);
			if (outcome.value.status === "sold_out") return { kind: "sold_out" } as const;
			return answerOf(outcome.value.entry);
		}, answer, this.config.hopMs, undefined, "join");
	}

	/** The pacer's storage alarm: one at a time, a later one replaces it; it runs the tick as one of the pacer's requests. */
	private setAlarm(at: number): void {
		this.alarmAt = at;
		const f = this.faults;
		const late = f.strikes("alarm", FAULT_RATES.alarmLate, "alarm late") ? Math.floor(f.draw("alarm") * FAULT_RATES.alarmLateMaxMs) : 0;
		this.events.at(at - EPOCH + late, () => {
			if (this.alarmAt !== at) return;
			this.alarmAt = null;
			const twice = f.strikes("alarm", FAULT_RATES.alarmTwice, "alarm twice");
			this.pacer.call(this.config.cpu.tick, () => this.tick(), () => {
				if (twice) this.events.after(Math.floor(f.draw("alarm") * 1000), () => this.pacer.call(this.config.cpu.tick, () => this.tick(), NO_ANSWER, 0, undefined, "alarm"));
			}, 0, undefined, "alarm");
		});
	}

	private wakeIfSleeping(): void {
		if (this.core.wake()) this.setAlarm(this.clock());
	}

	/** The drop is configured: the pacer's first alarm, as its settings ask. */
	start(): void {
		const at = this.core.alarmForSettings(this.drop, this.clock());
		if (at !== null) this.setAlarm(at);
	}

	/** One tick at a time: an alarm that comes while a tick awaits the lines or shards runs after it. */
	private async tick(): Promise<void> {
		while (this.ticking !== null) await this.ticking;
		const run = this.runTick().finally(() => this.publish());
		this.ticking = run;
		try {
			await run;
		} finally {
			if (this.ticking === run) this.ticking = null;
		}
	}

	/** The pacer's tick (waiting-room.ts runTick) for a drop that is neither paused, cancelled nor closed. */
	private async runTick(): Promise<void> {
		const start = this.core.startTick(this.clock());
		if (start.kind === "idle" || start.kind === "cancelled" || start.kind === "paused") return;
		if (start.kind === "wait") return this.setAlarm(start.until);
		const drop = start.drop;
		if (start.kind === "open") await this.open(drop);
		const sealed = this.core.soldOut() || this.core.sealPace.due(this.clock()) ? await this.seal(drop) : 0;
		if (this.core.soldOut()) return this.afterSellOut(sealed);
		let now = this.clock();
		let totals: ShardTotals | null = null;
		if (this.core.totalsDue(drop, now)) {
			totals = await this.refreshTotals(drop);
			now = this.clock();
		}
		if (totals !== null) {
			if (this.core.soldOut()) return this.afterSellOut(sealed);
			const before = this.admittedThrough;
			const admitted = this.core.admitIfDue(drop, totals, now);
			if (admitted > this.config.batchSize) this.fail(`a batch of ${admitted} > the configured ${this.config.batchSize}`);
			if (this.admittedThrough - before !== admitted) this.fail(`a batch of ${admitted} moved the watermark by ${this.admittedThrough - before}`);
			if (admitted > 0) this.batchesChecked++;
		}
		const next = this.core.endTick(sealed, now);
		if (next !== null) this.setAlarm(next);
	}

	private afterSellOut(sealed: number): void {
		const next = this.core.afterSellOut(sealed, this.clock());
		if (next !== null) this.setAlarm(next);
	}

	/** A call at line `k` over the network: one hop there, its turn in the line's queue, one hop back. */
	private atLine<T>(k: number, cpuMs: number, method: string, decide: (core: LineCore) => T): Promise<T> {
		const line = this.lines[k]!;
		return new Promise<T>((resolve) => {
			this.events.after(this.config.hopMs, () =>
				line.object.call(cpuMs, () => decide(line.core), (value) => {
					this.events.touched = true;
					resolve(value);
				}, this.config.hopMs, undefined, method),
			);
		});
	}

	private async open(drop: DropConfig): Promise<void> {
		const firstSlot = slotOf(Date.parse(drop.opensAt));
		const counts = await Promise.all(this.lines.map((_, k) => this.atLine(k, this.config.cpu.seal, "open", (core) => core.open(firstSlot).prequeue)));
		this.core.opened(firstSlot, counts, this.clock());
	}

	private async seal(drop: DropConfig): Promise<number> {
		const request = this.core.sealRequest(drop.lines, this.clock());
		if (request === null) return 0;
		const askedAt = this.clock();
		const wakes = this.core.sealPace.asking();
		const reports: SealReport[] = await Promise.all(request.lines.map((ask, k) => this.atLine(k, this.config.cpu.seal, "seal", (core) => core.seal(ask, this.lineClock(k)))));
		const placed = this.core.placeSealed(request, reports);
		this.core.sealPace.sealed(placed, askedAt, wakes);
		return placed;
	}

	/** The shards' totals, one gathering at a time (a reader and a tick that both find them stale share it). */
	private refreshTotals(drop: DropConfig): Promise<ShardTotals | null> {
		if (this.gathering !== null) return this.gathering;
		const run = this.gatherTotals(drop).finally(() => {
			this.gathering = null;
		});
		this.gathering = run;
		return run;
	}

	private async gatherTotals(drop: DropConfig): Promise<ShardTotals> {
		const reopens = this.core.reopens;
		const moves = this.core.dry.moves;
		this.core.dry.lookOwed = false;
		const hint = this.hint;
		// As the pacer's gatherTotals: the last look found nothing free anywhere with holds outstanding, and no shard told of
		// stock moving since it began, so each shard is asked to watch for a change.
		const watch = hint !== null && moves === this.lookMoves && hint.peerStock.every((n) => n === 0) && hint.inFlight === 0 && hint.held > 0;
		this.lookMoves = moves;
		const parts = await Promise.all(
			this.inventory.shards.map(
				(_, k) =>
					new Promise<Parameters<typeof sumShardTotals>[0][number]>((resolve) =>
						this.events.after(this.config.hopMs, () =>
							this.inventory.look(k, hint === null ? null : { peerStock: hint.peerStock, inFlight: hint.inFlight }, watch, (counts) => {
								this.events.touched = true;
								resolve({ ...counts, named: { free: 0, held: 0, sold: 0 } });
							}),
						),
					),
			),
		);
		const gathered = sumShardTotals(parts);
		this.hint = { peerStock: gathered.perShard, inFlight: gathered.inFlight, held: gathered.held };
		const totals = { remaining: gathered.remaining, held: gathered.held, sold: gathered.sold, buyers: gathered.buyers };
		// A tell that came while the shards were read: the counts may predate it, so the drop is not watched on them.
		this.core.recordTotals(drop, totals, reopens, this.clock(), watch && moves === this.core.dry.moves);
		// A watched look went out, and stock was found (or moved meanwhile): the shards are shown the new look at once.
		if (watch && !this.core.dry.watching) this.core.dry.lookOwed = true;
		return totals;
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

	/**
	 * The watermark readers: about one read a second per data center, spread over the second, for as long as fans ask the
	 * Worker (a read is its cache running out under a fan's request): until the drop sells out and every fan is done.
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
					this.pacer.call(this.config.cpu.read, () => (this.core.readerFindsTotalsStale(this.clock()) ? this.gatherForReader() : undefined), NO_ANSWER, 0, undefined, "watermark");
				});
			}
			this.events.at(start + 1000, () => second(start + 1000));
		};
		this.events.at(this.config.opensAt, () => second(this.config.opensAt));
	}

	private async gatherForReader(): Promise<void> {
		await this.refreshTotals(this.drop);
		this.wakeIfSleeping();
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
