// A Workflow per order, started by the sales consumer once the order is in D1
// (the order id is the instance id, so a sale delivered twice starts one). Its
// steps run after the buyer's 201, each idempotent and retried with backoff:
// confirm the payment with its provider, issue the signed tickets, send the
// receipt, record the outcome. A step that uses up its retries ends the order
// `failed` (with the step named), which the promoter sees and can retry.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep, type WorkflowStepConfig } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import { config } from "../shared/config";
import { type OrderRecord, orderRecord, orderTickets, recordFailure, recordOutcome, recordReceipt, saleOfRecord, storeTicketTokens, ticketTokenOf } from "./order-store";
import { paymentProviderOf } from "../payments/providers";
import { receiptSender, receiptText } from "./receipts";
import type { SaleMessage } from "../contract/sale-message";

export const ORDER_STEPS = {
	confirm: "confirm payment",
	issue: "issue tickets",
	receipt: "send receipt",
	record: "record outcome",
	failure: "record failure",
} as const;

/** About a minute of tries per step (2, 4, 8, 16, 32 s apart), then the order is failed. */
export const STEP_RETRIES: WorkflowStepConfig = { retries: { limit: 5, delay: "2 seconds", backoff: "exponential" }, timeout: "1 minute" };

export type OrderParams = SaleMessage;

export class OrderWorkflow extends WorkflowEntrypoint<Env, OrderParams> {
	override async run(event: Readonly<WorkflowEvent<OrderParams>>, step: WorkflowStep): Promise<{ orderId: string; receiptSent: boolean }> {
		const sale = event.payload;
		let current: string = ORDER_STEPS.confirm;
		try {
			await step.do(ORDER_STEPS.confirm, STEP_RETRIES, () => confirmPayment(this.env, sale));
			current = ORDER_STEPS.issue;
			await step.do(ORDER_STEPS.issue, STEP_RETRIES, () => issueTickets(this.env, sale));
			current = ORDER_STEPS.receipt;
			const receipt = await step.do(ORDER_STEPS.receipt, STEP_RETRIES, () => sendReceipt(this.env, sale));
			current = ORDER_STEPS.record;
			await step.do(ORDER_STEPS.record, STEP_RETRIES, () => recordOutcome(this.env.DB, sale.orderId, receipt.sent));
			return { orderId: sale.orderId, receiptSent: receipt.sent };
		} catch (err) {
			console.error(`order ${sale.orderId}: step "${current}" failed for good`, err);
			const failed = current;
			await step.do(ORDER_STEPS.failure, STEP_RETRIES, () => recordFailure(this.env.DB, sale.orderId, `${failed} failed`));
			throw err;
		}
	}
}

/** The provider still has the payment as taken; a payment it does not know ends the order failed at once. */
async function confirmPayment(env: Env, sale: OrderParams): Promise<{ confirmed: true }> {
	const provider = paymentProviderOf(env, sale.paymentId);
	if (!provider.ok) throw new NonRetryableError(`no provider for payment ${sale.paymentId}`);
	const state = await provider.value.confirm(sale.paymentId);
	if (state === "missing") throw new NonRetryableError(`payment ${sale.paymentId} is not taken`);
	if (state === "pending") throw new Error(`payment ${sale.paymentId} is still processing`);
	return { confirmed: true };
}

/**
 * Signs a token per ticket and stores it (a token already stored stays), then marks the order ticketed. The
 * claims are the ones the order read signs (ticketTokenOf), so the stored token names what the fan already holds.
 */
async function issueTickets(env: Env, sale: OrderParams): Promise<{ tickets: number }> {
	const [order, tickets] = await Promise.all([orderRecord(env.DB, sale.orderId), orderTickets(env.DB, sale.orderId)]);
	if (order === null) throw new Error(`order ${sale.orderId} is not in D1`);
	const unsigned = tickets.filter((t) => t.token === null);
	const tokens = await Promise.all(unsigned.map(async (t) => ({ code: t.code, token: await ticketTokenOf(env, order, t) })));
	await storeTicketTokens(env.DB, sale.orderId, tokens);
	return { tickets: tickets.length };
}

/** Sends the receipt once: an order with one recorded is not sent another. No address, or receipts off: nothing is sent. */
async function sendReceipt(env: Env, sale: OrderParams): Promise<{ sent: boolean }> {
	const sender = receiptSender(env);
	if (sender === null || sale.email === undefined) return { sent: false };
	const order = await orderRecord(env.DB, sale.orderId);
	if (order === null) throw new Error(`order ${sale.orderId} is not in D1`);
	if (order.receipt_sent_at !== null) return { sent: true };
	await sender.send({ orderId: sale.orderId, to: sale.email, subject: `Your tickets: order ${sale.orderId}`, text: receiptText(sale) });
	await recordReceipt(env.DB, sale.orderId, sale.email);
	return { sent: true };
}

/**
 * Starts one Workflow per sale whose order has none yet (D1 says: `workflow_runs`
 * is 0), the order id as its instance id, and then records it started. A duplicate
 * message, or a batch retried after its Workflows started, starts nothing; an
 * instance that exists already (two deliveries at once) is left as it is. Throws
 * when an instance could not be started, so the consumer retries the message.
 * With ORDER_WORKFLOWS "off" (a local bench and rehearsal switch) it starts none:
 * the orders stay `paid`, and the cron's sweep leaves them too.
 */
export async function startOrderWorkflows(env: Env, sales: SaleMessage[]): Promise<void> {
	if (!config(env).orderWorkflows) return;
	const { results } = await env.DB.prepare(`SELECT order_id FROM orders WHERE order_id IN (SELECT value FROM json_each(?)) AND workflow_runs = 0`)
		.bind(JSON.stringify(sales.map((s) => s.orderId)))
		.all<{ order_id: string }>();
	const due = new Set(results.map((r) => r.order_id));
	const starting = sales.filter((s) => due.has(s.orderId) && due.delete(s.orderId));
	for (let i = 0; i < starting.length; i += 100) {
		const chunk = starting.slice(i, i + 100);
		await startInstances(env, chunk.map((sale) => ({ id: sale.orderId, params: sale })));
		await env.DB.prepare(`UPDATE orders SET workflow_runs = 1 WHERE order_id IN (SELECT value FROM json_each(?)) AND workflow_runs = 0`)
			.bind(JSON.stringify(chunk.map((s) => s.orderId)))
			.run();
	}
}

/** The instance id of an order's `run`-th Workflow: the order id, then `<order id>-retry-<n>` for each retry. */
export const workflowInstanceId = (orderId: string, run: number) => (run <= 1 ? orderId : `${orderId}-retry-${run - 1}`);

export async function startInstances(env: Env, instances: { id: string; params: OrderParams }[]): Promise<void> {
	try {
		await env.ORDER_WORKFLOW.createBatch(instances);
	} catch {
		// Some id exists already: each one on its own, keeping those that exist.
		await Promise.all(instances.map((instance) => startOne(env, instance)));
	}
}

async function startOne(env: Env, instance: { id: string; params: OrderParams }): Promise<void> {
	try {
		await env.ORDER_WORKFLOW.create(instance);
	} catch (err) {
		const existing = await env.ORDER_WORKFLOW.get(instance.id).catch(() => null);
		if (existing === null) throw err;
	}
}

/** How long after its D1 write an order with no Workflow run is taken as missed (its message is retried meanwhile). */
export const MISSED_WORKFLOW_MS = 10 * 60 * 1000;

/**
 * The cron's sweep: orders in D1 whose Workflow never started (their message gave
 * up after the D1 write, and the dead-letter path sends only sales D1 lacks) get
 * one now, 100 per run. Answers how many were started.
 */
export async function startMissedWorkflows(env: Env, now = Date.now()): Promise<number> {
	if (!config(env).orderWorkflows) return 0;
	const { results } = await env.DB.prepare(`SELECT * FROM orders WHERE workflow_runs = 0 AND recorded_at <= ? ORDER BY recorded_at LIMIT 100`)
		.bind(new Date(now - MISSED_WORKFLOW_MS).toISOString())
		.all<OrderRecord>();
	if (results.length === 0) return 0;
	const { results: tickets } = await env.DB.prepare(`SELECT order_id, code, seat_id FROM tickets WHERE order_id IN (SELECT value FROM json_each(?)) ORDER BY order_id, seq`)
		.bind(JSON.stringify(results.map((o) => o.order_id)))
		.all<{ order_id: string; code: string; seat_id: string | null }>();
	const byOrder = new Map<string, { code: string; seat_id: string | null }[]>();
	for (const t of tickets) byOrder.set(t.order_id, [...(byOrder.get(t.order_id) ?? []), t]);
	await startOrderWorkflows(env, results.map((o) => saleOfRecord(o, byOrder.get(o.order_id) ?? [])));
	return results.length;
}
