// What a shard knows of the line for returned tickets: after the drop's first
// sell-out the pacer fixes `from`, the last position admitted then, and every
// ticket that comes back is for the fans placed after it. The shard keeps it in
// its storage and refuses, at the moment stock is taken, a hold of a turn from
// before the sell-out while anyone waits, so a Worker's second-old copy of the
// watermark cannot let an earlier turn take a returned ticket. It learns `from`
// before any returned stock can be held here: with the restock (asked of the
// pacer first), with stock a peer gives, and with the pacer's look each tick.
import { type Outcome, fail } from "../shared/outcome";
import { LedgerSection } from "./ledger-store";

/** The line for returned tickets as the pacer told it: `from` (null before any sell-out), and whether anyone is in it (waiting or offered). */
export interface ReturnsLine {
	from: number | null;
	waiting: boolean;
}

/** The refusal of a hold by the fan at `position` (0: a token that carries none), or null when it may hold. */
export function returnsRefusal(line: ReturnsLine | null, position: number): Outcome<never> | null {
	if (line === null || line.from === null || !line.waiting || position > line.from) return null;
	return fail(409, "returns_in_line", "This drop sold out; tickets that come back go to the fans waiting in line, in order.");
}

export class ReturnsLedger extends LedgerSection {
	/**
	 * Notes the line as the pacer told it (directly or through a peer). `from` is fixed once the pacer has set it, so a
	 * copy that predates it never forgets it; `waiting` is the newest told.
	 */
	note(line: ReturnsLine | null | undefined, now: number): void {
		if (line === null || line === undefined) return;
		const known = this.line();
		if (known === null && line.from === null) return;
		this.sql.run(
			`INSERT INTO returns_line (id, from_position, waiting, at) VALUES (1, ?, ?, ?)
			 ON CONFLICT (id) DO UPDATE SET from_position = COALESCE(returns_line.from_position, excluded.from_position), waiting = excluded.waiting, at = excluded.at`,
			line.from, line.waiting ? 1 : 0, now,
		);
	}

	/** The line this shard knows, or null when it has heard of no sell-out. */
	line(): ReturnsLine | null {
		const row = this.sql.first<{ from_position: number | null; waiting: number }>(`SELECT from_position, waiting FROM returns_line WHERE id = 1`);
		return row === null || row.from_position === null ? null : { from: row.from_position, waiting: row.waiting === 1 };
	}
}
