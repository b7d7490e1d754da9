// The sale's way from the shards' outboxes into D1, simulated: the Queue (sim/provider.ts)
// hands its batches to the engine's own consumer (src/sales/consumer.ts) with an env whose
// DB is the simulated D1 (sim/d1.ts, the repository's migrations applied, the drop's row
// written by the engine's own statement) and whose dead-letter, follow-up and webhook
// queues keep what they are sent. The follow-up's work and the webhooks' HTTP are not
// simulated: what reaches those queues is counted. Checked as it runs, at every write of
// the consumer's: no order in D1 twice, and every order row one of a shard's orders (its
// drop, fan, quantity and payment). Checked at the end: every sale the shards made is in
// D1 by the engine's own comparison of order ids (src/sales/order-ids.ts, the audit's and
// the reconcile's), and a sale that went to the dead-letter queue instead is a sale lost.
import { consumeSales } from "../src/sales/consumer";
import { compareOrderIds } from "../src/sales/order-ids";
import { recordedIdsPage } from "../src/sales/store";
import { insertDropStatement } from "../src/drops/store";
import type { DropConfig } from "../src/drops/rules";
import { SimD1, D1_QUERIES_PER_INVOCATION, D1_QUERIES_PER_SECOND } from "./d1";
import { SentQueue, type SimQueue } from "./provider";
import { DeadLetterQueue } from "./dead-letters";
import { shardName } from "../src/shared/names";
import type { Inventory } from "./shards";
import type { EventQueue } from "./events";
import type { SqlJs } from "./sqlite";
import type { SimConfig } from "./config";

export interface Spread {
	median: number;
	p90: number;
	max: number;
	count: number;
}

export function spreadOf(waits: number[]): Spread {
	waits.sort((a, b) => a - b);
	const at = (q: number) => (waits.length === 0 ? 0 : waits[Math.min(waits.length - 1, Math.floor(q * waits.length))]!);
	return { median: at(0.5), p90: at(0.9), max: waits.length === 0 ? 0 : waits[waits.length - 1]!, count: waits.length };
}

export class SalesPath {
	readonly d1: SimD1;
	readonly env: Env;
	readonly deadLetters = new SentQueue();
	/** The Queue's dead letters and their consumer, which has shards send again what D1 lacks. */
	readonly dlq: DeadLetterQueue;
	readonly followUps = new SentQueue();
	readonly webhooks = new SentQueue();
	/** Order rows checked as they were written. */
	checked = 0;

	constructor(
		private readonly events: EventQueue,
		config: SimConfig,
		sqlJs: SqlJs,
		readonly queue: SimQueue,
		private readonly inventory: Inventory,
		private readonly fail: (what: string) => never,
	) {
		this.d1 = new SimD1(sqlJs, events, config.hopMs, () => queue.d1Down());
		// The sim's own index, so the check of a hold bought twice reads one row, not the table.
		this.d1.storage.sql.exec(`CREATE INDEX IF NOT EXISTS sim_orders_by_hold ON orders (hold_id)`).toArray();
		this.d1.onOrdersWritten = (ids) => this.checkWritten(ids);
		this.env = this.envWith(this.d1.binding());
		queue.consumer = consumeSales;
		queue.fail = fail;
		// Each invocation its own binding, so its queries are counted against what one invocation may make.
		queue.envFor = () => {
			let queries = 0;
			return { env: this.envWith(this.d1.binding((n) => (queries += n))), queries: () => queries };
		};
		queue.queryLimit = D1_QUERIES_PER_INVOCATION;
		// The dead-letter consumer's env: D1, and the shards as stubs by their names (src/shared/names.ts), each asked over the network.
		const stubs = new Map(inventory.shards.map((s, k) => [shardName(inventory.dropId, k), { resendSales: (input: { orderIds: string[] }) => inventory.resendSales(k, input) }]));
		const namespace = {
			getByName: (name: string) => {
				const stub = stubs.get(name);
				if (stub === undefined) throw new Error(`no simulated shard is named ${name}`);
				return stub;
			},
		};
		this.dlq = new DeadLetterQueue(events, () => ({ DB: this.d1.binding(), INVENTORY: namespace }) as unknown as Env);
		queue.onDeadLetter = (m) => this.dlq.take(m);
	}

	/**
	 * Whether a sale is still on its way to D1: a shard's outbox holding one unsent, the Queue or the dead-letter
	 * queue with work. The run goes on while one is (a long outage's sales come back through the dead letters, and
	 * then through the outboxes and the Queue).
	 */
	pending(): boolean {
		if (this.dlq.pending() || this.queue.busy()) return true;
		return this.inventory.shards.some((s) => s.storage.sql.exec(`SELECT 1 AS one FROM outbox WHERE sent_at IS NULL LIMIT 1`).toArray().length > 0);
	}

	private envWith(db: D1Database): Env {
		return { DB: db, SALES_DLQ: this.deadLetters.binding, FOLLOW_UP: this.followUps.binding, WEBHOOKS: this.webhooks.binding, ORDER_WORKFLOWS: "on" } as unknown as Env;
	}

	/** The drop's row, as the engine's drop creation writes it. */
	async createDrop(drop: DropConfig): Promise<void> {
		const db = this.d1.direct();
		await db.batch([insertDropStatement(db, drop)]);
	}

	/** New order rows: none a second row of a hold, none with more tickets than bought, each one of its shard's orders. */
	private checkWritten(ids: string[]): void {
		this.checked += ids.length;
		const rows = this.d1.storage.sql
			.exec<{ order_id: string; drop_id: string; shard: number; fan_id: string; hold_id: string; quantity: number; payment_id: string; same_hold: number; tickets: number }>(
				`SELECT o.order_id, o.drop_id, o.shard, o.fan_id, o.hold_id, o.quantity, o.payment_id,
					(SELECT COUNT(*) FROM orders x WHERE x.hold_id = o.hold_id) AS same_hold,
					(SELECT COUNT(*) FROM tickets t WHERE t.order_id = o.order_id) AS tickets
				 FROM orders o WHERE o.order_id IN (SELECT value FROM json_each(?))`,
				JSON.stringify(ids),
			)
			.toArray();
		const byShard = new Map<number, typeof rows>();
		for (const r of rows) {
			if (r.same_hold > 1) this.fail(`hold ${r.hold_id} is in D1 ${r.same_hold} times (order ${r.order_id} among them): an order written twice`);
			if (r.tickets > r.quantity) this.fail(`order ${r.order_id} has ${r.tickets} tickets in D1 for ${r.quantity} bought`);
			if (r.drop_id !== this.inventory.dropId) this.fail(`order ${r.order_id} is in D1 for drop ${r.drop_id}, not the drop's ${this.inventory.dropId}`);
			const group = byShard.get(r.shard);
			if (group === undefined) byShard.set(r.shard, [r]);
			else group.push(r);
		}
		for (const [k, group] of byShard) {
			const shard = this.inventory.shards[k];
			if (shard === undefined) this.fail(`order ${group[0]!.order_id} is in D1 under shard ${k}, which the drop does not have`);
			const own = new Map(
				shard.storage.sql
					.exec<{ order_id: string; fan_id: string; quantity: number; payment_id: string }>(
						`SELECT order_id, fan_id, quantity, payment_id FROM orders WHERE order_id IN (SELECT value FROM json_each(?))`,
						JSON.stringify(group.map((r) => r.order_id)),
					)
					.toArray()
					.map((o) => [o.order_id, o]),
			);
			for (const r of group) {
				const o = own.get(r.order_id);
				if (o === undefined) this.fail(`order ${r.order_id} is in D1 under shard ${k}, which never made it`);
				if (o.fan_id !== r.fan_id || o.quantity !== r.quantity || o.payment_id !== r.payment_id) {
					this.fail(`order ${r.order_id} in D1 (fan ${r.fan_id}, ${r.quantity} tickets, payment ${r.payment_id}) is not shard ${k}'s (fan ${o.fan_id}, ${o.quantity}, ${o.payment_id})`);
				}
			}
		}
	}

	/**
	 * At the end, once the Queue has nothing left to deliver: a sale in the dead-letter queue
	 * that D1 lacks is lost; every sale the shards made is in D1 (the engine's comparison of
	 * ids, a sale on its way counting as missing now); D1 holds nothing no shard sold; every
	 * order has its tickets.
	 */
	async settled(): Promise<void> {
		const db = this.d1.direct();
		const inD1 = (id: string) => this.d1.storage.sql.exec(`SELECT 1 AS one FROM orders WHERE order_id = ?`, id).toArray().length === 1;
		const dead = this.queue.deadSales(this.deadLetters);
		if (dead.unreadable > 0) this.fail(`${dead.unreadable} sales messages the consumer could not read went to the dead-letter queue`);
		for (const sale of dead.sales) if (!inD1(sale.orderId)) this.fail(`sale ${sale.orderId} of shard ${sale.shard} lost: its message went to the dead-letter queue and D1 never got it`);
		const now = this.events.clock();
		const ids = await compareOrderIds(
			{
				recordedPage: (after, limit) => recordedIdsPage(db, this.inventory.dropId, after, limit),
				shardPage: async (k, page) => this.inventory.shards[k]!.ledger.outbox.orderIdsPage({ ...page, graceMs: 0, now }),
			},
			this.inventory.shards.length,
		);
		for (const s of ids.shards) {
			const lost = s.missingInD1.count + s.inTransit.count;
			if (lost > 0) this.fail(`${lost} sales of shard ${s.shard} never reached D1 (${[...s.missingInD1.ids, ...s.inTransit.ids].slice(0, 3).join(", ")})`);
			if (s.unknownInD1.count > 0) this.fail(`${s.unknownInD1.count} orders in D1 under shard ${s.shard} that it never sold (${s.unknownInD1.ids.slice(0, 3).join(", ")})`);
		}
		if (ids.otherShards.count > 0) this.fail(`${ids.otherShards.count} orders in D1 under shards the drop does not have`);
		const short = this.d1.storage.sql
			.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM orders o WHERE o.quantity <> (SELECT COUNT(*) FROM tickets t WHERE t.order_id = o.order_id)`)
			.one().n;
		if (short > 0) this.fail(`${short} orders in D1 without all their tickets`);
	}

	/** Rows of the drop in D1 (at the end: one per order the shards made). */
	rows(): number {
		return this.d1.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM orders WHERE drop_id = ?`, this.inventory.dropId).one().n;
	}

	/** From each order to its row written in D1: the outbox's send, the Queue's batch, the consumer's write (and its retries). */
	saleToTicket(): Spread {
		const waits: number[] = [];
		for (const [id, at] of this.inventory.orderedAt) {
			const written = this.d1.writtenAt.get(id);
			if (written !== undefined) waits.push(written - at);
		}
		return spreadOf(waits);
	}

	/** D1's busiest second: the queries of the engine's calls in it, against its ~1,000. */
	peak(): { queries: number; at: number; limit: number } {
		const { queries, at } = this.d1.peak();
		return { queries, at, limit: D1_QUERIES_PER_SECOND };
	}

	close(): void {
		this.d1.close();
	}
}
