// A shard's holds by minute, for the queue figures: the fans who first held here in
// each minute (this is a fan's home shard, so each fan counts on one shard only) and
// the holds that ran out, whose tickets went back on sale. Read from the holds rows
// the shard writes anyway: nothing is written per fan or per hold for them. The prune,
// which forgets finished holds after a day, first folds what it forgets into
// hold_minutes (one statement per kind, per prune), so the figures outlast the rows.
import type { Sql } from "../shared/sql";

const MINUTE_MS = 60_000;

/** One minute of a shard's holds, by the minute's start (ms since the epoch). */
export interface HoldMinute {
	at: number;
	/** Fans whose first hold here was made in this minute. */
	shoppers: number;
	/** Holds that ran out in this minute, and their tickets (back on sale). */
	expiredHolds: number;
	expiredTickets: number;
}

export function createHoldMinutesTable(sql: Sql): void {
	sql.run(`CREATE TABLE IF NOT EXISTS hold_minutes (
		minute INTEGER PRIMARY KEY, shoppers INTEGER NOT NULL DEFAULT 0,
		expired_holds INTEGER NOT NULL DEFAULT 0, expired_tickets INTEGER NOT NULL DEFAULT 0)`);
}

/**
 * Before the prune forgets the holds `forgotten` names (an SQL condition on holds with one
 * parameter, the cutoff), folds them in: their expiries by minute, and the fans none of whose
 * holds stay, by the minute of their first. A fan who holds again after all theirs were
 * forgotten (a day later) is counted again.
 */
export function foldForgottenHolds(sql: Sql, forgotten: string, cutoff: number): void {
	sql.run(
		`INSERT INTO hold_minutes (minute, expired_holds, expired_tickets)
		 SELECT (expires_at / ${MINUTE_MS}) * ${MINUTE_MS} AS m, COUNT(*), SUM(quantity) FROM holds
		 WHERE state = 'expired' AND ${forgotten} GROUP BY m
		 ON CONFLICT (minute) DO UPDATE SET expired_holds = expired_holds + excluded.expired_holds,
		   expired_tickets = expired_tickets + excluded.expired_tickets`,
		cutoff,
	);
	sql.run(
		`INSERT INTO hold_minutes (minute, shoppers)
		 SELECT m, COUNT(*) FROM (
		   SELECT (MIN(created_at) / ${MINUTE_MS}) * ${MINUTE_MS} AS m FROM holds GROUP BY fan_id
		   HAVING SUM(CASE WHEN ${forgotten} THEN 0 ELSE 1 END) = 0
		 ) GROUP BY m
		 ON CONFLICT (minute) DO UPDATE SET shoppers = shoppers + excluded.shoppers`,
		cutoff,
	);
}

/** The shard's holds by minute, oldest first: the rows it keeps plus what the prune folded in. */
export function holdMinutes(sql: Sql): HoldMinute[] {
	const out = new Map<number, HoldMinute>();
	const at = (minute: number) => {
		let row = out.get(minute);
		if (row === undefined) out.set(minute, (row = { at: minute, shoppers: 0, expiredHolds: 0, expiredTickets: 0 }));
		return row;
	};
	for (const r of sql.all<{ minute: number; shoppers: number; expired_holds: number; expired_tickets: number }>(`SELECT * FROM hold_minutes`)) {
		const row = at(r.minute);
		row.shoppers += r.shoppers;
		row.expiredHolds += r.expired_holds;
		row.expiredTickets += r.expired_tickets;
	}
	for (const r of sql.all<{ m: number; n: number }>(
		`SELECT m, COUNT(*) AS n FROM (SELECT (MIN(created_at) / ${MINUTE_MS}) * ${MINUTE_MS} AS m FROM holds GROUP BY fan_id) GROUP BY m`,
	))
		at(r.m).shoppers += r.n;
	for (const r of sql.all<{ m: number; n: number; t: number }>(
		`SELECT (expires_at / ${MINUTE_MS}) * ${MINUTE_MS} AS m, COUNT(*) AS n, SUM(quantity) AS t FROM holds WHERE state = 'expired' GROUP BY m`,
	)) {
		const row = at(r.m);
		row.expiredHolds += r.n;
		row.expiredTickets += r.t;
	}
	return [...out.values()].sort((a, b) => a.at - b.at);
}
