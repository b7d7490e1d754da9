// The pacer's tables, made in one place: its settings, its one row (the seed and
// its commitment, the opening, how far it has sealed, placed and admitted, the
// sell-out and where the line of returns began, the last totals), the blocks of positions placed and the batches
// admitted. Made synchronously and idempotently when the pacer starts.
import type { Sql } from "../shared/sql";

/** The pacer's one row. */
export type PacerState = {
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
	/** The last position admitted when the drop first sold out: every later admission is an offer of returned stock. Null before. */
	returns_from: number | null;
	/**
	 * Before the first sell-out: no sell-out is marked before this time (ms), because a refund is putting a ticket back
	 * on a shard that was told no line for returns yet (pacer-core.ts, returnsLine).
	 */
	declare_after: number | null;
	totals: string | null;
	totals_at: number | null;
	sleeping: number;
};

export function createPacerTables(sql: Sql): void {
	sql.run(`CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)`);
	sql.run(`CREATE TABLE IF NOT EXISTS pacer (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		seed TEXT NOT NULL, seed_commitment TEXT NOT NULL,
		opened_at INTEGER, prequeue_counts TEXT, prequeue_size INTEGER NOT NULL DEFAULT 0,
		prequeue_delivered INTEGER NOT NULL DEFAULT 0,
		sealed_through INTEGER, notified_through INTEGER, next_position INTEGER NOT NULL DEFAULT 1,
		admitted_through INTEGER NOT NULL DEFAULT 0, last_admission_at INTEGER,
		sold_out INTEGER NOT NULL DEFAULT 0, returns_from INTEGER, declare_after INTEGER,
		totals TEXT, totals_at INTEGER, sleeping INTEGER NOT NULL DEFAULT 0)`);
	// One block of positions per (slot, line) with anyone in it.
	sql.run(`CREATE TABLE IF NOT EXISTS placements (
		slot INTEGER NOT NULL, line INTEGER NOT NULL, start INTEGER NOT NULL UNIQUE, count INTEGER NOT NULL,
		PRIMARY KEY (slot, line))`);
	// buyers_before: fans who had bought when the batch went in, so the active count needs no note per buyer.
	sql.run(`CREATE TABLE IF NOT EXISTS batches (at INTEGER NOT NULL, count INTEGER NOT NULL, through INTEGER NOT NULL, buyers_before INTEGER NOT NULL DEFAULT 0)`);
	sql.run(`CREATE INDEX IF NOT EXISTS batches_by_at ON batches (at)`);
	// A pacer made before the line outlived the sell-out gains the columns it keeps for the returns.
	const have = new Set(sql.all<{ name: string }>(`PRAGMA table_info(pacer)`).map((c) => c.name));
	for (const column of ["returns_from", "declare_after"]) {
		if (!have.has(column)) sql.run(`ALTER TABLE pacer ADD COLUMN ${column} INTEGER`);
	}
}
