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
// its RPC methods, and its alarm, which runs the tick's sequence (pacer-tick.ts,
// which the simulator runs too) with this object's calls to the lines and the
// shards. Every state change, and every decision over that state, is one core call.
import { DurableObject } from "cloudflare:workers";
import { newSeed } from "./admission";
import { config } from "../shared/config";
import { AVAILABILITY_MAX_AGE_MS, type AvailabilityDoc, gatherAvailability } from "../inventory/availability";
import type { DropConfig } from "../drops/rules";
import { changeRefusal, setStateOf } from "../drops/lifecycle";
import { type MethodLoad, RequestCounter } from "../shared/request-counter";
import { type Outcome, fail, ok } from "../shared/outcome";
import { Sql } from "../shared/sql";
import { lineStub, shardStub } from "../shared/names";
import { type RoomConfig, roomKeyOf, windowTotals } from "./window-rooms";
import { sha256Hex } from "../shared/crypto";
import { PacerCore, type RoomStats } from "./pacer-core";
import { type RoomAudit, UNCONFIGURED_AUDIT, pacerAudit } from "./pacer-audit";
import { type QueueMinutes, QueueMinutesCopy } from "./queue-minutes";
import { type Watermark, watermarkOf } from "./watermark";
import type { LineConfig } from "./line-core";
import { PacerTick } from "./pacer-tick";
import { LINE_CHANGE_MS, bounded } from "./timing";
import { LineLogSender, type TurnTeller, lineLogHost } from "./line-log";

export class WaitingRoom extends DurableObject<Env> {
	private readonly core: PacerCore;
	private readonly served: RequestCounter;
	readonly logSender: LineLogSender;
	/** The tick's sequence (pacer-tick.ts), with this object's ports: its alarm, its lines and its shards. */
	private readonly ticks: PacerTick;
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
		this.ticks = new PacerTick(this.core, {
			clock: () => this.clock(),
			setAlarm: (at) => ctx.storage.setAlarm(at),
			openLine: (k, input) => this.line(k).open(input),
			sealLine: (k, ask) => this.line(k).seal(ask),
			shardTotals: (drop, k, look) => shardStub(this.env, drop.id, k).totals(look),
			windowTotals: (drop) => windowTotals(this.env, drop),
			ticked: () => this.logSender.flush(),
		});
	}

	/**
	 * Stores the drop's settings (create or PATCH), tells the lines, and sets the
	 * alarm to match. The seed is drawn once, at creation, and only its hash is
	 * public until the opening. The line count may change only while no fan has joined.
	 */
	async configure(drop: DropConfig): Promise<Outcome<{ seedCommitment: string }>> {
		this.served.count("configure");
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
		this.served.count("watermark");
		const drop = this.core.config();
		if (drop === null) return fail(404, "not_found", "No such drop.");
		if (this.core.readerFindsTotalsStale(this.clock())) {
			await this.ticks.refreshTotals(drop);
			await this.wakeIfSleeping();
		}
		return ok(watermarkOf(this.core, drop, this.clock()));
	}

	/**
	 * What is left per type, slot and section: gathered from the shards at most once per
	 * AVAILABILITY_MAX_AGE_MS however many ask (the Worker caches it too), never per request.
	 */
	async availability(): Promise<Outcome<AvailabilityDoc>> {
		this.served.count("availability");
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
		this.served.count("wake");
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
		this.served.count("reopen");
		if (this.core.reopen()) await this.ctx.storage.setAlarm(this.clock());
	}

	/** The line for returned tickets, for a refund about to put tickets back on a shard (pacer-core.ts, returnsLine). */
	returnsLine(): { from: number | null; waiting: boolean; until: number } {
		this.served.count("returnsLine");
		return this.core.returnsLine(this.clock(), true);
	}

	/**
	 * A shard that watches a dry drop for the pacer saw stock come back or a sale: the pacer
	 * looks at every shard again on its next tick (at most BUSY_TICK_MS away, or now if asleep),
	 * so a sell-out is seen within about a second and stock back on sale is offered again.
	 */
	async stockMoved(): Promise<void> {
		this.served.count("stockMoved");
		this.core.dry.told(); // even mid-look: the look under way was gathered around it, not a dry look to trust
		await this.wakeIfSleeping();
	}

	/** When the fan at `position` was admitted, for the rare fan whose batch the watermark no longer lists. */
	admittedAt(input: { position: number }): Outcome<{ at: number }> {
		this.served.count("admittedAt");
		return this.core.admittedAt(input.position);
	}

	async stats(): Promise<RoomStats> {
		this.served.count("stats");
		const drop = this.core.config();
		if (drop === null) return { seedCommitment: "", joined: 0, waiting: 0, admitted: 0, placed: 0 };
		// The lines know who has joined this moment (the last seal may be a tick old, or the pacer
		// asleep): ask them. A promoter's read, not a fan's.
		const joined = (await Promise.all(Array.from({ length: drop.lines }, (_, k) => this.line(k).joined()))).reduce((a, b) => a + b, 0);
		return this.core.stats(joined);
	}

	async audit(): Promise<RoomAudit> {
		this.served.count("audit");
		const drop = this.core.config();
		if (drop === null) return UNCONFIGURED_AUDIT;
		const state = this.core.state();
		const lines = await Promise.all(Array.from({ length: drop.lines }, (_, k) => this.line(k).audit()));
		const commitmentVerified = state.opened_at === null ? null : (await sha256Hex(state.seed)) === state.seed_commitment;
		return pacerAudit(this.core, state, lines, commitmentVerified);
	}

	/** The queue's figures per minute, from the blocks placed and the batches admitted (a promoter's read, never a fan's; up to 5 s old). */
	queueMinutes(): QueueMinutes | null {
		this.served.count("queueMinutes");
		return this.core.config() === null ? null : this.queueCopy.read(this.core, this.clock());
	}

	load(): number {
		return this.served.requests;
	}

	/** The requests served by each method: the fans' watermark reads, the shards' tells, the promoter's reads. */
	loadByMethod(): MethodLoad {
		return this.served.byMethod();
	}

	override async alarm(): Promise<void> {
		await this.ticks.tick();
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
