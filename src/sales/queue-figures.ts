// A drop's queue figures, minute by minute, computed when they are read: the pacer
// derives its part from the placements and batches it keeps (queue-minutes.ts), each
// shard its holds by minute (fans who held, holds that ran out: hold-minutes.ts), and
// D1 gives the buyers, sales, refunds and each order's time from its buyer's admission
// grouped by minute in one batch of indexed queries. Nothing is written per fan for
// them, and nothing is lost when the drop ends: the pacer's tables, the shards' folded
// minutes and D1's rows stay. Also the CSV of the same rows.
import type { DropConfig } from "../drops/rules";
import type { QueueMinuteRow, QueueStats } from "../contract/queue-answers";
import type { HoldMinute } from "../inventory/hold-minutes";
import { roomStub, shardStub } from "../shared/names";
import { type QueueMinutes, type WaitFigures, waitFigures } from "../waiting-room/queue-minutes";

type Sales = { buyers: number; orders: number; tickets: number; salesCents: number; refundedTickets: number; refundsCents: number };

const NO_SALES: Sales = { buyers: 0, orders: 0, tickets: 0, salesCents: 0, refundedTickets: 0, refundsCents: 0 };

type Holds = Omit<HoldMinute, "at">;
const NO_HOLDS: Holds = { shoppers: 0, expiredHolds: 0, expiredTickets: 0 };

/** Every shard's holds by minute, summed (a fan holds on their home shard only, so shoppers add up). */
async function holdsByMinute(env: Env, drop: DropConfig): Promise<Map<number, Holds>> {
	const parts = await Promise.all(Array.from({ length: drop.shards }, (_, k) => shardStub(env, drop.id, k).holdMinutes()));
	const out = new Map<number, Holds>();
	for (const part of parts)
		for (const m of part) {
			const row = out.get(m.at) ?? { ...NO_HOLDS };
			row.shoppers += m.shoppers;
			row.expiredHolds += m.expiredHolds;
			row.expiredTickets += m.expiredTickets;
			out.set(m.at, row);
		}
	return out;
}

/** Seconds from a buyer's admission to their order, as (seconds, orders) pairs by the order's minute, from D1's rows. */
type PurchaseWaits = Map<number, [number, number][]>;

/** D1's figures by minute start (ms). created_at is ISO 8601 in UTC, so its first 16 characters name the minute. */
async function salesByMinute(db: D1Database, dropId: string): Promise<{ sales: Map<number, Sales>; purchases: PurchaseWaits }> {
	const [buyers, orders, refunds, waits] = await db.batch<{ m: string; a: number; b: number; c: number }>([
		db
			.prepare(`SELECT substr(first, 1, 16) AS m, COUNT(*) AS a, 0 AS b, 0 AS c FROM (SELECT MIN(created_at) AS first FROM orders WHERE drop_id = ? GROUP BY fan_id) GROUP BY m`)
			.bind(dropId),
		db
			.prepare(`SELECT substr(created_at, 1, 16) AS m, COUNT(*) AS a, SUM(quantity) AS b, SUM(total_cents) AS c FROM orders WHERE drop_id = ? GROUP BY m`)
			.bind(dropId),
		db
			.prepare(`SELECT substr(created_at, 1, 16) AS m, SUM(tickets) AS a, SUM(amount_cents) AS b, 0 AS c FROM refunds WHERE drop_id = ? AND state != 'failed' GROUP BY m`)
			.bind(dropId),
		// Orders recorded before the admission was kept have none, and are left out.
		db
			.prepare(
				`SELECT substr(created_at, 1, 16) AS m, MAX(0, CAST(ROUND((julianday(created_at) - julianday(admitted_at)) * 86400) AS INTEGER)) AS a, COUNT(*) AS b, 0 AS c
				 FROM orders WHERE drop_id = ? AND admitted_at IS NOT NULL GROUP BY m, a`,
			)
			.bind(dropId),
	]);
	const out = new Map<number, Sales>();
	const at = (m: string) => {
		const key = Date.parse(`${m}:00.000Z`);
		let row = out.get(key);
		if (row === undefined) out.set(key, (row = { ...NO_SALES }));
		return row;
	};
	for (const r of buyers!.results) at(r.m).buyers += r.a;
	for (const r of orders!.results) Object.assign(at(r.m), { orders: r.a, tickets: r.b, salesCents: r.c });
	for (const r of refunds!.results) Object.assign(at(r.m), { refundedTickets: r.a, refundsCents: r.b });
	const purchases: PurchaseWaits = new Map();
	for (const r of waits!.results) {
		const key = Date.parse(`${r.m}:00.000Z`);
		at(r.m);
		purchases.set(key, [...(purchases.get(key) ?? []), [r.a, r.b]]);
	}
	return { sales: out, purchases };
}

/** The figures of a drop the pacer may not know yet (a drop from before its lines): all zero. */
const EMPTY: QueueMinutes = { openedAt: null, prequeue: 0, joined: 0, admitted: 0, turnsEnded: 0, wait: null, minutes: [] };

export async function queueStats(env: Env, drop: DropConfig): Promise<QueueStats> {
	const [queue, { sales, purchases }, holds] = await Promise.all([roomStub(env, drop.id).queueMinutes(), salesByMinute(env.DB, drop.id), holdsByMinute(env, drop)]);
	const q = queue ?? EMPTY;
	const keys = [...new Set([...q.minutes.map((m) => m.at), ...sales.keys(), ...holds.keys()])].sort((a, b) => a - b);
	const pacer = new Map(q.minutes.map((m) => [m.at, m]));
	const minutes: QueueMinuteRow[] = keys.map((at) => {
		const p = pacer.get(at);
		return {
			minute: new Date(at).toISOString(),
			arrivals: p?.arrivals ?? 0,
			admitted: p?.admitted ?? 0,
			turnsEnded: p?.turnsEnded ?? 0,
			wait: p?.wait ?? null,
			...(sales.get(at) ?? NO_SALES),
			purchase: waitFigures(purchases.get(at) ?? []),
			...(holds.get(at) ?? NO_HOLDS),
		};
	});
	const sum = (k: keyof Sales | keyof Holds) => minutes.reduce((total, m) => total + m[k], 0);
	const buyers = sum("buyers");
	const shoppers = sum("shoppers");
	const purchase: WaitFigures | null = waitFigures([...purchases.values()].flat());
	// Of the turns ended, at most `buyers` bought; the rest left without buying, counted two ways: those who held
	// tickets (they came back and let their turn run out) and those who never did (they stopped polling while
	// waiting, or came back and held nothing: no note is kept of who read their admission).
	const leftWithoutBuying = Math.max(0, q.turnsEnded - buyers);
	const leftAfterHolding = Math.min(leftWithoutBuying, Math.max(0, shoppers - buyers));
	return {
		dropId: drop.id,
		currency: drop.currency,
		openedAt: q.openedAt === null ? null : new Date(q.openedAt).toISOString(),
		totals: {
			joined: q.joined,
			prequeue: q.prequeue,
			admitted: q.admitted,
			waiting: Math.max(0, q.joined - q.admitted),
			turnsEnded: q.turnsEnded,
			buyers,
			conversion: q.admitted === 0 ? null : Math.round((buyers / q.admitted) * 10_000) / 10_000,
			// A buyer bought within their turn, so of the turns ended at most `buyers` bought: the rest left without buying.
			leftWithoutBuying,
			leftAfterHolding,
			leftWithoutHolding: leftWithoutBuying - leftAfterHolding,
			leftWithoutBuyingExact: q.turnsEnded === q.admitted,
			shoppers,
			purchase,
			expiredHolds: sum("expiredHolds"),
			expiredTickets: sum("expiredTickets"),
			wait: q.wait,
			orders: sum("orders"),
			tickets: sum("tickets"),
			salesCents: sum("salesCents"),
			refundedTickets: sum("refundedTickets"),
			refundsCents: sum("refundsCents"),
		},
		minutes,
	};
}

export const QUEUE_CSV_HEADER =
	"minute,arrivals,admitted,turns_ended,wait_p50_s,wait_p90_s,wait_max_s,buyers,orders,tickets,sales_cents,refunded_tickets,refunds_cents," +
	"shoppers,purchase_p50_s,purchase_p90_s,purchase_max_s,expired_holds,expired_tickets";

/** The minutes as CSV, one line each (every field a number or an ISO time: nothing to quote). */
export function queueStatsCsv(stats: QueueStats): string {
	const lines = stats.minutes.map((m) =>
		[m.minute, m.arrivals, m.admitted, m.turnsEnded, m.wait?.p50 ?? "", m.wait?.p90 ?? "", m.wait?.max ?? "", m.buyers, m.orders, m.tickets, m.salesCents, m.refundedTickets, m.refundsCents,
			m.shoppers, m.purchase?.p50 ?? "", m.purchase?.p90 ?? "", m.purchase?.max ?? "", m.expiredHolds, m.expiredTickets].join(","),
	);
	return [QUEUE_CSV_HEADER, ...lines].join("\r\n") + "\r\n";
}
