// Webhooks in tests: an endpoint registered with an owner key, an env whose
// WEBHOOKS Queue keeps what is sent (and runs no follow-ups), and a stand-in for
// the Queue that hands the kept messages to the consumer with a clock of its own,
// retrying as asked, so a day of backoff runs in a moment.
import { createMessageBatch, env, getQueueResult, createExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import { consumeWebhooks } from "../../src/after-sale/webhook-delivery";
import { capturingQueue } from "./sales";
import { keyFetch } from "./tenants";

export const ALL_EVENTS = ["order.paid", "order.ticketed", "order.refunded", "order.failed", "drop.opened", "drop.sold_out", "drop.cancelled"];
/** The events of the features after the sale (transfers, resale, the draw). */
export const FEATURE_EVENTS = ["ticket.transferred", "resale.listed", "resale.sold", "resale.ended", "presale.drawn"];

export interface EndpointJson {
	id: string;
	secret: string;
	state: string;
	url: string;
}

export async function registerEndpoint(apiKey: string, body: Record<string, unknown> = {}): Promise<EndpointJson> {
	const res = await keyFetch(apiKey, "/api/admin/webhooks", { method: "POST", body: JSON.stringify({ url: "https://hooks.test/in", events: ALL_EVENTS, ...body }) });
	expect(res.status, await res.clone().text()).toBe(201);
	return (await res.json()) as EndpointJson;
}

/** An env whose WEBHOOKS Queue keeps its messages for `pump`, with no post-sale follow-ups. */
export function webhookEnv(): { env: Env; bodies: unknown[] } {
	const { queue, bodies } = capturingQueue();
	return { env: { ...env, WEBHOOKS: queue, ORDER_WORKFLOWS: "off" }, bodies };
}

export interface Received {
	headers: Headers;
	body: string;
	status: number;
}

/**
 * Runs the kept messages through the consumer until none is left (or `until` ms of the simulated clock have
 * passed): each round takes the messages due, and a retried one comes back after the delay it asked for.
 */
export async function pump(
	testEnv: { env: Env; bodies: unknown[] },
	answer: (call: number, request: Request) => Promise<Response> | Response,
	start = Date.now(),
	until = 3 * 24 * 60 * 60 * 1000,
): Promise<{ received: Received[]; now: number }> {
	const received: Received[] = [];
	let calls = 0;
	const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
		const request = new Request(input, init);
		const body = await request.clone().text();
		const response = await answer(calls++, request);
		received.push({ headers: request.headers, body, status: response.status });
		return response;
	}) as typeof fetch;
	const waiting: { body: unknown; attempts: number; due: number; id: string }[] = [];
	let now = start;
	let seq = 0;
	for (let round = 0; round < 1000; round++) {
		for (const body of testEnv.bodies.splice(0)) waiting.push({ body, attempts: 1, due: now, id: `w-${seq++}` });
		if (waiting.length === 0 || now - start > until) break;
		now = Math.max(now, Math.min(...waiting.map((w) => w.due)));
		const due = waiting.filter((w) => w.due <= now);
		for (const w of due) waiting.splice(waiting.indexOf(w), 1);
		const batch = createMessageBatch("ticket-webhooks", due.map((w) => ({ id: w.id, timestamp: new Date(now), attempts: w.attempts, body: w.body })));
		const delays = new Map<string, number | undefined>();
		for (const m of batch.messages) {
			const retry = m.retry.bind(m);
			m.retry = (options?: QueueRetryOptions) => {
				delays.set(m.id, options?.delaySeconds);
				retry(options);
			};
		}
		await consumeWebhooks(batch, testEnv.env, { now, fetcher });
		const result = await getQueueResult(batch, createExecutionContext());
		for (const w of due) {
			if (result.explicitAcks.includes(w.id)) continue;
			const retry = result.retryMessages.find((r: { msgId: string }) => r.msgId === w.id);
			if (retry) waiting.push({ ...w, attempts: w.attempts + 1, due: now + (delays.get(w.id) ?? 0) * 1000 });
		}
	}
	return { received, now };
}

export interface DeliveryRow {
	id: string;
	event_id: string;
	type: string;
	order_key: string;
	status: string;
	attempts: number;
	last_status: number | null;
	delivered_at: string | null;
}

export async function deliveriesOf(endpointId: string): Promise<DeliveryRow[]> {
	const { results } = await env.DB.prepare(`SELECT * FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY rowid`).bind(endpointId).all<DeliveryRow>();
	return results;
}
