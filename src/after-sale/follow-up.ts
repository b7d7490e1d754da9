// The follow-up after the sale, per batch of orders: the sales consumer puts one
// message per stored order on the follow-up Queue, and this consumer takes them
// up to 100 at a time: confirm the payment with its provider, store the signed
// tickets (the fan holds them already: the order read signs them), send the
// receipt, record the outcome. A step that fails is retried with backoff (the
// message comes back 2, 4, 8, 16, 32 s later); one that keeps failing, or cannot
// succeed, ends the order `failed` with the step named, which the promoter sees
// and retries. Every step is idempotent against D1, and the receipt is claimed
// before it is sent, so a redelivered batch, a retried step or a crash between
// steps sends no receipt twice: a claim with no send recorded ends the order
// failed ("outcome unknown") for the promoter to decide, never a second send.
import { config } from "../shared/config";
import { paymentProviderOf } from "../payments/providers";
import { dropTimeZone, receiptMail, receiptSender } from "./receipts";
import { dispatchWebhooks } from "./webhook-delivery";
import { openedEventStatement } from "./webhook-events";
import { type OrderRecord, STUCK_SQL, type TicketRecord, markPaymentMissing, markRetrying, recordFailure, recordOutcome, saleOfRecord, storeTicketTokens, ticketTokenOf } from "./order-store";

export const FOLLOW_UP_QUEUE = "ticket-follow-up";

export const FOLLOW_UP_STEPS = { confirm: "confirm payment", issue: "issue tickets", receipt: "send receipt", record: "record outcome" } as const;
type Step = (typeof FOLLOW_UP_STEPS)[keyof typeof FOLLOW_UP_STEPS];

/** Tries per order before it is failed: the first and five retries, 2, 4, 8, 16 and 32 s apart (about a minute). */
export const FOLLOW_UP_ATTEMPTS = 6;
export const followUpDelay = (attempts: number) => 2 ** Math.min(Math.max(attempts, 1), 5);

/** One order's follow-up: its id and the run it belongs to (a promoter's retry is run 2, 3, ...). */
export interface FollowUpMessage {
	v: 1;
	orderId: string;
	run: number;
}

function followUpOf(body: unknown): FollowUpMessage | null {
	if (typeof body !== "object" || body === null) return null;
	const { v, orderId, run } = body as Record<string, unknown>;
	return v === 1 && typeof orderId === "string" && orderId.length > 0 && orderId.length <= 64 && Number.isInteger(run) && (run as number) >= 1
		? { v, orderId, run: run as number }
		: null;
}

/** A step's failure: `final` when retrying cannot help (the payment is not taken, a receipt's fate unknown). */
class StepFailure extends Error {
	constructor(
		readonly step: Step,
		readonly why: string,
		readonly final = false,
	) {
		super(`${step}: ${why}`);
	}
}

/**
 * Queues the follow-up of each stored order that has none yet (`workflow_runs` 0 in D1), then records it queued.
 * A duplicate sale, or a batch retried after its follow-up was queued, queues nothing; two deliveries at once may
 * queue an order twice, which its idempotent steps absorb. Throws when the send fails (nothing recorded), so the
 * sale's message is retried. With ORDER_WORKFLOWS "off" (a local bench switch) it queues none.
 */
export async function queueFollowUps(env: Env, orderIds: string[], now = Date.now()): Promise<void> {
	if (!config(env).orderWorkflows || orderIds.length === 0) return;
	const { results } = await env.DB.prepare(`SELECT order_id FROM orders WHERE order_id IN (SELECT value FROM json_each(?)) AND workflow_runs = 0`)
		.bind(JSON.stringify([...new Set(orderIds)]))
		.all<{ order_id: string }>();
	const due = results.map((r) => r.order_id);
	for (let i = 0; i < due.length; i += 100) {
		const chunk = due.slice(i, i + 100);
		await env.FOLLOW_UP.sendBatch(chunk.map((orderId) => ({ body: { v: 1, orderId, run: 1 } satisfies FollowUpMessage })));
		// Its run starts now: the cron's sweep takes an order as stuck only once nothing has moved it since.
		await env.DB.prepare(`UPDATE orders SET workflow_runs = 1, status_at = ?2 WHERE order_id IN (SELECT value FROM json_each(?1)) AND workflow_runs = 0`)
			.bind(JSON.stringify(chunk), new Date(now).toISOString())
			.run();
	}
}

export async function consumeFollowUps(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	const work: { msg: Message<unknown>; job: FollowUpMessage }[] = [];
	for (const msg of batch.messages) {
		const job = followUpOf(msg.body);
		if (job === null) {
			console.error(`follow-up message ${msg.id} is not one; acked`);
			msg.ack();
		} else work.push({ msg, job });
	}
	if (work.length === 0) return;
	let orders: Map<string, OrderRecord>;
	let tickets: Map<string, TicketRecord[]>;
	try {
		({ orders, tickets } = await readOrders(env.DB, work.map((w) => w.job.orderId)));
	} catch (err) {
		console.error(`follow-up: D1 read of ${work.length} order(s) failed; retrying`, err);
		for (const { msg } of work) msg.retry({ delaySeconds: followUpDelay(msg.attempts) });
		return;
	}
	await Promise.all(
		work.map(async ({ msg, job }) => {
			const order = orders.get(job.orderId);
			// Its run not written down yet (the sales consumer sends, then records the run): it comes back, never dropped.
			if (order !== undefined && order.workflow_runs < job.run) return msg.retry({ delaySeconds: followUpDelay(msg.attempts) });
			// A run the promoter has replaced, or an order refunded meanwhile: nothing left to do for this message.
			if (order === undefined || order.workflow_runs > job.run || order.status === "refunded" || order.status === "receipt_sent") return msg.ack();
			try {
				await followUp(env, order, tickets.get(job.orderId) ?? []);
				msg.ack();
			} catch (err) {
				const failure = err instanceof StepFailure ? err : new StepFailure(FOLLOW_UP_STEPS.record, String(err));
				if (failure.final || msg.attempts >= FOLLOW_UP_ATTEMPTS) {
					console.error(`order ${job.orderId}: step "${failure.step}" failed for good: ${failure.why}`);
					try {
						await recordFailure(env.DB, job.orderId, job.run, `${failure.step} failed${failure.final ? `: ${failure.why}` : ""}`);
						msg.ack();
					} catch {
						// Recording it failed too: the message comes back, and the failure is recorded then.
						msg.retry({ delaySeconds: followUpDelay(msg.attempts) });
					}
				} else msg.retry({ delaySeconds: followUpDelay(msg.attempts) });
			}
		}),
	);
	// The batch's order.ticketed and order.failed events are in D1 already; drops opened meanwhile are announced too.
	await dispatchWebhooks(env, Date.now(), openedEventStatement(env.DB, Date.now())).catch((err) => console.error("follow-up: webhook dispatch failed; the cron sends them", err));
}

async function readOrders(db: D1Database, orderIds: string[]): Promise<{ orders: Map<string, OrderRecord>; tickets: Map<string, TicketRecord[]> }> {
	const ids = JSON.stringify([...new Set(orderIds)]);
	const [o, t] = await db.batch([
		db.prepare(`SELECT * FROM orders WHERE order_id IN (SELECT value FROM json_each(?))`).bind(ids),
		db.prepare(`SELECT * FROM tickets WHERE order_id IN (SELECT value FROM json_each(?)) ORDER BY order_id, seq`).bind(ids),
	]);
	const orders = new Map((o!.results as OrderRecord[]).map((r) => [r.order_id, r]));
	const tickets = new Map<string, TicketRecord[]>();
	for (const row of t!.results as TicketRecord[]) tickets.set(row.order_id, [...(tickets.get(row.order_id) ?? []), row]);
	return { orders, tickets };
}

/** One order through its steps; each step skips what D1 says is done. */
async function followUp(env: Env, order: OrderRecord, tickets: TicketRecord[]): Promise<void> {
	if (order.status === "paid" || order.status === "failed") {
		await confirmPayment(env, order);
		await step(FOLLOW_UP_STEPS.issue, async () => {
			const unsigned = tickets.filter((t) => t.token === null && t.refund_id === null);
			const tokens = await Promise.all(unsigned.map(async (t) => ({ code: t.code, token: await ticketTokenOf(env, order, t) })));
			await storeTicketTokens(env.DB, order.order_id, tokens);
		});
	}
	const sent = await sendReceipt(env, order, tickets);
	await step(FOLLOW_UP_STEPS.record, () => recordOutcome(env.DB, order.order_id, sent));
}

async function step<T>(name: Step, run: () => Promise<T>): Promise<T> {
	try {
		return await run();
	} catch (err) {
		throw err instanceof StepFailure ? err : new StepFailure(name, String(err));
	}
}

/**
 * The provider still has the payment as taken; one it does not know ends the order failed at once, and its tickets
 * (signed at the read already) admit nobody from then on.
 */
async function confirmPayment(env: Env, order: OrderRecord): Promise<void> {
	const paymentId = order.payment_id;
	const provider = paymentProviderOf(env, paymentId);
	if (!provider.ok) throw new StepFailure(FOLLOW_UP_STEPS.confirm, `no provider for payment ${paymentId}`, true);
	const state = await step(FOLLOW_UP_STEPS.confirm, () => provider.value.confirm(paymentId));
	if (state === "missing") {
		await step(FOLLOW_UP_STEPS.confirm, () => markPaymentMissing(env.DB, order.order_id, Date.now()));
		throw new StepFailure(FOLLOW_UP_STEPS.confirm, `payment ${paymentId} is not taken`, true);
	}
	if (state === "pending") throw new StepFailure(FOLLOW_UP_STEPS.confirm, `payment ${paymentId} is still processing`);
}

/**
 * The receipt, once: claimed in D1 before it is sent, recorded after. Sent already: nothing. Claimed by an
 * attempt that never recorded a send (it crashed, or another delivery is sending it now): its fate is unknown,
 * and the order ends failed for the promoter rather than risk a second receipt. A send that throws is known not
 * to have gone: its claim is released and the step retried. No address, or receipts off: nothing is sent.
 */
async function sendReceipt(env: Env, order: OrderRecord, tickets: TicketRecord[]): Promise<boolean> {
	const sender = receiptSender(env);
	if (sender === null || order.receipt_to === null) return false;
	if (order.receipt_sent_at !== null) return true;
	// Read before the claim: a read that fails here leaves nothing claimed, and the step is simply retried.
	const zone = await step(FOLLOW_UP_STEPS.receipt, () => dropTimeZone(env.DB, order.drop_id));
	const claimedAt = new Date().toISOString();
	const claim = await step(FOLLOW_UP_STEPS.receipt, () =>
		env.DB.prepare(`UPDATE orders SET receipt_claimed_at = ? WHERE order_id = ? AND receipt_claimed_at IS NULL AND receipt_sent_at IS NULL RETURNING order_id`)
			.bind(claimedAt, order.order_id)
			.first<{ order_id: string }>(),
	);
	if (claim === null) {
		const now = await env.DB.prepare(`SELECT receipt_sent_at, receipt_claimed_at FROM orders WHERE order_id = ?`)
			.bind(order.order_id)
			.first<{ receipt_sent_at: string | null; receipt_claimed_at: string | null }>();
		if (now?.receipt_sent_at) return true;
		// Claimed moments ago: another delivery is sending it now; this one comes back and finds it recorded.
		if (now?.receipt_claimed_at && Date.parse(now.receipt_claimed_at) > Date.now() - RECEIPT_CLAIM_MS) throw new StepFailure(FOLLOW_UP_STEPS.receipt, "being sent by another delivery");
		throw new StepFailure(FOLLOW_UP_STEPS.receipt, "outcome unknown (an earlier attempt claimed it and recorded no send)", true);
	}
	const sale = saleOfRecord(order, tickets);
	const sending = sender.send({ orderId: order.order_id, to: order.receipt_to, ...receiptMail(sale, zone) });
	let timer: ReturnType<typeof setTimeout> | undefined;
	const unanswered = new Promise<"unanswered">((resolve) => {
		timer = setTimeout(() => resolve("unanswered"), RECEIPT_SEND_MS);
	});
	try {
		// A send still going after RECEIPT_SEND_MS may yet go out: its claim stays, the order is the promoter's to decide.
		if ((await Promise.race([sending, unanswered])) === "unanswered") {
			throw new StepFailure(FOLLOW_UP_STEPS.receipt, `outcome unknown (the send did not answer within ${RECEIPT_SEND_MS / 1000} s)`, true);
		}
	} catch (err) {
		if (err instanceof StepFailure) throw err;
		await env.DB.prepare(`UPDATE orders SET receipt_claimed_at = NULL WHERE order_id = ? AND receipt_claimed_at = ?`).bind(order.order_id, claimedAt).run();
		throw new StepFailure(FOLLOW_UP_STEPS.receipt, String(err));
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
	await step(FOLLOW_UP_STEPS.receipt, () =>
		env.DB.prepare(`UPDATE orders SET receipt_sent_at = ? WHERE order_id = ?`).bind(new Date().toISOString(), order.order_id).run(),
	);
	return true;
}

/** How long a receipt's claim is taken as a send still going on (a send is given up well within it). */
export const RECEIPT_CLAIM_MS = 60_000;
/** How long a send may take before its outcome is taken as unknown (a third of the claim's time). */
export const RECEIPT_SEND_MS = 20_000;

/** How long after its D1 write an order with no follow-up queued is taken as missed (its message is retried meanwhile). */
export const MISSED_FOLLOW_UP_MS = 10 * 60 * 1000;

/**
 * The cron's sweep: orders in D1 whose follow-up was never queued (their sale's message gave up after the D1
 * write, and the dead-letter path sends only sales D1 lacks) get it now, and orders whose run stopped without
 * recording anything (its messages used up the queue's retries while D1 was down) get a new run, 100 of each per
 * run. Answers how many.
 */
export async function queueMissedFollowUps(env: Env, now = Date.now()): Promise<number> {
	if (!config(env).orderWorkflows) return 0;
	const before = new Date(now - MISSED_FOLLOW_UP_MS).toISOString();
	const { results } = await env.DB.prepare(`SELECT order_id FROM orders WHERE workflow_runs = 0 AND recorded_at <= ? ORDER BY recorded_at LIMIT 100`)
		.bind(before)
		.all<{ order_id: string }>();
	await queueFollowUps(env, results.map((r) => r.order_id), now);
	// A receipt claimed and never recorded as sent is the promoter's to decide (it may have gone out): not retried here.
	const stuck = await env.DB.prepare(
		`SELECT order_id FROM orders WHERE workflow_runs >= 1 AND receipt_claimed_at IS NULL AND ${STUCK_SQL} ORDER BY COALESCE(status_at, recorded_at) LIMIT 100`,
	)
		.bind(before)
		.all<{ order_id: string }>();
	for (const { order_id } of stuck.results) {
		const run = await markRetrying(env.DB, order_id, before);
		if (run !== null) await env.FOLLOW_UP.send({ v: 1, orderId: order_id, run } satisfies FollowUpMessage);
	}
	return results.length + stuck.results.length;
}
