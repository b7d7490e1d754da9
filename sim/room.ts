// The waiting room in the simulation: the lines (each an object numbering its
// joins: the pre-queue before the opening, then a slot and an index in it), and the
// pacer (one object) that each tick seals the lines' finished slots, lays them out
// with the engine's placement code, looks at the shards' totals, admits the next
// batch by the engine's admission policy, and publishes the watermark the Worker
// answers polls from a second later. Positions come from src/waiting-room/placement.ts
// and batch sizes from src/waiting-room/admission.ts, called directly.
import { activeFans, nextBatchSize } from "../src/waiting-room/admission";
import { lineOf, placeSlots, prequeuePosition, slotOf, type LineReport } from "../src/waiting-room/placement";
import { BUSY_TICK_MS, TOTALS_MAX_AGE_MS } from "../src/waiting-room/timing";
import { SimObject } from "./objects";
import { seedHex, type EventQueue } from "./events";
import type { Inventory } from "./shards";
import type { SimConfig } from "./config";

interface Line {
	object: SimObject;
	prequeue: number;
	/** The pre-queue closed with this line's first seal: later joins take slots. */
	closed: boolean;
	/** Joins per slot not yet sealed. */
	open: Map<number, number>;
	sealedThrough: number;
}

export type JoinAnswer = { kind: "sold_out" } | { kind: "prequeue"; line: number; seq: number } | { kind: "slot"; line: number; slot: number; index: number };

/** What the Worker answers polls from: the pacer's last watermark, as published. */
export interface Published {
	prequeueCounts: number[] | null;
	placements: Map<number, number>;
	admittedThrough: number;
	batches: [through: number, at: number][];
	soldOut: boolean;
	/** Fans admitted a second over the last minute, as the pacer measured it (null: none yet). */
	pacePerSecond: number | null;
}

export class Room {
	readonly lines: Line[];
	readonly pacer: SimObject;
	readonly seed: string;
	prequeueCounts: number[] | null = null;
	/** Filled by the end-of-run checks, for the summary. */
	positionsChecked = 0;
	admittedChecked = 0;
	nextPosition = 1;
	admittedThrough = 0;
	private placements = new Map<number, number>();
	private batches: [number, number][] = [];
	/** Each batch's size and the buyers counted when it went in, for the pacer's `active`. */
	private batchBuyers: { at: number; count: number; buyersBefore: number }[] = [];
	private lastBatchAt = -Infinity;
	private lastBusyAt: number | null = null;
	private look: { stock: number[]; remaining: number; held: number; buyers: number; at: number } | null = null;
	private looking = false;
	private soldOut = false;
	published: Published = { prequeueCounts: null, placements: new Map(), admittedThrough: 0, batches: [], soldOut: false, pacePerSecond: null };

	constructor(
		private readonly events: EventQueue,
		private readonly config: SimConfig,
		private readonly inventory: Inventory,
		private readonly fail: (what: string) => never,
	) {
		this.lines = Array.from({ length: config.lines }, (_, k) => ({ object: new SimObject("line", `line ${k}`, events), prequeue: 0, closed: false, open: new Map(), sealedThrough: -1 }));
		this.pacer = new SimObject("pacer", "pacer", events);
		this.seed = seedHex(config.seed, "prequeue");
	}

	lineOf(fanId: string): number {
		return lineOf(fanId, this.lines.length);
	}

	/** A join at the fan's line: a pre-queue place before the opening, else the current slot (the next one if it was sealed). */
	join(line: number, answer: (a: JoinAnswer) => void): void {
		const l = this.lines[line]!;
		l.object.call(this.config.cpu.join, (): JoinAnswer => {
			if (this.soldOut) return { kind: "sold_out" };
			const now = this.events.now;
			if (!l.closed) return { kind: "prequeue", line, seq: ++l.prequeue };
			const slot = Math.max(slotOf(now), l.sealedThrough + 1);
			const index = l.open.get(slot) ?? 0;
			l.open.set(slot, index + 1);
			return { kind: "slot", line, slot, index };
		}, answer, this.config.hopMs);
	}

	/** The pacer's alarm: from the opening, every BUSY_TICK_MS until the drop sells out. */
	start(): void {
		this.events.at(this.config.opensAt, () => this.tick());
	}

	private tick(): void {
		if (this.soldOut) return;
		const now = this.events.now;
		if (this.look === null || now - this.look.at >= TOTALS_MAX_AGE_MS) this.lookAtShards();
		const sealThrough = slotOf(now) - 1;
		const first = this.prequeueCounts === null;
		const asked = this.lines.filter((l) => first || l.open.size > 0);
		const reports: LineReport[] = [];
		let waiting = asked.length;
		const whenAll = () => this.pacer.call(this.config.cpu.tick, () => this.place(first, reports), () => this.events.after(BUSY_TICK_MS, () => this.tick()));
		if (waiting === 0) return whenAll();
		for (const [k, l] of this.lines.entries()) {
			if (!asked.includes(l)) continue;
			l.object.call(this.config.cpu.seal, () => {
				// The pre-queue closes with the first seal; later joins take slots.
				l.closed = true;
				const slots = [...l.open.entries()].filter(([s]) => s <= sealThrough).map(([slot, count]) => ({ slot, count }));
				for (const s of slots) l.open.delete(s.slot);
				l.sealedThrough = Math.max(l.sealedThrough, sealThrough);
				return { line: k, prequeue: l.prequeue, slots };
			}, (r) => {
				reports.push({ line: r.line, slots: r.slots });
				if (first) (this.prequeueCounts ??= new Array<number>(this.lines.length).fill(0))[r.line] = r.prequeue;
				if (--waiting === 0) whenAll();
			}, this.config.hopMs);
		}
	}

	/** The pacer's step once the lines have answered: place what was sealed, admit a batch, publish. */
	private place(first: boolean, reports: LineReport[]): void {
		const now = this.events.now;
		if (first) this.nextPosition = 1 + (this.prequeueCounts ?? []).reduce((a, b) => a + b, 0);
		reports.sort((a, b) => a.line - b.line);
		const laid = placeSlots(this.nextPosition, reports);
		for (const p of laid.placements) this.placements.set(p.slot * this.lines.length + p.line, p.start);
		this.nextPosition = laid.nextPosition;
		if (this.look !== null && now - this.lastBatchAt >= this.config.intervalMs) this.admit(now);
		this.publish(now);
	}

	/** The pacer's batch (pacer-core.ts admitNextBatch): active fans are those admitted within an access window, less buyers since. */
	private admit(now: number): void {
		const look = this.look!;
		const windowStart = now - this.config.accessSeconds * 1000;
		const inWindow = this.batchBuyers.filter((b) => b.at > windowStart);
		const admitted = inWindow.reduce((a, b) => a + b.count, 0);
		const active = activeFans(admitted, look.buyers, inWindow[0]?.buyersBefore ?? null);
		const n = nextBatchSize({
			batchSize: this.config.batchSize,
			activeMultiple: this.config.activeMultiple,
			remaining: look.remaining,
			held: look.held,
			active,
			waiting: this.nextPosition - 1 - this.admittedThrough,
			idleMs: now - Math.max(this.lastBusyAt ?? now, this.lastBatchAt === -Infinity ? 0 : this.lastBatchAt),
		});
		if (n <= 0) return;
		if (n > this.config.batchSize) this.fail(`a batch of ${n} > the configured ${this.config.batchSize}`);
		this.admittedThrough += n;
		this.batches.push([this.admittedThrough, now]);
		this.batchBuyers.push({ at: now, count: n, buyersBefore: look.buyers });
		this.lastBatchAt = now;
	}

	private publish(now: number): void {
		const recent = this.batches.filter(([, at]) => at > now - 60_000);
		const first = recent[0];
		const before = this.batches[this.batches.length - recent.length - 1];
		const admitted = recent.length === 0 ? 0 : this.admittedThrough - (before?.[0] ?? 0);
		const span = first === undefined ? 0 : Math.max(this.config.intervalMs, now - first[1] + this.config.intervalMs);
		const snapshot: Published = {
			prequeueCounts: this.prequeueCounts,
			placements: this.placements,
			admittedThrough: this.admittedThrough,
			batches: this.batches,
			soldOut: this.soldOut,
			pacePerSecond: admitted > 0 ? (admitted * 1000) / span : null,
		};
		// The Worker's copy is up to a second old (the watermark's cache).
		this.events.after(this.config.watermarkLagMs, () => {
			if (snapshot.admittedThrough >= this.published.admittedThrough) this.published = snapshot;
		});
	}

	/** The pacer's look at every shard's totals (one call each, at most once a second), bringing the stock it saw last time. */
	private lookAtShards(): void {
		if (this.looking) return;
		this.looking = true;
		const shards = this.inventory.shards;
		const peerStock = this.look?.stock ?? null;
		const stock = new Array<number>(shards.length).fill(0);
		let held = 0;
		let buyers = 0;
		let inFlight = 0;
		let waiting = shards.length;
		for (const [k] of shards.entries()) {
			this.inventory.look(k, peerStock, (t) => {
				stock[k] = t.remaining;
				held += t.held;
				buyers += t.buyers;
				inFlight += t.given - t.received;
				if (--waiting > 0) return;
				this.looking = false;
				const remaining = stock.reduce((a, b) => a + b, 0);
				this.look = { stock, remaining, held, buyers, at: this.events.now };
				if (held > 0) this.lastBusyAt = this.events.now;
				if (remaining === 0 && held === 0 && inFlight <= 0) {
					this.soldOut = true;
					this.publish(this.events.now);
				}
			});
		}
	}

	/** A fan's position from the published watermark: the shuffled pre-queue, or their slot's block. */
	positionOf(join: JoinAnswer): number | null {
		const w = this.published;
		if (join.kind === "prequeue") return w.prequeueCounts === null ? null : prequeuePosition(this.seed, w.prequeueCounts, join.line, join.seq);
		if (join.kind === "slot") {
			const start = w.placements.get(join.slot * this.lines.length + join.line);
			return start === undefined ? null : start + join.index;
		}
		return null;
	}

	/** The watermark readers: about one read a second per data center, spread over the second, until the drop sells out. */
	readers(random: () => number): void {
		const second = (start: number) => {
			if (this.soldOut) return;
			for (let c = 0; c < this.config.colos; c++) {
				this.events.at(start + Math.floor(random() * 1000), () => {
					if (!this.soldOut) this.pacer.call(this.config.cpu.read, () => null, () => undefined);
				});
			}
			this.events.at(start + 1000, () => second(start + 1000));
		};
		this.events.at(this.config.opensAt, () => second(this.config.opensAt));
	}
}
