// Refunds and cancellations: a refund is recorded with the tickets it
// takes back, asked of the provider once (by its id), and repeating it changes
// nothing; refunded tickets go back on sale only when the promoter asks, through
// the shards with the same accounting; a cancelled drop refunds every order.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DropCancelled, OrderRefunds, RefundList } from "../../src/contract/admin-answers";
import { getDrop as dropRecord } from "../../src/drops/store";
import { refundOrder } from "../../src/after-sale/refunds";
import { cancelDrop } from "../../src/after-sale/drop-cancel";
import { DUE_REFUNDS_SQL } from "../../src/after-sale/refund-sweep";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { buyWith, orderReaches, purchaseWith, readOrder, refund, scan } from "../support/after-sale";
import { expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop, getDrop } from "../support/drops";
import { forgetWatermark } from "../../src/waiting-room/watermark-cache";
import { admittedFan, hold, join, status } from "../support/fans";
import { admitBatch, roomStub, tickRoom } from "../support/room";
import { waitForOrders } from "../support/sales";
import { adminFetch } from "../support/worker";
import { testPayments } from "../../src/payments/test-provider";

const refundCount = async (orderId: string) =>
	(await env.DB.prepare(`SELECT COUNT(*) AS n FROM refunds WHERE order_id = ?`).bind(orderId).first<{ n: number }>())!.n;

describe("refunds", () => {
	it("refunds an order once: a refund of a refunded order changes nothing", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 1000 });
		const bought = await buyWith(drop.id, "fan-refund-twice", { quantity: 2 });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const paymentId = (await env.DB.prepare(`SELECT payment_id FROM orders WHERE order_id = ?`).bind(bought.orderId).first<{ payment_id: string }>())!.payment_id;

		const first = await refund(drop.id, bought.orderId);
		expect(first.status).toBe(200);
		const done = (await first.json()) as OrderRefunds;
		expect(done).toMatchObject({ orderId: bought.orderId, status: "refunded", refundedTickets: 2, changed: true });
		expect(done.refunds).toEqual([expect.objectContaining({ tickets: 2, amountCents: 2000, state: "refunded", restock: false, restocked: false })]);
		expect([...testPayments.get(paymentId)!.refunds.values()]).toEqual([2000]);

		for (const body of [undefined, { tickets: [bought.tickets[0]] }]) {
			const again = await refund(drop.id, bought.orderId, body);
			expect(again.status).toBe(200);
			expect(await again.json()).toEqual({ ...done, changed: false });
		}
		expect([...testPayments.get(paymentId)!.refunds.values()]).toEqual([2000]);
		expect(await refundCount(bought.orderId)).toBe(1);
		const order = await readOrder(bought.orderId, bought.orderToken);
		expect(order).toMatchObject({ status: "refunded", refundedTickets: 2 });
		expect(order.passes.map((p) => p.state)).toEqual(["refunded", "refunded"]);
		// Refunded stock stays sold unless the promoter puts it back: the shards still balance.
		const a = await expectCleanAudit(drop.id);
		expect(a.refunds).toEqual({ refunds: 1, tickets: 2, amountCents: 2000, restocked: 0, atGate: 0 });
	});

	it("refunds some tickets, and puts them back on sale only when asked, with no oversell", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, capacity: 2, priceCents: 500 });
		const later = await admittedFan(drop.id, "fan-restock-later");
		const bought = await buyWith(drop.id, "fan-restock-buyer", { quantity: 2 });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		expect((await hold(drop.id, later, 1)).status).toBe(409);

		// Refunded without restock: still nothing to sell.
		const kept = (await (await refund(drop.id, bought.orderId, { tickets: [bought.tickets[0]] })).json()) as OrderRefunds;
		expect(kept).toMatchObject({ status: "ticketed", refundedTickets: 1, changed: true });
		expect((await hold(drop.id, later, 1)).status).toBe(409);

		// Put back on sale: one ticket, sold again once.
		const back = (await (await refund(drop.id, bought.orderId, { tickets: [bought.tickets[1]], restock: true })).json()) as OrderRefunds;
		expect(back).toMatchObject({ status: "refunded", refundedTickets: 2, changed: true });
		expect(back.refunds[1]).toMatchObject({ tickets: 1, restock: true, restocked: true, amountCents: 500 });
		const held = await hold(drop.id, later, 1);
		expect(held.status).toBe(201);
		const { holdId } = (await held.json()) as { holdId: string };
		expect((await purchaseWith(drop.id, later, holdId, { payment: { method: "test", token: "ok" } })).status).toBe(201);
		expect((await hold(drop.id, later, 1)).status).toBe(409);
		await waitForOrders(drop.id, 2);
		const a = await expectCleanAudit(drop.id);
		expect(a.oversold).toBe(0);
		expect(a.refunds).toEqual({ refunds: 2, tickets: 2, amountCents: 1000, restocked: 1, atGate: 1 });
		const again = (await (await refund(drop.id, bought.orderId, { restock: true })).json()) as OrderRefunds;
		expect(again.changed).toBe(false);
		expect((await expectCleanAudit(drop.id)).refunds.restocked).toBe(1);
	});

	it("a sold-out drop sells again when a refund puts tickets back: the room reopens, the fan first in line since the sell-out is offered the ticket and buys", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, capacity: 1, maxPerFan: 1, priceCents: 500 });
		const bought = await buyWith(drop.id, "fan-reopen-buyer", { quantity: 1 });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		await tickRoom(drop.id);
		const soldOut = () => runInDurableObject(roomStub(drop.id), (_room, state) => state.storage.sql.exec<{ sold_out: number }>(`SELECT sold_out FROM pacer`).one().sold_out);
		expect(await soldOut()).toBe(1);
		await forgetWatermark(drop.id);
		// A fan who joins after the sell-out gets a place in line for the tickets that come back.
		const before = await join(drop.id, "fan-reopen-before");
		expect(before).toMatchObject({ status: "sold_out" });
		expect(typeof before.queueToken).toBe("string");

		expect((await refund(drop.id, bought.orderId, { restock: true })).status).toBe(200);
		expect(await soldOut()).toBe(0);
		await forgetWatermark(drop.id);
		// The returned ticket is offered to that fan, first in line, and not to one who joins after the refund.
		const after = await join(drop.id, "fan-reopen-after");
		let offered = await status(drop.id, before.queueToken);
		for (let i = 0; i < 5 && offered.status !== "admitted"; i++) {
			await admitBatch(drop.id);
			offered = await status(drop.id, before.queueToken);
		}
		expect(offered.status).toBe("admitted");
		expect((await status(drop.id, after.queueToken)).status).toBe("waiting");
		const again = offered.accessToken as string;
		const held = await hold(drop.id, again, 1);
		expect(held.status).toBe(201);
		const { holdId } = (await held.json()) as { holdId: string };
		expect((await purchaseWith(drop.id, again, holdId, { payment: { method: "test", token: "ok" } })).status).toBe(201);
		await tickRoom(drop.id);
		expect(await soldOut()).toBe(1);
		await waitForOrders(drop.id, 2);
		expect((await expectCleanAudit(drop.id)).refunds).toMatchObject({ restocked: 1, atGate: 1 });
	});

	it("a reopening that comes while the pacer gathers the totals wins over those older totals", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, capacity: 1, maxPerFan: 1, priceCents: 500 });
		await buyWith(drop.id, "fan-reopen-race", { quantity: 1 });
		const seen = await runInDurableObject(roomStub(drop.id), async (room: WaitingRoom, state) => {
			state.storage.sql.exec(`UPDATE pacer SET sold_out = 0, totals_at = NULL`);
			// The pacer's gather reads every ticket sold; before it returns, a refund's restock reopens the drop.
			const pacer = room as unknown as { env: Env };
			const real = pacer.env;
			const reopenDuring = (stub: object) =>
				new Proxy(stub, {
					get: (target, prop) =>
						prop !== "totals"
							? Reflect.get(target, prop)
							: async (...args: unknown[]) => {
									const answer = await (target as Record<string, (...a: unknown[]) => Promise<{ sold: number }>>).totals!(...args);
									await room.reopen();
									return answer;
								},
				});
			pacer.env = new Proxy(real, {
				get: (target, prop) => (prop === "INVENTORY" ? { getByName: (name: string) => reopenDuring(real.INVENTORY.getByName(name)) } : Reflect.get(target, prop)),
			});
			try {
				await room.alarm();
			} finally {
				pacer.env = real;
			}
			return state.storage.sql.exec<{ sold_out: number; totals: string }>(`SELECT sold_out, totals FROM pacer`).one();
		});
		// Both sides happened: the gather saw the drop sold out, and the reopening kept it open.
		expect(JSON.parse(seen.totals)).toMatchObject({ sold: 1 });
		expect(seen.sold_out).toBe(0);
	});

	it("a ticket already admitted at the gate is refunded but never put back on sale: its holder is inside", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, capacity: 1, priceCents: 300 });
		const later = await admittedFan(drop.id, "fan-used-later");
		const bought = await buyWith(drop.id, "fan-used-buyer", { quantity: 1 });
		const order = await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		expect((await scan(drop.id, order.passes[0]!.token!)).status).toBe(200);

		const refused = await refund(drop.id, bought.orderId, { restock: true });
		expect(refused.status).toBe(422);
		expect(((await refused.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: "ticket_used", field: "restock" });
		expect(await refundCount(bought.orderId)).toBe(0);
		expect((await hold(drop.id, later, 1)).status).toBe(409);

		// Cancelling with restock refunds it, and keeps it off sale.
		const cancelled = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST", body: JSON.stringify({ restock: true }) });
		expect(cancelled.status).toBe(200);
		expect(await cancelled.json()).toMatchObject({ refundedOrders: 1, ordersLeft: 0 });
		expect((await readOrder(bought.orderId, bought.orderToken)).status).toBe("refunded");
		const a = await expectCleanAudit(drop.id);
		expect(a.refunds).toMatchObject({ refunds: 1, tickets: 1, restocked: 0 });
		expect(a.oversold).toBe(0);
	});

	it("refuses to refund an order whose payment provider this deployment no longer takes, changing nothing", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 200 });
		const bought = await buyWith(drop.id, "fan-refund-no-provider", { quantity: 1 });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		// The same deployment with test payments turned off.
		const without = { ...env, TEST_PAYMENTS: "off" } as Env;
		const refused = await refundOrder(without, (await dropRecord(env.DB, drop.id))!, bought.orderId, { restock: false }).then(
			() => null,
			(err: unknown) => err as { status?: number; code?: string },
		);
		expect(refused).toMatchObject({ status: 422, code: "payment_method_unavailable" });
		expect(await refundCount(bought.orderId)).toBe(0);
		expect(await readOrder(bought.orderId, bought.orderToken)).toMatchObject({ refundedTickets: 0, passes: [expect.objectContaining({ state: "valid" })] });
		expect((await readOrder(bought.orderId, bought.orderToken)).status).not.toBe("refunded");
	});

	it("refuses a ticket that is not the order's, and an unknown order, changing nothing", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 100 });
		const bought = await buyWith(drop.id, "fan-refund-bad", { quantity: 1 });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const stranger = await refund(drop.id, bought.orderId, { tickets: ["ZZZZ-ZZZZ-ZZZZ-ZZZZ"] });
		expect(stranger.status).toBe(422);
		expect(((await stranger.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: "unknown_ticket", field: "tickets" });
		expect((await refund(drop.id, "o_0_AAAAAAAAAAAAAAAA")).status).toBe(404);
		expect((await refund(drop.id, bought.orderId, { restock: "yes" })).status).toBe(400);
		expect(await refundCount(bought.orderId)).toBe(0);
		expect((await readOrder(bought.orderId, bought.orderToken)).refundedTickets).toBe(0);
	});

	it("cancels a drop: pauses it and refunds every order, and a second cancel refunds nothing more", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 700 });
		const orders = await Promise.all(["a", "b", "c"].map((k) => buyWith(drop.id, `fan-cancel-${k}`, { quantity: 1 })));
		await waitForOrders(drop.id, 3);
		const res = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" });
		expect(res.status).toBe(200);
		expect(await res.json()).toMatchObject({ dropId: drop.id, refundedOrders: 3, ordersLeft: 0 } satisfies Partial<DropCancelled>);
		expect((await getDrop(drop.id)).paused).toBe(true);
		for (const o of orders) expect((await readOrder(o.orderId, o.orderToken)).status).toBe("refunded");
		const again = (await (await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" })).json()) as DropCancelled;
		expect(again).toMatchObject({ refundedOrders: 0, ordersLeft: 0 });
		const list = (await (await adminFetch(`/api/admin/drops/${drop.id}/refunds`)).json()) as RefundList;
		expect(list.totals).toEqual({ refunds: 3, tickets: 3, amountCents: 2100 });
		expect(list.refunds.map((r) => r.orderId).sort()).toEqual(orders.map((o) => o.orderId).sort());
	});
});

describe("the cron's sweep of refunds left pending", () => {
	it("finds the refunds due by an index of the unfinished ones, not by reading every refund", async () => {
		const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${DUE_REFUNDS_SQL}`).bind(new Date().toISOString(), 25).all<{ detail: string }>();
		expect(plan.results.map((r) => r.detail).join("; ")).toMatch(/SEARCH refunds USING INDEX refunds_due \(next_attempt_at<\?\)/);
	});
});

describe("a cancel that meets orders it cannot refund", () => {
	it("refunds the others, reports those left with why, and comes round to the rest however many fill a page", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 250 });
		const orders = await Promise.all(["a", "b", "c"].map((k) => buyWith(drop.id, `fan-cancel-blocked-${k}`, { quantity: 1 })));
		await waitForOrders(drop.id, 3);
		// The two the cancel meets first were paid through Stripe, which this deployment no longer takes.
		const [first, second, third] = [...orders].sort((p, q) => (p.orderId < q.orderId ? -1 : 1));
		for (const o of [first!, second!]) await env.DB.prepare(`UPDATE orders SET payment_id = ? WHERE order_id = ?`).bind(`pi_gone_${o.orderId.replace(/-/g, "_")}`, o.orderId).run();
		const without = { ...env, STRIPE_SECRET_KEY: undefined } as unknown as Env;
		const config = (await dropRecord(env.DB, drop.id))!;
		const blocked = { code: "payment_method_unavailable", message: expect.stringContaining("stripe") };

		// A page of two: both unrefundable, reported with why; nothing thrown, nothing refunded.
		const one = await cancelDrop(without, config, false, 2);
		expect(one).toMatchObject({ refundedOrders: 0, ordersLeft: 3 });
		expect(one.left).toEqual([{ orderId: first!.orderId, ...blocked }, { orderId: second!.orderId, ...blocked }]);
		// The next call moves on past them to the order after, and comes round to the first again.
		const two = await cancelDrop(without, config, false, 2);
		expect(two).toMatchObject({ refundedOrders: 1, ordersLeft: 2 });
		expect(two.left).toEqual([{ orderId: first!.orderId, ...blocked }]);
		expect((await readOrder(third!.orderId, third!.orderToken)).status).toBe("refunded");
		for (const o of [first!, second!]) {
			expect(await refundCount(o.orderId)).toBe(0);
			expect((await readOrder(o.orderId, o.orderToken)).passes.map((p) => p.state)).toEqual(["valid"]);
		}
	});
});

describe("the activity log of a cancel", () => {
	it("records the cancel of a drop paused before, with no orders, once", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 100 });
		expect((await adminFetch(`/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify({ paused: true }) })).status).toBe(200);
		const logged = async () =>
			(await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE action = 'drop.cancelled' AND drop_id = ?`).bind(drop.id).first<{ n: number }>())!.n;
		for (let call = 0; call < 2; call++) {
			const res = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" });
			expect(res.status).toBe(200);
			expect(await res.json()).toMatchObject({ dropId: drop.id, refundedOrders: 0, ordersLeft: 0 });
			// The drop is cancelled from the first call on: that change is in the log, once.
			expect(await logged()).toBe(1);
		}
	});
});

describe("after the sale of named units (issues 14 and 15 together)", () => {
	it("a seat's ticket names its seat for the gate; a refund asking to restock a seat is refused and changes nothing; cancelling with restock refunds it kept off sale", async () => {
		const { holdUnits, seatsOf } = await import("../support/named");
		const { decodeJwt } = await import("jose");
		const drop = await createDrop({
			capacity: undefined,
			maxPerFan: 2,
			shards: 2,
			priceCents: 0,
			admission: WIDE_OPEN,
			ticketTypes: [{ id: "seat", name: "Seated", kind: "seated", priceCents: 4_000, seats: seatsOf("A", 1, 4) }],
		});
		const access = await admittedFan(drop.id, "fan-seat-after");
		const held = await holdUnits(drop.id, access, { ticketType: "seat", seats: ["A-1-2", "A-1-3"] });
		expect(held.status).toBe(201);
		const { holdId } = (await held.json()) as { holdId: string };
		const bought = await purchaseWith(drop.id, access, holdId, { payment: { method: "test", token: "ok" } });
		expect(bought.status).toBe(201);
		const order = (await bought.json()) as { orderId: string; orderToken: string };
		const ticketed = await orderReaches(order.orderId, order.orderToken, ["ticketed", "receipt_sent"]);
		expect(ticketed.passes.map((p) => decodeJwt(p.token!).u).sort()).toEqual(["seat:A-1-2", "seat:A-1-3"]);

		const refused = await refund(drop.id, order.orderId, { restock: true });
		expect(refused.status).toBe(422);
		expect(await refused.json()).toEqual({ error: expect.objectContaining({ code: "restock_unsupported", field: "restock" }) });
		expect(await refundCount(order.orderId)).toBe(0);
		expect((await readOrder(order.orderId, order.orderToken)).status).not.toBe("refunded");

		const cancelled = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST", body: JSON.stringify({ restock: true }) });
		expect(await cancelled.json()).toMatchObject({ refundedOrders: 1, ordersLeft: 0 });
		expect((await readOrder(order.orderId, order.orderToken)).status).toBe("refunded");
		const a = await expectCleanAudit(drop.id);
		expect(a.refunds).toMatchObject({ refunds: 1, tickets: 2, restocked: 0, atGate: 0 });
	});
});
