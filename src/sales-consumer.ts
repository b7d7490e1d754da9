// The Queue consumer: writes sales into D1 idempotently. A batch is one D1
// batch() (atomic); what is stored is acked, a failed write is retried with a
// delay, and a message that can never be stored goes to the dead-letter queue.
import { type SaleMessage, isSaleMessage } from "./sale";

export const RETRY_DELAY_SECONDS = 5;

export async function consumeSales(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	const valid: Message<SaleMessage>[] = [];
	const malformed: Message<unknown>[] = [];
	for (const msg of batch.messages) {
		if (isSaleMessage(msg.body)) valid.push(msg as Message<SaleMessage>);
		else malformed.push(msg);
	}

	if (malformed.length > 0) {
		try {
			await env.SALES_DLQ.sendBatch(malformed.map((m) => ({ body: { reason: "malformed", id: m.id, body: m.body } })));
			for (const m of malformed) m.ack();
			console.warn(`sales: ${malformed.length} malformed message(s) sent to the dead-letter queue`);
		} catch (err) {
			// Retrying walks it to the dead-letter queue through max_retries.
			console.error("sales: dead-letter send failed", err);
			for (const m of malformed) m.retry({ delaySeconds: RETRY_DELAY_SECONDS });
		}
	}

	if (valid.length === 0) return;
	try {
		await env.DB.batch(valid.flatMap((m) => saleStatements(env.DB, m.body)));
		for (const m of valid) m.ack();
	} catch (err) {
		console.error(`sales: D1 write of ${valid.length} message(s) failed; retrying`, err);
		for (const m of valid) m.retry({ delaySeconds: RETRY_DELAY_SECONDS * Math.min(m.attempts, 6) });
	}
}

export function saleStatements(db: D1Database, sale: SaleMessage): D1PreparedStatement[] {
	const recordedAt = new Date().toISOString();
	return [
		db
			.prepare(
				`INSERT INTO orders (order_id, drop_id, shard, fan_id, hold_id, quantity, unit_price_cents, total_cents, currency, payment_id, created_at, recorded_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING`,
			)
			.bind(
				sale.orderId, sale.dropId, sale.shard, sale.fanId, sale.holdId, sale.quantity, sale.unitPriceCents,
				sale.totalCents, sale.currency, sale.paymentId, sale.createdAt, recordedAt,
			),
		...sale.tickets.map((code, seq) =>
			db
				.prepare(`INSERT INTO tickets (code, order_id, drop_id, seq) VALUES (?, ?, ?, ?) ON CONFLICT (code) DO NOTHING`)
				.bind(code, sale.orderId, sale.dropId, seq),
		),
	];
}
