// The pacer's synchronous core: its SQL state (the drop's settings, the seed and
// its commitment, the blocks of positions placed, the batches admitted) and every
// decision of a tick, each one synchronous over that state with the time passed
// in. No env, no await, no clock of its own: the pacer (waiting-room.ts) calls
// the lines and the shards and sets the alarm around it, so anything that can
// hand it a Sql (a test, a simulator) drives the same decisions.
import { admissionPace, measuredPacePerMinute } from "./admission";
import { BatchAdmission } from "./batch-admission";
import type { DropConfig } from "../drops/rules";
import type { RoomConfig } from "./window-rooms";
import { allows, setStateOf, stateOfSet } from "../drops/lifecycle";
import type { ShardTotals } from "../inventory/ledger";
import { DryWatch } from "./dry-watch";
import { type Outcome, fail, ok } from "../shared/outcome";
import { type LineReport, placeSlots, slotOf } from "./placement";
import type { Sql } from "../shared/sql";
import type { SealInput, SealReport } from "./line-core";
import { SealPace } from "./seal-pace";
import { BUSY_TICK_MS, PACE_WINDOW_MS, TOTALS_MAX_AGE_MS, WAKE_AFTER_MS } from "./timing";
import { type PacerState, createPacerTables } from "./pacer-schema";

export interface RoomStats {
	seedCommitment: string;
	joined: number;
	waiting: number;
	admitted: number;
	placed: number;
}

/**
 * What a tick does first: nothing (no drop, or paused before the opening), tell the shards of a
 * cancel, place the joins of a paused drop (admitting nobody), wait for the opening, open, or go on.
 */
export type TickStart =
	| { kind: "idle" }
	| { kind: "cancelled"; drop: DropConfig }
	| { kind: "paused"; drop: DropConfig }
	| { kind: "wait"; until: number }
	| { kind: "open"; drop: DropConfig }
	| { kind: "run"; drop: DropConfig };

/** The slots a tick seals, `from` through `through`, and what each line is asked (by line). */
export interface SealRequest {
	/** The last slot sealed when this was asked: the answers count only if no other tick sealed meanwhile. */
	sealedThrough: number;
	from: number;
	through: number;
	lines: SealInput[];
}

export type BatchRow = { through: number; at: number; count: number };
export type PlacementRow = { slot: number; line: number; start: number; count: number };

/** How long a refund's restock, told no line for returns exists, may take to land on its shard (returnsLine). */
export const RESTOCK_LEASE_MS = 30_000;

export class PacerCore {
	private cachedConfig: DropConfig | null | undefined;
	/** After the sell-out: one more look is owed before the pacer sleeps (see afterSellOut). */
	lateLookDue = true;
	/** How often the lines are sealed (every tick while fans join). */
	readonly sealPace = new SealPace();
	/** The dry-drop watch (dry-watch.ts). */
	readonly dry = new DryWatch();
	/** Reopenings seen by this instance (a look at the totals that began before one must not mark the drop sold out). */
	reopens = 0;
	/** How a due batch is sized and written (batch-admission.ts). */
	readonly admission: BatchAdmission;

	/** `accessWindowMs`: how long an admitted fan's turn lasts; fans admitted within it may still be shopping. */
	constructor(
		private readonly sql: Sql,
		private readonly transaction: <T>(fn: () => T) => T,
		readonly accessWindowMs: number,
	) {
		createPacerTables(sql);
		this.admission = new BatchAdmission(sql, transaction, accessWindowMs);
	}

	/**
	 * The drop's settings; null for a drop this pacer was never configured for (the
	 * pacer row is written with the first settings; a pacer of the engine before lines
	 * has settings but no pacer row, and answers as if the drop did not exist).
	 */
	config(): DropConfig | null {
		if (this.cachedConfig === undefined) {
			const row = this.sql.first<{ json: string }>(`SELECT json FROM config WHERE id = 1 AND EXISTS (SELECT 1 FROM pacer WHERE id = 1)`);
			this.cachedConfig = row === null ? null : (JSON.parse(row.json) as DropConfig);
		}
		return this.cachedConfig;
	}

	state(): PacerState {
		return this.sql.first<PacerState>(`SELECT * FROM pacer WHERE id = 1`)!;
	}

	/** Whether the seed is yet to be drawn: it is drawn once, with the first settings. */
	needsSeed(): boolean {
		return this.sql.first(`SELECT 1 AS one FROM pacer WHERE id = 1`) === null;
	}

	/** Keeps the seed and its commitment; a seed kept first (by a configure that ran meanwhile) stands. */
	commitSeed(seed: string, commitment: string): void {
		this.sql.run(`INSERT OR IGNORE INTO pacer (id, seed, seed_commitment) VALUES (1, ?, ?)`, seed, commitment);
	}

	storeConfig(drop: DropConfig): void {
		this.sql.run(`INSERT INTO config (id, json) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json`, JSON.stringify(drop));
		this.cachedConfig = drop;
	}

	/**
	 * When the alarm should ring after new settings: at once once opened (paused too: the joins the lines took so far
	 * are placed, then the pacer sleeps until a line wakes it), null (none) while paused before the opening, else at the
	 * opening.
	 */
	alarmForSettings(drop: DropConfig, now: number): number | null {
		// A cancel is carried to the shards by the next look at their totals: at once.
		if (setStateOf(drop) === "cancelled") return now;
		const opened = this.state().opened_at !== null;
		if (drop.paused) return opened ? now : null;
		return opened ? now : Date.parse(drop.opensAt);
	}

	/** The totals last gathered; before any, the whole capacity is free. */
	totals(drop: DropConfig, state: PacerState = this.state()): ShardTotals {
		if (state.totals === null) return { remaining: drop.capacity, held: 0, sold: 0, buyers: 0 };
		return JSON.parse(state.totals) as ShardTotals;
	}

	/**
	 * Someone reads the watermark of a sleeping pacer whose totals are old (about once a second per data center at
	 * most): they are gathered for this answer, and the pacer wakes, so a join it was not told of gets its place.
	 */
	readerFindsTotalsStale(now: number): boolean {
		const state = this.state();
		return state.opened_at !== null && state.sleeping === 1 && state.sold_out === 0 && (state.totals_at ?? 0) + TOTALS_MAX_AGE_MS <= now;
	}

	/** The newest `limit` batches admitted after `after`, oldest first. */
	batchesAfter(after: number, limit: number): BatchRow[] {
		return this.sql.all<BatchRow>(`SELECT through, at, count FROM batches WHERE at > ? ORDER BY through DESC LIMIT ?`, after, limit).reverse();
	}

	batchCountAfter(after: number): number {
		return this.sql.number(`SELECT COUNT(*) FROM batches WHERE at > ?`, after);
	}

	/** The latest `limit` blocks of positions in slots after `slot`, in position order. */
	placementsAfter(slot: number, limit: number): PlacementRow[] {
		return this.sql
			.all<PlacementRow>(`SELECT slot, line, start, count FROM placements WHERE slot > ? ORDER BY slot DESC, line DESC LIMIT ?`, slot, limit)
			.reverse();
	}

	/** Every block of positions placed, in position order. */
	allPlacements(): PlacementRow[] {
		return this.sql.all<PlacementRow>(`SELECT slot, line, start, count FROM placements ORDER BY start`);
	}

	/** Every batch, in admission order. */
	allBatches(): BatchRow[] {
		return this.sql.all<BatchRow>(`SELECT through, at, count FROM batches ORDER BY through`);
	}

	/** Fans admitted per second over the last PACE_WINDOW_MS (the configured pace before there is history): the polling advice's guide. */
	pace(drop: DropConfig, now: number): number {
		return admissionPace(this.recentAdmissions(drop, now), drop.admission.batchSize, drop.admission.intervalMs);
	}

	/** Fans admitted a minute over the last PACE_WINDOW_MS, measured only (null when none went in): the published pace waits are told from. */
	admittedPerMinute(drop: DropConfig, now: number): number | null {
		return measuredPacePerMinute(this.recentAdmissions(drop, now));
	}

	/** The fans admitted within the pace window and the span they went in over (from the first batch, plus one interval). */
	private recentAdmissions(drop: DropConfig, now: number): { admitted: number; spanMs: number } {
		const recent = this.sql.first<{ admitted: number; first: number | null }>(`SELECT COALESCE(SUM(count), 0) AS admitted, MIN(at) AS first FROM batches WHERE at > ?`, now - PACE_WINDOW_MS)!;
		return { admitted: recent.admitted, spanMs: recent.first === null ? 0 : now - recent.first + drop.admission.intervalMs };
	}

	/** When the fan at `position` was admitted, for the rare fan whose batch the watermark no longer lists. */
	admittedAt(position: number): Outcome<{ at: number }> {
		const row = this.sql.first<{ at: number }>(`SELECT at FROM batches WHERE through >= ? ORDER BY through LIMIT 1`, position);
		if (row === null) return fail(409, "not_admitted", "This fan has not been admitted yet.");
		return ok({ at: row.at });
	}

	/** The promoter's counts, with `joined` as the lines report it this moment. */
	stats(joined: number): RoomStats {
		const state = this.state();
		return {
			seedCommitment: state.seed_commitment,
			joined,
			// Sold out, fans still wait: for the tickets that come back.
			waiting: Math.max(0, joined - state.admitted_through),
			admitted: state.admitted_through,
			placed: state.next_position - 1,
		};
	}

	/**
	 * Wakes a sleeping pacer of an opened drop, paused too (a paused drop still takes joins
	 * and tells their positions, which the pacer places); true when the alarm must ring now.
	 */
	wake(): boolean {
		// A line's first join after a quiet seal: the next tick seals, asleep or not.
		this.sealPace.woken();
		const drop = this.config();
		const state = this.state();
		if (drop === null || state.sleeping === 0 || (drop.paused && state.opened_at === null)) return false;
		this.sql.run(`UPDATE pacer SET sleeping = 0 WHERE id = 1`);
		return true;
	}

	/**
	 * Tickets came back on sale: the sell-out is forgotten, and a look at the totals
	 * already under way does not mark it sold out again. True when the alarm must ring now.
	 */
	reopen(): boolean {
		this.reopens++;
		this.dry.watching = false;
		// A later sell-out owes its own last look for late joins.
		this.lateLookDue = true;
		if (this.state().sold_out === 0) return false;
		this.sql.run(`UPDATE pacer SET sold_out = 0, totals_at = NULL, sleeping = 0 WHERE id = 1`);
		return true;
	}

	/**
	 * The line for returned tickets (null `from` before any sell-out; whether anyone waits), for a look or a refund's
	 * restock. Asked for a restock before the first sell-out, no sell-out is marked for RESTOCK_LEASE_MS (nor by a look
	 * under way): the shard, told no line exists, would let an earlier turn hold the ticket. The restock lands within it.
	 */
	returnsLine(now: number, restocking = false): { from: number | null; waiting: boolean; until: number } {
		const state = this.state();
		if (restocking && state.returns_from === null) {
			this.reopens++;
			this.sql.run(`UPDATE pacer SET declare_after = MAX(COALESCE(declare_after, 0), ?) WHERE id = 1`, now + RESTOCK_LEASE_MS);
		}
		// Anyone placed after the sell-out, waiting or offered a ticket: an offer stands for its whole turn.
		const waiting = state.next_position - 1 > (state.returns_from ?? state.admitted_through);
		return { from: state.returns_from, waiting, until: now + RESTOCK_LEASE_MS };
	}

	startTick(now: number): TickStart {
		const drop = this.config();
		if (drop !== null && setStateOf(drop) === "cancelled") return { kind: "cancelled", drop };
		if (drop === null) return { kind: "idle" };
		// Paused before the opening, nobody has a position yet: the opening waits for the resume.
		if (drop.paused && this.state().opened_at === null) return { kind: "idle" };
		this.sql.run(`UPDATE pacer SET sleeping = 0 WHERE id = 1`);
		// Paused, the lines still take joins and tell their positions: they are placed, nobody is admitted.
		if (drop.paused) return { kind: "paused", drop };
		this.admission.started(now);
		if (this.state().opened_at !== null) return { kind: "run", drop };
		const opensAt = Date.parse(drop.opensAt);
		if (now < opensAt) return { kind: "wait", until: opensAt };
		return { kind: "open", drop };
	}

	/**
	 * The opening, with each line's pre-queue size: the pre-queue has positions 1..size,
	 * and later joins get slots from `firstSlot` on. Opened once.
	 */
	opened(firstSlot: number, counts: number[], now: number): void {
		const size = counts.reduce((a, b) => a + b, 0);
		this.transaction(() => {
			if (this.state().opened_at !== null) return;
			this.sql.run(
				`UPDATE pacer SET opened_at = ?, prequeue_counts = ?, prequeue_size = ?, next_position = ?, sealed_through = ?,
				 notified_through = ? WHERE id = 1`,
				now, JSON.stringify(counts), size, size + 1, firstSlot - 1, firstSlot - 1,
			);
		});
	}

	/**
	 * The slots to seal: every one up to the present, the one in progress too (a join that reaches its line after this
	 * goes into the next slot, behind everyone sealed now, so the order stays first come, first served). Each line is
	 * also brought where its earlier slots were placed and, once, the seed with the pre-queue counts. Null: none to
	 * seal.
	 */
	sealRequest(lines: number, now: number): SealRequest | null {
		const state = this.state();
		if (state.sealed_through === null) return null;
		const from = state.sealed_through + 1;
		const through = slotOf(now);
		if (through < from) return null;
		const undelivered = this.sql.all<{ slot: number; line: number; start: number }>(
			`SELECT slot, line, start FROM placements WHERE slot > ?`,
			state.notified_through ?? -1,
		);
		const prequeue = state.prequeue_delivered ? null : { seed: state.seed, counts: JSON.parse(state.prequeue_counts ?? "[]") as number[] };
		return {
			sealedThrough: state.sealed_through,
			from,
			through,
			lines: Array.from({ length: lines }, (_, k) => ({
				from,
				through,
				placements: undelivered.filter((p) => p.line === k).map((p) => ({ slot: p.slot, start: p.start })),
				prequeue,
			})),
		};
	}

	/** Lays the sealed slots out after the last position, from every line's counts. Returns the fans placed. */
	placeSealed(request: SealRequest, reports: SealReport[]): number {
		return this.transaction(() => {
			const current = this.state();
			// Another tick sealed these meanwhile (a restart, a test calling the alarm twice).
			if (current.sealed_through !== request.sealedThrough) return 0;
			const laid = placeSlots(current.next_position, reports.map((r): LineReport => ({ line: r.line, slots: r.slots })));
			for (const p of laid.placements) {
				this.sql.run(`INSERT INTO placements (slot, line, start, count) VALUES (?, ?, ?, ?)`, p.slot, p.line, p.start, p.count);
			}
			this.sql.run(
				`UPDATE pacer SET sealed_through = ?, next_position = ?, notified_through = ?, prequeue_delivered = 1 WHERE id = 1`,
				request.through, laid.nextPosition, request.from - 1,
			);
			return laid.nextPosition - current.next_position;
		});
	}

	soldOut(): boolean {
		return this.state().sold_out === 1;
	}

	/**
	 * After the sell-out the pacer only places joins that still reach the lines (in the second before the Workers hear
	 * of it); paused or cancelled, it does the same. While it places some it ticks on; then it takes one more look
	 * WAKE_AFTER_MS later, because a line that woke it a moment ago does not wake it again within WAKE_AFTER_MS; after
	 * that look finds nothing it sleeps (a join later than that wakes it). A restart takes the one more look again.
	 * Returns when the alarm should ring, or null: asleep.
	 */
	afterSellOut(sealed: number, now: number): number | null {
		if (sealed > 0) {
			this.lateLookDue = true;
			return now + BUSY_TICK_MS;
		}
		if (this.lateLookDue) {
			this.lateLookDue = false;
			return now + WAKE_AFTER_MS + BUSY_TICK_MS;
		}
		this.sql.run(`UPDATE pacer SET sleeping = 1 WHERE id = 1`);
		return null;
	}

	/** Whether the tick gathers the shards' totals: a batch is due with fans waiting, or the totals are stale. */
	totalsDue(drop: DropConfig, now: number): boolean {
		const state = this.state();
		const waiting = state.next_position - 1 - state.admitted_through;
		// Watched by the shards, a dry drop needs no look: nothing is free to admit anyone to, and a shard tells of a change.
		const watched = this.dry.lookDue(state.totals_at, now);
		if (watched !== null) return watched;
		const stale = state.totals_at === null || state.totals_at + TOTALS_MAX_AGE_MS <= now;
		return (this.admissionDue(drop, now) && waiting > 0) || stale;
	}

	/**
	 * Keeps the totals gathered and marks the drop sold out when every ticket is sold, unless a reopening came after the
	 * look began (`reopensAtAsk`: `reopens` then). A ticket sold stays sold unless a refund puts it back on sale, which
	 * reopens the drop. "No stock and no holds" alone is not sold out: a ticket moving between two shards is in neither.
	 */
	recordTotals(drop: DropConfig, totals: ShardTotals, reopensAtAsk: number, now: number, watched = false): void {
		this.dry.recorded(watched && reopensAtAsk === this.reopens, totals);
		this.sql.run(`UPDATE pacer SET totals = ?, totals_at = ? WHERE id = 1`, JSON.stringify(totals), now);
		// The first sell-out also marks where the line of returns begins: every ticket that comes back from now on is
		// offered to the fans placed after the last one admitted, in order, and only to them (batch-admission.ts).
		// Not while a refund puts a ticket back on a shard told there was no line for returns yet (returnsLine).
		// A sale window's room has none: what it leaves unsold goes to the general sale.
		if (totals.sold >= drop.capacity && reopensAtAsk === this.reopens && now >= (this.state().declare_after ?? 0)) {
			this.admission.markSoldOut(now, (drop as RoomConfig).saleWindow === undefined);
		}
	}

	/** Notes tickets in holds as fans at work, then admits the next batch if one is due. Returns the fans admitted. */
	admitIfDue(drop: DropConfig, totals: ShardTotals, now: number): number {
		this.admission.looked(totals, now);
		// The drop's state machine decides whether anyone is let in: only an open drop admits (not paused, not cancelled).
		if (!this.admissionDue(drop, now) || !allows(stateOfSet(setStateOf(this.config()!)), "admit")) return 0;
		return this.admission.admit(drop, totals, this.state(), now);
	}

	/** The end of a tick on sale: when the alarm should ring, or null when nobody is joining or waiting (asleep until woken). */
	endTick(sealed: number, now: number): number | null {
		const state = this.state();
		if (sealed > 0 || this.dry.lookOwed || state.next_position - 1 > state.admitted_through) return now + BUSY_TICK_MS;
		this.sql.run(`UPDATE pacer SET sleeping = 1 WHERE id = 1`);
		return null;
	}

	/** At most one batch per interval, counted from when the last went in. */
	private admissionDue(drop: DropConfig, at: number): boolean {
		const last = this.state().last_admission_at;
		return last === null || last + drop.admission.intervalMs <= at;
	}
}
