// The ledger's outbox: each order's sale message waits here, written in the same
// transaction as the order, until the Queue has taken it; the audit reads the
// orders a page at a time, and a sale D1 lacks is marked to be sent again.
// Sending is the shard's (outbox-sender.ts); this part is synchronous SQL.
import type { SaleMessage } from "../contract/sale-message";
import { EACH, LedgerSection } from "./ledger-store";

export class OutboxLedger extends LedgerSection {
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
}
