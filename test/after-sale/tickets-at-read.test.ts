// A ticket as soon as the sale is durable: the order read signs each ticket D1
// holds, with no write and without waiting for the post-sale follow-up, and the
// gate admits it once; a refunded ticket gets no token and its old one is refused,
// and so does a ticket whose payment the follow-up found not taken.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { orderProgress } from "../../src/after-sale/order-store";
import { verifyTicketToken } from "../../src/shared/tokens";
import { scan } from "../support/after-sale";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { FOLLOW_UP_QUEUE, consumeFollowUps } from "../../src/after-sale/follow-up";
import { runQueueBatch, saleMessage, storeSales } from "../support/sales";

const storedTokens = async (orderId: string) =>
	(await env.DB.prepare(`SELECT token FROM tickets WHERE order_id = ? ORDER BY seq`).bind(orderId).all<{ token: string | null }>()).results.map((r) => r.token);

describe("tickets signed at the order's read", () => {
	it("gives every ticket of an order just stored in D1 a token the gate admits once, before any follow-up ran", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_read_sign", quantity: 3 });
		// In D1 exactly as the sales consumer writes it, with no follow-up started.
		await storeSales([sale]);
		const read = await orderProgress(env, sale.orderId, sale.tickets);
		expect(read.status).toBe("paid");
		expect(read.passes.map((p) => p.code)).toEqual(sale.tickets);
		for (const pass of read.passes) {
			expect(pass.state).toBe("valid");
			expect(await verifyTicketToken(env, pass.token!, drop.id)).toEqual({ dropId: drop.id, orderId: sale.orderId, code: pass.code });
		}
		// Signing at the read wrote nothing.
		expect(await storedTokens(sale.orderId)).toEqual([null, null, null]);
		// A second read signs the same claims again; both tokens name the one ticket, which is admitted once.
		const again = await orderProgress(env, sale.orderId, sale.tickets);
		expect(await verifyTicketToken(env, again.passes[0]!.token!, drop.id)).toEqual(await verifyTicketToken(env, read.passes[0]!.token!, drop.id));
		expect((await scan(drop.id, read.passes[0]!.token!)).status).toBe(200);
		expect((await scan(drop.id, again.passes[0]!.token!)).status).toBe(409);
		for (const pass of read.passes.slice(1)) expect((await scan(drop.id, pass.token!)).status).toBe(200);
		expect((await orderProgress(env, sale.orderId, sale.tickets)).passes.map((p) => p.state)).toEqual(["used", "used", "used"]);
	});

	it("takes back the tickets of an order whose payment the follow-up found not taken: no token at the read, refused at the gate", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_unknown_read", quantity: 2 });
		await storeSales([sale]);
		await env.DB.prepare(`UPDATE orders SET workflow_runs = 1 WHERE order_id = ?`).bind(sale.orderId).run();
		// Signed at the read before the follow-up ran: the fan already holds these.
		const early = await orderProgress(env, sale.orderId, sale.tickets);
		expect(early.passes.every((p) => p.token !== null)).toBe(true);
		await runQueueBatch(FOLLOW_UP_QUEUE, [{ id: "f-unpaid", attempts: 1, body: { v: 1, orderId: sale.orderId, run: 1 } }], (b) => consumeFollowUps(b, env));
		const after = await orderProgress(env, sale.orderId, sale.tickets);
		expect(after.status).toBe("failed");
		expect(after.passes.map((p) => p.token)).toEqual([null, null]);
		const refused = await scan(drop.id, early.passes[0]!.token!);
		expect(refused.status).toBe(409);
		expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("payment_not_taken");
		expect(await storedTokens(sale.orderId)).toEqual([null, null]);
	});

	it("signs a named ticket with its unit, and a stored token stays the one shown", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_read_unit", quantity: 2, ticketType: "vip", slot: "evening" });
		await storeSales([sale]);
		const read = await orderProgress(env, sale.orderId, sale.tickets);
		for (const pass of read.passes) expect((await verifyTicketToken(env, pass.token!, drop.id)).unit).toBe("vip@evening");
		await env.DB.prepare(`UPDATE tickets SET token = 'stored-token' WHERE code = ?`).bind(sale.tickets[0]).run();
		expect((await orderProgress(env, sale.orderId, sale.tickets)).passes[0]!.token).toBe("stored-token");
	});

	it("gives a refunded ticket no token, and the gate refuses the one it was shown before", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_read_refund", quantity: 2 });
		await storeSales([sale]);
		const before = await orderProgress(env, sale.orderId, sale.tickets);
		await env.DB.prepare(`UPDATE tickets SET refund_id = 'r_test' WHERE code = ?`).bind(sale.tickets[1]).run();
		const after = await orderProgress(env, sale.orderId, sale.tickets);
		expect(after.passes[1]).toEqual({ code: sale.tickets[1], token: null, state: "refunded" });
		const refused = await scan(drop.id, before.passes[1]!.token!);
		expect(refused.status).toBe(409);
		expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("ticket_refunded");
		expect((await scan(drop.id, after.passes[0]!.token!)).status).toBe(200);
	});
});
