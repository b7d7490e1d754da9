// Webhook events of the features after the sale: a transfer accepted, a resale
// listing made, sold, withdrawn or returned, a registered window drawn. Each is
// written once, in the batch of the change it reports: a repeat of the act (the
// accept again with the holder's key, the buyer's sale redelivered and settled
// again, a second draw and the cron's) adds no second event, a refused act adds
// none, and an order's events keep its order (a listing's sale before the
// seller's refund). A draw's event names no email.
import { createScheduledController, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ListingAnswer } from "../../src/contract/resale-answers";
import type { TransferAccepted, TransferMade } from "../../src/contract/transfer-answers";
import { settleResale, sweepResale } from "../../src/after-sale/resale";
import { DRAW_CRON, drawAndTell, drawDueWindows } from "../../src/after-sale/draw-mail";
import worker from "../../src/index";
import type { Presale } from "../../src/drops/presales";
import { getDrop as dropRecord } from "../../src/drops/store";
import { consumeSales } from "../../src/sales/consumer";
import { type Purchased, buyWith, orderReaches } from "../support/after-sale";
import { WIDE_OPEN } from "../support/drops";
import { expectError } from "../support/errors";
import { capturingQueue, restoreShardSales, runQueueBatch, setShardSales } from "../support/sales";
import { createDropAs, createPromoter, keyFetch } from "../support/tenants";
import { waitUntil } from "../support/wait";
import { callWorker, fanFetch } from "../support/worker";
import { ALL_EVENTS, FEATURE_EVENTS, registerEndpoint } from "../support/webhooks";

interface Event {
	id: string;
	type: string;
	createdAt: string;
	data: Record<string, unknown>;
}

/** A promoter with one endpoint that wants every event, and a drop of theirs. */
async function promoterWithEndpoint(name: string, drop: Record<string, unknown>) {
	const promoter = await createPromoter(name);
	const made = await createDropAs(promoter.apiKey, drop);
	const endpoint = await registerEndpoint(promoter.apiKey, { events: [...ALL_EVENTS, ...FEATURE_EVENTS] });
	return { promoter, drop: made, endpoint };
}

/** The endpoint's deliveries of these types, in the order they were written, with their payloads. */
async function eventsOf(endpointId: string, types: string[] = FEATURE_EVENTS): Promise<(Event & { orderKey: string })[]> {
	const { results } = await env.DB.prepare(
		`SELECT order_key, payload FROM webhook_deliveries WHERE endpoint_id = ? AND type IN (SELECT value FROM json_each(?)) ORDER BY rowid`,
	)
		.bind(endpointId, JSON.stringify(types))
		.all<{ order_key: string; payload: string }>();
	return results.map((r) => ({ ...(JSON.parse(r.payload) as Event), orderKey: r.order_key }));
}

async function ticketed(dropId: string, fanId: string): Promise<Purchased> {
	const bought = await buyWith(dropId, fanId, { quantity: 1 });
	await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
	return bought;
}


/** A promoter's drop with a registered window whose three fans registered and verified, and an endpoint for every event. */
async function registeredDrop(name: string) {
	const MIN = 60_000;
	const at = (ms: number) => new Date(Date.now() + ms).toISOString();
	const { promoter, drop, endpoint } = await promoterWithEndpoint(name, {
		opensAt: at(40 * MIN),
		capacity: 50,
		maxPerFan: 4,
		presales: [
			{ id: "drawn", name: "Verified fans", opensAt: at(20 * MIN), closesAt: at(30 * MIN), access: "registered", registration: { opensAt: at(-MIN), closesAt: at(15 * MIN), invites: 2 } },
		],
	});
	const window = drop.presales![0]! as Presale;
	const emails = ["one@hooks.test", "two@hooks.test", "three@hooks.test"].map((e) => `${drop.id.slice(2, 8)}.${e}`);
	for (const [i, email] of emails.entries()) {
		const post = (path: string, body: unknown) =>
			callWorker(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }, { ip: `198.18.7.${10 + i}` });
		expect((await post(`/api/drops/${drop.id}/registrations`, { email })).status).toBe(202);
		const mail = await env.DB.prepare(`SELECT subject FROM dev_mail WHERE to_address = ? ORDER BY id DESC LIMIT 1`).bind(email).first<string>("subject");
		const code = /\b(\d{8})\b/.exec(mail!)![1]!;
		expect((await post(`/api/drops/${drop.id}/registrations/verify`, { email, code })).status).toBe(200);
	}
	return { apiKey: promoter.apiKey, drop, endpoint, window };
}

describe("webhook events of transfers, resale and the draw", () => {
	it("ticket.transferred: once per accepted transfer, after a repeated accept too; none for a refused accept", async () => {
		const { drop, endpoint } = await promoterWithEndpoint("Hooks transfer", { admission: WIDE_OPEN, capacity: 10, maxPerFan: 2 });
		const buyer = await ticketed(drop.id, "fan-hook-transfer");
		const code = buyer.tickets[0]!;
		const transfer = (path: string, secret: string, body?: unknown) =>
			fanFetch(path, secret, { method: "POST", ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });

		// A transfer cancelled before it is accepted: the accept is refused, and nothing is reported.
		const cancelled = (await (await transfer(`/api/orders/${buyer.orderId}/tickets/${code}/transfer`, buyer.orderToken)).json()) as TransferMade;
		const gone = await fanFetch(`/api/orders/${buyer.orderId}/transfers/${cancelled.transfer.transferId}`, buyer.orderToken, { method: "DELETE" });
		expect(gone.status).toBe(200);
		await expectError(await transfer(`/api/transfers/${cancelled.transfer.transferId}/accept`, cancelled.secret), 409, "transfer_cancelled");
		expect(await eventsOf(endpoint.id)).toEqual([]);

		const madeRes = await transfer(`/api/orders/${buyer.orderId}/tickets/${code}/transfer`, buyer.orderToken);
		expect(madeRes.status, await madeRes.clone().text()).toBe(201);
		const made = (await madeRes.json()) as TransferMade;
		// Making a transfer hands nothing on yet.
		expect(await eventsOf(endpoint.id)).toEqual([]);
		const key = "k".repeat(43);
		const first = await transfer(`/api/transfers/${made.transfer.transferId}/accept`, made.secret, { holderKey: key });
		expect(first.status, await first.clone().text()).toBe(201);
		const accepted = (await first.json()) as TransferAccepted;
		// The accept again with the holder's key (its answer was lost), and the link once more: one event.
		expect((await transfer(`/api/transfers/${made.transfer.transferId}/accept`, made.secret, { holderKey: key })).status).toBe(200);
		await expectError(await transfer(`/api/transfers/${made.transfer.transferId}/accept`, made.secret), 409, "transfer_accepted");

		const events = await eventsOf(endpoint.id);
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({
			id: `ticket.transferred:${made.transfer.transferId}`,
			type: "ticket.transferred",
			orderKey: buyer.orderId,
			data: { transferId: made.transfer.transferId, dropId: drop.id, orderId: buyer.orderId, ticket: code, newTicket: accepted.ticket.code, acceptedAt: expect.any(String) },
		});
		expect(accepted.ticket.code).not.toBe(code);
		// In its order's sequence, after the order's paid and ticketed events.
		const all = await eventsOf(endpoint.id, [...ALL_EVENTS, ...FEATURE_EVENTS]);
		expect(all.filter((e) => e.orderKey === buyer.orderId).map((e) => e.type)).toEqual(["order.paid", "order.ticketed", "ticket.transferred"]);
	});

	it("resale.listed, resale.sold (the buyer's order, the seller's refund) and the seller's order.refunded once each, in that order, however the sale is redelivered", async () => {
		const { promoter, drop, endpoint } = await promoterWithEndpoint("Hooks resale", { admission: WIDE_OPEN, capacity: 1, maxPerFan: 1, priceCents: 2000 });
		const rules = await keyFetch(promoter.apiKey, `/api/admin/drops/${drop.id}/resale`, { method: "PATCH", body: JSON.stringify({ enabled: true, feePercent: 10 }) });
		expect(rules.status, await rules.clone().text()).toBe(200);
		const seller = await ticketed(drop.id, "fan-hook-seller");
		const listRequest = () => fanFetch(`/api/orders/${seller.orderId}/tickets/${encodeURIComponent(seller.tickets[0]!)}/resale`, seller.orderToken, { method: "POST" });
		const listed = await listRequest();
		expect(listed.status, await listed.clone().text()).toBe(201);
		const listing = (await listed.json()) as ListingAnswer;
		// A second listing of the same ticket is refused and reports nothing.
		await expectError(await listRequest(), 409, "ticket_listed");
		expect((await eventsOf(endpoint.id)).map((e) => e.type)).toEqual(["resale.listed"]);

		// A newcomer buys the listed unit; its sale is held back, then delivered three times and settled again by hand and by the cron.
		const captured = capturingQueue();
		await setShardSales(drop.id, 0, captured.queue);
		let buyer: Purchased;
		try {
			buyer = await buyWith(drop.id, "fan-hook-buyer");
			await waitUntil(() => captured.bodies.length > 0, 10_000, "the buyer's sale to be sent", 20);
		} finally {
			await restoreShardSales(drop.id, 0);
		}
		const deliver = (id: string, attempts: number) => runQueueBatch("sales", [{ id, attempts, body: captured.bodies[0] }], (batch) => consumeSales(batch, env));
		await deliver("m-hook-1", 1);
		await deliver("m-hook-1", 2);
		await deliver("m-hook-2", 1);
		expect(await settleResale(env, (await dropRecord(env.DB, drop.id))!)).toEqual([]);
		await sweepResale(env, Date.now(), (id) => dropRecord(env.DB, id));

		const events = await eventsOf(endpoint.id, [...FEATURE_EVENTS, "order.refunded"]);
		expect(events.map((e) => e.type)).toEqual(["resale.listed", "resale.sold", "order.refunded"]);
		const refundId = await env.DB.prepare(`SELECT refund_id FROM resale_listings WHERE listing_id = ?`).bind(listing.listingId).first<string>("refund_id");
		expect(refundId).toMatch(/^r_/);
		expect(events[0]).toMatchObject({ id: `resale.listed:${listing.listingId}`, orderKey: seller.orderId, data: { listingId: listing.listingId, orderId: seller.orderId, state: "open", priceCents: 2000, feeCents: 200, payoutCents: 1800 } });
		expect(events[1]).toMatchObject({
			id: `resale.sold:${listing.listingId}`,
			orderKey: seller.orderId,
			data: { listingId: listing.listingId, orderId: seller.orderId, state: "sold", buyerOrderId: buyer!.orderId, refundId, payoutCents: 1800, endedAt: expect.any(String) },
		});
		expect(events[2]).toMatchObject({ id: `order.refunded:${refundId}`, orderKey: seller.orderId, data: { orderId: seller.orderId, refund: { refundId, amountCents: 1800 } } });
		// The buyer's order was paid before the listing was sold to it.
		const paid = await eventsOf(endpoint.id, ["order.paid"]);
		expect(paid.filter((e) => e.orderKey === buyer!.orderId)).toHaveLength(1);
		// A withdraw after the sale is refused and ends nothing.
		await expectError(await fanFetch(`/api/orders/${seller.orderId}/listings/${listing.listingId}`, seller.orderToken, { method: "DELETE" }), 409, "listing_sold");
		expect(await eventsOf(endpoint.id, ["resale.ended"])).toEqual([]);
	});

	it("resale.ended: once for a withdrawal (a repeat answers it withdrawn) and once for a listing returned at the close (the next sweep returns nothing)", async () => {
		const closesAt = Date.now() + 3_600_000;
		const { promoter, drop, endpoint } = await promoterWithEndpoint("Hooks resale ended", {
			admission: WIDE_OPEN,
			capacity: 4,
			maxPerFan: 2,
			priceCents: 1500,
			closesAt: new Date(closesAt).toISOString(),
		});
		const rules = await keyFetch(promoter.apiKey, `/api/admin/drops/${drop.id}/resale`, { method: "PATCH", body: JSON.stringify({ enabled: true, feeCents: 100 }) });
		expect(rules.status).toBe(200);
		const fan = await buyWith(drop.id, "fan-hook-ended", { quantity: 2 });
		await orderReaches(fan.orderId, fan.orderToken, ["ticketed", "receipt_sent"]);
		const list = async (code: string) => {
			const res = await fanFetch(`/api/orders/${fan.orderId}/tickets/${encodeURIComponent(code)}/resale`, fan.orderToken, { method: "POST" });
			expect(res.status, await res.clone().text()).toBe(201);
			return (await res.json()) as ListingAnswer;
		};
		const withdrawn = await list(fan.tickets[0]!);
		const kept = await list(fan.tickets[1]!);
		const withdraw = () => fanFetch(`/api/orders/${fan.orderId}/listings/${withdrawn.listingId}`, fan.orderToken, { method: "DELETE" });
		expect((await withdraw()).status).toBe(200);
		expect((await withdraw()).status).toBe(200);
		// Still open before the close: the sweep returns nothing.
		expect((await sweepResale(env, Date.now(), (id) => dropRecord(env.DB, id))).returned).toBe(0);
		expect((await sweepResale(env, closesAt + 1000, (id) => dropRecord(env.DB, id))).returned).toBe(1);
		expect((await sweepResale(env, closesAt + 2000, (id) => dropRecord(env.DB, id))).returned).toBe(0);

		const events = await eventsOf(endpoint.id);
		expect(events.map((e) => [e.type, e.data.listingId, e.data.reason])).toEqual([
			["resale.listed", withdrawn.listingId, undefined],
			["resale.listed", kept.listingId, undefined],
			["resale.ended", withdrawn.listingId, "withdrawn"],
			["resale.ended", kept.listingId, "returned"],
		]);
		expect(events.every((e) => e.orderKey === fan.orderId)).toBe(true);
		expect(new Set(events.map((e) => e.id)).size).toBe(4);
	});

	it("presale.drawn: once per window, whoever draws and however often; none before registration closes; never an email", async () => {
		const { drop, endpoint, window } = await registeredDrop("Hooks draw");
		// Refused while registration is open: no draw, no event.
		const early = await drawAndTell(env, drop, window, Date.now());
		expect(early).toMatchObject({ ok: false, code: "registration_open" });
		expect(await eventsOf(endpoint.id)).toEqual([]);

		const after = Date.parse(window.registration!.closesAt) + 1000;
		const outcomes = await Promise.all([drawAndTell(env, drop, window, after), drawAndTell(env, drop, window, after + 10), drawDueWindows(env, after + 20)]);
		expect(outcomes.every((o) => o.ok)).toBe(true);
		await drawAndTell(env, drop, window, after + 30);

		const events = await eventsOf(endpoint.id);
		expect(events).toHaveLength(1);
		const result = await env.DB.prepare(`SELECT drawn_at FROM presale_draw_results WHERE drop_id = ?`).bind(drop.id).first<string>("drawn_at");
		const commitment = await env.DB.prepare(`SELECT seed_commitment FROM presale_draws WHERE drop_id = ?`).bind(drop.id).first<string>("seed_commitment");
		expect(events[0]).toEqual({
			id: `presale.drawn:${drop.id}:drawn`,
			type: "presale.drawn",
			createdAt: result,
			orderKey: drop.id,
			data: { dropId: drop.id, windowId: "drawn", windowName: "Verified fans", seedCommitment: commitment, drawnAt: result, registered: 3, drawn: 2 },
		});
		expect(JSON.stringify(events)).not.toContain("@hooks.test");
	});

	it("a draw's presale.drawn goes out at once: the minute's cron and the promoter's draw both dispatch it", async () => {
		const queuedAt = (endpointId: string) => env.DB.prepare(`SELECT queued_at FROM webhook_deliveries WHERE endpoint_id = ? AND type = 'presale.drawn'`).bind(endpointId).first<string | null>("queued_at");
		const byCron = await registeredDrop("Hooks draw cron");
		const after = Date.parse(byCron.window.registration!.closesAt) + 1000;
		await worker.scheduled!(createScheduledController({ scheduledTime: after, cron: DRAW_CRON }), env);
		expect(await queuedAt(byCron.endpoint.id)).not.toBeNull();
		// The promoter's draw (registration closed by the clock: moved back in D1) dispatches after its answer.
		const byHand = await registeredDrop("Hooks draw route");
		const past = new Date(Date.now() - 1000).toISOString();
		await env.DB.prepare(`UPDATE drop_presales SET presales = json_set(presales, '$[0].registration.closesAt', ?) WHERE drop_id = ?`).bind(past, byHand.drop.id).run();
		const drawn = await keyFetch(byHand.apiKey, `/api/admin/drops/${byHand.drop.id}/windows/drawn/draw`, { method: "POST" });
		expect(drawn.status).toBe(201);
		await waitUntil(async () => (await queuedAt(byHand.endpoint.id)) !== null, 10_000, "the route's dispatch of presale.drawn");
	});
});

