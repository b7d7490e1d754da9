// The sales pipeline: sale messages, recording them as the consumer does, D1
// reads with a bounded wait, a look inside a shard's outbox, and Queues and D1
// that fail or hold on to what they are given.
import { createExecutionContext, createMessageBatch, env, getQueueResult, runInDurableObject } from "cloudflare:test";
import { orderId as newOrderId, ticketCode } from "../../src/shared/ids";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import type { SaleMessage } from "../../src/contract/sale-message";
import { consumeSales, saleStatements } from "../../src/sales/consumer";
import { admittedFan, hold, purchase } from "./fans";
import { shardStub } from "./shards";

export function saleMessage(overrides: Partial<SaleMessage> = {}): SaleMessage {
	const quantity = overrides.quantity ?? 2;
	return {
		v: 1,
		orderId: newOrderId(0),
		dropId: "d_unit_test",
		shard: 0,
		fanId: "fan-unit",
		holdId: "h_0_AAAAAAAAAAAAAAAA",
		quantity,
		unitPriceCents: 2500,
		totalCents: 2500 * quantity,
		currency: "USD",
		paymentId: "pay_test",
		tickets: Array.from({ length: quantity }, ticketCode),
		createdAt: new Date().toISOString(),
		...overrides,
	};
}

/** Records sales in D1 through the sales consumer, 100 to a batch as the queue delivers them. */
export async function recordSales(sales: SaleMessage[], idPrefix = "m"): Promise<void> {
	for (let i = 0; i < sales.length; i += 100) {
		const chunk = sales.slice(i, i + 100).map((body, j) => ({ id: `${idPrefix}-${i + j}`, timestamp: new Date(), attempts: 1, body }));
		await consumeSales(createMessageBatch("ticket-sales", chunk), env);
	}
}

/**
 * Sales into D1 with the consumer's own statements but without their post-sale
 * Workflows: for tests about D1's rows alone at a size (thousands of orders)
 * where as many local Workflow instances would take minutes of CPU.
 */
export async function storeSales(sales: SaleMessage[]): Promise<void> {
	for (let i = 0; i < sales.length; i += 100) await env.DB.batch(saleStatements(env.DB, sales.slice(i, i + 100)));
}

export interface OrderRow {
	order_id: string;
	drop_id: string;
	shard: number;
	fan_id: string;
	quantity: number;
	total_cents: number;
}

export async function ordersInD1(dropId: string): Promise<OrderRow[]> {
	const { results } = await env.DB.prepare(`SELECT * FROM orders WHERE drop_id = ? ORDER BY created_at, order_id`).bind(dropId).all<OrderRow>();
	return results;
}

export async function ticketsInD1(orderId: string): Promise<string[]> {
	const { results } = await env.DB.prepare(`SELECT code FROM tickets WHERE order_id = ? ORDER BY seq`).bind(orderId).all<{ code: string }>();
	return results.map((r) => r.code);
}

/**
 * Polls D1 until the drop has `count` orders (the real queue delivers in
 * batches about a second apart). Bounded: gives up after `timeoutMs` and
 * returns what is there, so the caller's assertion reports the difference.
 */
export async function waitForOrders(dropId: string, count: number, timeoutMs = 20_000): Promise<OrderRow[]> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const rows = await ordersInD1(dropId);
		if (rows.length >= count || Date.now() > deadline) return rows;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

export interface Bought {
	orderId: string;
	quantity: number;
	tickets: string[];
	/** The purchase answer's token for reading this order later. */
	orderToken: string;
	accessToken: string;
	fanId: string;
}

/** Admits a fan, holds and buys `quantity` tickets, and returns the order the fan was given. */
export async function buy(dropId: string, fanId: string, quantity = 1): Promise<Bought> {
	const accessToken = await admittedFan(dropId, fanId);
	const h = await hold(dropId, accessToken, quantity);
	if (h.status !== 201) throw new Error(`hold: ${h.status} ${await h.text()}`);
	const { holdId } = (await h.json()) as { holdId: string };
	const p = await purchase(dropId, accessToken, holdId);
	if (p.status !== 201) throw new Error(`purchase: ${p.status} ${await p.text()}`);
	const order = (await p.json()) as { orderId: string; quantity: number; tickets: string[]; orderToken: string };
	return { ...order, accessToken, fanId };
}

export interface OutboxRow {
	order_id: string;
	sent_at: number | null;
	attempts: number;
}

export function outbox(dropId: string, shard = 0): Promise<OutboxRow[]> {
	return runInDurableObject(shardStub(dropId, shard), (_shard: InventoryShard, state) =>
		state.storage.sql.exec<Record<string, SqlStorageValue>>(`SELECT order_id, sent_at, attempts FROM outbox ORDER BY created_at`).toArray() as unknown as OutboxRow[],
	);
}

/** A Queue whose sends always fail, as when the Queue service is unreachable. */
export const failingQueue = {
	send: async () => {
		throw new Error("queue unavailable (test)");
	},
	sendBatch: async () => {
		throw new Error("queue unavailable (test)");
	},
} as unknown as Queue;

/**
 * Swaps the `SALES` binding of a shard's live instance (the instance keeps the
 * env it was made with); `restoreShardSales` puts the real one back.
 */
export function setShardSales(dropId: string, shard: number, queue: Queue): Promise<void> {
	return runInDurableObject(shardStub(dropId, shard), (instance: InventoryShard) => {
		const holder = instance as unknown as { env: Env; realEnv?: Env };
		holder.realEnv ??= holder.env;
		holder.env = { ...holder.realEnv, SALES: queue };
	});
}

export function restoreShardSales(dropId: string, shard: number): Promise<void> {
	return runInDurableObject(shardStub(dropId, shard), (instance: InventoryShard) => {
		const holder = instance as unknown as { env: Env; realEnv?: Env };
		if (holder.realEnv) holder.env = holder.realEnv;
	});
}

/** A Queue that keeps what is sent to it and delivers nothing, as if every message were stuck. */
export function capturingQueue(): { queue: Queue; bodies: unknown[] } {
	const bodies: unknown[] = [];
	const queue = {
		send: async (body: unknown) => {
			bodies.push(body);
		},
		sendBatch: async (messages: Iterable<MessageSendRequest>) => {
			for (const m of messages) bodies.push(m.body);
		},
	} as unknown as Queue;
	return { queue, bodies };
}

/** An env whose D1 fails every statement, as during a D1 outage. */
export function envWithD1Down(): Env {
	const fail = async () => {
		throw new Error("D1_ERROR: database unavailable (test)");
	};
	const statement = { bind: () => statement, all: fail, first: fail, run: fail, raw: fail };
	const db = { prepare: () => statement, batch: fail, exec: fail } as unknown as D1Database;
	return { ...env, DB: db };
}

/** Deletes an order and its tickets from D1, as if the row had been lost. */
export async function deleteFromD1(orderId: string): Promise<void> {
	await env.DB.batch([
		env.DB.prepare(`DELETE FROM tickets WHERE order_id = ?`).bind(orderId),
		env.DB.prepare(`DELETE FROM orders WHERE order_id = ?`).bind(orderId),
	]);
}

/** One delivery of a message, as the queue hands it to a consumer. */
export type Delivery<T = unknown> = { id: string; timestamp?: Date; attempts: number; body: T };

/**
 * Runs one batch through a queue handler, as the platform delivers it, and returns the
 * queue's view of the outcome plus the delay asked for each retry (getQueueResult does not report it).
 */
export async function runQueueBatch(queue: string, messages: Delivery[], handler: (batch: MessageBatch<unknown>) => Promise<void>) {
	const batch = createMessageBatch(queue, messages.map((m) => ({ timestamp: new Date(), ...m })));
	const delays = new Map<string, number | undefined>();
	for (const m of batch.messages) {
		const retry = m.retry.bind(m);
		m.retry = (options?: QueueRetryOptions) => {
			delays.set(m.id, options?.delaySeconds);
			retry(options);
		};
	}
	const ctx = createExecutionContext();
	await handler(batch);
	const result = await getQueueResult(batch, ctx);
	return { ...result, delays };
}
