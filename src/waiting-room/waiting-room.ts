// The pacer, one per drop. It sees work per tick, never per fan: on its alarm
// it opens the drop (each line closes its pre-queue and reports its size),
// seals the slots of later joins and lays them out as global positions,
// gathers the shards' totals, admits the next batch by position, and keeps
// one small document, the watermark, that the Worker publishes to fans
// through its caches. Joins go to the lines, polls and access grants are
// answered by the Worker from signed tokens and the watermark, and holds and
// purchases go to the shards: no fan request needs this object.
//
// This class is the I/O around the pacer's synchronous core (pacer-core.ts):
// its RPC methods, its alarm, and the tick's calls to the lines and the shards.
// Every state change, and every decision over that state, is one core call.
import { DurableObject } from "cloudflare:workers";
import { newSeed } from "./admission";
import { config } from "../shared/config";
import { AVAILABILITY_MAX_AGE_MS, type AvailabilityDoc, gatherAvailability } from "../inventory/availability";
import { type DropConfig, hasClosed } from "../drops/rules";
import { changeRefusal, setStateOf } from "../drops/lifecycle";
import { type StockHint, inventoryTotals } from "../inventory/drop-shards";
import type { ShardTotals } from "../inventory/ledger";
import { RequestCounter } from "../shared/request-counter";
import { type Outcome, fail, ok } from "../shared/outcome";
import { Sql } from "../shared/sql";
import { lineStub } from "../shared/names";
import { type RoomConfig, roomKeyOf, windowTotals } from "./window-rooms";
import { sha256Hex } from "../shared/crypto";
import { PacerCore, type RoomStats } from "./pacer-core";
import { type RoomAudit, UNCONFIGURED_AUDIT, pacerAudit } from "./pacer-audit";
import { type QueueMinutes, QueueMinutesCopy } from "./queue-minutes";
import { type Watermark, watermarkOf } from "./watermark";
import type { LineConfig, SealReport } from "./line-core";
import { slotOf } from "./placement";
import { BUSY_TICK_MS, LINE_CHANGE_MS, bounded } from "./timing";
import { LineLogSender, type TurnTeller, lineLogHost } from "./line-log";

export class WaitingRoom extends DurableObject<Env> {
	private readonly core: PacerCore;
	private readonly served: RequestCounter;
	readonly logSender: LineLogSender;
	private ticking: Promise<void> | null = null;
	/** Each shard's free stock at the last look, passed on to the shards so a dry one asks a rich one. */
	private stockHint: StockHint | undefined;
	/** The shards' tells counted when the last look began (core.dry.moves then). */
	private lookMoves = 0;
	/** The gathering of the shards' totals under way, which every caller meanwhile shares. */
	private gathering: Promise<ShardTotals | null> | null = null;
	private availabilityCopy: { at: number; value: AvailabilityDoc } | null = null;
	private readonly queueCopy = new QueueMinutesCopy();
	private gatheringAvailability: Promise<AvailabilityDoc> | null = null;
	/** The clock; tests move it, a deployed Worker cannot (instance fields are not RPC methods). */
	clock: () => number = () => Date.now();

	// `teller`: the mail telling a fan a returned ticket's turn has come (src/index.ts hands it in; without it none goes).
	constructor(ctx: DurableObjectState, env: Env, teller: TurnTeller | null = null) {
		super(ctx, env);
		const sql = new Sql(ctx.storage.sql);
		this.core = new PacerCore(sql, (fn) => ctx.storage.transactionSync(fn), config(env).accessTokenSeconds * 1000);
		this.served = new RequestCounter(sql);
		this.logSender = new LineLogSender(env.DB, lineLogHost(ctx, this.core.admission.log, () => this.core.config(), () => this.clock()), teller);
	}

	/**
	 * Stores the drop's settings (create or PATCH), tells the lines, and sets the
	 * alarm to match. The seed is drawn once, at creation, and only its hash is
	 * public until the opening. The line count may change only while no fan has joined.
	 */
	async configure(drop: DropConfig): Promise<Outcome<{ seedCommitment: string }>> {
		this.served.count();
		const previous = this.core.config();
		// Nothing leaves a cancel: settings from a copy read before it (a PATCH racing the cancel) change nothing.
		const refused = previous === null ? null : changeRefusal(previous, drop);
		if (refused !== null) return refused;
		this.availabilityCopy = null;
		if (previous !== null && previous.lines !== drop.lines) {
			// Each line closes itself only if empty, in one step, so no join lands between the look and the change.
			const until = this.clock() + LINE_CHANGE_MS;
			const closed = await Promise.all(Array.from({ length: previous.lines }, (_, k) => this.line(k).closeForLineChange({ until })));
			if (!closed.every(Boolean)) {
				await Promise.all(closed.map((c, k) => (c ? this.line(k).configure(lineSettings(previous, k)) : null)));
				return fail(422, "lines_in_use", `"lines" cannot change once fans have joined.`, { field: "lines" });
			}
		}
		if (this.core.needsSeed()) {
			const seed = newSeed();
			// A configure that runs during this await draws a seed first, and it stands.
			this.core.commitSeed(seed, await sha256Hex(seed));
		}
		this.core.storeConfig(drop);
		// Cancelled, the pacer places the joins the lines took before they heard of it; paused, the joins the lines
		// still take; in both, until a last look finds none (afterSellOut), then it sleeps until a line wakes it.
		if (setStateOf(drop) === "cancelled" || drop.paused) this.core.lateLookDue = true;
		// Lines past a smaller count learn it too, so a join routed by the old count is refused there.
		const configured = Math.max(drop.lines, previous?.lines ?? 0);
		await Promise.all(Array.from({ length: configured }, (_, k) => this.line(k).configure(lineSettings(drop, k))));
		const alarmAt = this.core.alarmForSettings(drop, this.clock());
		if (alarmAt === null) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(alarmAt);
		return ok({ seedCommitment: this.core.state().seed_commitment });
	}

	/** The document fans are answered from. */
	async watermark(): Promise<Outcome<Watermark>> {
		this.served.count();
		const drop = this.core.config();
		if (drop === null) return fail(404, "not_found", "No such drop.");
		if (this.core.readerFindsTotalsStale(this.clock())) {
			await this.refreshTotals(drop);
			await this.wakeIfSleeping();
		}
		return ok(watermarkOf(this.core, drop, this.clock()));
	}

	/**
	 * What is left per type, slot and section: gathered from the shards at most once per
	 * AVAILABILITY_MAX_AGE_MS however many ask (the Worker caches it too), never per request.
	 */
	async availability(): Promise<Outcome<AvailabilityDoc>> {
		this.served.count();
		const drop = this.core.config();
		if (drop === null) return fail(404, "not_found", "No such drop.");
		const copy = this.availabilityCopy;
		if (copy !== null && this.clock() - copy.at < AVAILABILITY_MAX_AGE_MS) return ok(copy.value);
		const at = this.clock();
		this.gatheringAvailability ??= gatherAvailability(this.env, drop, at).finally(() => {
			this.gatheringAvailability = null;
		});
		try {
			const value = await bounded(this.gatheringAvailability, "the shards' availability");
			if (this.availabilityCopy === null || this.availabilityCopy.at < at) this.availabilityCopy = { at, value };
			return ok(value);
		} catch (err) {
			console.warn("availability not gathered", err);
			if (copy !== null) return ok(copy.value);
			return fail(503, "try_again", "Availability is being gathered; try again in a moment.", { retryAfter: 1 });
		}
	}

	/**
	 * A line has a join and has not been sealed for a while: the pacer may be asleep.
	 * At most one call per line every WAKE_AFTER_MS, whatever the number of fans.
	 */
	async wake(): Promise<void> {
		this.served.count();
		await this.wakeIfSleeping();
	}

	private async wakeIfSleeping(): Promise<void> {
		if (this.core.wake()) await this.ctx.storage.setAlarm(this.clock());
	}

	/**
	 * Tickets came back on sale (a refund restocked them at a shard): a sold-out drop sells
	 * again. The pacer forgets the sell-out and looks at once; a look already under way
	 * when this came does not mark it sold out again from its older totals.
	 */
	async reopen(): Promise<void> {
		this.served.count();
		if (this.core.reopen()) await this.ctx.storage.setAlarm(this.clock());
	}

	/** The line for returned tickets, for a refund about to put tickets back on a shard (pacer-core.ts, returnsLine). */
	returnsLine(): { from: number | null; waiting: boolean; until: number } {
		this.served.count();
		return this.core.returnsLine(this.clock(), true);
	}

	/**
	 * A shard that watches a dry drop for the pacer saw stock come back or a sale: the pacer
	 * looks at every shard again on its next tick (at most BUSY_TICK_MS away, or now if asleep),
	 * so a sell-out is seen within about a second and stock back on sale is offered again.
	 */
	async stockMoved(): Promise<void> {
		this.served.count();
		this.core.dry.moves++; // even mid-look: the look under way was gathered around it, not a dry look to trust
		this.core.dry.watching = false;
		await this.wakeIfSleeping();
	}

	/** When the fan at `position` was admitted, for the rare fan whose batch the watermark no longer lists. */
	admittedAt(input: { position: number }): Outcome<{ at: number }> {
		this.served.count();
		return this.core.admittedAt(input.position);
	}

	async stats(): Promise<RoomStats> {
		this.served.count();
		const drop = this.core.config();
		if (drop === null) return { seedCommitment: "", joined: 0, waiting: 0, admitted: 0, placed: 0 };
		// The lines know who has joined this moment (the last seal may be a tick old, or the pacer
		// asleep): ask them. A promoter's read, not a fan's.
		const joined = (await Promise.all(Array.from({ length: drop.lines }, (_, k) => this.line(k).joined()))).reduce((a, b) => a + b, 0);
		return this.core.stats(joined);
	}

	async audit(): Promise<RoomAudit> {
		this.served.count();
		const drop = this.core.config();
		if (drop === null) return UNCONFIGURED_AUDIT;
		const state = this.core.state();
		const lines = await Promise.all(Array.from({ length: drop.lines }, (_, k) => this.line(k).audit()));
		const commitmentVerified = state.opened_at === null ? null : (await sha256Hex(state.seed)) === state.seed_commitment;
		return pacerAudit(this.core, state, lines, commitmentVerified);
	}

	/** The queue's figures per minute, from the blocks placed and the batches admitted (a promoter's read, never a fan's; up to 5 s old). */
	queueMinutes(): QueueMinutes | null {
		this.served.count();
		return this.core.config() === null ? null : this.queueCopy.read(this.core, this.clock());
	}

	load(): number {
		return this.served.requests;
	}

	override async alarm(): Promise<void> {
		await this.tick();
	}

	/** One tick at a time: an alarm that comes while a tick awaits the lines or shards runs after it, never beside it. */
	private async tick(): Promise<void> {
		while (this.ticking !== null) await this.ticking.catch(() => {});
		const run = this.runTick();
		this.ticking = run;
		try {
			await run;
		} finally {
			if (this.ticking === run) this.ticking = null;
			this.logSender.flush();
		}
	}

	/**
	 * The clock moves on while the lines and shards answer, so every decision reads it after
	 * the awaits before it: a batch, its turn and the spacing to the next count from when the
	 * batch goes in, and a drop that closed meanwhile admits nobody.
	 */
	private async runTick(): Promise<void> {
		const start = this.core.startTick(this.clock());
		if (start.kind === "idle") return;
		if (start.kind === "cancelled") {
			// Nobody is admitted again; the joins the lines took before they heard of the cancel are placed, so the
			// published lastPosition covers every position a fan was told. The look at the totals carries the
			// cancel to every shard (the cancel route tells them too), and a look that did not reach them all is tried again.
			// As after a sell-out, it ticks while it places some and takes one more look a moment later, for a join
			// that went into the slot after the one in progress.
			const sealed = await this.seal(start.drop);
			if ((await this.refreshTotals(start.drop)) === null) return this.ctx.storage.setAlarm(this.clock() + BUSY_TICK_MS);
			return this.afterSellOut(sealed);
		}
		if (start.kind === "paused") {
			// A pause stops admission, not joins: the lines still tell fans their positions, so the pacer places
			// them (lastPosition covers every position told) and admits nobody. As after a sell-out, it ticks
			// while it places some, takes one more look, then sleeps with no alarm until a line's join wakes it.
			return this.afterSellOut(await this.seal(start.drop));
		}
		if (start.kind === "wait") {
			await this.ctx.storage.setAlarm(start.until);
			return;
		}
		const drop = start.drop;
		if (start.kind === "open" && !(await this.open(drop))) {
			await this.ctx.storage.setAlarm(this.clock() + BUSY_TICK_MS);
			return;
		}
		// Closed, the joins the lines took before the close are still placed (the lines take none after it).
		if (hasClosed(drop, this.clock())) {
			await this.seal(drop);
			return;
		}

		// Sealing goes on after a sell-out: a join that reached its line in the second before
		// the Worker heard of it was told its position (one line tells at once) and must be
		// placed, so the published lastPosition covers every position a fan was told.
		// While nobody joins, the lines are sealed every few seconds, not every tick (SEAL_ACTIVE_MS).
		const sealed = this.core.soldOut() || this.core.sealPace.due(this.clock()) ? await this.seal(drop) : 0;
		if (this.core.soldOut()) return this.afterSellOut(sealed);
		let now = this.clock();
		let totals: ShardTotals | null = null;
		if (this.core.totalsDue(drop, now)) {
			totals = await this.refreshTotals(drop);
			now = this.clock();
		}
		if (totals !== null) {
			if (hasClosed(drop, now)) return;
			if (this.core.soldOut()) return this.afterSellOut(sealed);
			this.core.admitIfDue(drop, totals, now);
		}
		// Nobody joining or waiting: no alarm; the pacer sleeps until a line or a reader wakes it.
		const next = this.core.endTick(sealed, now);
		if (next !== null) await this.ctx.storage.setAlarm(next);
	}

	private async afterSellOut(sealed: number): Promise<void> {
		const next = this.core.afterSellOut(sealed, this.clock());
		if (next !== null) await this.ctx.storage.setAlarm(next);
	}

	/**
	 * Gathers the shards' totals (and passes each shard every shard's free stock) for the
	 * core to keep. Null when a shard did not answer: the totals stay as they were, and
	 * the next tick asks again. One gathering at a time: a reader and a tick that both find
	 * the totals stale share it, so no shard is handed the same look twice (a shard dates a
	 * look by the pacer's previous call to it, and a second call moments later would make an
	 * old look fresh).
	 */
	private refreshTotals(drop: DropConfig): Promise<ShardTotals | null> {
		if (this.gathering !== null) return this.gathering;
		const run = this.gatherTotals(drop).finally(() => {
			this.gathering = null;
		});
		this.gathering = run;
		return run;
	}

	private async gatherTotals(drop: DropConfig): Promise<ShardTotals | null> {
		let totals: ShardTotals;
		const reopens = this.core.reopens;
		const moves = this.core.dry.moves;
		this.core.dry.lookOwed = false;
		// The last look found nothing free anywhere with holds outstanding, and no shard told of stock moving
		// since it began: each shard is asked to watch for a change (and trusts that look until the next).
		const hint = this.stockHint;
		const watch = hint !== undefined && moves === this.lookMoves && hint.peerStock.every((n) => n === 0) && hint.inFlight === 0 && hint.held > 0;
		this.lookMoves = moves;
		const window = (drop as RoomConfig).saleWindow;
		try {
			// A window's room reads its window's counts beside the drop's stock; the drop's pacer keeps the shards' looks.
			totals = await (window !== undefined ? bounded(windowTotals(this.env, { ...drop, saleWindow: window }), "the window's totals") : this.lookAtShards(drop, hint, watch));
		} catch (err) {
			console.warn("inventory totals unavailable; admission waits a turn", err);
			return null;
		}
		// A tell that came while the shards were read: the counts may predate it, so the drop is not watched on them.
		const unmoved = moves === this.core.dry.moves;
		this.core.recordTotals(drop, totals, reopens, this.clock(), watch && unmoved);
		// A watched look went out, and stock was found (or moved meanwhile): show the shards the new look at once.
		if (watch && !this.core.dry.watching) this.core.dry.lookOwed = true;
		return totals;
	}

	private async lookAtShards(drop: DropConfig, hint: StockHint | undefined, watch: boolean): Promise<ShardTotals> {
		const { from, waiting } = this.core.returnsLine(this.clock());
		const returns = from === null ? undefined : { from, waiting };
		const gathered = await bounded(inventoryTotals(this.env, drop.id, drop.shards, hint && { ...hint, watch }, setStateOf(drop), returns), "the shards' totals");
		this.stockHint = { peerStock: gathered.perShard, inFlight: gathered.inFlight, held: gathered.held };
		return { remaining: gathered.remaining, held: gathered.held, sold: gathered.sold, buyers: gathered.buyers };
	}

	/** The opening: every line closes its pre-queue and reports its size; then the pacer has the pre-queue's positions. */
	private async open(drop: DropConfig): Promise<boolean> {
		const firstSlot = slotOf(Date.parse(drop.opensAt));
		let counts: number[];
		try {
			counts = (await bounded(Promise.all(Array.from({ length: drop.lines }, (_, k) => this.line(k).open({ firstSlot }))), "the lines' opening")).map(
				(r) => r.prequeue,
			);
		} catch (err) {
			console.warn("a line did not answer at the opening; trying again", err);
			return false;
		}
		this.core.opened(firstSlot, counts, this.clock());
		return true;
	}

	/**
	 * Seals every slot up to the present one: each line stops taking joins into them and
	 * says how many it took; the core lays the blocks out after the last position. A
	 * line that does not answer leaves the slots unsealed until the next tick.
	 * Returns the fans placed.
	 */
	private async seal(drop: DropConfig): Promise<number> {
		const request = this.core.sealRequest(drop.lines, this.clock());
		if (request === null) return 0;
		const askedAt = this.clock();
		const wakes = this.core.sealPace.asking();
		let reports: SealReport[];
		try {
			reports = await bounded(Promise.all(request.lines.map((ask, k) => this.line(k).seal(ask))), "the lines' seal");
		} catch (err) {
			console.warn("a line did not answer; its slots are sealed on the next tick", err);
			return 0;
		}
		const placed = this.core.placeSealed(request, reports);
		this.core.sealPace.sealed(placed, askedAt, wakes);
		return placed;
	}

	private line(k: number) {
		return lineStub(this.env, roomKeyOf(this.core.config()!), k);
	}
}

/** What line `line` of a drop is told of its settings. */
const lineSettings = (drop: RoomConfig, line: number): LineConfig => ({
	dropId: roomKeyOf(drop), line, lines: drop.lines,
	opensAt: drop.opensAt,
	closesAt: drop.closesAt,
	cancelledAt: drop.cancelledAt ?? null,
});
