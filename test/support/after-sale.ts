// After the sale: buying with a payment method and a receipt address,
// reading an order's status, the gate, refunds, and Stripe's stand-in.
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { stripeSignature } from "../../scripts/lib/fake-stripe.mjs";
import type { OrderDetail } from "../../src/contract/fan-answers";
import { admittedFan, hold } from "./fans";
import { waitUntil } from "./wait";
import { type CallOptions, adminFetch, callWorker, fanFetch } from "./worker";

export interface Purchased {
	orderId: string;
	orderToken: string;
	tickets: string[];
	accessToken: string;
	fanId: string;
	holdId: string;
}

export function purchaseWith(dropId: string, accessToken: string, holdId: string, body: Record<string, unknown>, options: CallOptions = {}): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/holds/${holdId}/purchase`, accessToken, { method: "POST", body: JSON.stringify(body) }, options);
}

/** Admits a fan, holds `quantity` and buys with `payment` (the test provider's "ok" unless told), giving `email` for the receipt (in `locale`). */
export async function buyWith(
	dropId: string,
	fanId: string,
	{ quantity = 1, payment = { method: "test", token: "ok" }, email, locale }: { quantity?: number; payment?: { method: string; token: string }; email?: string; locale?: string } = {},
): Promise<Purchased> {
	const accessToken = await admittedFan(dropId, fanId);
	const h = await hold(dropId, accessToken, quantity);
	if (h.status !== 201) throw new Error(`hold: ${h.status} ${await h.text()}`);
	const { holdId } = (await h.json()) as { holdId: string };
	const p = await purchaseWith(dropId, accessToken, holdId, { payment, ...(email === undefined ? {} : { email }), ...(locale === undefined ? {} : { locale }) });
	if (p.status !== 201) throw new Error(`purchase: ${p.status} ${await p.text()}`);
	const order = (await p.json()) as { orderId: string; tickets: string[]; orderToken: string };
	return { ...order, accessToken, fanId, holdId };
}

export async function readOrder(orderId: string, orderToken: string): Promise<OrderDetail> {
	const res = await fanFetch(`/api/orders/${orderId}`, orderToken);
	expect(res.status).toBe(200);
	return (await res.json()) as OrderDetail;
}

/** Polls the order (as its buyer) until its status is one of `statuses`; bounded. */
export async function orderReaches(orderId: string, orderToken: string, statuses: string[], ms = 30_000): Promise<OrderDetail> {
	const seen: { last: OrderDetail | null } = { last: null };
	await waitUntil(async () => statuses.includes((seen.last = await readOrder(orderId, orderToken)).status), ms, `order ${orderId} to reach ${statuses.join(" or ")}`, 100);
	return seen.last!;
}

export async function statusInD1(orderId: string): Promise<{ status: string; status_detail: string | null } | null> {
	return env.DB.prepare(`SELECT status, status_detail FROM orders WHERE order_id = ?`).bind(orderId).first();
}

/** The gate scanning a ticket token, with the gate's credential unless `authorization` is given. */
export function scan(dropId: string, ticket: string, authorization: string | null = `Bearer ${env.GATE_TOKEN}`): Promise<Response> {
	const headers: Record<string, string> = { "content-type": "application/json" };
	if (authorization !== null) headers.authorization = authorization;
	return callWorker(`/api/admin/drops/${dropId}/scan`, { method: "POST", headers, body: JSON.stringify({ ticket }) });
}

export function refund(dropId: string, orderId: string, body?: Record<string, unknown>): Promise<Response> {
	return adminFetch(`/api/admin/drops/${dropId}/orders/${orderId}/refund`, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

// ── Stripe's stand-in (scripts/lib/fake-stripe.mjs, answering https://stripe.test) ──

export interface FakeStripeState {
	created: number;
	paymentIntents: { id: string; amount: number; status: string; metadata: Record<string, string> }[];
	refunds: { id: string; amount: number; payment_intent: string }[];
	waiting: number;
	/** Answered by release: how many waiting charges it let go. */
	released?: number;
}

export async function fakeStripe(path: "state" | "release" | "drop-next" | "refuse-next" | "drop-next-refund" | "forget-keys" | "search-lag" | "search-catch-up"): Promise<FakeStripeState> {
	const res = await fetch(`https://stripe.test/_fake/${path}`, { method: path === "state" ? "GET" : "POST" });
	return (await res.json()) as FakeStripeState;
}

/** Posts an event to the webhook, signed as Stripe does (at `timestamp`, with `secret`, unless `signature` is given). */
export async function postWebhook(event: unknown, { timestamp, secret = env.STRIPE_WEBHOOK_SECRET!, signature }: { timestamp?: number; secret?: string; signature?: string } = {}): Promise<Response> {
	const payload = JSON.stringify(event);
	const header = signature ?? (await stripeSignature(secret, payload, timestamp));
	return callWorker(`/api/payments/stripe/webhook`, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": header }, body: payload });
}
