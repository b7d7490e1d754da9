// The Queue consumer: writes sales into D1 idempotently. A batch is one D1
// batch() (atomic); what is stored is acked, a failed write is retried with a
// delay, and a message that can never be stored goes to the dead-letter queue.
import { queueFollowUps } from "../after-sale/follow-up";
import { applyEarlyProviderRefunds } from "../after-sale/refunds";
import { settleDrops } from "../after-sale/resale";
import { getDrop } from "../drops/store";
import { dispatchWebhooks } from "../after-sale/webhook-delivery";
import { saleEventStatements } from "../after-sale/webhook-events";
import { type SaleMessage, salesOf } from "../contract/sale-message";

export const RETRY_DELAY_SECONDS = 5;

export async function consumeSales(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	const valid: Message<unknown>[] = [];
	const sales: SaleMessage[] = [];
	const malformed: Message<unknown>[] = [];
	for (const msg of batch.messages) {
		const carried = salesOf(msg.body);
		if (carried === null) {
			malformed.push(msg);
		} else {
			valid.push(msg);
			sales.push(...carried);
		}
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
		await env.DB.batch(saleStatements(env.DB, sales));
		// A refund made at the provider before these orders reached D1 (src/http/stripe-webhook.ts) applies now.
		await applyEarlyProviderRefunds(env.DB, [...new Set(sales.map((s) => s.paymentId))]);
		// A paid order that took a listed ticket's unit is the sale of the oldest listing: its seller is refunded now.
		await settleDrops(env, sales.map((s) => s.dropId), (id) => getDrop(env.DB, id));
		// Each order's follow-up, once its row is in D1 (a retried message queues none twice): a Queue send, never a
		// Workflow creation from inside this invocation, which the local queue broker could wait on for good.
		await queueFollowUps(env, sales.map((s) => s.orderId));
		for (const m of valid) m.ack();
	} catch (err) {
		console.error(`sales: D1 write or follow-up send of ${valid.length} message(s) failed; retrying`, err);
		for (const m of valid) m.retry({ delaySeconds: RETRY_DELAY_SECONDS * Math.min(m.attempts, 6) });
		return;
	}
	// The batch's webhook events are in D1 already: a failed dispatch loses none (the next batch or the cron sends them).
	await dispatchWebhooks(env).catch((err) => console.error("sales: webhook dispatch failed; the cron sends them", err));
}

/**
 * The statements that store a batch of sales: five, whatever the batch size
 * (not one per order and ticket, up to 2,500 sales and 50,000 tickets), so a full batch stays far inside
 * D1's queries per invocation (1,000 Paid, 50 Free) even if each statement of a
 * batch() counts. Each reads the whole batch from one JSON parameter.
 */
export function saleStatements(db: D1Database, sales: SaleMessage[]): D1PreparedStatement[] {
	const payload = JSON.stringify(sales);
	const recordedAt = new Date().toISOString();
	// "WHERE true" keeps SQLite from reading ON CONFLICT as a join's ON clause.
	return [
		db
			.prepare(
				`INSERT INTO orders (order_id, drop_id, shard, fan_id, hold_id, quantity, unit_price_cents, total_cents, currency, payment_id, created_at, recorded_at,
				   ticket_type, slot_id, locale, admitted_at)
				 SELECT json_extract(s.value, '$.orderId'), json_extract(s.value, '$.dropId'), json_extract(s.value, '$.shard'),
				        json_extract(s.value, '$.fanId'), json_extract(s.value, '$.holdId'), json_extract(s.value, '$.quantity'),
				        json_extract(s.value, '$.unitPriceCents'), json_extract(s.value, '$.totalCents'), json_extract(s.value, '$.currency'),
				        json_extract(s.value, '$.paymentId'), json_extract(s.value, '$.createdAt'), ?2,
				        json_extract(s.value, '$.ticketType'), json_extract(s.value, '$.slot'), json_extract(s.value, '$.locale'), json_extract(s.value, '$.admittedAt')
				 FROM json_each(?1) AS s WHERE true
				 ON CONFLICT (order_id) DO NOTHING`,
			)
			.bind(payload, recordedAt),
		db
			.prepare(
				// A seated sale's ticket k is for seat k. A seat already sold to another ticket breaks the
				// unique index (tickets_one_per_seat): the batch fails and, retried out, goes to the dead letters.
				// An order's tickets go in together, once: a sale delivered again finds them there and adds none,
				// so a code a transfer has since replaced does not come back as a second holder of the same ticket
				// (SQLite reads the whole SELECT before inserting, as it reads the table it inserts into).
				`INSERT INTO tickets (code, order_id, drop_id, seq, ticket_type, seat_id)
				 SELECT t.value, json_extract(s.value, '$.orderId'), json_extract(s.value, '$.dropId'), t.key,
				        json_extract(s.value, '$.ticketType'), json_extract(s.value, '$.seats[' || t.key || ']')
				 FROM json_each(?1) AS s, json_each(s.value, '$.tickets') AS t
				 WHERE NOT EXISTS (SELECT 1 FROM tickets x WHERE x.order_id = json_extract(s.value, '$.orderId'))
				 ON CONFLICT (code) DO NOTHING`,
			)
			.bind(payload),
		// Where each receipt goes, kept with the order so a follow-up run from D1 alone knows it.
		db
			.prepare(
				`UPDATE orders SET receipt_to = json_extract(s.value, '$.email')
				 FROM json_each(?1) AS s
				 WHERE orders.order_id = json_extract(s.value, '$.orderId') AND orders.receipt_to IS NULL AND json_extract(s.value, '$.email') IS NOT NULL`,
			)
			.bind(payload),
		// The webhook outbox's rows for these orders (and a drop they sold out), with the orders themselves.
		...saleEventStatements(db, payload, recordedAt),
	];
}
