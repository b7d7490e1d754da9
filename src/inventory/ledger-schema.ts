// The tables of a shard's ledger, made in one place: every section of the ledger
// (holds, named holds, charges and orders, outbox, transfers and restock) reads
// and writes these. Made synchronously and idempotently when the shard starts, so
// a shard made by an earlier version gets what it lacks and keeps what it has. A new
// table is made with every column at once, in the order the additions below give an
// older one (each ALTER TABLE has SQLite read its whole schema again, eighteen of them in
// a fresh shard's start); the additions stay for the older ones.
import type { Sql } from "../shared/sql";
import { createHoldMinutesTable } from "./hold-minutes";

export function createLedgerTables(sql: Sql): void {
	sql.run(`CREATE TABLE IF NOT EXISTS meta (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		drop_id TEXT NOT NULL, shard INTEGER NOT NULL, shards INTEGER NOT NULL,
		allocation INTEGER NOT NULL, max_per_fan INTEGER NOT NULL, hold_seconds INTEGER NOT NULL,
		price_cents INTEGER NOT NULL, currency TEXT NOT NULL,
		remaining INTEGER NOT NULL CHECK (remaining >= 0),
		received INTEGER NOT NULL DEFAULT 0, given INTEGER NOT NULL DEFAULT 0,
		drop_state TEXT)`);
	// The part of the drop's state its promoter sets (src/drops/lifecycle.ts), as the pacer's look and the cancel told it.
	addColumns(sql, "meta", ["drop_state TEXT"]);
	sql.run(`CREATE TABLE IF NOT EXISTS holds (
		hold_id TEXT PRIMARY KEY, fan_id TEXT NOT NULL, quantity INTEGER NOT NULL,
		created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
		state TEXT NOT NULL, order_id TEXT,
		ticket_type TEXT, unit_shard INTEGER, pool TEXT, units TEXT, claim_key TEXT, claim_request TEXT, sale_window TEXT)`);
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
		created_at INTEGER NOT NULL,
		ticket_type TEXT, units TEXT, pool TEXT)`);
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
		created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
		token TEXT, client_secret TEXT, deadline INTEGER, receipt_to TEXT, locale TEXT, admitted_at INTEGER)`);
	sql.run(`CREATE INDEX IF NOT EXISTS charges_by_state ON charges (state, updated_at)`);
	// The payment method as the attempt sent it: a lost answer is asked again with the same request under the same key.
	addColumns(sql, "charges", ["token TEXT"]);
	// A charge waiting on the fan's bank (3-D Secure): what their page finishes it with, and until when it may.
	addColumns(sql, "charges", ["client_secret TEXT", "deadline INTEGER"]);
	// Where the receipt goes and in what language, for the order the charge becomes, whichever path makes it.
	addColumns(sql, "charges", ["receipt_to TEXT", "locale TEXT"]);
	// When the fan's turn began, carried to the order's row in D1 for the queue figures (time from admission to purchase).
	addColumns(sql, "charges", ["admitted_at INTEGER"]);
	// Every payment the provider approved, by the attempt's key: the audit flags a hold paid more than once.
	sql.run(`CREATE TABLE IF NOT EXISTS charge_payments (
		idempotency_key TEXT PRIMARY KEY, hold_id TEXT NOT NULL, payment_id TEXT NOT NULL,
		refunded INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL)`);
	sql.run(`CREATE INDEX IF NOT EXISTS charge_payments_by_hold ON charge_payments (hold_id)`);
	// Stock moved between shards, as a two-step exchange: the taker writes what it asks for
	// (transfers_in, amount NULL) and then asks; the giver takes the stock and remembers its
	// answer under the transfer id (transfers_out), past the taker's ack.
	sql.run(`CREATE TABLE IF NOT EXISTS transfers_out (
		transfer_id TEXT PRIMARY KEY, to_shard INTEGER NOT NULL, amount INTEGER NOT NULL, created_at INTEGER NOT NULL,
		acked_at INTEGER)`);
	// Acknowledged answers are kept a day (the ledger's prune): a late copy of an ask finds its first answer.
	addColumns(sql, "transfers_out", ["acked_at INTEGER"]);
	sql.run(`CREATE TABLE IF NOT EXISTS transfers_in (
		transfer_id TEXT PRIMARY KEY, from_shard INTEGER NOT NULL, requested INTEGER NOT NULL,
		amount INTEGER, created_at INTEGER NOT NULL)`);
	sql.run(`CREATE INDEX IF NOT EXISTS transfers_in_by_state ON transfers_in (amount, from_shard)`);
	// The pacer's last look at every shard's stock, as this shard keeps it (stock-transfers.ts), so a restart
	// does not send the shard's next holds round every peer for want of it.
	sql.run(`CREATE TABLE IF NOT EXISTS pacer_look (id INTEGER PRIMARY KEY CHECK (id = 1), look TEXT NOT NULL)`);
	// Refunded tickets put back on sale, once per refund.
	sql.run(`CREATE TABLE IF NOT EXISTS restocks (refund_id TEXT PRIMARY KEY, quantity INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
	// The line for returned tickets as the pacer told it (returns-line.ts): one row once the drop has sold out.
	sql.run(`CREATE TABLE IF NOT EXISTS returns_line (id INTEGER PRIMARY KEY CHECK (id = 1), from_position INTEGER, waiting INTEGER NOT NULL, at INTEGER NOT NULL)`);
	// Named units: the drop's types, a hold's type and units, and the endings owed to units' shards.
	addColumns(sql, "holds", ["ticket_type TEXT", "unit_shard INTEGER", "pool TEXT", "units TEXT", "claim_key TEXT", "claim_request TEXT"]);
	addColumns(sql, "orders", ["ticket_type TEXT", "units TEXT", "pool TEXT"]);
	// The sale window whose token made a hold (null: the general sale), so a window's caps count its own holds.
	addColumns(sql, "holds", ["sale_window TEXT"]);
	sql.run(`CREATE INDEX IF NOT EXISTS holds_by_window ON holds (sale_window, state)`);
	sql.run(`CREATE TABLE IF NOT EXISTS types (
		type_id TEXT PRIMARY KEY, kind TEXT NOT NULL, price_cents INTEGER NOT NULL, max_per_fan INTEGER NOT NULL, is_primary INTEGER NOT NULL)`);
	sql.run(`CREATE TABLE IF NOT EXISTS notices (
		hold_id TEXT NOT NULL, kind TEXT NOT NULL, shard INTEGER NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (hold_id, kind))`);
	// What the prune forgets of finished holds, by minute, for the queue figures.
	createHoldMinutesTable(sql);
}

/** Adds columns a table made by an earlier version lacks (SQLite has no ADD COLUMN IF NOT EXISTS). */
function addColumns(sql: Sql, table: string, columns: string[]): void {
	const have = new Set(sql.all<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table).map((c) => c.name));
	for (const column of columns) {
		if (!have.has(column.split(" ")[0]!)) sql.run(`ALTER TABLE ${table} ADD COLUMN ${column}`);
	}
}
