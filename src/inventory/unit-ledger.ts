// The named units a shard decides: the pools placed on it (a further
// general-admission type, a timeslot, a seated section; see src/drops/ticket-types.ts),
// their seats, and the claims that holds made on them. Every change is one
// synchronous SQL transaction returning what happened. Pure of I/O, like the
// ledger it sits beside (src/inventory/ledger.ts).
//
// A claim is made for a hold that lives on the fan's home shard, under that hold's
// id, and only that home shard ends it: `release` (the hold was released, expired
// or never made) or `sold` (it was bought). So a unit is never freed while its hold
// may still be bought, and a unit claimed is held by exactly one hold.
import { type Outcome, fail, ok } from "../shared/outcome";
import type { Sql } from "../shared/sql";
import type { Seat } from "../drops/ticket-types";

export interface PoolInit {
	typeId: string;
	pool: string;
	kind: "count" | "seats";
	capacity: number;
	/** kind "seats": the section's seats, in the promoter's order (best first). */
	seats?: Seat[];
}

export interface ClaimInput {
	holdId: string;
	homeShard: number;
	typeId: string;
	pool: string;
	quantity: number;
	/** Named seats (all or none), or null: a count, or the best available seats. */
	seats: string[] | null;
	now: number;
}

export interface Claimed {
	seats: string[];
	/** Best available: whether the seats are side by side in one row. */
	together: boolean;
}

/** What the pacer and the audit see of a shard's named units. */
export interface UnitCounts {
	free: number;
	held: number;
	sold: number;
}

export interface PoolCounts extends UnitCounts {
	typeId: string;
	pool: string;
	kind: "count" | "seats";
	capacity: number;
	/** Seats sold more than once, or sold seats no sold claim names (always 0 unless storage is corrupt). */
	seatErrors: number;
}

/** Free seats of a section, compactly: each row with its free seat numbers as ranges ("1-4,7"). */
export interface SectionSeats {
	typeId: string;
	section: string;
	rows: { row: string; free: string }[];
}

type ClaimRow = { hold_id: string; type_id: string; pool: string; quantity: number; seats: string; state: "held" | "sold" | "released" };

export class UnitLedger {
	constructor(private readonly sql: Sql, private readonly transaction: <T>(fn: () => T) => T) {
		sql.run(`CREATE TABLE IF NOT EXISTS pools (
			type_id TEXT NOT NULL, pool TEXT NOT NULL, kind TEXT NOT NULL, capacity INTEGER NOT NULL,
			free INTEGER NOT NULL CHECK (free >= 0), PRIMARY KEY (type_id, pool))`);
		sql.run(`CREATE TABLE IF NOT EXISTS seats (
			seat_id TEXT PRIMARY KEY, type_id TEXT NOT NULL, pool TEXT NOT NULL, row_name TEXT NOT NULL,
			row_rank INTEGER NOT NULL, number INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'free', hold_id TEXT)`);
		sql.run(`CREATE INDEX IF NOT EXISTS seats_free ON seats (type_id, pool, state, row_rank, number)`);
		sql.run(`CREATE TABLE IF NOT EXISTS claims (
			hold_id TEXT PRIMARY KEY, home_shard INTEGER NOT NULL, type_id TEXT NOT NULL, pool TEXT NOT NULL,
			quantity INTEGER NOT NULL, seats TEXT NOT NULL, state TEXT NOT NULL, created_at INTEGER NOT NULL)`);
		sql.run(`CREATE INDEX IF NOT EXISTS claims_by_pool ON claims (type_id, pool, state)`);
	}

	/**
	 * Sets this shard's pools (idempotent: a pool set before keeps its state). `replace`
	 * names seated types whose seats are replaced (a CSV upload before the opening): their
	 * sections here are dropped first, and only those still placed here are set again.
	 */
	setPools(pools: PoolInit[], replace: string[] = []): void {
		this.transaction(() => {
			for (const typeId of replace) {
				if (this.sql.number(`SELECT COUNT(*) FROM claims WHERE type_id = ?`, typeId) > 0) throw new Error("seats have claims; they cannot be replaced");
				this.sql.run(`DELETE FROM seats WHERE type_id = ?`, typeId);
				this.sql.run(`DELETE FROM pools WHERE type_id = ?`, typeId);
			}
			for (const p of pools) {
				const inserted = this.sql.run(
					`INSERT INTO pools (type_id, pool, kind, capacity, free) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
					p.typeId, p.pool, p.kind, p.capacity, p.capacity,
				);
				if (inserted === 0 || p.kind !== "seats") continue;
				const ranks = new Map<string, number>();
				for (const s of p.seats ?? []) {
					if (!ranks.has(s.row)) ranks.set(s.row, ranks.size);
					this.sql.run(
						`INSERT INTO seats (seat_id, type_id, pool, row_name, row_rank, number) VALUES (?, ?, ?, ?, ?, ?)`,
						s.id, p.typeId, p.pool, s.row, ranks.get(s.row)!, s.number,
					);
				}
			}
		});
	}

	hasPools(): boolean {
		return this.sql.first(`SELECT 1 AS any FROM pools LIMIT 1`) !== null;
	}

	/**
	 * Claims units for a hold, all or none, once per hold id: a repeat answers the
	 * first claim; a hold already ended here (a release that arrived first) is refused.
	 */
	claim(input: ClaimInput): Outcome<Claimed> {
		return this.transaction((): Outcome<Claimed> => {
			const existing = this.sql.first<ClaimRow>(`SELECT * FROM claims WHERE hold_id = ?`, input.holdId);
			if (existing !== null) {
				if (existing.state === "released") return fail(410, "hold_released", "This hold has ended.");
				return ok({ seats: JSON.parse(existing.seats) as string[], together: true });
			}
			const pool = this.sql.first<{ kind: string; free: number }>(`SELECT kind, free FROM pools WHERE type_id = ? AND pool = ?`, input.typeId, input.pool);
			if (pool === null) return fail(422, "unknown_pool", "No such section or slot here.");
			let picked: Claimed;
			if (input.seats !== null) {
				// Seats not in this type's section are unknown here, wherever else they may be (a hold that
				// names no section learns from D1's seat directory whether they exist, and of which type).
				const found = this.seatsNamed(input.seats);
				const unknown = input.seats.filter((id) => found.get(id)?.type_id !== input.typeId || found.get(id)?.pool !== input.pool);
				if (unknown.length > 0) {
					return fail(422, "unknown_seat", `No seat ${unknown.map((s) => `"${s}"`).join(", ")} in this section of this ticket type.`, { field: "seats", seats: unknown });
				}
				const taken = [...found.values()].filter((s) => s.state !== "free").map((s) => s.seat_id);
				if (taken.length > 0) return fail(409, "seats_taken", "Someone else holds or bought these seats.", { seats: taken });
				picked = { seats: input.seats, together: true };
			} else if (pool.kind === "seats") {
				const best = this.bestAvailable(input.typeId, input.pool, input.quantity);
				if (best === null) return notEnough(pool.free);
				picked = best;
			} else {
				if (pool.free < input.quantity) return notEnough(pool.free);
				picked = { seats: [], together: true };
			}
			if (picked.seats.length > 0) {
				const marked = this.sql.run(
					`UPDATE seats SET state = 'held', hold_id = ? WHERE state = 'free' AND seat_id IN (SELECT value FROM json_each(?))`,
					input.holdId, JSON.stringify(picked.seats),
				);
				// Every seat was free a line ago, in this transaction: anything else is a broken store.
				if (marked === 0) throw new Error("seat state changed inside a transaction");
			}
			this.sql.run(`UPDATE pools SET free = free - ? WHERE type_id = ? AND pool = ?`, input.quantity, input.typeId, input.pool);
			this.sql.run(
				`INSERT INTO claims (hold_id, home_shard, type_id, pool, quantity, seats, state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'held', ?)`,
				input.holdId, input.homeShard, input.typeId, input.pool, input.quantity, JSON.stringify(picked.seats), input.now,
			);
			return ok(picked);
		});
	}

	/**
	 * Ends claims as their home shard decided: `sold` makes them final, `release` frees
	 * their units (and remembers the id, so a claim arriving late is refused). Idempotent.
	 */
	settle(input: { sold: string[]; release: string[]; now: number }): void {
		this.transaction(() => {
			for (const holdId of input.sold) {
				const claim = this.sql.first<ClaimRow>(`SELECT * FROM claims WHERE hold_id = ?`, holdId);
				if (claim === null || claim.state !== "held") continue;
				this.sql.run(`UPDATE claims SET state = 'sold' WHERE hold_id = ?`, holdId);
				this.sql.run(`UPDATE seats SET state = 'sold' WHERE hold_id = ? AND state = 'held'`, holdId);
			}
			for (const holdId of input.release) {
				const claim = this.sql.first<ClaimRow>(`SELECT * FROM claims WHERE hold_id = ?`, holdId);
				if (claim === null) {
					this.sql.run(
						`INSERT INTO claims (hold_id, home_shard, type_id, pool, quantity, seats, state, created_at) VALUES (?, -1, '', '', 0, '[]', 'released', ?)`,
						holdId, input.now,
					);
					continue;
				}
				if (claim.state !== "held") continue;
				this.sql.run(`UPDATE claims SET state = 'released' WHERE hold_id = ?`, holdId);
				this.sql.run(`UPDATE seats SET state = 'free', hold_id = NULL WHERE hold_id = ? AND state = 'held'`, holdId);
				this.sql.run(`UPDATE pools SET free = free + ? WHERE type_id = ? AND pool = ?`, claim.quantity, claim.type_id, claim.pool);
			}
		});
	}

	/**
	 * Forgets claims whose hold ended (released, expired, never made: the markers too) a day
	 * after they were written: a claim arriving later than that is not waited for. Sold ones stay.
	 */
	prune(now: number, keepMs: number): number {
		return this.transaction(() => this.sql.run(`DELETE FROM claims WHERE state = 'released' AND created_at <= ?`, now - keepMs));
	}

	/** When the oldest ended claim may be forgotten (null: none to forget). */
	nextPrune(keepMs: number): number | null {
		const at = this.sql.first<{ at: number | null }>(`SELECT MIN(created_at) AS at FROM claims WHERE state = 'released'`)?.at ?? null;
		return at === null ? null : at + keepMs;
	}

	counts(): UnitCounts {
		const row = this.sql.first<{ free: number | null; held: number | null; sold: number | null }>(
			`SELECT (SELECT SUM(free) FROM pools) AS free,
			        (SELECT SUM(quantity) FROM claims WHERE state = 'held') AS held,
			        (SELECT SUM(quantity) FROM claims WHERE state = 'sold') AS sold`,
		);
		return { free: row?.free ?? 0, held: row?.held ?? 0, sold: row?.sold ?? 0 };
	}

	/** Each pool's counts, and for seated ones a check that no seat is sold twice. */
	poolCounts(): PoolCounts[] {
		return this.sql
			.all<{ type_id: string; pool: string; kind: "count" | "seats"; capacity: number; free: number; held: number; sold: number; seat_errors: number }>(
				`SELECT p.type_id, p.pool, p.kind, p.capacity, p.free,
				   COALESCE((SELECT SUM(quantity) FROM claims c WHERE c.type_id = p.type_id AND c.pool = p.pool AND c.state = 'held'), 0) AS held,
				   COALESCE((SELECT SUM(quantity) FROM claims c WHERE c.type_id = p.type_id AND c.pool = p.pool AND c.state = 'sold'), 0) AS sold,
				   CASE WHEN p.kind = 'seats' THEN
				     ABS((SELECT COUNT(*) FROM seats s WHERE s.type_id = p.type_id AND s.pool = p.pool AND s.state = 'sold') -
				         COALESCE((SELECT SUM(quantity) FROM claims c WHERE c.type_id = p.type_id AND c.pool = p.pool AND c.state = 'sold'), 0)) +
				     ABS((SELECT COUNT(*) FROM seats s WHERE s.type_id = p.type_id AND s.pool = p.pool AND s.state = 'free') - p.free)
				   ELSE 0 END AS seat_errors
				 FROM pools p ORDER BY p.type_id, p.pool`,
			)
			.map((r) => ({ typeId: r.type_id, pool: r.pool, kind: r.kind, capacity: r.capacity, free: r.free, held: r.held, sold: r.sold, seatErrors: r.seat_errors }));
	}

	/**
	 * Every seated section here with its free seats, row by row (rows in the promoter's order).
	 * A row's free seats are found by its rank (one to one with its name in a section), through
	 * the index: by name, every row read the whole section (rows × seats; 4 million rows for a
	 * section of 20,000 seats in 200 rows, each time the pacer looked).
	 */
	freeSeats(): SectionSeats[] {
		const rows = this.sql.all<{ type_id: string; pool: string; row_name: string; numbers: string | null }>(
			`SELECT type_id, pool, row_name, (SELECT group_concat(number) FROM (SELECT number FROM seats f WHERE f.type_id = r.type_id AND f.pool = r.pool
			    AND f.state = 'free' AND f.row_rank = r.rank ORDER BY number)) AS numbers
			 FROM (SELECT type_id, pool, row_name, MIN(row_rank) AS rank FROM seats GROUP BY type_id, pool, row_name) r
			 ORDER BY type_id, pool, rank`,
		);
		const out: SectionSeats[] = [];
		for (const r of rows) {
			let last = out[out.length - 1];
			const section = r.pool.slice(2);
			if (!last || last.typeId !== r.type_id || last.section !== section) {
				last = { typeId: r.type_id, section, rows: [] };
				out.push(last);
			}
			last.rows.push({ row: r.row_name, free: ranges(r.numbers === null ? [] : r.numbers.split(",").map(Number)) });
		}
		return out;
	}

	/** Of these seat ids, the ones this shard has. */
	private seatsNamed(ids: string[]): Map<string, { seat_id: string; type_id: string; pool: string; state: string }> {
		const rows = this.sql.all<{ seat_id: string; type_id: string; pool: string; state: string }>(
			`SELECT seat_id, type_id, pool, state FROM seats WHERE seat_id IN (SELECT value FROM json_each(?))`,
			JSON.stringify(ids),
		);
		return new Map(rows.map((r) => [r.seat_id, r]));
	}

	/**
	 * The best `quantity` free seats of a section: side by side in one row (consecutive
	 * numbers), the first such run in the promoter's row order; where no row has such a
	 * run, the first free seats in that order, `together: false`. Null: too few free.
	 * The free seats are read in that order a page at a time, through the index, until the
	 * first run: a hold reads about as many seats as lie before its own, not the whole
	 * section (100,000 seats read per hold, at every hold, before).
	 */
	private bestAvailable(typeId: string, pool: string, quantity: number): Claimed | null {
		const first: string[] = [];
		let run: string[] = [];
		type FreeSeat = { seat_id: string; row_rank: number; number: number; rid: number };
		let last: FreeSeat | null = null;
		for (;;) {
			const page: FreeSeat[] = this.sql.all<FreeSeat>(
				`SELECT seat_id, row_rank, number, rowid AS rid FROM seats WHERE type_id = ? AND pool = ? AND state = 'free'
				 AND (row_rank, number, rowid) > (?, ?, ?) ORDER BY row_rank, number, rowid LIMIT ?`,
				typeId, pool, last?.row_rank ?? -1, last?.number ?? -1, last?.rid ?? -1, BEST_PAGE,
			);
			for (const seat of page) {
				if (first.length < quantity) first.push(seat.seat_id);
				const follows = last !== null && seat.row_rank === last.row_rank && seat.number === last.number + 1;
				run = follows ? [...run, seat.seat_id] : [seat.seat_id];
				last = seat;
				if (run.length === quantity) return { seats: run, together: true };
			}
			if (page.length < BEST_PAGE) break;
		}
		return first.length < quantity ? null : { seats: first, together: false };
	}
}

/** Free seats read at a time by best available. */
const BEST_PAGE = 500;

const notEnough = (free: number): Outcome<never> =>
	free === 0 ? fail(409, "sold_out", "None of these are left.") : fail(409, "not_enough_left", `Only ${free} are left here; ask for fewer.`, { available: free });

/** Sorted numbers as ranges: [1,2,3,5] → "1-3,5". */
export function ranges(numbers: number[]): string {
	const parts: string[] = [];
	for (let i = 0; i < numbers.length; ) {
		let j = i;
		while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
		parts.push(i === j ? String(numbers[i]) : `${numbers[i]}-${numbers[j]}`);
		i = j + 1;
	}
	return parts.join(",");
}
