// The pacer's tick as one sequence: open the drop, seal the lines' slots and place
// them, gather the shards' totals, admit the next batch, and set the next alarm,
// around the pacer core's decisions (pacer-core.ts). The pacer object (waiting-room.ts)
// and the simulator (sim/room.ts) both run this code, each handing it its ports: the
// clock, the storage's alarm, and the calls to the lines and the shards, which may
// throw or never answer as an object's RPCs do (each step is bounded and retried on
// a later tick). The memory here (the tick and the gathering under way, the stock at
// the last look) is the instance's: a restarted pacer starts with none.
import { hasClosed, type DropConfig } from "../drops/rules";
import { setStateOf } from "../drops/lifecycle";
import { type StockHint, sumShardTotals } from "../inventory/drop-shards";
import type { ShardCountsWithUnits } from "../inventory/inventory-shard";
import type { ShardTotals } from "../inventory/ledger";
import type { ReturnsLine } from "../inventory/returns-line";
import type { PacerCore } from "./pacer-core";
import type { SealInput, SealReport } from "./line-core";
import { slotOf } from "./placement";
import { BUSY_TICK_MS, bounded } from "./timing";
import type { RoomConfig } from "./window-rooms";

/** What the pacer brings a shard at its look (the shard's `totals`). */
export type ShardLook = Partial<StockHint> & { state: ReturnType<typeof setStateOf>; returns?: ReturnsLine };

/** What a tick does outside the core: each call may throw, or never answer (it is bounded here). */
export interface TickPorts {
	clock(): number;
	/** The storage's alarm: the next tick at `at`. */
	setAlarm(at: number): Promise<void> | void;
	/** Line `k` closes its pre-queue and says its size. */
	openLine(k: number, input: { firstSlot: number }): Promise<{ prequeue: number }>;
	/** Line `k` stops taking joins into the slots asked and counts them. */
	sealLine(k: number, ask: SealInput): Promise<SealReport>;
	/** Shard `k` of the drop's counts, brought the pacer's look. */
	shardTotals(drop: DropConfig, k: number, look: ShardLook): Promise<ShardCountsWithUnits>;
	/** A sale window's room reads its window's counts beside the drop's stock (window-rooms.ts). */
	windowTotals(drop: RoomConfig & { saleWindow: string }): Promise<ShardTotals>;
	/** After every tick, however it ended (the line log's mail goes out; the simulator publishes the watermark). */
	ticked(): void;
}

export class PacerTick {
	private ticking: Promise<void> | null = null;
	/** The gathering of the shards' totals under way, which every caller meanwhile shares. */
	private gathering: Promise<ShardTotals | null> | null = null;
	/** Each shard's free stock at the last look, passed on to the shards so a dry one asks a rich one. */
	private stockHint: StockHint | undefined;
	/** The shards' tells counted when the last look began (core.dry.moves then). */
	private lookMoves = 0;

	constructor(
		private readonly core: PacerCore,
		private readonly ports: TickPorts,
	) {}

	/** One tick at a time: an alarm that comes while a tick awaits the lines or shards runs after it, never beside it. */
	async tick(): Promise<void> {
		while (this.ticking !== null) await this.ticking.catch(() => {});
		const run = this.runTick();
		this.ticking = run;
		try {
			await run;
		} finally {
			if (this.ticking === run) this.ticking = null;
			this.ports.ticked();
		}
	}

	/**
	 * The clock moves on while the lines and shards answer, so every decision reads it after
	 * the awaits before it: a batch, its turn and the spacing to the next count from when the
	 * batch goes in, and a drop that closed meanwhile admits nobody.
	 */
	private async runTick(): Promise<void> {
		const { core, ports } = this;
		const start = core.startTick(ports.clock());
		if (start.kind === "idle") return;
		if (start.kind === "cancelled") {
			// Nobody is admitted again; the joins the lines took before they heard of the cancel are placed, so the
			// published lastPosition covers every position a fan was told. The look at the totals carries the
			// cancel to every shard (the cancel route tells them too), and a look that did not reach them all is tried again.
			// As after a sell-out, it ticks while it places some and takes one more look a moment later, for a join
			// that went into the slot after the one in progress.
			const sealed = await this.seal(start.drop);
			if ((await this.refreshTotals(start.drop)) === null) return ports.setAlarm(ports.clock() + BUSY_TICK_MS);
			return this.afterSellOut(sealed);
		}
		if (start.kind === "paused") {
			// A pause stops admission, not joins: the lines still tell fans their positions, so the pacer places
			// them (lastPosition covers every position told) and admits nobody. As after a sell-out, it ticks
			// while it places some, takes one more look, then sleeps with no alarm until a line's join wakes it.
			return this.afterSellOut(await this.seal(start.drop));
		}
		if (start.kind === "wait") return ports.setAlarm(start.until);
		const drop = start.drop;
		if (start.kind === "open" && !(await this.open(drop))) return ports.setAlarm(ports.clock() + BUSY_TICK_MS);
		// Closed, the joins the lines took before the close are still placed (the lines take none after it).
		if (hasClosed(drop, ports.clock())) {
			await this.seal(drop);
			return;
		}

		// Sealing goes on after a sell-out: a join that reached its line in the second before
		// the Worker heard of it was told its position (one line tells at once) and must be
		// placed, so the published lastPosition covers every position a fan was told.
		// While nobody joins, the lines are sealed every few seconds, not every tick (SEAL_ACTIVE_MS).
		const sealed = core.soldOut() || core.sealPace.due(ports.clock()) ? await this.seal(drop) : 0;
		if (core.soldOut()) return this.afterSellOut(sealed);
		let now = ports.clock();
		let totals: ShardTotals | null = null;
		if (core.totalsDue(drop, now)) {
			totals = await this.refreshTotals(drop);
			now = ports.clock();
		}
		if (totals !== null) {
			if (hasClosed(drop, now)) return;
			if (core.soldOut()) return this.afterSellOut(sealed);
			core.admitIfDue(drop, totals, now);
		}
		// Nobody joining or waiting: no alarm; the pacer sleeps until a line or a reader wakes it.
		const next = core.endTick(sealed, now);
		if (next !== null) await ports.setAlarm(next);
	}

	private async afterSellOut(sealed: number): Promise<void> {
		const next = this.core.afterSellOut(sealed, this.ports.clock());
		if (next !== null) await this.ports.setAlarm(next);
	}

	/**
	 * Gathers the shards' totals (and passes each shard every shard's free stock) for the
	 * core to keep. Null when a shard did not answer: the totals stay as they were, and
	 * the next tick asks again. One gathering at a time: a reader and a tick that both find
	 * the totals stale share it, so no shard is handed the same look twice (a shard dates a
	 * look by the pacer's previous call to it, and a second call moments later would make an
	 * old look fresh).
	 */
	refreshTotals(drop: DropConfig): Promise<ShardTotals | null> {
		if (this.gathering !== null) return this.gathering;
		const run = this.gatherTotals(drop).finally(() => {
			this.gathering = null;
		});
		this.gathering = run;
		return run;
	}

	private async gatherTotals(drop: DropConfig): Promise<ShardTotals | null> {
		const { core, ports } = this;
		let totals: ShardTotals;
		const reopens = core.reopens;
		const moves = core.dry.moves;
		core.dry.lookOwed = false;
		// The last look found nothing free anywhere with holds outstanding, and no shard told of stock moving
		// since it began: each shard is asked to watch for a change (and trusts that look until the next).
		const hint = this.stockHint;
		const watch = hint !== undefined && moves === this.lookMoves && hint.peerStock.every((n) => n === 0) && hint.inFlight === 0 && hint.held > 0;
		this.lookMoves = moves;
		const window = (drop as RoomConfig).saleWindow;
		try {
			// A window's room reads its window's counts beside the drop's stock; the drop's pacer keeps the shards' looks.
			totals = await (window !== undefined ? bounded(ports.windowTotals({ ...drop, saleWindow: window }), "the window's totals") : this.lookAtShards(drop, hint, watch));
		} catch (err) {
			console.warn("inventory totals unavailable; admission waits a turn", err);
			return null;
		}
		// A tell that came while the shards were read: the counts may predate it, so the drop is not watched on them.
		const unmoved = moves === core.dry.moves;
		core.recordTotals(drop, totals, reopens, ports.clock(), watch && unmoved);
		// A watched look went out, and stock was found (or moved meanwhile): show the shards the new look at once.
		if (watch && !core.dry.watching) core.dry.lookOwed = true;
		return totals;
	}

	private async lookAtShards(drop: DropConfig, hint: StockHint | undefined, watch: boolean): Promise<ShardTotals> {
		const { from, waiting } = this.core.returnsLine(this.ports.clock());
		const look: ShardLook = { ...(hint && { ...hint, watch }), state: setStateOf(drop), ...(from === null ? {} : { returns: { from, waiting } }) };
		const parts = await bounded(Promise.all(Array.from({ length: drop.shards }, (_, k) => this.ports.shardTotals(drop, k, look))), "the shards' totals");
		const gathered = sumShardTotals(parts);
		this.stockHint = { peerStock: gathered.perShard, inFlight: gathered.inFlight, held: gathered.held };
		return { remaining: gathered.remaining, held: gathered.held, sold: gathered.sold, buyers: gathered.buyers };
	}

	/** The opening: every line closes its pre-queue and reports its size; then the pacer has the pre-queue's positions. False: a line did not answer. */
	async open(drop: DropConfig): Promise<boolean> {
		const firstSlot = slotOf(Date.parse(drop.opensAt));
		let counts: number[];
		try {
			counts = (await bounded(Promise.all(Array.from({ length: drop.lines }, (_, k) => this.ports.openLine(k, { firstSlot }))), "the lines' opening")).map((r) => r.prequeue);
		} catch (err) {
			console.warn("a line did not answer at the opening; trying again", err);
			return false;
		}
		this.core.opened(firstSlot, counts, this.ports.clock());
		return true;
	}

	/**
	 * Seals every slot up to the present one: each line stops taking joins into them and
	 * says how many it took; the core lays the blocks out after the last position. A
	 * line that does not answer leaves the slots unsealed until the next tick.
	 * Returns the fans placed.
	 */
	private async seal(drop: DropConfig): Promise<number> {
		const { core, ports } = this;
		const request = core.sealRequest(drop.lines, ports.clock());
		if (request === null) return 0;
		const askedAt = ports.clock();
		const wakes = core.sealPace.asking();
		let reports: SealReport[];
		try {
			reports = await bounded(Promise.all(request.lines.map((ask, k) => ports.sealLine(k, ask))), "the lines' seal");
		} catch (err) {
			console.warn("a line did not answer; its slots are sealed on the next tick", err);
			return 0;
		}
		const placed = core.placeSealed(request, reports);
		core.sealPace.sealed(placed, askedAt, wakes);
		return placed;
	}
}
