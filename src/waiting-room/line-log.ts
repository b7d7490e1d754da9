// The line after the sell-out, in the promoter's activity log: the sell-out
// itself (where the line for returned tickets begins, how many wait in it) and
// each batch of fans offered returned tickets (how many, which positions, the
// tickets back, how long the offer lasts). An entry is noted in the pacer's own
// SQLite in the step that makes the change, so there is one per sell-out and
// per batch, never one per fan; it is written to D1's activity log after the
// tick, apart from it, so the log never slows admission. An entry D1 did not
// take is written after a later tick; one written just before a crash is not
// written twice (its number is in its detail, and the insert is guarded by it).
// After the write, the fans of each batch offered returned tickets who left an
// address are told by email (turn-notices.ts); an entry is forgotten only once
// its mails went, so a failed send is tried again with it.
import type { Sql } from "../shared/sql";
import { guardedActivityStatement } from "../tenants/store";
import type { RoomConfig } from "./window-rooms";
import type { TurnOffer, TurnTeller } from "./turn-notices";

export type { TurnTeller };

export type LineLogRow = { seq: number; action: string; at: number; detail: string };

/** Entries written in one D1 batch at most. */
export const LINE_LOG_BATCH = 20;
/** When a write failed, the pacer comes back to it this much later (an alarm, unless one is set already). */
export const LINE_LOG_RETRY_MS = 10_000;
/** The longest wait between two tries of a failing send. */
export const LINE_LOG_RETRY_MAX_MS = 10 * 60_000;
/** Turn mails one send sends at most (about two subrequests each); more bring the pacer back at once. */
export const TURN_MAILS_PER_SEND = 50;

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
		private readonly teller: TurnTeller | null = null,
	) {}

	/** Starts a send if entries wait and none is under way; the tick does not wait for it. */
	flush(): void {
		if (this.sending !== null) return;
		const room = this.host.room();
		const rows = this.host.log.pending();
		if (room === null || rows.length === 0) return;
		const run = writeLineLog(this.db, room, rows)
			.then(() => this.tell(room, rows))
			.then(
				(through) => {
					this.failures = 0;
					if (through !== null) this.host.log.written(through);
					if (through !== rows[rows.length - 1]!.seq || rows.length === LINE_LOG_BATCH) return this.host.comeBack(this.host.now());
				},
				(err) => {
					console.warn("activity log entries of the line, or their turn mails, not sent; trying again", err);
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

	/**
	 * Tells the fans of each batch offered returned tickets (in entry order) that their turn has come, within one send's
	 * budget; answers the last entry whose mails all went (null: none), the rest waiting for the next send.
	 */
	private async tell(room: RoomConfig, rows: LineLogRow[]): Promise<number | null> {
		if (this.teller === null || room.saleWindow !== undefined) return rows[rows.length - 1]!.seq;
		let budget = TURN_MAILS_PER_SEND;
		let through: number | null = null;
		for (const row of rows) {
			if (row.action === "drop.returns_offered") {
				const told = await this.teller(turnOffer(room, row), budget);
				budget -= told.sent;
				if (told.more) return through;
			}
			through = row.seq;
		}
		return through;
	}

	/** The send under way, for tests that wait for it. */
	settled(): Promise<void> {
		return this.sending ?? Promise.resolve();
	}
}

/** The batch an entry `drop.returns_offered` names: its positions, when it went in and its offer's length. */
export function turnOffer(room: Pick<RoomConfig, "id" | "name">, row: LineLogRow): TurnOffer {
	const detail = JSON.parse(row.detail) as { positions: { from: number; through: number }; offerSeconds: number };
	return { dropId: room.id, dropName: room.name, from: detail.positions.from, through: detail.positions.through, at: row.at, offerSeconds: detail.offerSeconds };
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
