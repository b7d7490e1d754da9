// What every section of a shard's ledger shares: the SQL and its transaction, the
// shard's settings row (meta) and its ticket types' limits, and the few steps on
// holds that more than one section takes (returning a hold to stock, owing a named
// hold's ending to its units' shard, judging a fan's limits). The sections
// (ledger-holds.ts, ledger-named.ts, ledger-charges.ts, ledger-outbox.ts,
// ledger-transfers.ts) each take this and nothing else.
import { type Outcome, fail } from "../shared/outcome";
import type { Sql } from "../shared/sql";
import { createLedgerTables } from "./ledger-schema";
import type { Hold, Order, PaymentAction } from "../contract/fan-answers";
import { type DropAct, type SetState, refusal, stateOfSet } from "../drops/lifecycle";
import type { WindowRule } from "../drops/presales";

/** A hold as the ledger answers it: the contract's Hold answer, whole. */
export type HoldView = Hold;
/** An order as the ledger answers it: the contract's Order answer, whole (the Worker adds the order token). */
export type OrderView = Order;
/** A purchase waiting on the fan's bank, as the ledger answers it: the contract's 202 answer. */
export type ActionView = PaymentAction;

export type Meta = {
	drop_id: string;
	shard: number;
	shards: number;
	allocation: number;
	max_per_fan: number;
	hold_seconds: number;
	price_cents: number;
	currency: string;
	remaining: number;
	received: number;
	given: number;
	/** The promoter's part of the drop's state as last told (null: running, or never told). */
	drop_state: SetState | null;
};

export type HoldRow = {
	hold_id: string;
	fan_id: string;
	quantity: number;
	created_at: number;
	expires_at: number;
	/** "claiming": a named hold whose units are being claimed on their shard; it counts for the fan's limits. */
	state: "claiming" | "active" | "purchased" | "released" | "expired";
	order_id: string | null;
	/** Null for the stock spread over the shards; else the type whose units `unit_shard` keeps in `pool`. */
	ticket_type: string | null;
	unit_shard: number | null;
	pool: string | null;
	/** JSON: the seats held (named units only). */
	units: string | null;
	/** A named hold's Idempotency-Key and request, so a replay after a restart mid-claim resumes it. */
	claim_key: string | null;
	claim_request: string | null;
};

/** Remembered answers and finished holds are kept this long (a day, as payment providers keep keys). */
export const KEEP_MS = 24 * 60 * 60 * 1000;

/** The answer given before, to a repeat of the same request. */
export const replayed = <T>(value: T): Outcome<T> => ({ ok: true, value, replayed: true });

export const keyConflict = () => fail(409, "idempotency_key_conflict", "This Idempotency-Key was used with a different request.");

/** The fan's turn (their access token) ended before the hold could be made: the Worker's answer to an expired token. */
export const turnEnded = () => fail(401, "token_expired", "Your turn ended before the hold could be made.");

/**
 * A list of ids as one bound parameter (a JSON array): a Durable Object's SQLite takes at
 * most 100 bound variables per statement, so a list spelled out as `?, ?, ...` beside another
 * parameter breaks at 100 items (unacked transfers past 100 would stop every give).
 */
export const EACH = "(SELECT value FROM json_each(?))";

/** The ticket types' limits and prices, as the shard was set up with them. */
type TypeLimits = { primary: string | null; max: Map<string, number>; price: Map<string, number> };

export class LedgerStore {
	private typeLimits: TypeLimits | undefined;

	constructor(
		readonly sql: Sql,
		readonly transaction: <T>(fn: () => T) => T,
	) {
		createLedgerTables(sql);
	}

	meta(): Meta | null {
		return this.sql.first<Meta>(`SELECT * FROM meta WHERE id = 1`);
	}

	requireMeta(): Meta {
		const meta = this.meta();
		if (meta === null) throw new Error("shard not initialised");
		return meta;
	}

	/** The promoter's part of the drop's state, as this shard was last told. */
	dropState(meta: Meta | null = this.meta()): SetState {
		return meta?.drop_state ?? "running";
	}

	/** What the pacer's look or the cancel told: a cancel is for good (nothing told later undoes it). */
	noteDropState(state: SetState): void {
		this.sql.run(`UPDATE meta SET drop_state = ? WHERE id = 1 AND drop_state IS NOT 'cancelled'`, state);
	}

	/** Why `act` may not happen on this shard now (a cancelled drop), or null: the drop's state machine asked. */
	refusal(act: DropAct, meta: Meta | null = this.meta()): Outcome<never> | null {
		return refusal(stateOfSet(this.dropState(meta)), act);
	}

	/** The types were (re)written: their limits are read again on next use. */
	forgetTypeLimits(): void {
		this.typeLimits = undefined;
	}

	/** The types' limits and prices, read once per instance (they never change after init). */
	private limits(): TypeLimits {
		if (this.typeLimits === undefined) {
			const rows = this.sql.all<{ type_id: string; price_cents: number; max_per_fan: number; is_primary: number }>(`SELECT * FROM types`);
			this.typeLimits = {
				primary: rows.find((r) => r.is_primary === 1)?.type_id ?? null,
				max: new Map(rows.map((r) => [r.type_id, r.max_per_fan])),
				price: new Map(rows.map((r) => [r.type_id, r.price_cents])),
			};
		}
		return this.typeLimits;
	}

	priceOf(meta: Meta, typeId: string | null): number {
		return typeId === null ? meta.price_cents : (this.limits().price.get(typeId) ?? meta.price_cents);
	}

	/** A fan's limit for a type and for the drop: a refusal, or null when `quantity` more fits both. */
	limitRefusal(meta: Meta, fanId: string, typeId: string | null, quantity: number): Outcome<never> | null {
		const used = this.fanTickets(fanId);
		if (used + quantity > meta.max_per_fan) {
			return fail(422, "limit_exceeded", `A fan may hold or buy at most ${meta.max_per_fan} ticket(s) in this drop.`, {
				maxPerFan: meta.max_per_fan,
				alreadyHeldOrBought: used,
			});
		}
		const limits = this.limits();
		const id = typeId ?? limits.primary;
		const typeMax = id === null ? undefined : limits.max.get(id);
		if (typeMax === undefined || typeMax >= meta.max_per_fan) return null;
		const ofType = this.sql.number(
			`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE fan_id = ? AND state IN ('claiming', 'active', 'purchased') AND ${typeId === null ? "ticket_type IS NULL" : "ticket_type = ?"}`,
			fanId, ...(typeId === null ? [] : [typeId]),
		);
		if (ofType + quantity <= typeMax) return null;
		return fail(422, "type_limit_exceeded", `A fan may hold or buy at most ${typeMax} ticket(s) of this type.`, {
			maxPerFan: typeMax,
			alreadyHeldOrBought: ofType,
		});
	}

	/**
	 * A window's rules for a hold made with its token, judged on the fan's home shard in the
	 * hold's own transaction: its types, its per-fan cap (over the fan's holds in the window,
	 * all on this shard), and this shard's part of its capacity (holds and sales of the window
	 * made here, so the parts of all shards together never pass the window's capacity).
	 */
	windowRefusal(window: WindowRule | null | undefined, fanId: string, typeId: string | null, quantity: number): Outcome<never> | null {
		if (window === null || window === undefined) return null;
		const type = typeId ?? this.limits().primary;
		if (window.types !== null && (type === null || !window.types.includes(type))) {
			return fail(422, "window_type", `This sale window sells only ${window.types.join(", ")}.`, { ticketTypes: window.types });
		}
		const counted = `SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE sale_window = ? AND state IN ('claiming', 'active', 'purchased')`;
		if (window.maxPerFan !== null) {
			const used = this.sql.number(`${counted} AND fan_id = ?`, window.id, fanId);
			if (used + quantity > window.maxPerFan) {
				return fail(422, "limit_exceeded", `A fan may hold or buy at most ${window.maxPerFan} ticket(s) in this sale window.`, {
					maxPerFan: window.maxPerFan,
					alreadyHeldOrBought: used,
				});
			}
		}
		if (window.allowance !== null && this.sql.number(counted, window.id) + quantity > window.allowance) {
			return fail(409, "window_sold_out", "This sale window has sold all it may; the rest go on sale at the general sale.");
		}
		return null;
	}

	/** A window's tickets held and sold on this shard. */
	windowCounts(windowId: string): { held: number; sold: number; buyers: number } {
		const rows = this.sql.all<{ state: string; n: number }>(
			`SELECT state, COALESCE(SUM(quantity), 0) AS n FROM holds WHERE sale_window = ? AND state IN ('claiming', 'active', 'purchased') GROUP BY state`,
			windowId,
		);
		const of = (state: string) => rows.find((r) => r.state === state)?.n ?? 0;
		const buyers = this.sql.number(`SELECT COUNT(DISTINCT fan_id) FROM holds WHERE sale_window = ? AND state = 'purchased'`, windowId);
		return { held: of("active") + of("claiming"), sold: of("purchased"), buyers };
	}

	/** Tickets a fan holds or has bought in this drop (this shard is their home, so this is all of them). */
	private fanTickets(fanId: string): number {
		return this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE fan_id = ? AND state IN ('claiming', 'active', 'purchased')`, fanId);
	}

	/** Ends every hold past its time; answers how many. */
	returnDue(now: number): number {
		// A claiming hold past its time is ended too: its claim, if it was made, is released.
		const due = this.sql.all<HoldRow>(`SELECT * FROM holds WHERE state IN ('active', 'claiming') AND expires_at <= ?`, now);
		for (const hold of due) this.returnHold(hold, "expired", now);
		return due.length;
	}

	/** Ends a hold: general stock goes back to this shard's count; a named hold's units are owed a release. */
	returnHold(hold: HoldRow, state: "released" | "expired", now: number): void {
		const changed = this.sql.run(`UPDATE holds SET state = ? WHERE hold_id = ? AND state IN ('active', 'claiming')`, state, hold.hold_id);
		// rowsWritten counts index entries too (holds has two on state), so "changed" is > 0, not === 1.
		if (changed === 0) return;
		if (hold.ticket_type === null) this.sql.run(`UPDATE meta SET remaining = remaining + ? WHERE id = 1`, hold.quantity);
		else this.owe(hold, "release", now);
	}

	/** Writes down the ending a named hold's units' shard must be told (once per hold and kind). */
	owe(hold: HoldRow, kind: "sold" | "release", now: number): void {
		if (hold.unit_shard === null) return;
		this.sql.run(
			`INSERT INTO notices (hold_id, kind, shard, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			hold.hold_id, kind, hold.unit_shard, now,
		);
	}

	/** The fan's hold of that id, or null (another fan's hold is as unknown as a hold that never was). */
	holdFor(holdId: string, fanId: string): HoldRow | null {
		const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ?`, holdId);
		return hold !== null && hold.fan_id === fanId ? hold : null;
	}
}

/** One part of the ledger over the shared store; `sql` and `transaction` at hand, as every section uses them. */
export abstract class LedgerSection {
	protected readonly sql: Sql;
	protected readonly transaction: <T>(fn: () => T) => T;

	constructor(protected readonly store: LedgerStore) {
		this.sql = store.sql;
		this.transaction = store.transaction;
	}
}
