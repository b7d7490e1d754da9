// How the pacer lets fans in once a batch is due: how many (admission.ts sizes the
// batch), written with the fans still shopping counted at that moment, and how much
// room the shoppers' cap leaves before it holds admission back (what a wait can be
// promised from); the sell-out's mark, where the line for returned tickets begins.
// Synchronous over the pacer's batches table, the time passed in; the sell-out and
// each batch offered returned tickets note their activity entry (line-log.ts).
import type { DropConfig } from "../drops/rules";
import type { ShardTotals } from "../inventory/ledger";
import type { Sql } from "../shared/sql";
import { activeFans, nextBatchSize } from "./admission";
import type { PacerState } from "./pacer-schema";
import { LineLog } from "./line-log";

export class BatchAdmission {
	/**
	 * The last time a look saw tickets in holds, or the first look after one that did (memory: a fresh instance starts
	 * from its first tick, never making admitted fans look gone). Looks can be 10 s apart while a dry drop is watched, and
	 * holds a look saw may have lasted until just before the next: the fans are counted at work until that next look.
	 */
	lastBusyAt: number | null = null;
	private heldAtLastLook = false;
	/** The promoter's log entries of the line after the sell-out, waiting for D1. */
	readonly log: LineLog;

	/** `accessWindowMs`: how long an admitted fan's turn lasts; fans admitted within it may still be shopping. */
	constructor(
		private readonly sql: Sql,
		private readonly transaction: <T>(fn: () => T) => T,
		private readonly accessWindowMs: number,
	) {
		this.log = new LineLog(sql);
	}

	/**
	 * Every ticket is sold: marked, and the first time also where the line for returned tickets begins (every fan
	 * placed after the last one admitted), with its log entry: the fans admitted before it and those left waiting.
	 * A sale window's room (`withReturnsLine` false) has no such line: only the mark.
	 */
	markSoldOut(now: number, withReturnsLine = true): void {
		if (!withReturnsLine) return void this.sql.run(`UPDATE pacer SET sold_out = 1 WHERE id = 1`);
		this.transaction(() => {
			const before = this.sql.first<PacerState>(`SELECT * FROM pacer WHERE id = 1`)!;
			this.sql.run(`UPDATE pacer SET sold_out = 1, returns_from = COALESCE(returns_from, admitted_through) WHERE id = 1`);
			if (before.returns_from !== null) return;
			this.log.note("drop.sold_out", { returnsFrom: before.admitted_through, waiting: before.next_position - 1 - before.admitted_through }, now);
		});
	}

	/** A tick on sale began: an instance that never looked counts the fans at work from now. */
	started(now: number): void {
		this.lastBusyAt ??= now;
	}

	/** A look at the shards' totals: tickets in holds are fans at work. */
	looked(totals: ShardTotals, now: number): void {
		if (totals.held > 0 || this.heldAtLastLook) this.lastBusyAt = now;
		this.heldAtLastLook = totals.held > 0;
	}

	/**
	 * Fans still shopping: admitted within an access window, less those who have bought since. After a sell-out only the
	 * fans offered a returned ticket count (their turn is the offer, `offerSeconds` long): the fans admitted before it
	 * may hold nothing more while anyone waits (fan-hold-routes.ts).
	 */
	shopping(drop: DropConfig, totals: ShardTotals, state: PacerState, now: number): number {
		const returns = state.returns_from !== null;
		const windowStart = now - (returns ? drop.admission.offerSeconds * 1000 : this.accessWindowMs);
		const after = returns ? state.returns_from! : -1;
		const window = this.sql.first<{ admitted: number; buyers_before: number | null }>(
			`SELECT COALESCE(SUM(count), 0) AS admitted,
			 (SELECT buyers_before FROM batches WHERE at > ? AND through > ? ORDER BY at LIMIT 1) AS buyers_before
			 FROM batches WHERE at > ? AND through > ?`,
			windowStart, after, windowStart, after,
		)!;
		return activeFans(window.admitted, totals.buyers, window.buyers_before);
	}

	/**
	 * Fans admitted per ticket left: the drop's multiple, or one for returned tickets after a sell-out. The watermark's
	 * admission room is this times the tickets left less the fans still shopping: past it admission waits for fans to
	 * buy, give up or run out of time, which no pace foretells.
	 */
	multiple(drop: DropConfig, state: PacerState): number {
		return multipleOf(drop, state);
	}

	/**
	 * Admits the next batch (the batch is due): answers the fans admitted. After a sell-out a batch is exactly the
	 * tickets back on sale less the offers still running, and never the stall's full batch: an offer lasts its whole
	 * turn, so the fan can come back to it, and the ticket passes to the next fan only when it ends.
	 */
	admit(drop: DropConfig, totals: ShardTotals, state: PacerState, now: number): number {
		const returns = state.returns_from !== null;
		const count = nextBatchSize({
			batchSize: drop.admission.batchSize,
			activeMultiple: multipleOf(drop, state),
			remaining: totals.remaining,
			held: totals.held,
			active: this.shopping(drop, totals, state, now),
			waiting: state.next_position - 1 - state.admitted_through,
			idleMs: returns ? 0 : now - Math.max(this.lastBusyAt ?? now, state.last_admission_at ?? 0),
		});
		if (count <= 0) return 0;
		const through = state.admitted_through + count;
		this.transaction(() => {
			this.sql.run(`UPDATE pacer SET admitted_through = ?, last_admission_at = ? WHERE id = 1`, through, now);
			this.sql.run(`INSERT INTO batches (at, count, through, buyers_before) VALUES (?, ?, ?, ?)`, now, count, through, totals.buyers);
			// One entry a batch of offers: what a promoter needs to follow the returned tickets down the line.
			if (returns) {
				const detail = { fans: count, positions: { from: state.admitted_through + 1, through }, ticketsBack: totals.remaining, offerSeconds: drop.admission.offerSeconds, waiting: state.next_position - 1 - through };
				this.log.note("drop.returns_offered", detail, now);
			}
		});
		return count;
	}
}

/** Fans admitted per ticket left: the drop's multiple, or one for returned tickets after a sell-out. */
const multipleOf = (drop: DropConfig, state: PacerState): number => (state.returns_from === null ? drop.admission.activeMultiple : 1);
