// One per drop: takes fans in, orders them (pre-queue shuffled at open, FIFO
// after), and admits them in batches on its alarm, paced by the inventory.
import { DurableObject } from "cloudflare:workers";
import { admissionPace, newSeed, nextBatchSize, shuffle } from "./admission";
import { randomId } from "./codes";
import type { DropConfig } from "./drops";
import { inventoryTotals } from "./inventory";
import type { ShardTotals } from "./inventory-shard";
import { type Outcome, fail, ok } from "./outcome";
import { RateLimiter, isLoopback } from "./rate-limit";
import { Sql } from "./sql";

/** How soon the alarm looks again while no stock is free and only holds are left. */
const ENDGAME_CHECK_MS = 1_000;

export const SHUFFLE_ALGORITHM = "Fisher-Yates over the pre-queue in join order, driven by xoshiro128** seeded with the 128-bit seed";

export interface JoinResult {
	fanId: string;
	position: number | null;
	status: "waiting" | "admitted" | "sold_out";
	rejoined: boolean;
}

export interface Watermark {
	opensAt: string;
	closesAt: string | null;
	opened: boolean;
	closed: boolean;
	paused: boolean;
	soldOut: boolean;
	admittedThrough: number;
	lastPosition: number;
	pacePerSecond: number;
	shards: number;
}

export interface RoomStats {
	joined: number;
	waiting: number;
	admitted: number;
	active: number;
	completed: number;
}

export interface RoomAudit {
	seed: string | null;
	openedAt: string | null;
	prequeueSize: number;
	algorithm: string;
	/** The stored order re-derived from the seed and the join order matches. */
	shuffleVerified: boolean | null;
	admittedThrough: number;
	/** Admitted fans are exactly positions 1..admittedThrough. */
	admittedInOrder: boolean;
	batches: number;
	largestBatch: number;
}

type State = {
	seed: string | null;
	opened_at: number | null;
	prequeue_size: number;
	next_seq: number;
	next_position: number;
	admitted_through: number;
	last_admission_at: number | null;
	sold_out: number;
};

export interface JoinLimits {
	perIp: number;
	perFan: number;
	loopbackExempt: boolean;
}

export class WaitingRoom extends DurableObject<Env> {
	private readonly sql: Sql;
	private readonly limiter = new RateLimiter();
	/** The drop's settings change only through configure(), so memory may keep them. */
	private cachedConfig: DropConfig | null | undefined;
	/**
	 * The last time an alarm saw tickets in holds: fans are at work. Memory is
	 * enough for this hint; a fresh instance starts from now, so a restart
	 * never makes admitted fans look gone.
	 */
	private lastBusyAt = Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = new Sql(ctx.storage.sql);
		this.sql.run(`CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS state (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			seed TEXT, opened_at INTEGER, prequeue_size INTEGER NOT NULL DEFAULT 0,
			next_seq INTEGER NOT NULL DEFAULT 1, next_position INTEGER NOT NULL DEFAULT 1,
			admitted_through INTEGER NOT NULL DEFAULT 0, last_admission_at INTEGER,
			sold_out INTEGER NOT NULL DEFAULT 0)`);
		this.sql.run(`INSERT OR IGNORE INTO state (id) VALUES (1)`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS fans (
			fan_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, position INTEGER UNIQUE,
			joined_at INTEGER NOT NULL, admitted_at INTEGER, jti TEXT, completed_at INTEGER)`);
		this.sql.run(`CREATE INDEX IF NOT EXISTS fans_active ON fans (admitted_at) WHERE admitted_at IS NOT NULL AND completed_at IS NULL`);
		this.sql.run(`CREATE TABLE IF NOT EXISTS admissions (at INTEGER NOT NULL, count INTEGER NOT NULL, through INTEGER NOT NULL)`);
	}

	/** Stores the drop's settings (create or PATCH) and sets the alarm to match. */
	async configure(drop: DropConfig): Promise<void> {
		this.sql.run(`INSERT INTO config (id, json) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json`, JSON.stringify(drop));
		this.cachedConfig = drop;
		const now = Date.now();
		this.ensureOpened(now);
		if (drop.paused) {
			await this.ctx.storage.deleteAlarm();
			return;
		}
		// The room's own state says whether it has opened, as in alarm().
		const opened = this.state().opened_at !== null;
		await this.ctx.storage.setAlarm(opened ? this.nextAdmissionTime(now) : Date.parse(drop.opensAt));
	}

	join(input: { fanId: string; ip: string | null; limits: JoinLimits; now?: number }): Outcome<JoinResult> {
		const now = input.now ?? Date.now();
		const drop = this.config();
		if (drop === null) return fail(404, "not_found", "No such drop.");
		if (drop.closesAt !== null && Date.parse(drop.closesAt) <= now) return fail(409, "drop_closed", "This drop has closed.");
		const limited = this.rateLimit(input, now);
		if (limited !== null) return limited;

		this.ensureOpened(now);
		const existing = this.sql.first<{ position: number | null }>(`SELECT position FROM fans WHERE fan_id = ?`, input.fanId);
		const state = this.state();
		if (existing !== null) return ok(this.describe(input.fanId, existing.position, state, true));
		if (state.sold_out) return ok({ fanId: input.fanId, position: null, status: "sold_out", rejoined: false });

		const opened = state.opened_at !== null;
		const position = opened ? state.next_position : null;
		this.ctx.storage.transactionSync(() => {
			this.sql.run(`INSERT INTO fans (fan_id, seq, position, joined_at) VALUES (?, ?, ?, ?)`, input.fanId, state.next_seq, position, now);
			this.sql.run(`UPDATE state SET next_seq = next_seq + 1, next_position = next_position + ? WHERE id = 1`, opened ? 1 : 0);
		});
		if (opened && !drop.paused) void this.ensureAlarm(now);
		return ok(this.describe(input.fanId, position, this.state(), false));
	}

	/** The position of a fan who joined in the pre-queue, once the shuffle has placed them. */
	locate(input: { fanId: string; now?: number }): Outcome<{ position: number | null }> {
		if (this.config() === null) return fail(404, "not_found", "No such drop.");
		this.ensureOpened(input.now ?? Date.now());
		const fan = this.sql.first<{ position: number | null }>(`SELECT position FROM fans WHERE fan_id = ?`, input.fanId);
		if (fan === null) return fail(404, "not_in_queue", "This fan has not joined the drop.");
		return ok({ position: fan.position });
	}

	/** What the Worker needs to answer polls without calling here each time. */
	watermark(now = Date.now()): Outcome<Watermark> {
		const drop = this.config();
		if (drop === null) return fail(404, "not_found", "No such drop.");
		this.ensureOpened(now);
		const state = this.state();
		return ok({
			opensAt: drop.opensAt,
			closesAt: drop.closesAt,
			opened: state.opened_at !== null,
			closed: drop.closesAt !== null && Date.parse(drop.closesAt) <= now,
			paused: drop.paused,
			soldOut: state.sold_out === 1,
			admittedThrough: state.admitted_through,
			lastPosition: state.next_position - 1,
			pacePerSecond: this.pace(drop, now),
			shards: drop.shards,
		});
	}

	/**
	 * The access grant of an admitted fan: the same `jti` and expiry every time
	 * it is asked for, so polling again never extends a fan's turn.
	 */
	claimAccess(input: { fanId: string; now?: number }): Outcome<{ jti: string; exp: number; position: number }> {
		const now = input.now ?? Date.now();
		const fan = this.sql.first<{ position: number | null; admitted_at: number | null; jti: string | null }>(
			`SELECT position, admitted_at, jti FROM fans WHERE fan_id = ?`,
			input.fanId,
		);
		if (fan === null) return fail(404, "not_in_queue", "This fan has not joined the drop.");
		if (fan.position === null || fan.admitted_at === null) return fail(409, "not_admitted", "This fan has not been admitted yet.");
		const exp = Math.floor((fan.admitted_at + this.accessMs()) / 1000);
		if (exp * 1000 <= now) return fail(410, "access_expired", "This fan's turn to buy has ended.");
		let jti = fan.jti;
		if (jti === null) {
			jti = randomId("a_");
			this.sql.run(`UPDATE fans SET jti = ? WHERE fan_id = ?`, jti, input.fanId);
		}
		return ok({ jti, exp, position: fan.position });
	}

	/** A fan bought: they no longer count against the tickets remaining when admitting. */
	fanCompleted(input: { fanId: string; now?: number }): void {
		this.sql.run(
			`UPDATE fans SET completed_at = ? WHERE fan_id = ? AND admitted_at IS NOT NULL AND completed_at IS NULL`,
			input.now ?? Date.now(),
			input.fanId,
		);
	}

	stats(now = Date.now()): RoomStats {
		this.ensureOpened(now);
		const state = this.state();
		const joined = this.sql.number(`SELECT COUNT(*) FROM fans`);
		return {
			joined,
			waiting: state.sold_out ? 0 : joined - state.admitted_through,
			admitted: state.admitted_through,
			active: this.activeCount(now),
			completed: this.sql.number(`SELECT COUNT(*) FROM fans WHERE completed_at IS NOT NULL`),
		};
	}

	audit(): RoomAudit {
		const state = this.state();
		let shuffleVerified: boolean | null = null;
		if (state.seed !== null) {
			const prequeue = this.sql.all<{ fan_id: string }>(`SELECT fan_id FROM fans WHERE seq <= ? ORDER BY seq`, state.prequeue_size);
			const stored = this.sql.all<{ fan_id: string }>(`SELECT fan_id FROM fans WHERE position <= ? ORDER BY position`, state.prequeue_size);
			const derived = shuffle(prequeue.map((f) => f.fan_id), state.seed);
			shuffleVerified = derived.length === stored.length && derived.every((id, i) => stored[i]!.fan_id === id);
		}
		const admittedRows = this.sql.first<{ n: number; lo: number | null; hi: number | null }>(
			`SELECT COUNT(*) AS n, MIN(position) AS lo, MAX(position) AS hi FROM fans WHERE admitted_at IS NOT NULL`,
		)!;
		const batches = this.sql.first<{ n: number; largest: number | null }>(`SELECT COUNT(*) AS n, MAX(count) AS largest FROM admissions`)!;
		return {
			seed: state.seed,
			openedAt: state.opened_at === null ? null : new Date(state.opened_at).toISOString(),
			prequeueSize: state.prequeue_size,
			algorithm: SHUFFLE_ALGORITHM,
			shuffleVerified,
			admittedThrough: state.admitted_through,
			admittedInOrder:
				admittedRows.n === state.admitted_through && (admittedRows.n === 0 || (admittedRows.lo === 1 && admittedRows.hi === state.admitted_through)),
			batches: batches.n,
			largestBatch: batches.largest ?? 0,
		};
	}

	/**
	 * Looks at the inventory and admits the next batch, at most one per interval
	 * however often or late the alarm fires. Every firing checks for sold out,
	 * so an early wake-up in the endgame tells waiting fans without admitting.
	 */
	override async alarm(): Promise<void> {
		const now = Date.now();
		const drop = this.config();
		if (drop === null) return;
		this.ensureOpened(now);
		if (this.state().opened_at === null) {
			await this.ctx.storage.setAlarm(Date.parse(drop.opensAt));
			return;
		}
		if (!this.admitting(drop, this.state(), now)) return;
		let totals: ShardTotals;
		try {
			totals = await inventoryTotals(this.env, drop.id, drop.shards);
		} catch (err) {
			console.warn("inventory totals unavailable; admission waits a turn", err);
			await this.ctx.storage.setAlarm(now + drop.admission.intervalMs);
			return;
		}
		// Re-read: joins, a pause or another alarm may have run during the await.
		const current = this.config()!;
		const state = this.state();
		if (!this.admitting(current, state, now)) return;
		this.admitNextBatch(current, state, totals, now);
	}

	/** Whether admission has anything to do: not paused, closed or sold out, and someone is waiting. */
	private admitting(drop: DropConfig, state: State, now: number): boolean {
		if (drop.paused || state.sold_out || (drop.closesAt !== null && Date.parse(drop.closesAt) <= now)) return false;
		return state.next_position - 1 - state.admitted_through > 0;
	}

	private admitNextBatch(drop: DropConfig, state: State, totals: ShardTotals, now: number): void {
		// Sales are never undone, so every ticket sold is final. "No stock and no holds"
		// alone is not: shards are read one after another, and a ticket moving between
		// two of them is in neither (a sum of sold counts can only be too low).
		if (totals.sold >= drop.capacity) {
			this.sql.run(`UPDATE state SET sold_out = 1 WHERE id = 1`);
			void this.ctx.storage.deleteAlarm();
			return;
		}
		if (totals.held > 0) this.lastBusyAt = now;
		const waiting = state.next_position - 1 - state.admitted_through;
		const due = this.nextAdmissionTime(now);
		const count =
			due > now
				? 0
				: nextBatchSize({
						batchSize: drop.admission.batchSize,
						activeMultiple: drop.admission.activeMultiple,
						remaining: totals.remaining,
						held: totals.held,
						active: this.activeCount(now),
						waiting,
						idleMs: now - Math.max(this.lastBusyAt, state.last_admission_at ?? 0),
					});
		if (count > 0) {
			const through = state.admitted_through + count;
			this.ctx.storage.transactionSync(() => {
				this.sql.run(`UPDATE fans SET admitted_at = ? WHERE position > ? AND position <= ?`, now, state.admitted_through, through);
				this.sql.run(`UPDATE state SET admitted_through = ?, last_admission_at = ? WHERE id = 1`, through, now);
				this.sql.run(`INSERT INTO admissions (at, count, through) VALUES (?, ?, ?)`, now, count, through);
			});
		}
		if (waiting - count <= 0) return;
		let next = due > now ? due : now + drop.admission.intervalMs;
		// Only holds stand between the drop and sold out: look again soon, whatever
		// the interval, so waiting fans hear it promptly.
		if (totals.remaining === 0) next = Math.min(next, now + ENDGAME_CHECK_MS);
		void this.ctx.storage.setAlarm(next);
	}

	/** At the first moment at or after opening: shuffle the pre-queue with a fresh, stored seed. */
	private ensureOpened(now: number): void {
		const drop = this.config();
		if (drop === null || Date.parse(drop.opensAt) > now) return;
		if (this.state().opened_at !== null) return;
		const seed = newSeed();
		this.ctx.storage.transactionSync(() => {
			const prequeue = this.sql.all<{ fan_id: string }>(`SELECT fan_id FROM fans WHERE position IS NULL ORDER BY seq`);
			const order = shuffle(
				prequeue.map((f) => f.fan_id),
				seed,
			);
			order.forEach((fanId, i) => this.sql.run(`UPDATE fans SET position = ? WHERE fan_id = ?`, i + 1, fanId));
			this.sql.run(
				`UPDATE state SET seed = ?, opened_at = ?, prequeue_size = ?, next_position = ? WHERE id = 1`,
				seed, now, order.length, order.length + 1,
			);
		});
	}

	private async ensureAlarm(now: number): Promise<void> {
		if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(this.nextAdmissionTime(now));
	}

	/** The earliest time the next batch may go: one interval after the last. */
	private nextAdmissionTime(now: number): number {
		const drop = this.config();
		const last = this.state().last_admission_at;
		if (drop === null || last === null) return now;
		return Math.max(now, last + drop.admission.intervalMs);
	}

	private rateLimit(input: { fanId: string; ip: string | null; limits: JoinLimits }, now: number): Outcome<never> | null {
		if (input.limits.loopbackExempt && isLoopback(input.ip)) return null;
		const checks: [string, number][] = [[`fan:${input.fanId}`, input.limits.perFan]];
		if (input.ip !== null) checks.push([`ip:${input.ip}`, input.limits.perIp]);
		for (const [key, limit] of checks) {
			const decision = this.limiter.take(key, limit, now);
			if (!decision.allowed) {
				return fail(429, "rate_limited", "Too many join attempts; wait and try again.", { retryAfter: decision.retryAfter });
			}
		}
		return null;
	}

	private describe(fanId: string, position: number | null, state: State, rejoined: boolean): JoinResult {
		const admitted = position !== null && position <= state.admitted_through;
		const status = admitted ? "admitted" : state.sold_out ? "sold_out" : "waiting";
		return { fanId, position, status, rejoined };
	}

	private activeCount(now: number): number {
		return this.sql.number(
			`SELECT COUNT(*) FROM fans WHERE admitted_at IS NOT NULL AND completed_at IS NULL AND admitted_at > ?`,
			now - this.accessMs(),
		);
	}

	private pace(drop: DropConfig, now: number): number {
		const recent = this.sql.first<{ admitted: number; first: number | null }>(
			`SELECT COALESCE(SUM(count), 0) AS admitted, MIN(at) AS first FROM admissions WHERE at > ?`,
			now - 60_000,
		)!;
		const span = recent.first === null ? 0 : now - recent.first + drop.admission.intervalMs;
		return admissionPace({ admitted: recent.admitted, spanMs: span }, drop.admission.batchSize, drop.admission.intervalMs);
	}

	private accessMs(): number {
		return accessSeconds(this.env) * 1000;
	}

	private config(): DropConfig | null {
		if (this.cachedConfig === undefined) {
			const row = this.sql.first<{ json: string }>(`SELECT json FROM config WHERE id = 1`);
			this.cachedConfig = row === null ? null : (JSON.parse(row.json) as DropConfig);
		}
		return this.cachedConfig;
	}

	private state(): State {
		return this.sql.first<State>(`SELECT * FROM state WHERE id = 1`)!;
	}
}

export const roomName = (dropId: string) => `drop:${dropId}`;

export function accessSeconds(env: Pick<Env, "ACCESS_TOKEN_SECONDS">): number {
	const n = Number(env.ACCESS_TOKEN_SECONDS);
	return Number.isInteger(n) && n >= 30 && n <= 3600 ? n : 600;
}
