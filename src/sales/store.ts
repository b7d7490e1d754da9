// The promoter's view of sales in D1: counts, pages and the CSV export.
import type { OrderRecord } from "../after-sale/order-store";

/** An order's row as the sales list reads it: its columns, its tickets and their seats. */
export interface SaleRow
	extends Pick<
		OrderRecord,
		| "order_id" | "drop_id" | "shard" | "fan_id" | "hold_id" | "quantity" | "unit_price_cents" | "total_cents" | "currency"
		| "payment_id" | "created_at" | "recorded_at" | "status" | "refunded_tickets" | "ticket_type" | "slot_id" | "receipt_to"
	> {
	tickets: string;
	/** Seated: the seats in ticket order, space-separated. */
	seats: string | null;
}

export async function recordedTotals(db: D1Database, dropId: string): Promise<{ orders: number; tickets: number }> {
	const row = await db
		.prepare(`SELECT COUNT(*) AS orders, COALESCE(SUM(quantity), 0) AS tickets FROM orders WHERE drop_id = ?`)
		.bind(dropId)
		.first<{ orders: number; tickets: number }>();
	return { orders: row?.orders ?? 0, tickets: row?.tickets ?? 0 };
}

export async function recordedByShard(db: D1Database, dropId: string): Promise<Map<number, { orders: number; tickets: number }>> {
	const { results } = await db
		.prepare(`SELECT shard, COUNT(*) AS orders, COALESCE(SUM(quantity), 0) AS tickets FROM orders WHERE drop_id = ? GROUP BY shard`)
		.bind(dropId)
		.all<{ shard: number; orders: number; tickets: number }>();
	return new Map(results.map((r) => [r.shard, { orders: r.orders, tickets: r.tickets }]));
}

export interface RecordedId {
	shard: number;
	id: string;
}

/** One page of a drop's order ids in D1, in (shard, order_id) order, after `after`. */
export async function recordedIdsPage(db: D1Database, dropId: string, after: RecordedId | null, limit: number): Promise<RecordedId[]> {
	const select = `SELECT shard, order_id AS id FROM orders WHERE drop_id = ?`;
	const stmt = after
		? db.prepare(`${select} AND (shard, order_id) > (?, ?) ORDER BY shard, order_id LIMIT ?`).bind(dropId, after.shard, after.id, limit)
		: db.prepare(`${select} ORDER BY shard, order_id LIMIT ?`).bind(dropId, limit);
	const { results } = await stmt.all<RecordedId>();
	return results;
}

/** Which of these order ids D1 has (any number: one JSON parameter). */
export async function recordedOrderIds(db: D1Database, orderIds: string[]): Promise<Set<string>> {
	if (orderIds.length === 0) return new Set();
	const { results } = await db
		.prepare(`SELECT order_id AS id FROM orders WHERE order_id IN (SELECT value FROM json_each(?))`)
		.bind(JSON.stringify(orderIds))
		.all<{ id: string }>();
	return new Set(results.map((r) => r.id));
}

/**
 * One page in (created_at, order_id) order, each order with its ticket codes. `search`: the order
 * with that id or that ticket code, found by their keys; only when neither is one does it look
 * through the buyers' emails for the text (a scan of the drop's orders, so it is the last resort).
 */
export async function salesPage(
	db: D1Database,
	dropId: string,
	limit: number,
	after: { createdAt: string; orderId: string } | null,
	search: string | null = null,
): Promise<SaleRow[]> {
	const select = `SELECT o.*, (SELECT group_concat(code, ' ') FROM (SELECT code FROM tickets t WHERE t.order_id = o.order_id ORDER BY seq)) AS tickets,
		(SELECT group_concat(seat_id, ' ') FROM (SELECT seat_id FROM tickets t WHERE t.order_id = o.order_id AND seat_id IS NOT NULL ORDER BY seq)) AS seats
		FROM orders o WHERE o.drop_id = ?`;
	const where: string[] = [];
	const binds: (string | number)[] = [dropId];
	if (search !== null) {
		const keyed = await ordersByKey(db, dropId, search);
		if (keyed.length > 0) {
			where.push(`o.order_id IN (SELECT value FROM json_each(?))`);
			binds.push(JSON.stringify(keyed));
		} else {
			// instr, not LIKE: a % or _ the promoter types is looked for as itself. lower() folds ASCII letters only.
			where.push(`instr(lower(COALESCE(o.receipt_to, '')), lower(?)) > 0`);
			binds.push(search);
		}
	}
	if (after) {
		where.push(`(o.created_at, o.order_id) > (?, ?)`);
		binds.push(after.createdAt, after.orderId);
	}
	const sql = `${select}${where.map((w) => ` AND ${w}`).join("")} ORDER BY o.created_at, o.order_id LIMIT ?`;
	const { results } = await db.prepare(sql).bind(...binds, limit).all<SaleRow>();
	return results;
}

/** The drop's order with this id, and the one holding a ticket with this code: two primary-key reads. */
async function ordersByKey(db: D1Database, dropId: string, key: string): Promise<string[]> {
	const { results } = await db
		.prepare(
			`SELECT order_id FROM orders WHERE order_id = ? AND drop_id = ?
			UNION SELECT order_id FROM tickets WHERE code = ? AND drop_id = ?`,
		)
		.bind(key, dropId, key, dropId)
		.all<{ order_id: string }>();
	return results.map((r) => r.order_id);
}

export const CSV_HEADER = [
	"order_id", "created_at", "fan_id", "quantity", "unit_price_cents", "total_cents", "currency", "payment_id", "shard", "tickets",
	"ticket_type", "slot", "seats", "status", "refunded_tickets", "email",
];

export function csvLine(r: SaleRow): string {
	return [
		r.order_id, r.created_at, r.fan_id, r.quantity, r.unit_price_cents, r.total_cents, r.currency, r.payment_id, r.shard, r.tickets ?? "",
		r.ticket_type ?? "", r.slot_id ?? "", r.seats ?? "", r.status, r.refunded_tickets, r.receipt_to ?? "",
	]
		.map(csvField)
		.join(",");
}

/** RFC 4180 quoting, and a leading quote on values a spreadsheet would run as a formula. */
function csvField(value: string | number): string {
	let s = String(value);
	if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
	return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Streams every sale of a drop (or every one `search` finds, as the pages do) as CSV, a page at a time, so a large drop never sits in memory. */
export function salesCsvStream(db: D1Database, dropId: string, pageSize = 1_000, search: string | null = null): ReadableStream<Uint8Array> {
	const encoder = new TextEncoder();
	let after: { createdAt: string; orderId: string } | null = null;
	let headerSent = false;
	let finished = false;
	return new ReadableStream<Uint8Array>({
		async pull(controller) {
			if (!headerSent) {
				headerSent = true;
				controller.enqueue(encoder.encode(CSV_HEADER.join(",") + "\r\n"));
				return;
			}
			if (finished) return;
			const rows = await salesPage(db, dropId, pageSize, after, search);
			if (rows.length > 0) {
				controller.enqueue(encoder.encode(rows.map((r) => csvLine(r) + "\r\n").join("")));
				const last = rows[rows.length - 1]!;
				after = { createdAt: last.created_at, orderId: last.order_id };
			}
			if (rows.length < pageSize) {
				finished = true;
				controller.close();
			}
		},
	});
}

/** Tickets in D1 by type (null: general admission spread over the shards), and its seats: how many, and how many distinct. */
export async function recordedNamed(db: D1Database, dropId: string): Promise<{ byType: Map<string | null, number>; seats: number; distinctSeats: number }> {
	const [types, seats] = await db.batch<{ ticket_type: string | null; tickets: number; seats: number; distinct_seats: number }>([
		db.prepare(`SELECT ticket_type, COUNT(*) AS tickets FROM tickets WHERE drop_id = ? GROUP BY ticket_type`).bind(dropId),
		db.prepare(`SELECT COUNT(seat_id) AS seats, COUNT(DISTINCT seat_id) AS distinct_seats FROM tickets WHERE drop_id = ? AND seat_id IS NOT NULL`).bind(dropId),
	]);
	const s = seats!.results[0];
	return {
		byType: new Map(types!.results.map((r) => [r.ticket_type, r.tickets])),
		seats: s?.seats ?? 0,
		distinctSeats: s?.distinct_seats ?? 0,
	};
}
