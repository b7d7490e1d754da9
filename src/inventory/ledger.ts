// A shard's ledger: every change to its stock, holds, charges, orders, outbox
// and transfers, each one synchronous SQL in one transaction, returning what
// happened as a value. No env, no await, no clock of its own: the shard
// (src/inventory/inventory-shard.ts) does the I/O around it and passes the time in.
import { holdId as newHoldId, orderId as newOrderId, randomId, ticketCode } from "../shared/ids";
import { type Outcome, fail, ok } from "../shared/outcome";
import type { SaleMessage } from "../contract/sale-message";
import type { Sql } from "../shared/sql";
import type { Claimed } from "./unit-ledger";

/** A ticket type as a shard needs it: its price and limit, and whether it is the type spread over every shard. */
export interface ShardType {
	id: string;
	kind: "general" | "seated" | "timeslot";
	priceCents: number;
	maxPerFan: number;
	primary: boolean;
}

export interface ShardInit {
	dropId: string;
	shard: number;
	shards: number;
	allocation: number;
	maxPerFan: number;
	holdSeconds: number;
	priceCents: number;
	currency: string;
	/** The drop's ticket types; a drop without them has one, the general admission this shard's stock is of. */
	types?: ShardType[];
}

export interface HoldView {
	holdId: string;
	quantity: number;
	expiresAt: string;
	/** Named units: the type, and the seats or slot held. */
	ticketType?: string;
	seats?: string[];
	slot?: string;
	/** Best available: whether the seats are side by side in one row. */
	together?: boolean;
}

export interface OrderView {
	orderId: string;
	dropId: string;
	holdId: string;
	quantity: number;
	tickets: string[];
	unitPriceCents: number;
	totalCents: number;
	currency: string;
	createdAt: string;
	ticketType?: string;
	seats?: string[];
	slot?: string;
}

export interface ShardTotals {
	remaining: number;
	held: number;
	/** Tickets sold and not put back on sale (orders, less refunded tickets restocked). */
	sold: number;
	/** Fans with an order here (this is their home shard, so each is counted on one shard only). */
	buyers: number;
}

/** One shard's totals read in one go, with the stock it has given to and received from its peers. */
export interface ShardCounts extends ShardTotals {
	given: number;
	received: number;
	/** Refunded tickets put back on sale here. */
	restocked: number;
}

export interface ShardStats extends ShardTotals {
	shard: number;
	allocation: number;
	received: number;
	given: number;
	restocked: number;
	orders: number;
	activeHolds: number;
	outboxPending: number;
	transfersPending: number;
	/** What this shard answers for: allocation + received − given. */
	accountable: number;
	/** Sales sent to the Queue within the grace period: possibly not in D1 yet. */
	recentlySent: number;
	/** Charges open longer than the grace period: neither an order nor refunded, declined or void yet. */
	unreconciledCharges: number;
	/** Endings of named holds not yet delivered to their units' shards. */
	noticesPending: number;
	/** Tickets sold to fans homed here, by type (null: the stock spread over the shards). */
	soldByType: { ticketType: string | null; sold: number }[];
}

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
};

type HoldRow = {
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

/** What a named hold asks its units' shard for, as the home shard writes it down. */
export interface NamedHold {
	fanId: string;
	key: string;
	request: string;
	typeId: string;
	quantity: number;
	now: number;
	notAfter: number;
	/** No section had room a moment ago (best available): a replay or a resumed hold is answered, anything else is sold out, and nothing is written. */
	nowhere?: boolean;
}

/** A claim's ending the home shard owes the units' shard: sold, or released. */
export type Notice = {
	hold_id: string;
	kind: "sold" | "release";
	shard: number;
};

type OrderRow = {
	order_id: string;
	hold_id: string;
	fan_id: string;
	quantity: number;
	tickets: string;
	unit_price_cents: number;
	total_cents: number;
	currency: string;
	payment_id: string;
	created_at: number;
	ticket_type: string | null;
	units: string | null;
	pool: string | null;
};

/**
 * A charge's life, keyed by hold: `pending` (asked of the provider, answer not
 * recorded), `charged` (approved, no order yet), and the endings: `ordered`,
 * `refunded`, `declined`, `void` (the provider never took it).
 */
export type ChargeState = "pending" | "charged" | "ordered" | "refunded" | "declined" | "void";

export type ChargeRow = {
	hold_id: string;
	fan_id: string;
	attempt: number;
	idempotency_key: string;
	method: string;
	amount_cents: number;
	currency: string;
	state: ChargeState;
	payment_id: string | null;
	created_at: number;
	updated_at: number;
};

/** What a hold request decided: an answer, or "this shard lacks `missing` tickets" (stock may be elsewhere). */
export type HoldDecision =
	| { kind: "answered"; outcome: Outcome<HoldView> }
	| { kind: "short"; missing: number; remaining: number };

/** What a purchase may do next with a hold: charge it (a new or repeated attempt), or answer at once. */
export type ChargeStart =
	| { kind: "charge"; charge: ChargeRow }
	| { kind: "answered"; outcome: Outcome<OrderView> };

export const UNRECONCILED: ChargeState[] = ["pending", "charged"];

/** Remembered answers and finished holds are kept this long (a day, as payment providers keep keys). */
export const KEEP_MS = 24 * 60 * 60 * 1000;

export class Ledger {
	constructor(private readonly sql: Sql, private readonly transaction: <T>(fn: () => T) => T) {
		sql.run(`CREATE TABLE IF NOT EXISTS meta (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			drop_id TEXT NOT NULL, shard INTEGER NOT NULL, shards INTEGER NOT NULL,
			allocation INTEGER NOT NULL, max_per_fan INTEGER NOT NULL, hold_seconds INTEGER NOT NULL,
			price_cents INTEGER NOT NULL, currency TEXT NOT NULL,
			remaining INTEGER NOT NULL CHECK (remaining >= 0),
			received INTEGER NOT NULL DEFAULT 0, given INTEGER NOT NULL DEFAULT 0)`);
		sql.run(`CREATE TABLE IF NOT EXISTS holds (
			hold_id TEXT PRIMARY KEY, fan_id TEXT NOT NULL, quantity INTEGER NOT NULL,
			created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
			state TEXT NOT NULL, order_id TEXT)`);
		sql.run(`CREATE INDEX IF NOT EXISTS holds_by_fan ON holds (fan_id, state)`);
		sql.run(`CREATE INDEX IF NOT EXISTS holds_by_expiry ON holds (state, expires_at)`);
		// Only holds that were made are remembered by key: a refused request writes nothing.
		sql.run(`CREATE TABLE IF NOT EXISTS idempotency (
			fan_id TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL, result TEXT NOT NULL,
			created_at INTEGER NOT NULL, PRIMARY KEY (fan_id, key))`);
		sql.run(`CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_at)`);
		sql.run(`CREATE TABLE IF NOT EXISTS orders (
			order_id TEXT PRIMARY KEY, hold_id TEXT NOT NULL UNIQUE, fan_id TEXT NOT NULL,
			quantity INTEGER NOT NULL, tickets TEXT NOT NULL, unit_price_cents INTEGER NOT NULL,
			total_cents INTEGER NOT NULL, currency TEXT NOT NULL, payment_id TEXT NOT NULL,
			created_at INTEGER NOT NULL)`);
		sql.run(`CREATE INDEX IF NOT EXISTS orders_by_fan ON orders (fan_id)`);
		sql.run(`CREATE TABLE IF NOT EXISTS outbox (
			order_id TEXT PRIMARY KEY, payload TEXT NOT NULL, created_at INTEGER NOT NULL,
			sent_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0)`);
		sql.run(`CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, created_at)`);
		// Every charge attempt, written before the provider is asked, so every one of them ends
		// explicitly: an order, a refund, a decline, or void (the provider never had it).
		sql.run(`CREATE TABLE IF NOT EXISTS charges (
			hold_id TEXT PRIMARY KEY, fan_id TEXT NOT NULL, attempt INTEGER NOT NULL,
			idempotency_key TEXT NOT NULL, method TEXT NOT NULL, amount_cents INTEGER NOT NULL,
			currency TEXT NOT NULL, state TEXT NOT NULL, payment_id TEXT,
			created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`);
		sql.run(`CREATE INDEX IF NOT EXISTS charges_by_state ON charges (state, updated_at)`);
		// Stock moved between shards, as a two-step exchange: the taker writes what it asks for
		// (transfers_in, amount NULL) and then asks; the giver takes the stock and remembers its
		// answer under the transfer id (transfers_out) until the taker says it has credited it.
		sql.run(`CREATE TABLE IF NOT EXISTS transfers_out (
			transfer_id TEXT PRIMARY KEY, to_shard INTEGER NOT NULL, amount INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
		sql.run(`CREATE TABLE IF NOT EXISTS transfers_in (
			transfer_id TEXT PRIMARY KEY, from_shard INTEGER NOT NULL, requested INTEGER NOT NULL,
			amount INTEGER, created_at INTEGER NOT NULL)`);
		sql.run(`CREATE INDEX IF NOT EXISTS transfers_in_by_state ON transfers_in (amount, from_shard)`);
		// Refunded tickets put back on sale (issue 15), once per refund.
		sql.run(`CREATE TABLE IF NOT EXISTS restocks (refund_id TEXT PRIMARY KEY, quantity INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
		// Named units (issue 14): the drop's types, a hold's type and units, and the endings owed to units' shards.
		addColumns(sql, "holds", ["ticket_type TEXT", "unit_shard INTEGER", "pool TEXT", "units TEXT", "claim_key TEXT", "claim_request TEXT"]);
		addColumns(sql, "orders", ["ticket_type TEXT", "units TEXT", "pool TEXT"]);
		sql.run(`CREATE TABLE IF NOT EXISTS types (
			type_id TEXT PRIMARY KEY, kind TEXT NOT NULL, price_cents INTEGER NOT NULL, max_per_fan INTEGER NOT NULL, is_primary INTEGER NOT NULL)`);
		sql.run(`CREATE TABLE IF NOT EXISTS notices (
			hold_id TEXT NOT NULL, kind TEXT NOT NULL, shard INTEGER NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (hold_id, kind))`);
	}

	meta(): Meta | null {
		return this.sql.first<Meta>(`SELECT * FROM meta WHERE id = 1`);
	}

	requireMeta(): Meta {
		const meta = this.meta();
		if (meta === null) throw new Error("shard not initialised");
		return meta;
	}

	/** Sets the shard up once; later calls only update what may change (hold length). */
	init(config: ShardInit): void {
		const existing = this.meta();
		if (existing === null) {
			this.sql.run(
				`INSERT INTO meta (id, drop_id, shard, shards, allocation, max_per_fan, hold_seconds, price_cents, currency, remaining)
				 VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				config.dropId, config.shard, config.shards, config.allocation, config.maxPerFan,
				config.holdSeconds, config.priceCents, config.currency, config.allocation,
			);
		} else if (existing.drop_id !== config.dropId || existing.shard !== config.shard) {
			throw new Error("shard identity mismatch");
		} else {
			this.sql.run(`UPDATE meta SET hold_seconds = ? WHERE id = 1`, config.holdSeconds);
		}
		for (const t of config.types ?? []) {
			this.sql.run(
				`INSERT INTO types (type_id, kind, price_cents, max_per_fan, is_primary) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				t.id, t.kind, t.priceCents, t.maxPerFan, t.primary ? 1 : 0,
			);
		}
		this.typeLimits = undefined;
	}

	// ── Holds ────────────────────────────────────────────────────────────────

	/**
	 * Decides a hold here, after returning every hold past its time to stock. A made
	 * hold is remembered under its key; a refusal is not (a retry decides again).
	 * The hold lasts `holdSeconds`, and never past `notAfter` (the end of the fan's turn).
	 */
	hold(input: { fanId: string; quantity: number; key: string; request: string; now: number; notAfter: number }): HoldDecision {
		return this.transaction((): HoldDecision => {
			const meta = this.requireMeta();
			const stored = this.sql.first<{ request: string; result: string }>(
				`SELECT request, result FROM idempotency WHERE fan_id = ? AND key = ?`,
				input.fanId, input.key,
			);
			if (stored !== null) {
				if (stored.request !== input.request) return { kind: "answered", outcome: keyConflict() };
				const first = JSON.parse(stored.result) as Outcome<HoldView>;
				// Refusals are no longer remembered; one stored by an older version is decided again.
				if (first.ok) return { kind: "answered", outcome: replayed(first.value) };
				this.sql.run(`DELETE FROM idempotency WHERE fan_id = ? AND key = ?`, input.fanId, input.key);
			}
			this.returnDue(input.now);
			const refused = this.limitRefusal(meta, input.fanId, null, input.quantity);
			if (refused !== null) return { kind: "answered", outcome: refused };
			const remaining = this.requireMeta().remaining;
			if (remaining < input.quantity) return { kind: "short", missing: input.quantity - remaining, remaining };
			const expiresAt = Math.min(input.now + meta.hold_seconds * 1000, input.notAfter);
			const hold: HoldView = { holdId: newHoldId(meta.shard), quantity: input.quantity, expiresAt: new Date(expiresAt).toISOString() };
			this.sql.run(`UPDATE meta SET remaining = remaining - ? WHERE id = 1`, input.quantity);
			this.sql.run(
				`INSERT INTO holds (hold_id, fan_id, quantity, created_at, expires_at, state) VALUES (?, ?, ?, ?, ?, 'active')`,
				hold.holdId, input.fanId, input.quantity, input.now, expiresAt,
			);
			const outcome = ok(hold);
			this.sql.run(
				`INSERT INTO idempotency (fan_id, key, request, result, created_at) VALUES (?, ?, ?, ?, ?)`,
				input.fanId, input.key, input.request, JSON.stringify(outcome), input.now,
			);
			return { kind: "answered", outcome };
		});
	}

	/** Gives a hold's tickets back. Releasing twice, or a hold already gone, changes nothing. */
	release(input: { holdId: string; fanId: string; now: number }): Outcome<{ released: boolean }> {
		return this.transaction(() => {
			const hold = this.holdFor(input.holdId, input.fanId);
			if (hold === null) return fail(404, "not_found", "No such hold.");
			if (hold.state === "purchased") return fail(409, "already_purchased", "This hold has been bought; it cannot be released.");
			if (hold.state !== "active") return ok({ released: false });
			this.returnHold(hold, "released", input.now);
			return ok({ released: true });
		});
	}

	// ── Named holds (a type's units, decided on their own shard) ──────────────

	/**
	 * Step 1 of a named hold, on the fan's home shard: the per-fan limits are judged here,
	 * with every hold of the fan in the drop (general and named, of every type), and the
	 * hold is written as "claiming", so it counts against those limits from this moment on:
	 * a fan's concurrent holds, on whatever types, sections or shards, are judged one after
	 * another here. A repeated key answers its first hold.
	 */
	reserveNamed(
		input: NamedHold,
	): { kind: "answered"; outcome: Outcome<HoldView> } | { kind: "reserved"; holdId: string; expiresAt: number; resumed: { shard: number; pool: string } | null } {
		return this.transaction(() => {
			const meta = this.requireMeta();
			const stored = this.sql.first<{ request: string; result: string }>(
				`SELECT request, result FROM idempotency WHERE fan_id = ? AND key = ?`,
				input.fanId, input.key,
			);
			if (stored !== null) {
				if (stored.request !== input.request) return { kind: "answered" as const, outcome: keyConflict() };
				return { kind: "answered" as const, outcome: replayed((JSON.parse(stored.result) as { ok: true; value: HoldView }).value) };
			}
			this.returnDue(input.now);
			// A hold of this key still claiming: its request was cut off by a restart (the shard lets one
			// request per key run at a time), and its claim may have been made. It is asked again under its
			// own id (a claim is made once per hold id), rather than a second hold made beside it.
			const orphan = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE fan_id = ? AND state = 'claiming' AND claim_key = ?`, input.fanId, input.key);
			if (orphan !== null) {
				if (orphan.claim_request !== input.request) return { kind: "answered" as const, outcome: keyConflict() };
				const resumed = orphan.unit_shard === null || orphan.pool === null ? null : { shard: orphan.unit_shard, pool: orphan.pool };
				return { kind: "reserved" as const, holdId: orphan.hold_id, expiresAt: orphan.expires_at, resumed };
			}
			if (input.nowhere === true) return { kind: "answered" as const, outcome: fail(409, "sold_out", "None of these are left.") };
			const refused = this.limitRefusal(meta, input.fanId, input.typeId, input.quantity);
			if (refused !== null) return { kind: "answered" as const, outcome: refused };
			const holdId = newHoldId(meta.shard);
			const expiresAt = Math.min(input.now + meta.hold_seconds * 1000, input.notAfter);
			this.sql.run(
				`INSERT INTO holds (hold_id, fan_id, quantity, created_at, expires_at, state, ticket_type, claim_key, claim_request) VALUES (?, ?, ?, ?, ?, 'claiming', ?, ?, ?)`,
				holdId, input.fanId, input.quantity, input.now, expiresAt, input.typeId, input.key, input.request,
			);
			return { kind: "reserved" as const, holdId, expiresAt, resumed: null };
		});
	}

	/**
	 * Names the shard and pool a claiming hold is about to ask, before it asks (so an ending always
	 * knows where to go). False: the hold has ended (it ran out while an earlier target was asked,
	 * and its release went there), so it must ask nowhere else.
	 */
	aimNamed(holdId: string, shard: number, pool: string): boolean {
		return this.sql.run(`UPDATE holds SET unit_shard = ?, pool = ? WHERE hold_id = ? AND state = 'claiming'`, shard, pool, holdId) > 0;
	}

	/**
	 * Step 2: the units' shard claimed them: the hold is made, and remembered under its key.
	 * Null when the hold ended meanwhile (it ran out): its release is already owed.
	 */
	confirmNamed(input: { holdId: string; fanId: string; key: string; request: string; claimed: Claimed; now: number }): Outcome<HoldView> | null {
		return this.transaction(() => {
			const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ?`, input.holdId);
			if (hold === null || hold.state !== "claiming") return null;
			this.sql.run(`UPDATE holds SET state = 'active', units = ? WHERE hold_id = ?`, JSON.stringify(input.claimed.seats), input.holdId);
			const outcome = ok(this.namedView({ ...hold, units: JSON.stringify(input.claimed.seats) }, input.claimed.together));
			this.sql.run(
				`INSERT INTO idempotency (fan_id, key, request, result, created_at) VALUES (?, ?, ?, ?, ?)`,
				input.fanId, input.key, input.request, JSON.stringify(outcome), input.now,
			);
			return outcome;
		});
	}

	/**
	 * The claim was refused (nothing was claimed), or its answer is unknown (`owed`: a
	 * release goes to the units' shard, which also refuses a claim that arrives after it).
	 * A refused hold leaves nothing behind.
	 */
	abandonNamed(holdId: string, owed: boolean, now: number): void {
		this.transaction(() => {
			const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ? AND state = 'claiming'`, holdId);
			if (hold === null) return;
			if (!owed) {
				this.sql.run(`DELETE FROM holds WHERE hold_id = ?`, holdId);
				return;
			}
			this.sql.run(`UPDATE holds SET state = 'released' WHERE hold_id = ?`, holdId);
			this.owe(hold, "release", now);
		});
	}

	/** Endings owed to units' shards, oldest first. */
	pendingNotices(limit = 500): Notice[] {
		return this.sql.all<Notice>(`SELECT hold_id, kind, shard FROM notices ORDER BY created_at LIMIT ?`, limit);
	}

	/** The units' shard has them: forgotten here. */
	noticesDelivered(notices: Notice[]): void {
		this.transaction(() => {
			for (const n of notices) this.sql.run(`DELETE FROM notices WHERE hold_id = ? AND kind = ?`, n.hold_id, n.kind);
		});
	}

	/** A fan's limit for a type and for the drop: a refusal, or null when `quantity` more fits both. */
	private limitRefusal(meta: Meta, fanId: string, typeId: string | null, quantity: number): Outcome<never> | null {
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

	private typeLimits: { primary: string | null; max: Map<string, number>; price: Map<string, number> } | undefined;

	/** The types' limits and prices, read once per instance (they never change after init). */
	private limits() {
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

	private priceOf(meta: Meta, typeId: string | null): number {
		return typeId === null ? meta.price_cents : (this.limits().price.get(typeId) ?? meta.price_cents);
	}

	private owe(hold: HoldRow, kind: "sold" | "release", now: number): void {
		if (hold.unit_shard === null) return;
		this.sql.run(
			`INSERT INTO notices (hold_id, kind, shard, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			hold.hold_id, kind, hold.unit_shard, now,
		);
	}

	private namedView(hold: HoldRow, together?: boolean): HoldView {
		const seats = hold.units === null ? [] : (JSON.parse(hold.units) as string[]);
		return {
			holdId: hold.hold_id,
			quantity: hold.quantity,
			expiresAt: new Date(hold.expires_at).toISOString(),
			ticketType: hold.ticket_type!,
			...(seats.length > 0 ? { seats } : {}),
			...(hold.pool?.startsWith("t:") ? { slot: hold.pool.slice(2) } : {}),
			...(together === undefined || seats.length === 0 ? {} : { together }),
		};
	}

	/** Returns the stock of every hold past its time; answers how many. */
	expireDue(now: number): number {
		return this.transaction(() => this.returnDue(now));
	}

	// ── Charges and orders ───────────────────────────────────────────────────

	/**
	 * Opens (or reopens) the charge for a hold before the provider is asked. An order
	 * that exists is the answer; a hold gone is 410; a charge that may have happened
	 * (pending or approved, from a request that died) is charged again under the SAME
	 * idempotency key, so the provider answers the first charge rather than make a second.
	 * After a decline, the next attempt gets a new key.
	 */
	startCharge(input: { holdId: string; fanId: string; method: string; now: number }): ChargeStart {
		return this.transaction((): ChargeStart => {
			const meta = this.requireMeta();
			const hold = this.holdFor(input.holdId, input.fanId);
			if (hold === null) return { kind: "answered", outcome: fail(404, "not_found", "No such hold.") };
			if (hold.order_id !== null) return { kind: "answered", outcome: replayed(this.orderView(meta, this.orderRow(hold.order_id)!)) };
			const gone = this.expireIfDue(hold, input.now);
			if (gone !== null) return { kind: "answered", outcome: gone };
			const existing = this.charge(hold.hold_id);
			if (existing !== null && (existing.state === "pending" || existing.state === "charged")) {
				return { kind: "charge", charge: existing };
			}
			const attempt = (existing?.attempt ?? 0) + 1;
			const charge: ChargeRow = {
				hold_id: hold.hold_id,
				fan_id: hold.fan_id,
				attempt,
				idempotency_key: `${meta.drop_id}:${hold.hold_id}:${attempt}`,
				method: input.method,
				amount_cents: hold.quantity * this.priceOf(meta, hold.ticket_type),
				currency: meta.currency,
				state: "pending",
				payment_id: null,
				created_at: input.now,
				updated_at: input.now,
			};
			this.sql.run(
				`INSERT INTO charges (hold_id, fan_id, attempt, idempotency_key, method, amount_cents, currency, state, payment_id, created_at, updated_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, ?, ?)
				 ON CONFLICT (hold_id) DO UPDATE SET attempt = excluded.attempt, idempotency_key = excluded.idempotency_key,
				   method = excluded.method, state = 'pending', payment_id = NULL, updated_at = excluded.updated_at`,
				charge.hold_id, charge.fan_id, charge.attempt, charge.idempotency_key, charge.method, charge.amount_cents,
				charge.currency, charge.created_at, charge.updated_at,
			);
			return { kind: "charge", charge };
		});
	}

	/** The provider approved the charge: recorded before anything else happens. */
	chargeApproved(holdId: string, key: string, paymentId: string, now: number): void {
		// By key as well: an answer about an earlier attempt never touches a later one.
		this.sql.run(
			`UPDATE charges SET state = 'charged', payment_id = ?, updated_at = ? WHERE hold_id = ? AND idempotency_key = ? AND state IN ('pending', 'charged', 'void')`,
			paymentId, now, holdId, key,
		);
	}

	/** An ending other than an order: declined, refunded, or void (the provider has no such charge). */
	chargeEnded(holdId: string, key: string, state: "declined" | "refunded" | "void", now: number): void {
		this.sql.run(
			`UPDATE charges SET state = ?, updated_at = ? WHERE hold_id = ? AND idempotency_key = ? AND state IN ('pending', 'charged')`,
			state, now, holdId, key,
		);
	}

	/** The payment an order was made with, if the hold has one. */
	orderPayment(holdId: string): string | null {
		return this.sql.first<{ payment_id: string }>(`SELECT o.payment_id FROM orders o JOIN holds h ON h.order_id = o.order_id WHERE h.hold_id = ?`, holdId)?.payment_id ?? null;
	}

	charge(holdId: string): ChargeRow | null {
		return this.sql.first<ChargeRow>(`SELECT * FROM charges WHERE hold_id = ?`, holdId);
	}

	/** Charges not ended, last touched at or before `before`: what a reconcile looks at. */
	openCharges(before: number, limit = 50): ChargeRow[] {
		return this.sql.all<ChargeRow>(
			`SELECT * FROM charges WHERE state IN ('pending', 'charged') AND updated_at <= ? ORDER BY updated_at LIMIT ?`,
			before, limit,
		);
	}

	/**
	 * Turns a paid hold into an order, with its outbox row, and ends its charge, in one
	 * transaction. A hold that ran out meanwhile answers 410: the caller refunds.
	 */
	completePurchase(input: { holdId: string; key: string; paymentId: string; now: number; email?: string }): Outcome<OrderView> {
		return this.transaction((): Outcome<OrderView> => {
			const meta = this.requireMeta();
			const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ?`, input.holdId);
			if (hold === null) return fail(404, "not_found", "No such hold.");
			if (hold.order_id !== null) return replayed(this.orderView(meta, this.orderRow(hold.order_id)!));
			const gone = this.expireIfDue(hold, input.now);
			if (gone !== null) return gone;
			const order: OrderRow = {
				order_id: newOrderId(meta.shard),
				hold_id: hold.hold_id,
				fan_id: hold.fan_id,
				quantity: hold.quantity,
				tickets: JSON.stringify(Array.from({ length: hold.quantity }, ticketCode)),
				unit_price_cents: this.priceOf(meta, hold.ticket_type),
				total_cents: this.priceOf(meta, hold.ticket_type) * hold.quantity,
				currency: meta.currency,
				payment_id: input.paymentId,
				created_at: input.now,
				ticket_type: hold.ticket_type,
				units: hold.units,
				pool: hold.pool,
			};
			this.sql.run(
				`INSERT INTO orders (order_id, hold_id, fan_id, quantity, tickets, unit_price_cents, total_cents, currency, payment_id, created_at, ticket_type, units, pool)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				order.order_id, order.hold_id, order.fan_id, order.quantity, order.tickets,
				order.unit_price_cents, order.total_cents, order.currency, order.payment_id, order.created_at,
				order.ticket_type, order.units, order.pool,
			);
			this.owe(hold, "sold", input.now);
			this.sql.run(`UPDATE holds SET state = 'purchased', order_id = ? WHERE hold_id = ?`, order.order_id, hold.hold_id);
			this.sql.run(
				`UPDATE charges SET state = 'ordered', payment_id = ?, updated_at = ? WHERE hold_id = ? AND idempotency_key = ?`,
				input.paymentId, input.now, hold.hold_id, input.key,
			);
			const message: SaleMessage = {
				v: 1,
				orderId: order.order_id,
				dropId: meta.drop_id,
				shard: meta.shard,
				fanId: order.fan_id,
				holdId: order.hold_id,
				quantity: order.quantity,
				unitPriceCents: order.unit_price_cents,
				totalCents: order.total_cents,
				currency: order.currency,
				paymentId: order.payment_id,
				tickets: JSON.parse(order.tickets) as string[],
				createdAt: new Date(input.now).toISOString(),
				...(input.email === undefined ? {} : { email: input.email }),
				...this.unitsOf(order),
			};
			this.sql.run(`INSERT INTO outbox (order_id, payload, created_at) VALUES (?, ?, ?)`, order.order_id, JSON.stringify(message), input.now);
			return ok(this.orderView(meta, order));
		});
	}

	order(input: { orderId: string; fanId: string }): Outcome<OrderView> {
		const meta = this.requireMeta();
		const row = this.orderRow(input.orderId);
		if (row === null || row.fan_id !== input.fanId) return fail(404, "not_found", "No such order.");
		return ok(this.orderView(meta, row));
	}

	// ── Outbox ───────────────────────────────────────────────────────────────

	/** Unsent sales, oldest first, each counted as one more send attempt. */
	takeUnsent(limit: number): { orderIds: string[]; sales: SaleMessage[] } {
		return this.transaction(() => {
			const rows = this.sql.all<{ order_id: string; payload: string }>(
				`SELECT order_id, payload FROM outbox WHERE sent_at IS NULL ORDER BY created_at LIMIT ?`,
				limit,
			);
			const orderIds = rows.map((r) => r.order_id);
			this.sql.run(`UPDATE outbox SET attempts = attempts + 1 WHERE order_id IN ${EACH}`, JSON.stringify(orderIds));
			return { orderIds, sales: rows.map((r) => JSON.parse(r.payload) as SaleMessage) };
		});
	}

	markSent(orderIds: string[], at: number): void {
		this.transaction(() => {
			this.sql.run(`UPDATE outbox SET sent_at = ? WHERE order_id IN ${EACH}`, at, JSON.stringify(orderIds));
		});
	}

	/**
	 * Order ids after `after` (through `through`, when given) in id order, a page at a time;
	 * `recent`: those not sent yet or sent within `graceMs` (possibly not in D1 yet).
	 */
	orderIdsPage(input: { after: string | null; through: string | null; limit: number; graceMs: number; now: number }): {
		ids: string[];
		recent: string[];
		next: string | null;
	} {
		const limit = Math.max(1, Math.min(Math.trunc(input.limit) || 1, 10_000));
		const bound = input.through === null ? [] : [input.through];
		const rows = this.sql.all<{ id: string; recent: number }>(
			`SELECT o.order_id AS id, (b.order_id IS NOT NULL AND (b.sent_at IS NULL OR b.sent_at > ?)) AS recent
			 FROM orders o LEFT JOIN outbox b ON b.order_id = o.order_id
			 WHERE o.order_id > ? ${input.through === null ? "" : "AND o.order_id <= ?"}
			 ORDER BY o.order_id LIMIT ?`,
			input.now - input.graceMs, input.after ?? "", ...bound, limit,
		);
		return {
			ids: rows.map((r) => r.id),
			recent: rows.filter((r) => r.recent === 1).map((r) => r.id),
			next: rows.length === limit ? rows[rows.length - 1]!.id : null,
		};
	}

	/** Marks sales sent at or before `sentBy` as unsent again; ids not sold here, or not sent yet, are left alone. */
	markUnsent(orderIds: string[], sentBy: number): number {
		return this.transaction(() => {
			let n = 0;
			n += this.sql.all(`UPDATE outbox SET sent_at = NULL WHERE sent_at <= ? AND order_id IN ${EACH} RETURNING order_id`, sentBy, JSON.stringify(orderIds)).length;
			return n;
		});
	}

	// ── Transfers ────────────────────────────────────────────────────────────

	/** Step 1 (taker): writes the transfer it is about to ask `from` for; answers its id. */
	openTransfer(from: number, requested: number, now: number): string {
		const meta = this.requireMeta();
		const transferId = randomId(`t_${from}_${meta.shard}_`);
		this.sql.run(`INSERT INTO transfers_in (transfer_id, from_shard, requested, created_at) VALUES (?, ?, ?, ?)`, transferId, from, requested, now);
		return transferId;
	}

	/**
	 * Step 2 (giver): takes up to `amount` of free stock for a transfer, once per id: a
	 * repeated id answers the first amount, 0 included (a late copy of an ask answered 0
	 * must not take stock that came back since). Acks name transfers the taker has
	 * credited: their records are no longer needed. An ack-only call has no transfer id.
	 */
	give(input: { transferId: string; toShard: number; amount: number; acks: string[]; now: number }): number {
		return this.transaction(() => {
			if (input.acks.length > 0) {
				this.sql.run(`DELETE FROM transfers_out WHERE to_shard = ? AND transfer_id IN ${EACH}`, input.toShard, JSON.stringify(input.acks));
			}
			if (input.transferId === "") return 0;
			const done = this.sql.first<{ amount: number }>(`SELECT amount FROM transfers_out WHERE transfer_id = ?`, input.transferId);
			if (done !== null) return done.amount;
			this.returnDue(input.now);
			const amount = Math.max(0, Math.min(input.amount, this.requireMeta().remaining));
			this.sql.run(`UPDATE meta SET remaining = remaining - ?, given = given + ? WHERE id = 1`, amount, amount);
			this.sql.run(
				`INSERT INTO transfers_out (transfer_id, to_shard, amount, created_at) VALUES (?, ?, ?, ?)`,
				input.transferId, input.toShard, amount, input.now,
			);
			return amount;
		});
	}

	/**
	 * Step 3 (taker): credits what the giver answered, once (0 too: it is kept, like any
	 * credited transfer, until the giver has heard the ack, so neither side takes it twice).
	 */
	credit(transferId: string, amount: number): void {
		this.transaction(() => {
			const credited = this.sql.run(`UPDATE transfers_in SET amount = ? WHERE transfer_id = ? AND amount IS NULL`, amount, transferId);
			if (credited > 0) this.sql.run(`UPDATE meta SET remaining = remaining + ?, received = received + ? WHERE id = 1`, amount, amount);
		});
	}

	/** Whether a transfer is still waiting for the giver's answer. */
	isPending(transferId: string): boolean {
		return this.sql.first(`SELECT 1 AS pending FROM transfers_in WHERE transfer_id = ? AND amount IS NULL`, transferId) !== null;
	}

	/** Transfers asked for and never answered (a restart or a failed call cut them short). */
	pendingTransfers(): { transfer_id: string; from_shard: number; requested: number }[] {
		return this.sql.all(`SELECT transfer_id, from_shard, requested FROM transfers_in WHERE amount IS NULL`);
	}

	/** Credited transfers from `from` whose giver has not been told yet. */
	unackedFrom(from: number, limit = 200): string[] {
		return this.sql
			.all<{ id: string }>(`SELECT transfer_id AS id FROM transfers_in WHERE amount IS NOT NULL AND from_shard = ? LIMIT ?`, from, limit)
			.map((r) => r.id);
	}

	/** Peers that have credited transfers waiting to be acknowledged. */
	peersToAck(): number[] {
		return this.sql.all<{ from_shard: number }>(`SELECT DISTINCT from_shard FROM transfers_in WHERE amount IS NOT NULL`).map((r) => r.from_shard);
	}

	/** The giver has heard the acks: the taker's records of them go too. */
	acked(ids: string[]): void {
		this.transaction(() => {
			this.sql.run(`DELETE FROM transfers_in WHERE amount IS NOT NULL AND transfer_id IN ${EACH}`, JSON.stringify(ids));
		});
	}

	// ── Restock (issue 15) ───────────────────────────────────────────────────

	/**
	 * Puts a refund's tickets back on sale here, once per refund id (a repeat changes
	 * nothing): they join the free stock, and `sold` counts them no more, so
	 * sold + held + remaining still adds up to what this shard answers for.
	 */
	restock(refundId: string, quantity: number, now: number): boolean {
		return this.transaction(() => {
			const added = this.sql.run(`INSERT INTO restocks (refund_id, quantity, created_at) VALUES (?, ?, ?) ON CONFLICT (refund_id) DO NOTHING`, refundId, quantity, now);
			if (added > 0) this.sql.run(`UPDATE meta SET remaining = remaining + ? WHERE id = 1`, quantity);
			return added > 0;
		});
	}

	private restocked(): number {
		return this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM restocks`);
	}

	// ── Reading and upkeep ───────────────────────────────────────────────────

	counts(): ShardCounts {
		const meta = this.meta();
		if (meta === null) return { remaining: 0, held: 0, sold: 0, buyers: 0, given: 0, received: 0, restocked: 0 };
		const restocked = this.restocked();
		return {
			given: meta.given,
			received: meta.received,
			restocked,
			remaining: meta.remaining,
			held: this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE state = 'active' AND ticket_type IS NULL`),
			sold: this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE ticket_type IS NULL`) - restocked,
			buyers: this.sql.number(`SELECT COUNT(DISTINCT fan_id) FROM orders`),
		};
	}

	stats(now: number, graceMs: number): ShardStats {
		const meta = this.requireMeta();
		return {
			shard: meta.shard,
			allocation: meta.allocation,
			accountable: meta.allocation + meta.received - meta.given,
			...this.counts(),
			orders: this.sql.number(`SELECT COUNT(*) FROM orders`),
			activeHolds: this.sql.number(`SELECT COUNT(*) FROM holds WHERE state = 'active'`),
			noticesPending: this.sql.number(`SELECT COUNT(*) FROM notices`),
			soldByType: this.sql
				.all<{ type: string; sold: number }>(`SELECT COALESCE(ticket_type, '') AS type, SUM(quantity) AS sold FROM orders GROUP BY ticket_type`)
				.map((r) => ({ ticketType: r.type === "" ? null : r.type, sold: r.sold })),
			outboxPending: this.sql.number(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`),
			transfersPending: this.sql.number(`SELECT COUNT(*) FROM transfers_in WHERE amount IS NULL`),
			recentlySent: this.sql.number(`SELECT COUNT(*) FROM outbox WHERE sent_at > ?`, now - graceMs),
			unreconciledCharges: this.sql.number(`SELECT COUNT(*) FROM charges WHERE state IN ('pending', 'charged') AND updated_at <= ?`, now - graceMs),
		};
	}

	/**
	 * Forgets what no answer needs any more: remembered keys and finished holds (released
	 * or expired, with no charge open) after a day. Orders, charges and stock never go.
	 */
	prune(now: number): number {
		return this.transaction(
			() =>
				this.sql.run(`DELETE FROM idempotency WHERE created_at <= ?`, now - KEEP_MS) +
				this.sql.run(
					`DELETE FROM holds WHERE state IN ('released', 'expired') AND expires_at <= ?
					 AND hold_id NOT IN (SELECT hold_id FROM charges WHERE state IN ('pending', 'charged'))`,
					now - KEEP_MS,
				),
		);
	}

	/** When the alarm is next needed, from stored state alone (null: not at all). */
	nextAlarm(now: number, retry: { outboxMs: number; transferMs: number; chargeMs: number; pruneMs: number }): number | null {
		const candidates: number[] = [];
		const expiry = this.sql.first<{ at: number | null }>(`SELECT MIN(expires_at) AS at FROM holds WHERE state IN ('active', 'claiming')`);
		if (expiry?.at != null) candidates.push(expiry.at);
		if (this.sql.first(`SELECT 1 AS owed FROM notices LIMIT 1`) !== null) candidates.push(now + retry.outboxMs);
		if (this.sql.number(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`) > 0) candidates.push(now + retry.outboxMs);
		if (this.sql.number(`SELECT COUNT(*) FROM transfers_in`) > 0) candidates.push(now + retry.transferMs);
		const charge = this.sql.first<{ at: number | null }>(`SELECT MIN(updated_at) AS at FROM charges WHERE state IN ('pending', 'charged')`);
		if (charge?.at != null) candidates.push(Math.max(now + 1_000, charge.at + retry.chargeMs));
		const finished = this.sql.first<{ at: number | null }>(
			`SELECT MIN(at) AS at FROM (SELECT MIN(created_at) AS at FROM idempotency UNION ALL SELECT MIN(expires_at) AS at FROM holds WHERE state IN ('released', 'expired'))`,
		);
		if (finished?.at != null) candidates.push(Math.max(now + retry.pruneMs, finished.at + KEEP_MS));
		return candidates.length === 0 ? null : Math.min(...candidates);
	}

	// ── Inside ───────────────────────────────────────────────────────────────

	/** Tickets a fan holds or has bought in this drop (this shard is their home, so this is all of them). */
	private fanTickets(fanId: string): number {
		return this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE fan_id = ? AND state IN ('claiming', 'active', 'purchased')`, fanId);
	}

	private returnDue(now: number): number {
		// A claiming hold past its time is ended too: its claim, if it was made, is released.
		const due = this.sql.all<HoldRow>(`SELECT * FROM holds WHERE state IN ('active', 'claiming') AND expires_at <= ?`, now);
		for (const hold of due) this.returnHold(hold, "expired", now);
		return due.length;
	}

	/** Ends a hold: general stock goes back to this shard's count; a named hold's units are owed a release. */
	private returnHold(hold: HoldRow, state: "released" | "expired", now: number): void {
		const changed = this.sql.run(`UPDATE holds SET state = ? WHERE hold_id = ? AND state IN ('active', 'claiming')`, state, hold.hold_id);
		// rowsWritten counts index entries too (holds has two on state), so "changed" is > 0, not === 1.
		if (changed === 0) return;
		if (hold.ticket_type === null) this.sql.run(`UPDATE meta SET remaining = remaining + ? WHERE id = 1`, hold.quantity);
		else this.owe(hold, "release", now);
	}

	/** A named order's units, as its sale message carries them. */
	private unitsOf(order: OrderRow): Pick<SaleMessage, "ticketType" | "seats" | "slot"> {
		if (order.ticket_type === null) return {};
		const seats = order.units === null ? [] : (JSON.parse(order.units) as string[]);
		return {
			ticketType: order.ticket_type,
			...(seats.length > 0 ? { seats } : {}),
			...(order.pool?.startsWith("t:") ? { slot: order.pool.slice(2) } : {}),
		};
	}

	/** 410 for a hold past its time (returning its stock now if the alarm has not yet), null if it can be bought. */
	private expireIfDue(hold: HoldRow, now: number): Outcome<never> | null {
		if (hold.state === "active" && hold.expires_at <= now) this.returnHold(hold, "expired", now);
		else if (hold.state === "active") return null;
		return fail(410, hold.state === "released" ? "hold_released" : "hold_expired", "This hold is no longer valid; make a new one.");
	}

	private holdFor(holdId: string, fanId: string): HoldRow | null {
		const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ?`, holdId);
		return hold !== null && hold.fan_id === fanId ? hold : null;
	}

	private orderRow(orderId: string): OrderRow | null {
		return this.sql.first<OrderRow>(`SELECT * FROM orders WHERE order_id = ?`, orderId);
	}

	private orderView(meta: Meta, row: OrderRow): OrderView {
		return {
			orderId: row.order_id,
			dropId: meta.drop_id,
			holdId: row.hold_id,
			quantity: row.quantity,
			tickets: JSON.parse(row.tickets) as string[],
			unitPriceCents: row.unit_price_cents,
			totalCents: row.total_cents,
			currency: row.currency,
			createdAt: new Date(row.created_at).toISOString(),
			...this.unitsOf(row),
		};
	}
}

/** Adds columns a table made by an earlier version lacks (SQLite has no ADD COLUMN IF NOT EXISTS). */
function addColumns(sql: Sql, table: string, columns: string[]): void {
	const have = new Set(sql.all<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table).map((c) => c.name));
	for (const column of columns) {
		if (!have.has(column.split(" ")[0]!)) sql.run(`ALTER TABLE ${table} ADD COLUMN ${column}`);
	}
}

/** The answer given before, to a repeat of the same request. */
const replayed = <T>(value: T): Outcome<T> => ({ ok: true, value, replayed: true });

const keyConflict = () => fail(409, "idempotency_key_conflict", "This Idempotency-Key was used with a different request.");

/**
 * A list of ids as one bound parameter (a JSON array): a Durable Object's SQLite takes at
 * most 100 bound variables per statement, so a list spelled out as `?, ?, ...` beside another
 * parameter breaks at 100 items (it did: unacked transfers past 100 stopped every give).
 */
const EACH = "(SELECT value FROM json_each(?))";
