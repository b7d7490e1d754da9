// The pacer, one per drop. It sees work per tick, never per fan: on its alarm
// it opens the drop (each line closes its pre-queue and reports its size),
// seals the slots of later joins and lays them out as global positions,
// gathers the shards' totals, admits the next batch by position, and keeps
// one small document, the watermark, that the Worker publishes to fans
// through its caches. Joins go to the lines, polls and access grants are
// answered by the Worker from signed tokens and the watermark, and holds and
// purchases go to the shards: no fan request needs this object.
import { DurableObject } from "cloudflare:workers";
import { admissionPace, newSeed, nextBatchSize } from "./admission";
import { config } from "../shared/config";
import { AVAILABILITY_MAX_AGE_MS, type AvailabilityDoc, gatherAvailability } from "../inventory/availability";
import { type DropConfig, hasClosed, typesOf } from "../drops/rules";
import type { TicketType } from "../drops/ticket-types";
import { type StockHint, inventoryTotals } from "../inventory/drop-shards";
import type { ShardTotals } from "../inventory/ledger";
import { RequestCounter } from "../shared/request-counter";
import { type Outcome, fail, ok } from "../shared/outcome";
import { type LineReport, placeSlots, slotOf } from "./placement";
import { Sql } from "../shared/sql";
import type { LineAudit, SealReport } from "./waiting-line";
import { lineStub } from "../shared/names";
import { SLOT_MS } from "./timing";
import { sha256Hex } from "../shared/crypto";
import { BUSY_TICK_MS, TOTALS_MAX_AGE_MS, WAKE_AFTER_MS } from "./timing";

/** Placements and batches the watermark carries: enough for every fan polling as told. */
const PUBLISHED_PLACEMENTS = 4_096;
const PUBLISHED_SLOTS = 120;
const PUBLISHED_BATCHES = 2_000;

export const SHUFFLE_ALGORITHM =
	"Fisher-Yates over the pre-queue laid out line by line in join order (global index g = fans on lower lines + place in line - 1), " +
	"driven by xoshiro128** seeded with the 128-bit seed; position = 1 + final index of g. " +
	`Later joiners: slots of ${SLOT_MS} ms by their line's clock, ordered by slot, then line, then join order in the line.`;

/** What the Worker needs to answer fans without calling any object: published, cached, at most a second old. */
export interface Watermark {
	dropId: string;
	name: string;
	capacity: number;
	maxPerFan: number;
	priceCents: number;
	currency: string;
	holdSeconds: number;
	opensAt: string;
	closesAt: string | null;
	paused: boolean;
	shards: number;
	lines: number;
	opened: boolean;
	soldOut: boolean;
	/** Lowercase hex SHA-256 of the seed, public from creation; the seed itself once the drop has opened. */
	seedCommitment: string;
	seed: string | null;
	/** Each line's pre-queue size, once the drop has opened. */
	prequeue: number[] | null;
	admittedThrough: number;
	/** The last position placed so far. */
	lastPosition: number;
	/** Joins in slots up to this one have positions. */
	sealedThrough: number | null;
	/** Recent blocks of positions: [slot, line, start]. */
	placements: number[][];
	/** Batches admitted within an access window, oldest first: [through, at]. */
	batches: number[][];
	/** Everyone through this position was admitted before the first listed batch. */
	batchesFrom: number;
	/** Whether the list holds every batch of the access window (else older ones are asked for). */
	batchesComplete: boolean;
	pacePerSecond: number;
	remaining: number;
	held: number;
	sold: number;
	/** The drop's ticket types (seats counted per section, not listed). */
	ticketTypes: TicketType[];
	/** When the pacer made this document (ms). */
	at: number;
}

export interface RoomStats {
	seedCommitment: string;
	joined: number;
	waiting: number;
	admitted: number;
	placed: number;
}

export interface RoomAudit {
	seed: string | null;
	seedCommitment: string;
	/** The seed hashes to the commitment published before the opening. */
	commitmentVerified: boolean | null;
	openedAt: string | null;
	prequeueSize: number;
	prequeue: number[] | null;
	algorithm: string;
	/** Every line's pre-queue is the size the shuffle was drawn over, with places 1..n, so the order re-derives from public data. */
	shuffleVerified: boolean | null;
	admittedThrough: number;
	/** Positions tile 1..placed with no gap or overlap, the lines agree with the pacer, and admission never passed placed fans. */
	admittedInOrder: boolean;
	placed: number;
	batches: number;
	largestBatch: number;
	/** The shortest time between two batches (null with fewer than two). */
	closestBatchesMs: number | null;
	lines: LineAudit[];
}

type State = {
	seed: string;
	seed_commitment: string;
	opened_at: number | null;
	prequeue_counts: string | null;
	prequeue_size: number;
	prequeue_delivered: number;
	sealed_through: number | null;
	notified_through: number | null;
	next_position: number;
	admitted_through: number;
	last_admission_at: number | null;
	sold_out: number;
	totals: string | null;
	totals_at: number | null;
	sleeping: number;
};

type Totals = ShardTotals;

export class WaitingRoom extends DurableObject<Env> {
	private readonly sql: Sql;
	private readonly served: RequestCounter;
	private cachedConfig: DropConfig | null | undefined;
	private ticking: Promise<void> | null = null;
	/** Each shard's free stock at the last look, passed on to the shards so a dry one asks a rich one. */
	private stockHint: StockHint | undefined;
	/**
	 * The last time a tick saw tickets in holds: fans are at work. Memory is
	 * enough for this hint; a fresh instance starts from its first tick, so a
	 * restart never makes admitted fans look gone.
	 */
	private lastBusyAt: number | null = null;
	/** After the sell-out: one more look is owed before the pacer sleeps (see afterSellOut). */
	private lateLookDue = true;
	/** Reopenings seen by this instance (a look at the totals that began before one must not mark the drop sold out). */
	private reopens = 0;
	/** The clock; tests move it, a deployed Worker cannot (instance fields are not RPC methods). */
	clock: () => number = () => Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = new Sql(ctx.storage.sql);
		this.sql.run(`CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS pacer (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			seed TEXT NOT NULL, seed_commitment TEXT NOT NULL,
			opened_at INTEGER, prequeue_counts TEXT, prequeue_size INTEGER NOT NULL DEFAULT 0,
			prequeue_delivered INTEGER NOT NULL DEFAULT 0,
			sealed_through INTEGER, notified_through INTEGER, next_position INTEGER NOT NULL DEFAULT 1,
			admitted_through INTEGER NOT NULL DEFAULT 0, last_admission_at INTEGER,
			sold_out INTEGER NOT NULL DEFAULT 0,
			totals TEXT, totals_at INTEGER, sleeping INTEGER NOT NULL DEFAULT 0)`);
		// One block of positions per (slot, line) with anyone in it.
		this.sql.run(`CREATE TABLE IF NOT EXISTS placements (
			slot INTEGER NOT NULL, line INTEGER NOT NULL, start INTEGER NOT NULL UNIQUE, count INTEGER NOT NULL,
			PRIMARY KEY (slot, line))`);
		// buyers_before: fans who had bought when the batch went in, so the active count needs no note per buyer.
		this.sql.run(`CREATE TABLE IF NOT EXISTS batches (at INTEGER NOT NULL, count INTEGER NOT NULL, through INTEGER NOT NULL, buyers_before INTEGER NOT NULL DEFAULT 0)`);
		this.sql.run(`CREATE INDEX IF NOT EXISTS batches_by_at ON batches (at)`);
		this.served = new RequestCounter(this.sql);
	}

	/**
	 * Stores the drop's settings (create or PATCH), tells the lines, and sets the
	 * alarm to match. The seed is drawn once, at creation, and only its hash is
	 * public until the opening. The line count may change only while no fan has joined.
	 */
	async configure(drop: DropConfig): Promise<Outcome<{ seedCommitment: string }>> {
		this.served.count();
		const previous = this.config();
		this.availabilityCopy = null;
		if (previous !== null && previous.lines !== drop.lines) {
			const empty = await Promise.all(Array.from({ length: previous.lines }, (_, k) => this.line(k).isEmpty()));
			if (!empty.every(Boolean)) return fail(422, "lines_in_use", `"lines" cannot change once fans have joined.`, { field: "lines" });
		}
		if (this.sql.first(`SELECT 1 AS one FROM pacer WHERE id = 1`) === null) {
			const seed = newSeed();
			const commitment = await sha256Hex(seed);
			// OR IGNORE: a configure that ran during the await drew the seed first, and it stands.
			this.sql.run(`INSERT OR IGNORE INTO pacer (id, seed, seed_commitment) VALUES (1, ?, ?)`, seed, commitment);
		}
		this.sql.run(`INSERT INTO config (id, json) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json`, JSON.stringify(drop));
		this.cachedConfig = drop;
		await Promise.all(
			Array.from({ length: drop.lines }, (_, k) =>
				this.line(k).configure({ dropId: drop.id, line: k, lines: drop.lines, opensAt: drop.opensAt, closesAt: drop.closesAt }),
			),
		);
		if (drop.paused) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(this.state().opened_at !== null ? this.clock() : Date.parse(drop.opensAt));
		return ok({ seedCommitment: this.state().seed_commitment });
	}

	/** The document fans are answered from. */
	async watermark(): Promise<Outcome<Watermark>> {
		this.served.count();
		const drop = this.config();
		if (drop === null) return fail(404, "not_found", "No such drop.");
		let state = this.state();
		// The pacer sleeps (nobody joining or waiting) and the totals are old: someone is looking
		// (about once a second per data center at most), so gather them now, for this answer.
		// It wakes too, once a second at most: a join it was not told of gets its place.
		if (state.opened_at !== null && state.sleeping === 1 && state.sold_out === 0 && (state.totals_at ?? 0) + TOTALS_MAX_AGE_MS <= this.clock()) {
			await this.refreshTotals(drop);
			await this.wakeIfSleeping();
			state = this.state();
		}
		const now = this.clock();
		const opened = state.opened_at !== null;
		const totals = this.totals(drop, state);
		const accessMs = config(this.env).accessTokenSeconds * 1000;
		const batches = this.sql
			.all<{ through: number; at: number; count: number }>(
				`SELECT through, at, count FROM batches WHERE at > ? ORDER BY through DESC LIMIT ?`,
				now - accessMs, PUBLISHED_BATCHES,
			)
			.reverse();
		const olderInWindow = batches.length === PUBLISHED_BATCHES && this.sql.number(`SELECT COUNT(*) FROM batches WHERE at > ?`, now - accessMs) > batches.length;
		return ok({
			dropId: drop.id,
			name: drop.name,
			capacity: drop.capacity,
			maxPerFan: drop.maxPerFan,
			priceCents: drop.priceCents,
			currency: drop.currency,
			holdSeconds: drop.holdSeconds,
			opensAt: drop.opensAt,
			closesAt: drop.closesAt,
			paused: drop.paused,
			shards: drop.shards,
			lines: drop.lines,
			opened,
			soldOut: state.sold_out === 1,
			seedCommitment: state.seed_commitment,
			seed: opened ? state.seed : null,
			prequeue: opened && state.prequeue_counts !== null ? (JSON.parse(state.prequeue_counts) as number[]) : null,
			admittedThrough: state.admitted_through,
			lastPosition: state.next_position - 1,
			sealedThrough: opened ? state.sealed_through : null,
			placements: this.sql
				.all<{ slot: number; line: number; start: number }>(
					`SELECT slot, line, start FROM placements WHERE slot > ? ORDER BY slot DESC, line DESC LIMIT ?`,
					(state.sealed_through ?? 0) - PUBLISHED_SLOTS, PUBLISHED_PLACEMENTS,
				)
				.map((p) => [p.slot, p.line, p.start])
				.reverse(),
			batches: batches.map((b) => [b.through, b.at]),
			batchesFrom: batches.length > 0 ? batches[0]!.through - batches[0]!.count : state.admitted_through,
			batchesComplete: !olderInWindow,
			pacePerSecond: this.pace(drop, now),
			remaining: totals.remaining,
			held: totals.held,
			sold: totals.sold,
			ticketTypes: typesOf(drop),
			at: now,
		});
	}

	private availabilityCopy: { at: number; value: AvailabilityDoc } | null = null;
	private gatheringAvailability: Promise<AvailabilityDoc> | null = null;

	/**
	 * What is left per type, slot and section: gathered from the shards at most once per
	 * AVAILABILITY_MAX_AGE_MS however many ask (the Worker caches it too), never per request.
	 */
	async availability(): Promise<Outcome<AvailabilityDoc>> {
		this.served.count();
		const drop = this.config();
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
		const drop = this.config();
		if (drop === null || drop.paused || this.state().sleeping === 0) return;
		this.sql.run(`UPDATE pacer SET sleeping = 0 WHERE id = 1`);
		await this.ctx.storage.setAlarm(this.clock());
	}

	/**
	 * Tickets came back on sale (a refund restocked them at a shard): a sold-out drop sells
	 * again. The pacer forgets the sell-out and looks at once; a look already under way
	 * when this came does not mark it sold out again from its older totals.
	 */
	async reopen(): Promise<void> {
		this.served.count();
		this.reopens++;
		// A later sell-out owes its own last look for late joins.
		this.lateLookDue = true;
		if (this.state().sold_out === 0) return;
		this.sql.run(`UPDATE pacer SET sold_out = 0, totals_at = NULL, sleeping = 0 WHERE id = 1`);
		await this.ctx.storage.setAlarm(this.clock());
	}

	/** When the fan at `position` was admitted, for the rare fan whose batch the watermark no longer lists. */
	admittedAt(input: { position: number }): Outcome<{ at: number }> {
		this.served.count();
		const row = this.sql.first<{ at: number }>(`SELECT at FROM batches WHERE through >= ? ORDER BY through LIMIT 1`, input.position);
		if (row === null) return fail(409, "not_admitted", "This fan has not been admitted yet.");
		return ok({ at: row.at });
	}

	async stats(): Promise<RoomStats> {
		this.served.count();
		const drop = this.config();
		if (drop === null) return { seedCommitment: "", joined: 0, waiting: 0, admitted: 0, placed: 0 };
		const state = this.state();
		// The lines know who has joined this moment (the last seal may be a tick old, or the pacer
		// asleep): ask them. A promoter's read, not a fan's.
		const joined = (await Promise.all(Array.from({ length: drop.lines }, (_, k) => this.line(k).joined()))).reduce((a, b) => a + b, 0);
		return {
			seedCommitment: state.seed_commitment,
			joined,
			waiting: state.sold_out ? 0 : Math.max(0, joined - state.admitted_through),
			admitted: state.admitted_through,
			placed: state.next_position - 1,
		};
	}

	async audit(): Promise<RoomAudit> {
		this.served.count();
		const drop = this.config();
		if (drop === null) {
			// Nothing this version placed or admitted: nothing it can vouch for either.
			return {
				seed: null, seedCommitment: "", commitmentVerified: null, openedAt: null, prequeueSize: 0, prequeue: null,
				algorithm: SHUFFLE_ALGORITHM, shuffleVerified: null, admittedThrough: 0, admittedInOrder: false, placed: 0,
				batches: 0, largestBatch: 0, closestBatchesMs: null, lines: [],
			};
		}
		const state = this.state();
		const lines = await Promise.all(Array.from({ length: drop.lines }, (_, k) => this.line(k).audit()));
		const counts = state.prequeue_counts === null ? null : (JSON.parse(state.prequeue_counts) as number[]);
		const shuffleVerified = counts === null ? null : lines.every((l) => l.consistent && l.prequeue === counts[l.line]);

		// Placements tile prequeue_size+1 .. next_position-1, and each line's own counts say the same.
		const blocks = this.sql.all<{ slot: number; line: number; start: number; count: number }>(`SELECT * FROM placements ORDER BY start`);
		let expected = state.prequeue_size + 1;
		let tiled = true;
		for (const b of blocks) {
			if (b.start !== expected) tiled = false;
			expected = b.start + b.count;
		}
		tiled &&= expected === state.next_position;
		const byKey = new Map(blocks.map((b) => [`${b.slot}:${b.line}`, b]));
		const linesAgree = lines.every((l) =>
			l.slots.every((s) => {
				const b = byKey.get(`${s.slot}:${l.line}`);
				if (state.sealed_through === null || s.slot > state.sealed_through) return s.start === null;
				return b !== undefined && b.count === s.count && (s.start === null || s.start === b.start);
			}),
		);
		const batches = this.sql.first<{ n: number; largest: number | null; total: number }>(
			`SELECT COUNT(*) AS n, MAX(count) AS largest, COALESCE(SUM(count), 0) AS total FROM batches`,
		)!;
		const times = this.sql.all<{ at: number }>(`SELECT at FROM batches ORDER BY through`).map((r) => r.at);
		let closest: number | null = null;
		for (let i = 1; i < times.length; i++) closest = Math.min(closest ?? Infinity, times[i]! - times[i - 1]!);
		return {
			seed: state.opened_at === null ? null : state.seed,
			seedCommitment: state.seed_commitment,
			commitmentVerified: state.opened_at === null ? null : (await sha256Hex(state.seed)) === state.seed_commitment,
			openedAt: state.opened_at === null ? null : new Date(state.opened_at).toISOString(),
			prequeueSize: state.prequeue_size,
			prequeue: counts,
			algorithm: SHUFFLE_ALGORITHM,
			shuffleVerified,
			admittedThrough: state.admitted_through,
			admittedInOrder: tiled && linesAgree && batches.total === state.admitted_through && state.admitted_through <= state.next_position - 1,
			placed: state.next_position - 1,
			batches: batches.n,
			largestBatch: batches.largest ?? 0,
			closestBatchesMs: closest,
			lines,
		};
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
		}
	}

	private async runTick(): Promise<void> {
		const drop = this.config();
		if (drop === null || drop.paused) return;
		this.sql.run(`UPDATE pacer SET sleeping = 0 WHERE id = 1`);
		// The clock moves on while the lines and shards answer, so every decision reads it after
		// the awaits before it: a batch, its turn and the spacing to the next count from when the
		// batch goes in, and a drop that closed meanwhile admits nobody.
		this.lastBusyAt ??= this.clock();
		if (this.state().opened_at === null) {
			if (this.clock() < Date.parse(drop.opensAt)) {
				await this.ctx.storage.setAlarm(Date.parse(drop.opensAt));
				return;
			}
			if (!(await this.open(drop))) {
				await this.ctx.storage.setAlarm(this.clock() + BUSY_TICK_MS);
				return;
			}
		}
		if (hasClosed(drop, this.clock())) return;

		// Sealing goes on after a sell-out: a join that reached its line in the second before
		// the Worker heard of it was told its position (one line tells at once) and must be
		// placed, so the published lastPosition covers every position a fan was told.
		const sealed = await this.seal(drop, this.clock());
		if (this.state().sold_out) {
			await this.afterSellOut(sealed);
			return;
		}
		let now = this.clock();
		let state = this.state();
		const admissionDue = (at: number) => {
			const last = this.state().last_admission_at;
			return last === null || last + drop.admission.intervalMs <= at;
		};
		const waiting = state.next_position - 1 - state.admitted_through;
		const stale = state.totals_at === null || state.totals_at + TOTALS_MAX_AGE_MS <= now;
		let totals: Totals | null = null;
		if ((admissionDue(now) && waiting > 0) || stale) {
			totals = await this.refreshTotals(drop);
			now = this.clock();
		}
		if (totals !== null) {
			if (hasClosed(drop, now)) return;
			if (this.state().sold_out) {
				await this.afterSellOut(sealed);
				return;
			}
			if (totals.held > 0) this.lastBusyAt = now;
			state = this.state();
			if (admissionDue(now) && !this.config()!.paused) this.admitNextBatch(drop, state, totals, now);
		}
		state = this.state();
		if (sealed > 0 || state.next_position - 1 > state.admitted_through) {
			await this.ctx.storage.setAlarm(now + BUSY_TICK_MS);
		} else {
			// Nobody joining or waiting: sleep until a line or a reader wakes the pacer.
			this.sql.run(`UPDATE pacer SET sleeping = 1 WHERE id = 1`);
		}
	}

	/**
	 * After the sell-out the pacer only places joins that still reach the lines (in the
	 * second before the Workers hear of it). While it places some it ticks on; then it
	 * takes one more look WAKE_AFTER_MS later, because a line that woke it a moment ago
	 * does not wake it again within WAKE_AFTER_MS; after that look finds nothing it sleeps
	 * (a join later than that wakes it). A restart takes the one more look again.
	 */
	private async afterSellOut(sealed: number): Promise<void> {
		if (sealed > 0) {
			this.lateLookDue = true;
			await this.ctx.storage.setAlarm(this.clock() + BUSY_TICK_MS);
		} else if (this.lateLookDue) {
			this.lateLookDue = false;
			await this.ctx.storage.setAlarm(this.clock() + WAKE_AFTER_MS + BUSY_TICK_MS);
		} else {
			this.sql.run(`UPDATE pacer SET sleeping = 1 WHERE id = 1`);
		}
	}

	/**
	 * Gathers the shards' totals (and passes each shard every shard's free stock), stores
	 * them, and marks the drop sold out when every ticket is sold. Null when a shard did
	 * not answer: the totals stay as they were, and the next tick asks again.
	 */
	private async refreshTotals(drop: DropConfig): Promise<Totals | null> {
		let totals: Totals;
		const reopens = this.reopens;
		try {
			const gathered = await bounded(inventoryTotals(this.env, drop.id, drop.shards, this.stockHint), "the shards' totals");
			this.stockHint = { peerStock: gathered.perShard, inFlight: gathered.inFlight, held: gathered.held };
			totals = { remaining: gathered.remaining, held: gathered.held, sold: gathered.sold, buyers: gathered.buyers };
		} catch (err) {
			console.warn("inventory totals unavailable; admission waits a turn", err);
			return null;
		}
		this.sql.run(`UPDATE pacer SET totals = ?, totals_at = ? WHERE id = 1`, JSON.stringify(totals), this.clock());
		// A ticket sold stays sold unless a refund puts it back on sale, which reopens the
		// drop (reopen). "No stock and no holds" alone is not sold out: a ticket moving
		// between two shards is in neither.
		if (totals.sold >= drop.capacity && reopens === this.reopens) this.sql.run(`UPDATE pacer SET sold_out = 1 WHERE id = 1`);
		return totals;
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
		const size = counts.reduce((a, b) => a + b, 0);
		this.ctx.storage.transactionSync(() => {
			if (this.state().opened_at !== null) return;
			this.sql.run(
				`UPDATE pacer SET opened_at = ?, prequeue_counts = ?, prequeue_size = ?, next_position = ?, sealed_through = ?,
				 notified_through = ? WHERE id = 1`,
				this.clock(), JSON.stringify(counts), size, size + 1, firstSlot - 1, firstSlot - 1,
			);
		});
		return true;
	}

	/**
	 * Seals every slot up to the present one: each line stops taking joins into them and
	 * says how many it took; the blocks are laid out after the last position. A
	 * line that does not answer leaves the slots unsealed until the next tick.
	 * Returns the fans placed.
	 */
	private async seal(drop: DropConfig, now: number): Promise<number> {
		const state = this.state();
		if (state.sealed_through === null) return 0;
		// The slot in progress is sealed too: a join that reaches its line after this goes into the
		// next slot, behind everyone sealed now, so the order stays first come, first served.
		const from = state.sealed_through + 1;
		const through = slotOf(now);
		if (through < from) return 0;
		const undelivered = this.sql.all<{ slot: number; line: number; start: number }>(
			`SELECT slot, line, start FROM placements WHERE slot > ?`,
			state.notified_through ?? -1,
		);
		const prequeue = state.prequeue_delivered ? null : { seed: state.seed, counts: JSON.parse(state.prequeue_counts ?? "[]") as number[] };
		let reports: SealReport[];
		try {
			reports = await bounded(
				Promise.all(
					Array.from({ length: drop.lines }, (_, k) =>
						this.line(k).seal({
							from,
							through,
							placements: undelivered.filter((p) => p.line === k).map((p) => ({ slot: p.slot, start: p.start })),
							prequeue,
						}),
					),
				),
				"the lines' seal",
			);
		} catch (err) {
			console.warn("a line did not answer; its slots are sealed on the next tick", err);
			return 0;
		}
		return this.ctx.storage.transactionSync(() => {
			const current = this.state();
			// Another tick sealed these meanwhile (a restart, a test calling the alarm twice).
			if (current.sealed_through !== state.sealed_through) return 0;
			const laid = placeSlots(current.next_position, reports.map((r): LineReport => ({ line: r.line, slots: r.slots })));
			for (const p of laid.placements) {
				this.sql.run(`INSERT INTO placements (slot, line, start, count) VALUES (?, ?, ?, ?)`, p.slot, p.line, p.start, p.count);
			}
			this.sql.run(
				`UPDATE pacer SET sealed_through = ?, next_position = ?, notified_through = ?, prequeue_delivered = 1 WHERE id = 1`,
				through, laid.nextPosition, from - 1,
			);
			return laid.nextPosition - current.next_position;
		});
	}

	private admitNextBatch(drop: DropConfig, state: State, totals: Totals, now: number): void {
		const waiting = state.next_position - 1 - state.admitted_through;
		const accessMs = config(this.env).accessTokenSeconds * 1000;
		// Fans still shopping: admitted within an access window, less those who have bought since.
		const window = this.sql.first<{ admitted: number; buyers_before: number | null }>(
			`SELECT COALESCE(SUM(count), 0) AS admitted, (SELECT buyers_before FROM batches WHERE at > ? ORDER BY at LIMIT 1) AS buyers_before
			 FROM batches WHERE at > ?`,
			now - accessMs, now - accessMs,
		)!;
		const active = Math.max(0, window.admitted - (totals.buyers - (window.buyers_before ?? totals.buyers)));
		const count = nextBatchSize({
			batchSize: drop.admission.batchSize,
			activeMultiple: drop.admission.activeMultiple,
			remaining: totals.remaining,
			held: totals.held,
			active,
			waiting,
			idleMs: now - Math.max(this.lastBusyAt ?? now, state.last_admission_at ?? 0),
		});
		if (count <= 0) return;
		const through = state.admitted_through + count;
		this.ctx.storage.transactionSync(() => {
			this.sql.run(`UPDATE pacer SET admitted_through = ?, last_admission_at = ? WHERE id = 1`, through, now);
			this.sql.run(`INSERT INTO batches (at, count, through, buyers_before) VALUES (?, ?, ?, ?)`, now, count, through, totals.buyers);
		});
	}

	/** The totals last gathered; before any, the whole capacity is free. */
	private totals(drop: DropConfig, state: State): Totals {
		if (state.totals === null) return { remaining: drop.capacity, held: 0, sold: 0, buyers: 0 };
		return JSON.parse(state.totals) as Totals;
	}

	private pace(drop: DropConfig, now: number): number {
		const recent = this.sql.first<{ admitted: number; first: number | null }>(
			`SELECT COALESCE(SUM(count), 0) AS admitted, MIN(at) AS first FROM batches WHERE at > ?`,
			now - 60_000,
		)!;
		const span = recent.first === null ? 0 : now - recent.first + drop.admission.intervalMs;
		return admissionPace({ admitted: recent.admitted, spanMs: span }, drop.admission.batchSize, drop.admission.intervalMs);
	}

	private line(k: number) {
		return lineStub(this.env, this.config()!.id, k);
	}

	/**
	 * The drop's settings; null for a drop this pacer was never configured for (the
	 * pacer row is written with the first settings; a room of the engine before lines
	 * has settings but no pacer row, and answers as if the drop did not exist).
	 */
	private config(): DropConfig | null {
		if (this.cachedConfig === undefined) {
			const row = this.sql.first<{ json: string }>(`SELECT json FROM config WHERE id = 1 AND EXISTS (SELECT 1 FROM pacer WHERE id = 1)`);
			this.cachedConfig = row === null ? null : (JSON.parse(row.json) as DropConfig);
		}
		return this.cachedConfig;
	}

	private state(): State {
		return this.sql.first<State>(`SELECT * FROM pacer WHERE id = 1`)!;
	}
}

/** How long a tick waits for the lines or the shards: one that does not answer costs a tick, never the pacer. */
const CALL_TIMEOUT_MS = 5_000;

/** The answer, or a rejection after CALL_TIMEOUT_MS: every step of a tick is retried on the next. */
function bounded<T>(call: Promise<T>, what: string): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | null = null;
	const late = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} took over ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
	});
	return Promise.race([call, late]).finally(() => {
		if (timer !== null) clearTimeout(timer);
	});
}

