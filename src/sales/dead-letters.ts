// The dead-letter queue's consumer. A sale message lands there when the sales
// consumer has used up its retries (D1 failing for minutes), and its outbox rows
// are marked sent, so nothing else would send it again. For every sale D1 still
// lacks, this asks the sale's shard to send it again from its outbox. While D1
// does not answer, the message waits and comes back with a growing delay, so the
// sales are re-sent once D1 is back. Malformed messages are logged and acked:
// nothing could ever store them, and retrying them would only loop.
import { type SaleMessage, salesOf } from "../contract/sale-message";
import { recordedOrderIds } from "./store";
import { shardStub } from "../shared/names";

export const DEAD_SALES_QUEUE = "ticket-sales-dlq";

/**
 * 1, 2, 4, 8 minutes, then every 10: a sale is sent again at most 10 minutes after D1
 * is back, and max_retries = 100 (wrangler.toml) waits about 16 hours for it. Past
 * that the reconcile takes over.
 */
export const deadLetterRetryDelay = (attempts: number) => Math.min(60 * 2 ** Math.min(Math.max(attempts, 1) - 1, 4), 600);

export async function consumeDeadSales(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	const carried = new Map<Message<unknown>, SaleMessage[]>();
	for (const msg of batch.messages) {
		const sales = salesOf(msg.body);
		if (sales === null) {
			console.error(`sales dead letter ${msg.id} is not a sale message (${describe(msg.body)}); acked, not stored`);
			msg.ack();
		} else {
			carried.set(msg, sales);
		}
	}
	if (carried.size === 0) return;
	const retry = (messages: Iterable<Message<unknown>>) => {
		for (const m of messages) m.retry({ delaySeconds: deadLetterRetryDelay(m.attempts) });
	};

	let inD1: Set<string>;
	try {
		inD1 = await recordedOrderIds(env.DB, [...carried.values()].flat().map((s) => s.orderId));
	} catch (err) {
		console.error(`sales dead letters: D1 did not answer; ${carried.size} message(s) wait for it`, err);
		retry(carried.keys());
		return;
	}

	// What D1 lacks, by shard: one call to each shard marks its sales unsent and sends them.
	const byShard = new Map<string, { dropId: string; shard: number; orderIds: Set<string>; messages: Set<Message<unknown>> }>();
	for (const [msg, sales] of carried) {
		for (const sale of sales) {
			if (inD1.has(sale.orderId)) continue;
			const key = `${sale.dropId}\n${sale.shard}`;
			let group = byShard.get(key);
			if (group === undefined) byShard.set(key, (group = { dropId: sale.dropId, shard: sale.shard, orderIds: new Set(), messages: new Set() }));
			group.orderIds.add(sale.orderId);
			group.messages.add(msg);
		}
	}
	const failed = new Set<Message<unknown>>();
	await Promise.all(
		[...byShard.values()].map(async (group) => {
			try {
				const orderIds = [...group.orderIds];
				const marked = await shardStub(env, group.dropId, group.shard).resendSales({ orderIds });
				if (marked < orderIds.length) {
					console.warn(`sales dead letters: ${orderIds.length - marked} sale(s) of drop ${group.dropId} shard ${group.shard} were not marked sent there (already waiting to be sent, or not sold there)`);
				}
			} catch (err) {
				console.error(`sales dead letters: shard ${group.shard} of drop ${group.dropId} did not answer; its message(s) wait`, err);
				for (const m of group.messages) failed.add(m);
			}
		}),
	);
	retry(failed);
	for (const m of carried.keys()) if (!failed.has(m)) m.ack();
}

/** What a log line may say about an unreadable message: the sales consumer's reason and message id, or its type. */
function describe(body: unknown): string {
	if (typeof body === "object" && body !== null && "reason" in body) {
		const { reason, id } = body as { reason: unknown; id?: unknown };
		return `reason ${String(reason).slice(0, 40)}, first message ${String(id).slice(0, 80)}`;
	}
	return typeof body;
}
