// Signed tickets at the gate (issue 15): a ticket's token is checked offline
// (ES256, the JWKS) and admitted once; "already used" after, from any gate at
// once too; the gate's credential is its own, never the admin token.
import { env } from "cloudflare:test";
import { SignJWT, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { signTicketToken } from "../src/tokens";
import { buyWith, orderReaches, refund, scan } from "./support/after-sale";
import { WIDE_OPEN, createDrop } from "./support/drops";

async function ticketedOrder(fanId: string, quantity = 2) {
	const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 1000 });
	const bought = await buyWith(drop.id, fanId, { quantity });
	const order = await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
	return { drop, bought, tokens: order.passes.map((p) => p.token!) };
}

describe("the gate", () => {
	it("admits a ticket scanned twice once, and says when it was used", async () => {
		const { drop, bought, tokens } = await ticketedOrder("fan-scan-twice");
		const first = await scan(drop.id, tokens[0]!);
		expect(first.status).toBe(200);
		const admitted = (await first.json()) as { admitted: boolean; orderId: string; ticket: string; scannedAt: string };
		expect(admitted).toMatchObject({ admitted: true, orderId: bought.orderId, ticket: bought.tickets[0] });
		const second = await scan(drop.id, tokens[0]!);
		expect(second.status).toBe(409);
		expect(await second.json()).toEqual({ error: expect.objectContaining({ code: "already_used", scannedAt: admitted.scannedAt }) });
		// The order's other ticket is its own.
		expect((await scan(drop.id, tokens[1]!)).status).toBe(200);
		const passes = (await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"])).passes;
		expect(passes.map((p) => p.state)).toEqual(["used", "used"]);
	});

	it("admits a ticket once when many gates scan it at the same moment", async () => {
		const { drop, tokens } = await ticketedOrder("fan-scan-race", 1);
		const answers = await Promise.all(Array.from({ length: 20 }, () => scan(drop.id, tokens[0]!)));
		const statuses = answers.map((r) => r.status).sort();
		expect(statuses.filter((s) => s === 200)).toHaveLength(1);
		expect(statuses.filter((s) => s === 409)).toHaveLength(19);
	});

	it("refuses a refunded ticket", async () => {
		const { drop, bought, tokens } = await ticketedOrder("fan-scan-refunded", 2);
		expect((await refund(drop.id, bought.orderId, { tickets: [bought.tickets[1]] })).status).toBe(200);
		const refused = await scan(drop.id, tokens[1]!);
		expect(refused.status).toBe(409);
		expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("ticket_refunded");
		expect((await scan(drop.id, tokens[0]!)).status).toBe(200);
	});

	it("takes only the gate's credential: not the admin token, not none", async () => {
		const { drop, tokens } = await ticketedOrder("fan-scan-auth", 1);
		for (const authorization of [`Bearer ${env.ADMIN_TOKEN}`, null, "Bearer not-the-gate"]) {
			const res = await scan(drop.id, tokens[0]!, authorization);
			expect(res.status).toBe(401);
			expect(res.headers.get("www-authenticate")).toContain("gate");
		}
		// Nothing was admitted by the refused scans.
		expect((await scan(drop.id, tokens[0]!)).status).toBe(200);
	});

	it("refuses a ticket signed by anyone else, another drop's ticket, and a ticket for an order that does not exist", async () => {
		const { drop, bought } = await ticketedOrder("fan-scan-forged", 1);
		const { privateKey } = await generateKeyPair("ES256");
		const forged = await new SignJWT({ oid: bought.orderId, tid: bought.tickets[0] })
			.setProtectedHeader({ alg: "ES256", kid: "test-current", typ: "ticket+jwt" })
			.setAudience(`drop:${drop.id}`)
			.setIssuedAt()
			.sign(privateKey);
		const refusedForged = await scan(drop.id, forged);
		expect(refusedForged.status).toBe(422);
		expect(((await refusedForged.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: "invalid_ticket", field: "ticket" });
		const other = await createDrop({ admission: WIDE_OPEN });
		const elsewhere = await signTicketToken(env, { dropId: other.id, orderId: bought.orderId, code: bought.tickets[0]! });
		expect((await scan(drop.id, elsewhere)).status).toBe(422);
		const unknown = await signTicketToken(env, { dropId: drop.id, orderId: "o_0_AAAAAAAAAAAAAAAA", code: "0000-0000-0000-0000" });
		expect((await scan(drop.id, unknown)).status).toBe(404);
		// The real ticket is still good.
		expect((await scan(drop.id, (await signTicketToken(env, { dropId: drop.id, orderId: bought.orderId, code: bought.tickets[0]! })))).status).toBe(200);
	});
});
