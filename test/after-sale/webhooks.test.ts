// Webhooks: each event reaches an endpoint once, in order per order, signed so a
// few lines of Node's crypto verify it; a failing endpoint is retried with backoff,
// a dead one paused; a delivery survives the consumer failing mid-way and the
// selling shard restarting before and after its sale went out; and a refused
// request changes nothing.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createMessageBatch, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { consumeWebhooks } from "../../src/after-sale/webhook-delivery";
import { recordFailure, storeTicketTokens } from "../../src/after-sale/order-store";
import { markCancelled } from "../../src/after-sale/drop-cancel";
import { consumeSales } from "../../src/sales/consumer";
import { buy, capturingQueue, failingQueue, outbox, saleMessage, setShardSales } from "../support/sales";
import { restartObjects } from "../support/objects";
import { shardStub } from "../support/shards";
import { WIDE_OPEN } from "../support/drops";
import { runInDurableObject } from "cloudflare:test";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { createDropAs, createPromoter, keyFetch, mintKey } from "../support/tenants";
import { adminFetch } from "../support/worker";
import { waitUntil } from "../support/wait";
import { deliveriesOf, pump, registerEndpoint, webhookEnv } from "../support/webhooks";

/** Stores sales as the sales consumer does, with the webhook env's Queue. */
async function sell(testEnv: Env, dropId: string, count: number, quantity = 1) {
	const sales = Array.from({ length: count }, () => saleMessage({ dropId, quantity }));
	await consumeSales(createMessageBatch("ticket-sales", sales.map((body, i) => ({ id: `s-${i}-${body.orderId}`, timestamp: new Date(), attempts: 1, body }))), testEnv);
	return sales.map((s) => s.orderId);
}

const hexBytes = (hex: string) => Uint8Array.from(hex.match(/[0-9a-f]{2}/g) ?? [], (b) => parseInt(b, 16));

/** What a receiver writes to check a delivery: Node's crypto, a few lines (docs/webhooks.md shows them). */
function verify(secret: string, header: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
	const parts = Object.fromEntries(header.split(",").map((p) => p.split("=") as [string, string]));
	const expected = createHmac("sha256", secret).update(`${parts.t}.${body}`).digest();
	const given = hexBytes(parts.v1 ?? "");
	const fresh = Math.abs(nowSeconds - Number(parts.t)) <= toleranceSeconds;
	return fresh && given.length === expected.length && timingSafeEqual(given, expected);
}

const rowsOf = async (table: string, promoterId: string) =>
	(await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE promoter_id = ?`).bind(promoterId).first<{ n: number }>())!.n;

describe("webhooks", () => {
	it("an endpoint failing five times then succeeding gets each event once, in order per order", async () => {
		const promoter = await createPromoter("Hooks five");
		const drop = await createDropAs(promoter.apiKey, { capacity: 100 });
		const endpoint = await registerEndpoint(promoter.apiKey);
		const testEnv = webhookEnv();
		const orders = await sell(testEnv.env, drop.id, 3);
		for (const orderId of orders) await storeTicketTokens(env.DB, orderId, []);
		const { received } = await pump(testEnv, (call) => new Response(null, { status: call < 5 ? 500 : 200 }));
		expect(received.filter((r) => r.status === 500)).toHaveLength(5);
		const ok = received.filter((r) => r.status === 200).map((r) => JSON.parse(r.body) as { id: string; type: string; data: { orderId: string } });
		// Each event once: three orders, paid then ticketed.
		expect(ok).toHaveLength(6);
		expect(new Set(ok.map((e) => e.id)).size).toBe(6);
		for (const orderId of orders) {
			// Its ticketed event was not even tried before its paid one got through.
			const tries = received.map((r) => JSON.parse(r.body) as { type: string; data: { orderId: string } }).filter((e) => e.data.orderId === orderId);
			const paidOk = received.findIndex((r) => r.status === 200 && (JSON.parse(r.body) as { data: { orderId: string }; type: string }).data.orderId === orderId && JSON.parse(r.body).type === "order.paid");
			const firstTicketed = received.findIndex((r) => (JSON.parse(r.body) as { data: { orderId: string }; type: string }).data.orderId === orderId && JSON.parse(r.body).type === "order.ticketed");
			expect(paidOk).toBeGreaterThanOrEqual(0);
			expect(firstTicketed).toBeGreaterThan(paidOk);
			expect(tries.filter((e) => e.type === "order.ticketed")).toHaveLength(1);
		}
		const rows = await deliveriesOf(endpoint.id);
		expect(rows.map((r) => r.status)).toEqual(Array(6).fill("delivered"));
		expect(rows.reduce((n, r) => n + r.attempts, 0)).toBe(11);
		// Failures end with a success: the endpoint is not failing.
		const listed = (await (await keyFetch(promoter.apiKey, "/api/admin/webhooks")).json()) as { endpoints: { id: string; failingSince: string | null; state: string }[] };
		expect(listed.endpoints.find((e) => e.id === endpoint.id)).toMatchObject({ state: "active", failingSince: null });
		// The last failure stays to be read after the success that ended the run.
		expect(listed.endpoints.find((e) => e.id === endpoint.id)).toMatchObject({ lastFailure: { error: "answered 500" } });
	});

	it("a delivery is signed so that a few lines of Node's crypto verify it, and a changed body does not", async () => {
		const promoter = await createPromoter("Hooks signed");
		const drop = await createDropAs(promoter.apiKey);
		const endpoint = await registerEndpoint(promoter.apiKey, { events: ["order.paid"] });
		expect(endpoint.secret).toMatch(/^whsec_/);
		const testEnv = webhookEnv();
		const [orderId] = await sell(testEnv.env, drop.id, 1);
		const { received, now } = await pump(testEnv, () => new Response("ok"));
		expect(received).toHaveLength(1);
		const { headers, body } = received[0]!;
		expect(JSON.parse(body)).toMatchObject({ id: `order.paid:${orderId}`, type: "order.paid", data: { orderId, dropId: drop.id, quantity: 1, currency: "USD" } });
		expect(headers.get("webhook-id")).toBe(`order.paid:${orderId}`);
		const signature = headers.get("webhook-signature")!;
		expect(verify(endpoint.secret, signature, body, Math.floor(now / 1000))).toBe(true);
		expect(verify(endpoint.secret, signature, body.replace(`"quantity":1`, `"quantity":2`), Math.floor(now / 1000))).toBe(false);
		expect(verify("whsec_other", signature, body, Math.floor(now / 1000))).toBe(false);
		// Replayed ten minutes later: outside the tolerance.
		expect(verify(endpoint.secret, signature, body, Math.floor(now / 1000) + 600)).toBe(false);
		// The secret is answered once: the list never shows it.
		expect(await (await keyFetch(promoter.apiKey, "/api/admin/webhooks")).text()).not.toContain(endpoint.secret);
	});

	it("survives the consumer failing mid-way: the redelivered message sends again, and the delivery is recorded delivered once", async () => {
		const promoter = await createPromoter("Hooks crash");
		const drop = await createDropAs(promoter.apiKey);
		const endpoint = await registerEndpoint(promoter.apiKey, { events: ["order.paid"] });
		const testEnv = webhookEnv();
		await sell(testEnv.env, drop.id, 3);
		const messages = testEnv.bodies.splice(0);
		expect(messages).toHaveLength(3);
		const sent: string[] = [];
		const fetcher = (async (_url: RequestInfo | URL, init?: RequestInit) => {
			sent.push(new Headers(init?.headers).get("webhook-id")!);
			return new Response(null, { status: 200 });
		}) as typeof fetch;
		// D1 fails to record the second send's outcome, after the endpoint took it (the consumer dies there).
		let batches = 0;
		const flakyDb = new Proxy(env.DB, {
			get(target, prop) {
				if (prop === "batch") return async (statements: D1PreparedStatement[]) => {
					if (++batches === 2) throw new Error("D1_ERROR: connection lost (test)");
					return target.batch(statements);
				};
				const value = Reflect.get(target, prop) as unknown;
				return typeof value === "function" ? value.bind(target) : value;
			},
		});
		const now = Date.now();
		const batch = (at: number, attempts: number) => createMessageBatch("ticket-webhooks", messages.map((body, i) => ({ id: `c-${i}`, timestamp: new Date(at), attempts, body })));
		await consumeWebhooks(batch(now, 1), { ...testEnv.env, DB: flakyDb }, { now, fetcher });
		expect(sent).toHaveLength(3);
		let rows = await deliveriesOf(endpoint.id);
		expect(rows.filter((r) => r.status === "delivered")).toHaveLength(2);
		const lost = rows.find((r) => r.status === "pending")!;
		const deliveredAt = new Map(rows.map((r) => [r.id, r.delivered_at]));
		// The whole batch comes again (its acks were lost with the consumer), once the crashed claim has run out.
		await consumeWebhooks(batch(now + 31_000, 2), testEnv.env, { now: now + 31_000, fetcher });
		expect(sent).toHaveLength(4);
		expect(sent[3]).toBe(lost.event_id);
		rows = await deliveriesOf(endpoint.id);
		expect(rows.map((r) => r.status)).toEqual(["delivered", "delivered", "delivered"]);
		for (const r of rows) if (r.id !== lost.id) expect(r.delivered_at).toBe(deliveredAt.get(r.id));
		expect(rows.find((r) => r.id === lost.id)!.attempts).toBe(2);
		// A third copy changes nothing and sends nothing.
		await consumeWebhooks(batch(now + 62_000, 3), testEnv.env, { now: now + 62_000, fetcher });
		expect(sent).toHaveLength(4);
	});

	it("survives the selling shard restarting: a sale its Queue never took is sent by the restarted shard, and a sale sent twice is delivered once", async () => {
		const promoter = await createPromoter("Hooks restart");
		const drop = await createDropAs(promoter.apiKey, { admission: WIDE_OPEN });
		const endpoint = await registerEndpoint(promoter.apiKey, { events: ["order.paid"] });
		// The sale is made while the shard cannot reach the sales Queue: it stays in the shard's outbox.
		await setShardSales(drop.id, 0, failingQueue);
		const order = await buy(drop.id, "hook-restart-fan");
		expect((await outbox(drop.id)).find((r) => r.order_id === order.orderId)).toMatchObject({ sent_at: null });
		// The shard restarts (its memory, its swapped binding and any request in flight gone); what it kept is its storage.
		await restartObjects([() => shardStub(drop.id, 0)]);
		const sales = capturingQueue();
		const runAlarmWith = async (queue: Queue) => {
			await setShardSales(drop.id, 0, queue);
			await runInDurableObject(shardStub(drop.id, 0), async (shard: InventoryShard) => {
				// Past the outbox's retry wait, so the alarm sends whatever is unsent.
				shard.clock = () => Date.now() + 60_000;
				await shard.alarm();
			});
		};
		await runAlarmWith(sales.queue);
		// A shard sends its sales packed (v2: several to a message).
		const ofOrder = () => sales.bodies.filter((b) => (b as { sales: { orderId: string }[] }).sales.some((s) => s.orderId === order.orderId));
		expect(ofOrder()).toHaveLength(1);
		const testEnv = webhookEnv();
		const consume = (bodies: unknown[], tag: string) =>
			consumeSales(createMessageBatch("ticket-sales", bodies.map((body, i) => ({ id: `${tag}-${i}`, timestamp: new Date(), attempts: 1, body }))), testEnv.env);
		await consume(ofOrder(), "first");
		// The shard dies after the Queue took the sale and before it noted the send: restarted, it sends the sale again.
		await runInDurableObject(shardStub(drop.id, 0), (_s, state) => void state.storage.sql.exec(`UPDATE outbox SET sent_at = NULL WHERE order_id = ?`, order.orderId));
		await restartObjects([() => shardStub(drop.id, 0)]);
		await runAlarmWith(sales.queue);
		expect(ofOrder()).toHaveLength(2);
		await consume(ofOrder().slice(1), "again");
		const { received } = await pump(testEnv, () => new Response("ok"));
		const paid = received.map((r) => JSON.parse(r.body) as { id: string; type: string; data: { orderId: string } }).filter((e) => e.data.orderId === order.orderId);
		expect(paid).toEqual([expect.objectContaining({ id: `order.paid:${order.orderId}`, type: "order.paid" })]);
		const rows = await deliveriesOf(endpoint.id);
		expect(rows.map((r) => [r.event_id, r.status])).toEqual([[`order.paid:${order.orderId}`, "delivered"]]);
		// A delivery owed when the shard restarted is not lost either: the outbox row is sent, and nothing more is owed.
		expect((await outbox(drop.id)).find((r) => r.order_id === order.orderId)!.sent_at).not.toBeNull();
	});

	it("a dead endpoint is paused after a day of failing, keeps its deliveries, and sends them once resumed", async () => {
		const promoter = await createPromoter("Hooks dead");
		const drop = await createDropAs(promoter.apiKey);
		const endpoint = await registerEndpoint(promoter.apiKey, { events: ["order.paid", "drop.cancelled"] });
		const testEnv = webhookEnv();
		await sell(testEnv.env, drop.id, 2);
		const start = Date.now();
		const { received, now } = await pump(testEnv, () => new Response("down", { status: 503 }), start);
		// Backed off (30 s doubling to an hour), then given up: not retried forever.
		expect(now - start).toBeGreaterThanOrEqual(24 * 60 * 60 * 1000);
		expect(now - start).toBeLessThan(26 * 60 * 60 * 1000);
		expect(received.length).toBeGreaterThan(10);
		expect(received.length).toBeLessThan(100);
		const listed = (await (await keyFetch(promoter.apiKey, "/api/admin/webhooks")).json()) as {
			endpoints: { id: string; state: string; pausedReason: string; stateSince: string; createdAt: string; lastFailure: { at: string; error: string } | null }[];
		};
		const paused = listed.endpoints.find((e) => e.id === endpoint.id)!;
		expect(paused).toMatchObject({ state: "paused", pausedReason: "failing for a day", lastFailure: { error: "answered 503" } });
		// Paused since the attempt that paused it, a day after the first failure: that attempt is also the last failure.
		expect(Date.parse(paused.stateSince) - Date.parse(paused.createdAt)).toBeGreaterThanOrEqual(24 * 60 * 60 * 1000);
		expect(paused.stateSince).toBe(paused.lastFailure!.at);
		// Events while paused are kept too.
		await markCancelled(testEnv.env, drop.id);
		let rows = await deliveriesOf(endpoint.id);
		expect(rows.map((r) => [r.type, r.status])).toEqual([["order.paid", "pending"], ["order.paid", "pending"], ["drop.cancelled", "pending"]]);
		expect(rows[0]!.last_status).toBe(503);
		// Resumed: every kept delivery goes out (through the real Queue, to an endpoint that takes them).
		const resumed = await keyFetch(promoter.apiKey, `/api/admin/webhooks/${endpoint.id}/resume`, { method: "POST" });
		expect(resumed.status).toBe(200);
		expect(await resumed.json()).toMatchObject({ state: "active", pausedReason: null, failingSince: null });
		await waitUntil(async () => (await deliveriesOf(endpoint.id)).every((d) => d.status === "delivered"), 20_000, "the kept deliveries sent after the resume", 50);
		rows = await deliveriesOf(endpoint.id);
		expect(rows.map((r) => r.last_status)).toEqual([204, 204, 204]);
	});

	it("lists deliveries with status, attempts and last response, and resends one", async () => {
		const promoter = await createPromoter("Hooks list");
		const drop = await createDropAs(promoter.apiKey);
		const endpoint = await registerEndpoint(promoter.apiKey, { events: ["order.paid", "order.failed"], dropId: drop.id });
		const testEnv = webhookEnv();
		const [orderId] = await sell(testEnv.env, drop.id, 1);
		await env.DB.prepare(`UPDATE orders SET workflow_runs = 1 WHERE order_id = ?`).bind(orderId).run();
		await recordFailure(env.DB, orderId!, 1, "confirm payment failed");
		await pump(testEnv, (call) => new Response(null, { status: call === 0 ? 500 : 200 }));
		const page = (await (await keyFetch(promoter.apiKey, `/api/admin/webhooks/${endpoint.id}/deliveries`)).json()) as {
			deliveries: { id: string; type: string; status: string; attempts: number; lastStatus: number }[];
		};
		expect(page.deliveries.map((d) => [d.type, d.status, d.attempts, d.lastStatus])).toEqual([
			["order.failed", "delivered", 1, 200],
			["order.paid", "delivered", 2, 200],
		]);
		const resent = await keyFetch(promoter.apiKey, `/api/admin/webhooks/${endpoint.id}/deliveries/${page.deliveries[1]!.id}/resend`, { method: "POST" });
		expect(resent.status).toBe(200);
		expect(await resent.json()).toMatchObject({ status: "pending", attempts: 2 });
		await waitUntil(async () => (await deliveriesOf(endpoint.id))[0]!.attempts === 3, 20_000, "the resent delivery sent", 50);
		await waitUntil(async () => (await deliveriesOf(endpoint.id))[0]!.status === "delivered", 20_000, "the resent delivery recorded", 50);
		const rows = await deliveriesOf(endpoint.id);
		expect(rows[0]!.last_status).toBe(204);
	});

	it("a refused request is a 4xx JSON error and leaves no rows", async () => {
		const promoter = await createPromoter("Hooks refused");
		const other = await createPromoter("Hooks other");
		const otherDrop = await createDropAs(other.apiKey);
		const staff = await mintKey(promoter.apiKey, "staff");
		const before = { endpoints: await rowsOf("webhook_endpoints", promoter.id), activity: await rowsOf("activity", promoter.id) };
		const post = (key: string, body: unknown) => keyFetch(key, "/api/admin/webhooks", { method: "POST", body: JSON.stringify(body) });
		const cases: [Promise<Response>, number, string][] = [
			[post(promoter.apiKey, { url: "http://hooks.example/in", events: ["order.paid"] }), 422, "invalid_url"],
			[post(promoter.apiKey, { url: "https://user:pw@hooks.example/in", events: ["order.paid"] }), 422, "invalid_url"],
			[post(promoter.apiKey, { url: "not a url", events: ["order.paid"] }), 422, "invalid_url"],
			[post(promoter.apiKey, { url: "https://hooks.example/in", events: [] }), 422, "out_of_range"],
			[post(promoter.apiKey, { url: "https://hooks.example/in", events: ["order.shipped"] }), 422, "invalid_value"],
			[post(promoter.apiKey, { url: "https://hooks.example/in", events: ["order.paid"], extra: 1 }), 400, "unknown_field"],
			[post(promoter.apiKey, { url: "https://hooks.example/in", events: ["order.paid"], dropId: otherDrop.id }), 404, "not_found"],
			[post(staff.apiKey, { url: "https://hooks.example/in", events: ["order.paid"] }), 403, "forbidden"],
			[adminFetch("/api/admin/webhooks", { method: "POST", body: JSON.stringify({ url: "https://hooks.example/in", events: ["order.paid"] }) }), 403, "forbidden"],
			[keyFetch(promoter.apiKey, "/api/admin/webhooks/wh_AAAAAAAAAAAAAAAA/resume", { method: "POST" }), 404, "not_found"],
			[keyFetch(promoter.apiKey, "/api/admin/webhooks/wh_AAAAAAAAAAAAAAAA/deliveries"), 404, "not_found"],
		];
		for (const [pending, status, code] of cases) {
			const res = await pending;
			const text = await res.text();
			expect(res.status, text).toBe(status);
			expect(res.headers.get("content-type")).toContain("application/json");
			expect((JSON.parse(text) as { error: { code: string } }).error.code, text).toBe(code);
		}
		// Another promoter's endpoint is not there for this one.
		const theirs = await registerEndpoint(other.apiKey);
		expect((await keyFetch(promoter.apiKey, `/api/admin/webhooks/${theirs.id}/pause`, { method: "POST" })).status).toBe(404);
		expect({ endpoints: await rowsOf("webhook_endpoints", promoter.id), activity: await rowsOf("activity", promoter.id) }).toEqual(before);
		// The limit: the 21st endpoint is refused and leaves nothing.
		for (let i = 0; i < 20; i++) await registerEndpoint(promoter.apiKey, { url: `https://hooks.test/${i}` });
		const full = { endpoints: await rowsOf("webhook_endpoints", promoter.id), activity: await rowsOf("activity", promoter.id) };
		const over = await post(promoter.apiKey, { url: "https://hooks.example/21", events: ["order.paid"] });
		expect(over.status).toBe(409);
		expect((await over.json()) as unknown).toMatchObject({ error: { code: "limit_reached" } });
		expect({ endpoints: await rowsOf("webhook_endpoints", promoter.id), activity: await rowsOf("activity", promoter.id) }).toEqual(full);
	});

	it("a promoter's cancel sends drop.cancelled and its refunds' order.refunded at once, not at the next sales batch or cron", async () => {
		const promoter = await createPromoter("Hooks cancel");
		const drop = await createDropAs(promoter.apiKey, { capacity: 4, admission: WIDE_OPEN });
		const endpoint = await registerEndpoint(promoter.apiKey, { events: ["drop.cancelled", "order.refunded"] });
		const bought = await buy(drop.id, "cancel-hook-fan");
		// Every batch the sale brings (the sale's, its follow-up's) has run and dispatched before the cancel.
		const statusOf = () => env.DB.prepare(`SELECT status FROM orders WHERE order_id = ?`).bind(bought.orderId).first<string>("status");
		await waitUntil(async () => ["ticketed", "receipt_sent"].includes((await statusOf()) ?? ""), 20_000, "the order ticketed");
		const cancelled = await keyFetch(promoter.apiKey, `/api/admin/drops/${drop.id}/cancel`, { method: "POST" });
		expect(cancelled.status).toBe(200);
		expect(((await cancelled.json()) as { refundedOrders: number }).refundedOrders).toBe(1);
		const queued = () => env.DB.prepare(`SELECT type, queued_at FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY rowid`).bind(endpoint.id).all<{ type: string; queued_at: string | null }>();
		await waitUntil(async () => (await queued()).results.filter((r) => r.queued_at !== null).length === 2, 10_000, "the cancel's dispatch");
		expect((await queued()).results.map((r) => r.type).sort()).toEqual(["drop.cancelled", "order.refunded"]);
	});

	it("a promoter with no endpoint gets no delivery rows, and an endpoint hears only its own drop and events", async () => {
		const quiet = await createPromoter("Hooks none");
		const quietDrop = await createDropAs(quiet.apiKey);
		const promoter = await createPromoter("Hooks scoped");
		const [mine, another] = [await createDropAs(promoter.apiKey, { capacity: 1, timeZone: "Asia/Tokyo" }), await createDropAs(promoter.apiKey)];
		const scoped = await registerEndpoint(promoter.apiKey, { dropId: mine.id, events: ["drop.sold_out", "drop.cancelled"] });
		const testEnv = webhookEnv();
		await sell(testEnv.env, quietDrop.id, 2);
		await sell(testEnv.env, another.id, 1);
		await sell(testEnv.env, mine.id, 1);
		await markCancelled(testEnv.env, mine.id);
		await markCancelled(testEnv.env, mine.id);
		const n = (await env.DB.prepare(`SELECT COUNT(*) AS n FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.promoter_id = ?`).bind(quiet.id).first<{ n: number }>())!.n;
		expect(n).toBe(0);
		expect((await deliveriesOf(scoped.id)).map((r) => r.type)).toEqual(["drop.sold_out", "drop.cancelled"]);
		// A drop event names the drop's time zone, so a receiver shows its times as the promoter set them.
		const payloads = await env.DB.prepare(`SELECT payload FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY rowid`).bind(scoped.id).all<{ payload: string }>();
		for (const { payload } of payloads.results) expect(JSON.parse(payload).data).toMatchObject({ dropId: mine.id, capacity: 1, timeZone: "Asia/Tokyo" });
	});
});
