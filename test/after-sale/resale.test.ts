// Face-value resale: a holder lists a ticket (refused at the gate and for a
// transfer while listed); a buyer's paid order takes the listed unit and the
// oldest listing is sold: the seller refunded once (face value less the fee),
// whatever is replayed or redelivered and across a crash between the sale and
// the refund; the seller's ticket void, the buyer's valid. A buyer whose payment
// fails changes nothing. A listing racing its own transfer ends in one of them;
// withdraw (refused while a buyer holds the unit); unsold at the close goes back
// to the seller; bad input writes nothing; the audit's resale check.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ListingAnswer, OrderListingsAnswer, ResaleRulesAnswer } from "../../src/contract/resale-answers";
import type { TransferMade } from "../../src/contract/transfer-answers";
import { rotatingCode } from "../../src/after-sale/rotating-codes";
import { sweepRefunds } from "../../src/after-sale/refund-sweep";
import { settleResale, sweepResale } from "../../src/after-sale/resale";
import { getDrop as dropRecord } from "../../src/drops/store";
import { consumeSales } from "../../src/sales/consumer";
import { testPayments, testProvider } from "../../src/payments/test-provider";
import { type Purchased, buyWith, orderReaches, purchaseWith, readOrder, refund, scan } from "../support/after-sale";
import { expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop, patchDrop } from "../support/drops";
import { expectError } from "../support/errors";
import { admittedFan, hold, releaseHold } from "../support/fans";
import { untilEveryOutcome } from "../support/races";
import { capturingQueue, restoreShardSales, runQueueBatch, setShardSales } from "../support/sales";
import { waitUntil } from "../support/wait";
import { listOf, registerAt } from "../support/gate-devices";
import { adminFetch, fanFetch } from "../support/worker";

afterEach(() => vi.restoreAllMocks());

const PRICE = 2000;

async function resaleDrop(overrides: Record<string, unknown> = {}, rules: Record<string, unknown> = { enabled: true, feePercent: 10 }) {
	const drop = await createDrop({ admission: WIDE_OPEN, capacity: 1, maxPerFan: 1, priceCents: PRICE, ...overrides });
	const res = await adminFetch(`/api/admin/drops/${drop.id}/resale`, { method: "PATCH", body: JSON.stringify(rules) });
	expect(res.status, await res.clone().text()).toBe(200);
	return drop;
}

async function ticketed(dropId: string, fanId: string, quantity = 1): Promise<Purchased> {
	const bought = await buyWith(dropId, fanId, { quantity });
	await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
	return bought;
}

const listRequest = (b: Purchased, code = b.tickets[0]!, token = b.orderToken) =>
	fanFetch(`/api/orders/${b.orderId}/tickets/${encodeURIComponent(code)}/resale`, token, { method: "POST" });

async function list(b: Purchased, code = b.tickets[0]!): Promise<ListingAnswer> {
	const res = await listRequest(b, code);
	expect(res.status, await res.clone().text()).toBe(201);
	return (await res.json()) as ListingAnswer;
}

const withdraw = (b: Purchased, listingId: string) => fanFetch(`/api/orders/${b.orderId}/listings/${listingId}`, b.orderToken, { method: "DELETE" });

async function listings(b: Purchased): Promise<OrderListingsAnswer> {
	const res = await fanFetch(`/api/orders/${b.orderId}/listings`, b.orderToken);
	expect(res.status).toBe(200);
	return (await res.json()) as OrderListingsAnswer;
}

const listingState = async (listingId: string) => env.DB.prepare(`SELECT state FROM resale_listings WHERE listing_id = ?`).bind(listingId).first<string>("state");

/** The gate scanning one of a buyer's tickets with a rotating code made now. */
async function scanOf(dropId: string, b: Purchased, code: string): Promise<Response> {
	const pass = (await readOrder(b.orderId, b.orderToken)).passes.find((p) => p.code === code)!;
	expect(pass.token, `ticket ${code} has no token (${pass.state})`).not.toBeNull();
	return scan(dropId, await rotatingCode(pass.token!, pass.secret!, Date.now()));
}

const paymentOf = async (orderId: string) => (await env.DB.prepare(`SELECT payment_id FROM orders WHERE order_id = ?`).bind(orderId).first<string>("payment_id"))!;
const providerRefunds = async (orderId: string) => [...(testPayments.get(await paymentOf(orderId))?.refunds.values() ?? [])];
const refundRows = (orderId: string) => env.DB.prepare(`SELECT refund_id, tickets, amount_cents, state, restock FROM refunds WHERE order_id = ?`).bind(orderId).all().then((r) => r.results);

/** Admits a fan and buys one ticket with its sale held back from the Queue: answers the order and the sale's message. */
async function buyCaptured(dropId: string, fanId: string): Promise<{ bought: Purchased; message: unknown }> {
	const captured = capturingQueue();
	await setShardSales(dropId, 0, captured.queue);
	try {
		const bought = await buyWith(dropId, fanId);
		await waitUntil(() => captured.bodies.length > 0, 10_000, "the buyer's sale to be sent", 20);
		return { bought, message: captured.bodies[0] };
	} finally {
		await restoreShardSales(dropId, 0);
	}
}

const deliver = (message: unknown, id: string, attempts = 1) => runQueueBatch("sales", [{ id, attempts, body: message }], (batch) => consumeSales(batch, env));

/** What a refusal must leave untouched: the drop's listings, tickets, refunds and log. */
async function written(dropId: string): Promise<string> {
	const [rows, tickets, refunds, log] = await Promise.all([
		env.DB.prepare(`SELECT listing_id, state FROM resale_listings WHERE drop_id = ? ORDER BY listing_id`).bind(dropId).all(),
		env.DB.prepare(`SELECT code, scanned_at, refund_id, transfer_id, listing_id FROM tickets WHERE drop_id = ? ORDER BY code`).bind(dropId).all(),
		env.DB.prepare(`SELECT COUNT(*) AS n FROM refunds WHERE drop_id = ?`).bind(dropId).first<number>("n"),
		env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE drop_id = ?`).bind(dropId).first<number>("n"),
	]);
	return JSON.stringify([rows.results, tickets.results, refunds, log]);
}

describe("face-value resale", () => {
	it("lists a ticket, a buyer buys it at face value: the seller is refunded once less the fee, their ticket void, the buyer's valid; replays and a redelivered sale change nothing", async () => {
		const drop = await resaleDrop();
		const seller = await ticketed(drop.id, "fan-resale-seller");
		const code = seller.tickets[0]!;
		const listing = await list(seller);
		expect(listing).toMatchObject({ state: "open", ticket: code, priceCents: PRICE, feeCents: 200, payoutCents: 1800, refundId: null });
		// Listed: the gate refuses it, a transfer does not take it, a second listing neither.
		await expectError(await scanOf(drop.id, seller, code), 409, "ticket_listed");
		await expectError(await fanFetch(`/api/orders/${seller.orderId}/tickets/${code}/transfer`, seller.orderToken, { method: "POST" }), 409, "ticket_listed");
		await expectError(await listRequest(seller), 409, "ticket_listed");
		expect((await listings(seller)).listings.map((l) => l.state)).toEqual(["open"]);
		// An offline gate device's list carries it listed, with no secret.
		const device = await registerAt(drop.id, "Resale door");
		expect((await listOf(device)).tickets.find((x) => x.code === code)).toEqual({ code, orderId: seller.orderId, state: "listed" });

		// The drop had sold out: the listed unit is the one a newcomer buys, at face value.
		const { bought: buyer, message } = await buyCaptured(drop.id, "fan-resale-buyer");
		expect((message as { sales: unknown[] }).sales).toEqual([expect.objectContaining({ unitPriceCents: PRICE, totalCents: PRICE, quantity: 1 })]);
		// Before the buyer's paid order is in D1, nothing is sold and nobody refunded.
		expect(await listingState(listing.listingId)).toBe("open");
		expect(await refundRows(seller.orderId)).toEqual([]);

		const first = await deliver(message, "m-resale-1");
		expect(first.explicitAcks).toHaveLength(1);
		expect(await listingState(listing.listingId)).toBe("sold");
		// Redelivered twice, and settled again by hand and by the cron: still one sale, one refund, one provider refund.
		await deliver(message, "m-resale-1", 2);
		await deliver(message, "m-resale-2", 1);
		expect(await settleResale(env, (await dropRecord(env.DB, drop.id))!)).toEqual([]);
		await sweepResale(env, Date.now(), (id) => dropRecord(env.DB, id));
		await sweepRefunds(env, Date.now() + 120_000);
		expect(await refundRows(seller.orderId)).toEqual([expect.objectContaining({ tickets: 1, amount_cents: 1800, state: "refunded", restock: 0 })]);
		expect(await providerRefunds(seller.orderId)).toEqual([1800]);
		expect(await providerRefunds(buyer.orderId)).toEqual([]);

		const sold = (await listings(seller)).listings[0]!;
		expect(sold).toMatchObject({ state: "sold", refundId: expect.stringMatching(/^r_/) });
		const row = await env.DB.prepare(`SELECT buyer_order_id FROM resale_listings WHERE listing_id = ?`).bind(listing.listingId).first<string>("buyer_order_id");
		expect(row).toBe(buyer.orderId);
		// The promoter's view names the buyer's order; the seller's never does.
		expect(sold).not.toHaveProperty("buyerOrderId");
		const admin = await adminFetch(`/api/admin/drops/${drop.id}/orders/${seller.orderId}/listings`);
		expect(admin.status).toBe(200);
		expect(((await admin.json()) as { listings: unknown[] }).listings).toEqual([expect.objectContaining({ listingId: listing.listingId, state: "sold", buyerOrderId: buyer.orderId })]);
		// The seller's ticket is void at the gate; the buyer's own ticket admits once.
		const sellerPass = (await readOrder(seller.orderId, seller.orderToken)).passes[0]!;
		expect(sellerPass).toMatchObject({ state: "refunded", token: null });
		await orderReaches(buyer.orderId, buyer.orderToken, ["ticketed", "receipt_sent"]);
		expect((await scanOf(drop.id, buyer, buyer.tickets[0]!)).status).toBe(200);
		// A withdraw after the sale is refused and changes nothing.
		const before = await written(drop.id);
		await expectError(await withdraw(seller, listing.listingId), 409, "listing_sold");
		expect(await written(drop.id)).toBe(before);

		const a = await expectCleanAudit(drop.id);
		expect(a.resale).toMatchObject({ listed: 0, sold: 1, occupied: 1, capacity: 1, broken: 0 });
		expect(a.oversold).toBe(0);
		const log = await env.DB.prepare(`SELECT action FROM activity WHERE drop_id = ? AND actor = 'fan' ORDER BY seq`).bind(drop.id).all<{ action: string }>();
		expect(log.results.map((r) => r.action)).toEqual(["ticket.listed", "ticket.resold"]);
	});

	it("a buyer whose payment fails leaves the seller's ticket listed, valid and unrefunded; their next good payment buys it", async () => {
		const drop = await resaleDrop();
		const seller = await ticketed(drop.id, "fan-resale-declined-seller");
		const listing = await list(seller);
		const access = await admittedFan(drop.id, "fan-resale-declined-buyer");
		const held = await hold(drop.id, access, 1);
		expect(held.status).toBe(201);
		const { holdId } = (await held.json()) as { holdId: string };
		const declined = await purchaseWith(drop.id, access, holdId, { payment: { method: "test", token: "decline" } });
		expect(declined.status).toBe(402);
		await sweepResale(env, Date.now(), (id) => dropRecord(env.DB, id));
		expect(await listingState(listing.listingId)).toBe("open");
		expect(await refundRows(seller.orderId)).toEqual([]);
		expect(await providerRefunds(seller.orderId)).toEqual([]);
		expect((await readOrder(seller.orderId, seller.orderToken)).passes[0]).toMatchObject({ state: "valid" });
		expect((await expectCleanAudit(drop.id)).resale).toMatchObject({ listed: 1, sold: 0, broken: 0 });

		const paid = await purchaseWith(drop.id, access, holdId, { payment: { method: "test", token: "ok" } });
		expect(paid.status).toBe(201);
		await waitUntil(async () => (await listingState(listing.listingId)) === "sold", 20_000, "the listing to be sold", 50);
		await waitUntil(async () => (await providerRefunds(seller.orderId)).length > 0, 10_000, "the seller's refund", 50);
		expect(await providerRefunds(seller.orderId)).toEqual([1800]);
		expect((await expectCleanAudit(drop.id)).resale).toMatchObject({ listed: 0, sold: 1, broken: 0 });
	});

	it("a crash between the buyer's payment and the seller's refund: the refund is left pending and the cron finishes it, once", async () => {
		const drop = await resaleDrop({}, { enabled: true, feeCents: 150 });
		const seller = await ticketed(drop.id, "fan-resale-crash-seller");
		const listing = await list(seller);
		const { message } = await buyCaptured(drop.id, "fan-resale-crash-buyer");
		// The provider's refund call dies with the request (the sale and the refund's row are in D1, nothing asked).
		const real = testProvider.refund.bind(testProvider);
		const spy = vi.spyOn(testProvider, "refund").mockImplementation(async () => {
			throw new Error("the isolate died (test)");
		});
		await deliver(message, "m-resale-crash");
		expect(spy).toHaveBeenCalled();
		expect(await listingState(listing.listingId)).toBe("sold");
		expect(await refundRows(seller.orderId)).toEqual([expect.objectContaining({ amount_cents: 1850, state: "pending" })]);
		expect(await providerRefunds(seller.orderId)).toEqual([]);
		// The seller's ticket is void from the sale on, refund finished or not.
		expect((await readOrder(seller.orderId, seller.orderToken)).passes[0]).toMatchObject({ state: "refunded" });
		spy.mockImplementation(real);
		// The cron, once the failed try's backoff has passed, finishes it; its next runs and a redelivery change nothing.
		expect((await sweepRefunds(env, Date.now() + 60_000)).finished).toBe(0);
		expect((await sweepRefunds(env, Date.now() + 15 * 60_000)).finished).toBe(1);
		expect((await sweepRefunds(env, Date.now() + 3_600_000)).finished).toBe(0);
		await deliver(message, "m-resale-crash", 2);
		expect(await refundRows(seller.orderId)).toEqual([expect.objectContaining({ amount_cents: 1850, state: "refunded" })]);
		expect(await providerRefunds(seller.orderId)).toEqual([1850]);
		expect((await expectCleanAudit(drop.id)).resale).toMatchObject({ sold: 1, broken: 0 });
	});

	it("a crash between a listing's restock and its record: the buyer's order waits for the cron, which restocks once and sells it", async () => {
		const drop = await resaleDrop();
		const seller = await ticketed(drop.id, "fan-resale-restock-seller");
		const listing = await list(seller);
		// As if the request died after the shard took the unit back and before D1 said so.
		await env.DB.prepare(`UPDATE resale_listings SET restocked_at = NULL WHERE listing_id = ?`).bind(listing.listingId).run();
		const { message } = await buyCaptured(drop.id, "fan-resale-restock-buyer");
		await deliver(message, "m-resale-restock");
		expect(await listingState(listing.listingId)).toBe("open");
		const swept = await sweepResale(env, Date.now(), (id) => dropRecord(env.DB, id));
		expect(swept).toMatchObject({ restocked: 1, sold: 1 });
		expect(await listingState(listing.listingId)).toBe("sold");
		await sweepRefunds(env, Date.now() + 120_000);
		expect(await providerRefunds(seller.orderId)).toEqual([1800]);
		// The shard took the unit once: nothing more is on sale.
		const a = await expectCleanAudit(drop.id);
		expect(a.totals.remaining).toBe(0);
		expect(a.resale).toMatchObject({ sold: 1, occupied: 1, broken: 0 });
	});

	it("the drop's original stock sells before a listed unit; the oldest listing is sold first", async () => {
		const drop = await resaleDrop({ capacity: 3 });
		const [a, b] = [await ticketed(drop.id, "fan-resale-fifo-a"), await ticketed(drop.id, "fan-resale-fifo-b")];
		const first = await list(a);
		const second = await list(b);
		const c = await ticketed(drop.id, "fan-resale-fifo-c");
		// The third ticket was never sold: the newcomer took it, and both listings stay open.
		expect([await listingState(first.listingId), await listingState(second.listingId)]).toEqual(["open", "open"]);
		await ticketed(drop.id, "fan-resale-fifo-d");
		await waitUntil(async () => (await listingState(first.listingId)) === "sold", 20_000, "the oldest listing to be sold", 50);
		expect(await listingState(second.listingId)).toBe("open");
		expect(c.orderId).not.toBe(a.orderId);
		expect((await expectCleanAudit(drop.id)).resale).toMatchObject({ listed: 1, sold: 1, occupied: 3, broken: 0 });
	});

	it("a listing racing its own transfer ends in exactly one of them", async () => {
		const drop = await resaleDrop({ capacity: 200, maxPerFan: 4 });
		let n = 0;
		const seen = await untilEveryOutcome(["listed", "transferred"] as const, 10, async () => {
			const b = await ticketed(drop.id, `fan-resale-race-${n++}`, 4);
			return Promise.all(
				b.tickets.map(async (code, i) => {
					// Each side starts first in turn, the other a moment later or at once.
					const sides = [() => listRequest(b, code), () => fanFetch(`/api/orders/${b.orderId}/tickets/${code}/transfer`, b.orderToken, { method: "POST" })];
					const [first, second] = i % 2 === 0 ? sides : [sides[1]!, sides[0]!];
					const started = [first!(), new Promise<void>((r) => setTimeout(r, i % 4 < 2 ? 0 : 3)).then(() => second!())];
					const [a, z] = await Promise.all(started);
					const [listed, transferred] = (i % 2 === 0 ? [a, z] : [z, a]) as [Response, Response];
					const codes = [listed.status, transferred.status].sort();
					expect(codes, `${await listed.clone().text()} ${await transferred.clone().text()}`).toEqual([201, 409]);
					const [lists, transfers] = await Promise.all([
						env.DB.prepare(`SELECT COUNT(*) AS n FROM resale_listings WHERE code = ? AND state = 'open'`).bind(code).first<number>("n"),
						env.DB.prepare(`SELECT COUNT(*) AS n FROM ticket_transfers WHERE from_code = ? AND state = 'pending'`).bind(code).first<number>("n"),
					]);
					expect(lists! + transfers!).toBe(1);
					if (listed.status === 201) {
						await expectError(transferred, 409, "ticket_listed");
						return "listed" as const;
					}
					await expectError(listed, 409, "transfer_pending");
					// The pending transfer is accepted: the ticket is the recipient's, still unlisted.
					const made = (await transferred.json()) as TransferMade;
					expect((await fanFetch(`/api/transfers/${made.transfer.transferId}/accept`, made.secret, { method: "POST" })).status).toBe(201);
					return "transferred" as const;
				}),
			);
		});
		expect(seen.listed + seen.transferred).toBeGreaterThan(1);
		const a = await expectCleanAudit(drop.id);
		expect(a.resale.broken).toBe(0);
		expect(a.holders.broken).toBe(0);
	});

	it("withdraw: refused while a buyer holds the unit, then takes it back; the ticket admits again, and a repeat answers it withdrawn", async () => {
		const drop = await resaleDrop();
		const seller = await ticketed(drop.id, "fan-resale-withdraw-seller");
		const listing = await list(seller);
		const access = await admittedFan(drop.id, "fan-resale-withdraw-holder");
		const held = await hold(drop.id, access, 1);
		expect(held.status).toBe(201);
		const { holdId } = (await held.json()) as { holdId: string };
		const before = await written(drop.id);
		const busy = await expectError(await withdraw(seller, listing.listingId), 409, "listing_busy");
		expect((busy as unknown as { retryAfter: number }).retryAfter).toBe(60);
		expect(await written(drop.id)).toBe(before);
		expect((await releaseHold(drop.id, access, holdId)).status).toBe(204);

		const res = await withdraw(seller, listing.listingId);
		expect(res.status, await res.clone().text()).toBe(200);
		expect((await res.json()) as ListingAnswer).toMatchObject({ state: "withdrawn", endedAt: expect.any(String) });
		const again = await withdraw(seller, listing.listingId);
		expect(((await again.json()) as ListingAnswer).state).toBe("withdrawn");
		// The unit is off sale again: the newcomer cannot hold it, and the seller's ticket admits.
		expect((await hold(drop.id, access, 1)).status).toBe(409);
		expect((await scanOf(drop.id, seller, seller.tickets[0]!)).status).toBe(200);
		const a = await expectCleanAudit(drop.id);
		expect(a.resale).toMatchObject({ listed: 0, withdrawn: 1, sold: 0, occupied: 1, broken: 0 });
		expect(a.totals).toMatchObject({ sold: 1, remaining: 0 });
		expect(await refundRows(seller.orderId)).toEqual([]);
		// Listed again after a withdraw: a new listing.
		expect((await listRequest(seller)).status).toBe(409);
	});

	it("a listing unsold when the drop closes goes back to its seller untouched", async () => {
		const closesAt = Date.now() + 3_600_000;
		const drop = await resaleDrop({ capacity: 2, closesAt: new Date(closesAt).toISOString() });
		const seller = await ticketed(drop.id, "fan-resale-close-seller");
		const listing = await list(seller);
		const open = await sweepResale(env, Date.now(), (id) => dropRecord(env.DB, id));
		expect(open.returned).toBe(0);
		const closed = await sweepResale(env, closesAt + 1000, (id) => dropRecord(env.DB, id));
		expect(closed.returned).toBe(1);
		expect(await listingState(listing.listingId)).toBe("returned");
		expect((await readOrder(seller.orderId, seller.orderToken)).passes[0]).toMatchObject({ state: "valid" });
		expect(await refundRows(seller.orderId)).toEqual([]);
		expect(await providerRefunds(seller.orderId)).toEqual([]);
		// The next run finds nothing to return.
		expect((await sweepResale(env, closesAt + 2000, (id) => dropRecord(env.DB, id))).returned).toBe(0);
		const a = await expectCleanAudit(drop.id);
		expect(a.resale).toMatchObject({ returned: 1, listed: 0, broken: 0 });
		expect(a.totals).toMatchObject({ sold: 1, remaining: 1 });
		expect((await scanOf(drop.id, seller, seller.tickets[0]!)).status).toBe(200);
	});

	it("bad input and refusals write nothing: resale off, another order's ticket, a promoter's refund of a listed ticket, fees in both units, typed drops", async () => {
		const drop = await resaleDrop({ capacity: 3, maxPerFan: 2 }, { enabled: false });
		const b = await ticketed(drop.id, "fan-resale-bad", 2);
		const other = await ticketed(drop.id, "fan-resale-bad-other");
		const before = await written(drop.id);
		await expectError(await listRequest(b), 409, "resale_off");
		expect(await written(drop.id)).toBe(before);
		const rules = await adminFetch(`/api/admin/drops/${drop.id}/resale`, { method: "PATCH", body: JSON.stringify({ enabled: true, feeCents: 100, feePercent: 5 }) });
		await expectError(rules, 422, "fee_conflict");
		expect(((await (await adminFetch(`/api/admin/drops/${drop.id}/resale`)).json()) as ResaleRulesAnswer).enabled).toBe(false);
		const on = await adminFetch(`/api/admin/drops/${drop.id}/resale`, { method: "PATCH", body: JSON.stringify({ enabled: true, feeCents: 100 }) });
		expect(((await on.json()) as ResaleRulesAnswer)).toMatchObject({ enabled: true, feeCents: 100, feePercent: 0 });
		const ready = await written(drop.id);
		await expectError(await listRequest(b, other.tickets[0]!), 404, "not_found");
		await expectError(await listRequest(b, b.tickets[0]!, other.orderToken), 404, "not_found");
		await expectError(await listRequest(b, b.tickets[0]!, "not-a-token"), 401, "invalid_token");
		expect(await written(drop.id)).toBe(ready);
		await list(b, b.tickets[0]!);
		const listed = await written(drop.id);
		await expectError(await refund(drop.id, b.orderId, { tickets: [b.tickets[0]] }), 409, "ticket_listed");
		await expectError(await refund(drop.id, b.orderId), 409, "ticket_listed");
		expect(await written(drop.id)).toBe(listed);
		const typed = await createDrop({ admission: WIDE_OPEN, capacity: 3, ticketTypes: [{ id: "ga", name: "Floor", kind: "general", capacity: 2 }, { id: "vip", name: "VIP", kind: "general", capacity: 1 }] });
		await expectError(await adminFetch(`/api/admin/drops/${typed.id}/resale`, { method: "PATCH", body: JSON.stringify({ enabled: true }) }), 422, "resale_unsupported");
		await expectError(await patchRequest(drop.id, { feePercent: 101 }), 422, "out_of_range");
	});
});

const patchRequest = (dropId: string, body: unknown) => adminFetch(`/api/admin/drops/${dropId}/resale`, { method: "PATCH", body: JSON.stringify(body) });
