// The line after the sell-out, in the promoter's activity log: the sell-out
// itself (where the line for returned tickets begins, how many wait in it) and
// each batch of fans offered returned tickets (how many, which positions, the
// tickets back, how long the offer lasts). An entry is noted in the pacer's own
// SQLite in the step that makes the change, so there is one per sell-out and
// per batch, never one per fan; it is written to D1's activity log after the
// tick, apart from it, so the log never slows admission. An entry D1 did not
// take is written after a later tick; one written just before a crash is not
// written twice (its number is in its detail, and the insert is guarded by it).
import type { Sql } from "../shared/sql";
import { guardedActivityStatement } from "../tenants/store";
import type { RoomConfig } from "./window-rooms";

export type LineLogRow = { seq: number; action: string; at: number; detail: string };

/** Entries written in one D1 batch at most. */
export const LINE_LOG_BATCH = 20;
/** When a write failed, the pacer comes back to it this much later (an alarm, unless one is set already). */
export const LINE_LOG_RETRY_MS = 10_000;
/** The longest wait between two tries of a failing send. */
export const LINE_LOG_RETRY_MAX_MS = 10 * 60_000;

/** The entries waiting for D1, in the pacer's storage. Synchronous, like the rest of the core. */
export class LineLog {
	constructor(private readonly sql: Sql) {
		sql.run(`CREATE TABLE IF NOT EXISTS line_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, at INTEGER NOT NULL, detail TEXT NOT NULL)`);
	}

	/** Call inside the transaction that makes the change, so the entry exists exactly when the change does. */
	note(action: string, detail: Record<string, unknown>, at: number): void {
		this.sql.run(`INSERT INTO line_log (action, at, detail) VALUES (?, ?, ?)`, action, at, JSON.stringify(detail));
	}

	pending(limit = LINE_LOG_BATCH): LineLogRow[] {
		return this.sql.all<LineLogRow>(`SELECT seq, action, at, detail FROM line_log ORDER BY seq LIMIT ?`, limit);
	}

	/** The entries through `seq` are in D1. */
	written(seq: number): void {
		this.sql.run(`DELETE FROM line_log WHERE seq <= ?`, seq);
	}
}

/** Writes these entries to the activity log under the room's drop and promoter, each once whatever is repeated. */
export async function writeLineLog(db: D1Database, room: RoomConfig, rows: LineLogRow[]): Promise<void> {
	await db.batch(
		rows.map((r) => {
			const detail = { ...(JSON.parse(r.detail) as Record<string, unknown>), entry: r.seq };
			const entry = { promoterId: room.promoterId, actor: "engine" as const, keyId: null, keyLabel: null, action: r.action, dropId: room.id, detail, at: new Date(r.at).toISOString() };
			return guardedActivityStatement(db, entry, `NOT EXISTS (SELECT 1 FROM activity WHERE drop_id = ?6 AND action = ?5 AND detail = ?7)`);
		}),
	);
}

/** What the sender needs of the pacer: its log, its settings, and a way to come back later. */
export interface LineLogHost {
	log: LineLog;
	room(): RoomConfig | null;
	waitUntil(work: Promise<unknown>): void;
	/** Rings the alarm at `at` unless one is set already. */
	comeBack(at: number): Promise<void>;
	now(): number;
}

/** Sends the pacer's pending entries to D1, one send at a time, never awaited by the tick. */
export class LineLogSender {
	private sending: Promise<void> | null = null;
	/** Sends failed in a row: each retry waits twice as long, at most LINE_LOG_RETRY_MAX_MS (D1 refusing for good must not keep a sleeping pacer awake). */
	private failures = 0;

	constructor(
		private readonly db: D1Database,
		private readonly host: LineLogHost,
	) {}

	/** Starts a send if entries wait and none is under way; the tick does not wait for it. */
	flush(): void {
		if (this.sending !== null) return;
		const room = this.host.room();
		const rows = this.host.log.pending();
		if (room === null || rows.length === 0) return;
		const run = writeLineLog(this.db, room, rows)
			.then(
				() => {
					this.failures = 0;
					this.host.log.written(rows[rows.length - 1]!.seq);
					if (rows.length === LINE_LOG_BATCH) return this.host.comeBack(this.host.now());
				},
				(err) => {
					console.warn("activity log entries of the line not written; trying again", err);
					const wait = Math.min(LINE_LOG_RETRY_MS * 2 ** this.failures, LINE_LOG_RETRY_MAX_MS);
					this.failures++;
					return this.host.comeBack(this.host.now() + wait);
				},
			)
			.finally(() => {
				this.sending = null;
			});
		this.sending = run;
		this.host.waitUntil(run);
	}

	/** The send under way, for tests that wait for it. */
	settled(): Promise<void> {
		return this.sending ?? Promise.resolve();
	}
}

/** The host a Durable Object hands its sender: its storage's alarm and its waitUntil. */
export function lineLogHost(ctx: DurableObjectState, log: LineLog, room: () => RoomConfig | null, now: () => number): LineLogHost {
	return {
		log,
		room,
		now,
		waitUntil: (work) => ctx.waitUntil(work),
		comeBack: async (at) => {
			if ((await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(at);
		},
	};
}
