// A line's synchronous core: its SQL state (the fans who joined it, numbered in
// join order, and the count per slot) and its decisions (who may join or rejoin,
// which slot a join takes, what a seal reports, when the pacer needs waking).
// No env, no await, no clock of its own: the line (waiting-line.ts) wakes the
// pacer and passes the time in.
import { hasClosed } from "../drops/rules";
import { dropState, refusal } from "../drops/lifecycle";
import { sameDigest } from "../shared/fan-secret";
import { type Outcome, fail, ok } from "../shared/outcome";
import { type SlotCount, prequeuePosition, slotOf } from "./placement";
import { RateLimiter, clientKey, isLoopback } from "../shared/rate-limit";
import type { Sql } from "../shared/sql";
import { WAKE_AFTER_MS } from "./timing";

export interface LineConfig {
	dropId: string;
	line: number;
	lines: number;
	opensAt: string;
	closesAt: string | null;
	/** When the drop was cancelled: its lines take no join after it. */
	cancelledAt?: string | null;
	/** While the pacer changes the drop's line count: joins are refused until then, or until the new settings come. */
	closedUntil?: number;
}

export interface JoinLimits {
	perIp: number;
	perFan: number;
	/** Joins a minute this line takes, all fans together: its share of the promoter's limit (0 or absent: none). Loopback is not exempt. */
	perLine?: number;
	loopbackExempt: boolean;
}

/** Where a fan stands in their line: what the queue token carries. */
export interface LineEntry {
	line: number;
	/** Their place in this line's pre-queue (1-based), or null for a fan who joined after the opening. */
	prequeueSeq: number | null;
	/** After the opening: the slot of their join and their index among this line's joins in it. */
	slot: number | null;
	slotIndex: number | null;
	/** Their global position, when this line already knows it. */
	position: number | null;
}

/**
 * How a join proves it comes from the fan who holds the id. In fan identity mode the
 * promoter's token already did. Otherwise a fan already in line must offer the SHA-256
 * of the secret of their first join; a new fan's place is stored with `fresh`'s.
 */
export type JoinProof = { kind: "identity" } | { kind: "secret"; offered: string | null; fresh: string };

/** `acceptNew` is false once the drop has sold out: a newcomer is told so and nothing is stored. */
export interface JoinInput {
	fanId: string;
	ip: string | null;
	limits: JoinLimits;
	acceptNew: boolean;
	proof: JoinProof;
	/** The line count the Worker routed this join by (a copy of the settings up to a second old); another count than this line's is refused. */
	lines?: number;
}

export type LineJoin = { status: "joined"; entry: LineEntry; rejoined: boolean } | { status: "sold_out" };

/**
 * What the pacer asks when it seals slots `from`..`through`: it brings where earlier
 * sealed slots were placed, and the revealed seed with every line's pre-queue count,
 * so the line can tell its fans their positions.
 */
export interface SealInput {
	from: number;
	through: number;
	placements: { slot: number; start: number }[];
	prequeue: { seed: string; counts: number[] } | null;
}

/** What the pacer learns when it seals slots: this line's count per slot. */
export interface SealReport {
	line: number;
	slots: SlotCount[];
}

export interface LineAudit {
	line: number;
	joined: number;
	prequeue: number;
	/** Pre-queue places are exactly 1..prequeue, and each slot's indices exactly 0..count-1. */
	consistent: boolean;
	slots: { slot: number; count: number; start: number | null }[];
}

type LineState = {
	prequeue_closed: number;
	prequeue_count: number;
	next_seq: number;
	sealed_through: number | null;
	seed: string | null;
	prequeue_counts: string | null;
};

type FanRow = { fan_id: string; seq: number; prequeue_seq: number | null; slot: number | null; slot_index: number | null };
type StoredFan = FanRow & { secret_hash: string | null };

export class LineCore {
	private readonly limiter = new RateLimiter();
	private cachedConfig: LineConfig | null | undefined;
	/** When the pacer last sealed here, and when this line last woke it (memory is enough: a restart wakes it once). */
	private lastSealedAt = 0;
	private lastWakeAt = 0;
	/** The last seal found no new join here: the pacer may have gone to sleep after it. */
	private pacerMayBeAsleep = true;

	constructor(
		private readonly sql: Sql,
		private readonly transaction: <T>(fn: () => T) => T,
	) {
		sql.run(`CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)`);
		sql.run(`CREATE TABLE IF NOT EXISTS state (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			prequeue_closed INTEGER NOT NULL DEFAULT 0, prequeue_count INTEGER NOT NULL DEFAULT 0,
			next_seq INTEGER NOT NULL DEFAULT 1, sealed_through INTEGER,
			seed TEXT, prequeue_counts TEXT)`);
		sql.run(`INSERT OR IGNORE INTO state (id) VALUES (1)`);
		// prequeue_seq for fans who joined before the opening; slot and slot_index for the others.
		sql.run(`CREATE TABLE IF NOT EXISTS fans (
			fan_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, prequeue_seq INTEGER UNIQUE,
			slot INTEGER, slot_index INTEGER, joined_at INTEGER NOT NULL, secret_hash TEXT)`);
		// The SHA-256 of the fan's secret (null in identity mode). Lines created before secrets lack the column (a new one has it at once).
		if (!sql.all<{ name: string }>(`PRAGMA table_info(fans)`).some((c) => c.name === "secret_hash")) {
			sql.run(`ALTER TABLE fans ADD COLUMN secret_hash TEXT`);
		}
		sql.run(`CREATE TABLE IF NOT EXISTS slots (slot INTEGER PRIMARY KEY, count INTEGER NOT NULL, start INTEGER)`);
	}

	configure(config: LineConfig): void {
		this.sql.run(`INSERT INTO config (id, json) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json`, JSON.stringify(config));
		this.cachedConfig = config;
	}

	config(): LineConfig | null {
		if (this.cachedConfig === undefined) {
			const row = this.sql.first<{ json: string }>(`SELECT json FROM config WHERE id = 1`);
			this.cachedConfig = row === null ? null : (JSON.parse(row.json) as LineConfig);
		}
		return this.cachedConfig;
	}

	/**
	 * A fan joins, or finds their place again by proving they are that fan (a refused
	 * proof changes nothing, and counts toward the limits like any join). `wakePacer`:
	 * the line owes the pacer a wake for this join (see pacerWakeDue).
	 */
	join(input: JoinInput, now: number): { outcome: Outcome<LineJoin>; wakePacer: boolean } {
		const answer = (outcome: Outcome<LineJoin>) => ({ outcome, wakePacer: false });
		const config = this.config();
		if (config === null) return answer(fail(404, "not_found", "No such drop."));
		// The drop's state machine: a cancelled drop gives no place (a pause still does; the fan waits).
		const refused = refusal(dropState({ ...config, paused: false }, false, now), "join");
		if (refused !== null) return answer(refused);
		if (hasClosed(config, now)) return answer(fail(409, "drop_closed", "This drop has closed."));
		// A fan has one line for a line count; a join that reached a line by another count, or while
		// the count changes, could give the same fan id a second place on another line.
		if (config.closedUntil !== undefined && now < config.closedUntil) {
			return answer(fail(503, "try_again", "The drop's lines are being changed; try again in a moment.", { retryAfter: 1 }));
		}
		if (input.lines !== undefined && input.lines !== config.lines) {
			return answer(fail(503, "lines_changed", "The drop's lines changed while this join was on its way; try again.", { retryAfter: 1 }));
		}
		const limited = this.rateLimit(input, now);
		if (limited !== null) return answer(limited);

		const existing = this.fan(input.fanId);
		if (existing !== null) {
			if (!provesFan(existing, input.proof)) {
				return answer(
					fail(409, "fan_id_taken", `This fan id already has a place in this drop. To continue as that fan, send the "fanSecret" its first join answered.`, {
						field: "fanSecret",
					}),
				);
			}
			return answer(ok({ status: "joined", entry: this.entryOf(existing), rejoined: true }));
		}
		if (!input.acceptNew) return answer(ok({ status: "sold_out" }));

		const state = this.state();
		const prequeue = state.prequeue_closed === 0 && now < Date.parse(config.opensAt);
		const row: FanRow = { fan_id: input.fanId, seq: state.next_seq, prequeue_seq: null, slot: null, slot_index: null };
		this.transaction(() => {
			if (prequeue) {
				row.prequeue_seq = state.prequeue_count + 1;
				this.sql.run(`UPDATE state SET prequeue_count = prequeue_count + 1 WHERE id = 1`);
			} else {
				// A slot the pacer has sealed is closed: a join that reaches this line late
				// (by its own clock) goes into the next open slot.
				// Never an earlier slot than the join before: within a line, slot order is join order.
				const last = this.sql.first<{ slot: number | null }>(`SELECT MAX(slot) AS slot FROM slots`)!.slot;
				row.slot = Math.max(slotOf(now), (state.sealed_through ?? -Infinity) + 1, last ?? -Infinity);
				row.slot_index = this.sql.number(`SELECT count FROM slots WHERE slot = ?`, row.slot);
				this.sql.run(`INSERT INTO slots (slot, count) VALUES (?, 1) ON CONFLICT (slot) DO UPDATE SET count = count + 1`, row.slot);
			}
			this.sql.run(
				`INSERT INTO fans (fan_id, seq, prequeue_seq, slot, slot_index, joined_at, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				row.fan_id, row.seq, row.prequeue_seq, row.slot, row.slot_index, now, input.proof.kind === "secret" ? input.proof.fresh : null,
			);
			this.sql.run(`UPDATE state SET next_seq = next_seq + 1 WHERE id = 1`);
		});
		const wakePacer = row.slot !== null && this.pacerWakeDue(now);
		return { outcome: ok({ status: "joined", entry: this.entryOf(row), rejoined: false }), wakePacer };
	}

	/**
	 * A join after the opening, and the pacer may be asleep: its last seal here found
	 * nobody new, or it has not sealed here for a while. One wake per quiet spell (and
	 * at most one per WAKE_AFTER_MS), whatever the number of fans.
	 */
	private pacerWakeDue(now: number): boolean {
		if (!this.pacerMayBeAsleep && now - this.lastSealedAt <= WAKE_AFTER_MS) return false;
		if (now - this.lastWakeAt <= WAKE_AFTER_MS) return false;
		this.lastWakeAt = now;
		this.pacerMayBeAsleep = false;
		return true;
	}

	/** A fan's place, with their position once this line knows it (a fallback for fans the published placements no longer list). */
	locate(fanId: string): Outcome<LineEntry> {
		if (this.config() === null) return fail(404, "not_found", "No such drop.");
		const row = this.fan(fanId);
		if (row === null) return fail(404, "not_in_queue", "This fan has not joined the drop.");
		return ok(this.entryOf(row));
	}

	/**
	 * The opening: the pre-queue closes (later joins get slots from `firstSlot` on),
	 * and its size goes to the pacer. Asked again, it answers the same.
	 */
	open(firstSlot: number): { prequeue: number } {
		this.sql.run(
			`UPDATE state SET prequeue_closed = 1, sealed_through = MAX(COALESCE(sealed_through, ?), ?) WHERE id = 1`,
			firstSlot - 1, firstSlot - 1,
		);
		return { prequeue: this.state().prequeue_count };
	}

	/**
	 * Seals slots `from`..`through`: no join lands in them any more, and their counts
	 * go to the pacer. The same call repeated answers the same counts.
	 */
	seal(input: SealInput, now: number): SealReport {
		this.lastSealedAt = now;
		const line = this.config()?.line ?? 0;
		this.transaction(() => {
			for (const p of input.placements) this.sql.run(`UPDATE slots SET start = ? WHERE slot = ? AND start IS NULL`, p.start, p.slot);
			if (input.prequeue !== null) {
				this.sql.run(
					`UPDATE state SET seed = COALESCE(seed, ?), prequeue_counts = COALESCE(prequeue_counts, ?) WHERE id = 1`,
					input.prequeue.seed, JSON.stringify(input.prequeue.counts),
				);
			}
			this.sql.run(`UPDATE state SET sealed_through = MAX(COALESCE(sealed_through, ?), ?) WHERE id = 1`, input.through, input.through);
		});
		const slots = this.sql.all<{ slot: number; count: number }>(
			`SELECT slot, count FROM slots WHERE slot >= ? AND slot <= ? AND count > 0 ORDER BY slot`,
			input.from, input.through,
		);
		this.pacerMayBeAsleep = slots.length === 0;
		return { line, slots };
	}

	/** Fans who joined this line. */
	joined(): number {
		return this.state().next_seq - 1;
	}

	/** Whether anyone has joined: a drop's line count may change only while none has. */
	isEmpty(): boolean {
		return this.state().next_seq === 1;
	}

	/**
	 * The first step of a change of the line count: if nobody has joined, this line
	 * refuses joins until `until` or until its new settings come, and answers true; in
	 * the same synchronous step, so no join lands between the look and the close.
	 */
	closeForLineChange(until: number): boolean {
		const config = this.config();
		if (config === null || !this.isEmpty()) return false;
		this.configure({ ...config, closedUntil: until });
		return true;
	}

	audit(): LineAudit {
		const state = this.state();
		// Places follow join order: the pre-queue is 1..n in the order fans joined, and later
		// joins fill their slots in join order (slots never go back, indices count up from 0).
		const prequeue = this.sql.all<{ p: number }>(`SELECT prequeue_seq AS p FROM fans WHERE prequeue_seq IS NOT NULL ORDER BY seq`);
		let consistent = prequeue.length === state.prequeue_count && prequeue.every((r, i) => r.p === i + 1);
		const later = this.sql.all<{ slot: number; i: number }>(`SELECT slot, slot_index AS i FROM fans WHERE slot IS NOT NULL ORDER BY seq`);
		const counted = new Map<number, number>();
		let lastSlot = -Infinity;
		for (const f of later) {
			const n = counted.get(f.slot) ?? 0;
			if (f.slot < lastSlot || f.i !== n) consistent = false;
			counted.set(f.slot, n + 1);
			lastSlot = f.slot;
		}
		const slots = this.sql.all<{ slot: number; count: number; start: number | null }>(`SELECT slot, count, start FROM slots ORDER BY slot`);
		if (slots.length !== counted.size || slots.some((s) => counted.get(s.slot) !== s.count)) consistent = false;
		return { line: this.config()?.line ?? 0, joined: state.next_seq - 1, prequeue: state.prequeue_count, consistent, slots };
	}

	private entryOf(row: FanRow): LineEntry {
		const line = this.config()?.line ?? 0;
		let position: number | null = null;
		if (row.prequeue_seq !== null) {
			const state = this.state();
			if (state.seed !== null && state.prequeue_counts !== null) {
				position = prequeuePosition(state.seed, JSON.parse(state.prequeue_counts) as number[], line, row.prequeue_seq);
			}
		} else if (row.slot !== null && row.slot_index !== null) {
			// A drop with one line needs no sealing to know: its fans are placed in join order, the
			// pre-queue first, so a later join's position is its number in the line.
			if (this.config()?.lines === 1) return { line, prequeueSeq: null, slot: row.slot, slotIndex: row.slot_index, position: row.seq };
			const start = this.sql.first<{ start: number | null }>(`SELECT start FROM slots WHERE slot = ?`, row.slot)?.start ?? null;
			position = start === null ? null : start + row.slot_index;
		}
		return { line, prequeueSeq: row.prequeue_seq, slot: row.slot, slotIndex: row.slot_index, position };
	}

	private rateLimit(input: JoinInput, now: number): Outcome<never> | null {
		const checks: [string, number][] = [];
		if (!(input.limits.loopbackExempt && isLoopback(input.ip))) {
			checks.push([`fan:${input.fanId}`, input.limits.perFan]);
			if (input.ip !== null) checks.push([`ip:${clientKey(input.ip)}`, input.limits.perIp]);
		}
		// The drop's own limit last, so a join refused for its fan or address does not use it up.
		checks.push(["line", input.limits.perLine ?? 0]);
		for (const [key, limit] of checks) {
			const decision = this.limiter.take(key, limit, now);
			if (!decision.allowed) {
				return fail(429, "rate_limited", "Too many join attempts; wait and try again.", { retryAfter: decision.retryAfter });
			}
		}
		return null;
	}

	private fan(fanId: string): StoredFan | null {
		return this.sql.first<StoredFan>(`SELECT fan_id, seq, prequeue_seq, slot, slot_index, secret_hash FROM fans WHERE fan_id = ?`, fanId);
	}

	private state(): LineState {
		return this.sql.first<LineState>(`SELECT * FROM state WHERE id = 1`)!;
	}
}

/**
 * Whether a join may continue as a fan already in line. A place stored without a secret
 * (in identity mode, or before secrets existed) is proven by identity only: knowing the
 * id is never enough.
 */
function provesFan(fan: StoredFan, proof: JoinProof): boolean {
	if (proof.kind === "identity") return true;
	return fan.secret_hash !== null && proof.offered !== null && sameDigest(fan.secret_hash, proof.offered);
}
