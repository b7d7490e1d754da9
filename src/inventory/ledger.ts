// A shard's ledger: every change to its stock, holds, charges, orders, outbox
// and transfers, each one synchronous SQL in one transaction, returning what
// happened as a value. No env, no await, no clock of its own: the shard
// (inventory-shard.ts) does the I/O around it and passes the time in.
//
// The ledger is its sections over one shared store (ledger-store.ts, with the
// tables made in ledger-schema.ts): holds, named holds, charges and orders, the
// outbox, transfers and restock. This file sets the shard up and reads it whole:
// its totals, its stats, what may be forgotten, and when the alarm is next needed.
import { ChargeLedger } from "./ledger-charges";
import { HoldLedger } from "./ledger-holds";
import { NamedHoldLedger } from "./ledger-named";
import { OutboxLedger } from "./ledger-outbox";
import { type HoldMinute, foldForgottenHolds, holdMinutes } from "./hold-minutes";
import { KEEP_MS, LedgerStore, type Meta } from "./ledger-store";
import { TransferLedger } from "./ledger-transfers";
import { ReturnsLedger } from "./returns-line";
import type { Sql } from "../shared/sql";
import type { Outcome } from "../shared/outcome";
import type { DropAct, SetState } from "../drops/lifecycle";

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
	/** Payments the provider approved here (refunded ones too). */
	payments: number;
	/** Holds with more than one approved payment: a fan charged twice for one hold, never expected. */
	holdsChargedTwice: number;
	/** Endings of named holds not yet delivered to their units' shards. */
	noticesPending: number;
	/** Tickets sold to fans homed here, by type (null: the stock spread over the shards). */
	soldByType: { ticketType: string | null; sold: number }[];
}

export class Ledger {
	readonly holds: HoldLedger;
	readonly named: NamedHoldLedger;
	readonly charges: ChargeLedger;
	readonly outbox: OutboxLedger;
	readonly transfers: TransferLedger;
	readonly returns: ReturnsLedger;
	private readonly store: LedgerStore;

	constructor(
		private readonly sql: Sql,
		transaction: <T>(fn: () => T) => T,
	) {
		this.store = new LedgerStore(sql, transaction);
		this.returns = new ReturnsLedger(this.store);
		this.holds = new HoldLedger(this.store, this.returns);
		this.named = new NamedHoldLedger(this.store);
		this.charges = new ChargeLedger(this.store);
		this.outbox = new OutboxLedger(this.store);
		this.transfers = new TransferLedger(this.store);
	}

	meta(): Meta | null {
		return this.store.meta();
	}

	requireMeta(): Meta {
		return this.store.requireMeta();
	}

	/** The promoter's part of the drop's state, as this shard was last told (src/drops/lifecycle.ts). */
	dropState(): SetState {
		return this.store.dropState();
	}

	noteDropState(state: SetState): void {
		this.store.noteDropState(state);
	}

	/** Why `act` may not happen here now (409 drop_cancelled on a cancelled drop), or null. */
	refusal(act: DropAct): Outcome<never> | null {
		return this.store.refusal(act);
	}

	/** Sets the shard up once; later calls only update what may change (hold length). */
	init(config: ShardInit): void {
		const existing = this.store.meta();
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
		this.store.forgetTypeLimits();
	}

	/** This shard's totals of the stock spread over the shards (zeros before it is set up). */
	/** A sale window's tickets held and sold on this shard. */
	windowCounts(windowId: string): { held: number; sold: number; buyers: number } {
		return this.store.windowCounts(windowId);
	}

	counts(): ShardCounts {
		const meta = this.store.meta();
		if (meta === null) return { remaining: 0, held: 0, sold: 0, buyers: 0, given: 0, received: 0, restocked: 0 };
		const restocked = this.transfers.restocked();
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
		const meta = this.store.requireMeta();
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
			// A charge waiting on the fan's bank is open by design until its deadline, not unreconciled.
			unreconciledCharges: this.sql.number(
				`SELECT COUNT(*) FROM charges WHERE (state IN ('pending', 'charged') AND updated_at <= ?) OR (state = 'awaiting_action' AND deadline <= ?)`,
				now - graceMs, now - graceMs,
			),
			...this.charges.paymentCounts(),
		};
	}

	/**
	 * Forgets what no answer needs any more: remembered keys, finished holds (released
	 * or expired, with no charge open) and acknowledged transfers after a day. Orders,
	 * charges and stock never go.
	 */
	prune(now: number): number {
		return this.store.transaction(
			() =>
				this.sql.run(`DELETE FROM idempotency WHERE created_at <= ?`, now - KEEP_MS) +
				this.sql.run(`DELETE FROM transfers_out WHERE acked_at <= ?`, now - KEEP_MS) +
				this.forgetHolds(now - KEEP_MS),
		);
	}

	/** The holds by minute, for the queue figures (hold-minutes.ts). */
	holdMinutes(): HoldMinute[] {
		return holdMinutes(this.sql);
	}

	/** Forgets finished holds, once the queue figures have what they need of them (hold-minutes.ts). */
	private forgetHolds(cutoff: number): number {
		const forgotten = `(state IN ('released', 'expired') AND expires_at <= ?
			AND hold_id NOT IN (SELECT hold_id FROM charges WHERE state IN ('pending', 'charged', 'awaiting_action')))`;
		// Nothing to forget (every prune of a drop's first day): the fold would scan every hold to add nothing.
		if (this.sql.first(`SELECT 1 AS due FROM holds WHERE ${forgotten} LIMIT 1`, cutoff) === null) return 0;
		foldForgottenHolds(this.sql, forgotten, cutoff);
		return this.sql.run(`DELETE FROM holds WHERE ${forgotten}`, cutoff);
	}

	/** When the alarm is next needed, from stored state alone (null: not at all). */
	nextAlarm(now: number, retry: { outboxMs: number; transferMs: number; ackMs: number; chargeMs: number; pruneMs: number }): number | null {
		const candidates: number[] = [];
		const expiry = this.sql.first<{ at: number | null }>(`SELECT MIN(expires_at) AS at FROM holds WHERE state IN ('active', 'claiming')`);
		if (expiry?.at != null) candidates.push(expiry.at);
		if (this.sql.first(`SELECT 1 AS owed FROM notices LIMIT 1`) !== null) candidates.push(now + retry.outboxMs);
		if (this.sql.number(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`) > 0) candidates.push(now + retry.outboxMs);
		if (this.sql.number(`SELECT COUNT(*) FROM transfers_in WHERE amount IS NULL`) > 0) candidates.push(now + retry.transferMs);
		// Acks ride on the next ask of the same peer; those still unsent go alone once they are `ackMs` old.
		const unacked = this.sql.first<{ at: number | null }>(`SELECT MIN(created_at) AS at FROM transfers_in WHERE amount IS NOT NULL`);
		if (unacked?.at != null) candidates.push(Math.max(now + retry.transferMs, unacked.at + retry.ackMs));
		const charge = this.sql.first<{ at: number | null }>(`SELECT MIN(updated_at) AS at FROM charges WHERE state IN ('pending', 'charged')`);
		if (charge?.at != null) candidates.push(Math.max(now + 1_000, charge.at + retry.chargeMs));
		const action = this.sql.first<{ at: number | null }>(`SELECT MIN(deadline) AS at FROM charges WHERE state = 'awaiting_action'`);
		if (action?.at != null) candidates.push(Math.max(now + 1_000, action.at));
		const finished = this.sql.first<{ at: number | null }>(
			`SELECT MIN(at) AS at FROM (SELECT MIN(created_at) AS at FROM idempotency UNION ALL SELECT MIN(expires_at) AS at FROM holds WHERE state IN ('released', 'expired')
			 UNION ALL SELECT MIN(acked_at) AS at FROM transfers_out)`,
		);
		if (finished?.at != null) candidates.push(Math.max(now + retry.pruneMs, finished.at + KEEP_MS));
		return candidates.length === 0 ? null : Math.min(...candidates);
	}
}
