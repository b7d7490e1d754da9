// Signed tickets at the gate: a ticket's token is checked offline
// (ES256, the JWKS) and admitted once; "already used" after, from any gate at
// once too; the gate's credential is its own, never the admin token.
import { env } from "cloudflare:test";
import { SignJWT, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { signTicketToken } from "../../src/shared/tokens";
import { buyWith, orderReaches, refund, scan } from "../support/after-sale";
import { WIDE_OPEN, createDrop } from "../support/drops";

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

describe("the gate of a promoter's drop (issues 15 and 17 together)", () => {
	it("admits with a gate or owner key of the drop's promoter; a staff key is 403, another promoter's gate key 404, a revoked key 401", async () => {
		const { createDropAs, createPromoter, keyFetch, mintKey } = await import("../support/tenants");
		const mine = await createPromoter("Gate owner");
		const other = await createPromoter("Someone else");
		const drop = await createDropAs(mine.apiKey, { admission: WIDE_OPEN, capacity: 10, maxPerFan: 4 });
		const bought = await buyWith(drop.id, "fan-gate-keys", { quantity: 3 });
		const tokens = (await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"])).passes.map((p) => p.token!);
		const gate = await mintKey(mine.apiKey, "gate");
		const staff = await mintKey(mine.apiKey, "staff");
		const strangerGate = await mintKey(other.apiKey, "gate");
		const revoked = await mintKey(mine.apiKey, "gate", "lost device");
		expect((await keyFetch(mine.apiKey, `/api/admin/keys/${revoked.id}`, { method: "DELETE" })).status).toBe(200);

		const refusals: [string, number][] = [
			[staff.apiKey, 403],
			[strangerGate.apiKey, 404],
			[revoked.apiKey, 401],
		];
		for (const [key, status] of refusals) expect((await scan(drop.id, tokens[0]!, `Bearer ${key}`)).status).toBe(status);
		// None of those admitted anything: each ticket is admitted once, by a gate key and by an owner key.
		expect((await scan(drop.id, tokens[0]!, `Bearer ${gate.apiKey}`)).status).toBe(200);
		expect((await scan(drop.id, tokens[0]!, `Bearer ${gate.apiKey}`)).status).toBe(409);
		expect((await scan(drop.id, tokens[1]!, `Bearer ${mine.apiKey}`)).status).toBe(200);
		// The deployment's GATE_TOKEN scans any drop; the operator's admin token never does.
		expect((await scan(drop.id, tokens[2]!, `Bearer ${env.ADMIN_TOKEN}`)).status).toBe(401);
		expect((await scan(drop.id, tokens[2]!)).status).toBe(200);
	});

	it("a refund by a promoter's key is in its activity log once; a repeat that changes nothing adds nothing", async () => {
		const { createDropAs, createPromoter, keyFetch } = await import("../support/tenants");
		const promoter = await createPromoter("Refunder");
		const drop = await createDropAs(promoter.apiKey, { admission: WIDE_OPEN, capacity: 10, maxPerFan: 2, priceCents: 500 });
		const bought = await buyWith(drop.id, "fan-refund-log", { quantity: 2 });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const refundAs = () => keyFetch(promoter.apiKey, `/api/admin/drops/${drop.id}/orders/${bought.orderId}/refund`, { method: "POST", body: "{}" });
		expect((await refundAs()).status).toBe(200);
		expect((await refundAs()).status).toBe(200);
		const log = (await (await keyFetch(promoter.apiKey, "/api/admin/activity")).json()) as { entries: { action: string; keyLabel: string | null; dropId: string | null; detail: Record<string, unknown> }[] };
		const refunds = log.entries.filter((e) => e.action === "order.refunded");
		expect(refunds).toHaveLength(1);
		expect(refunds[0]).toMatchObject({ keyLabel: "owner", dropId: drop.id, detail: { orderId: bought.orderId, refundedTickets: 2, amountCents: 2 * drop.priceCents, currency: drop.currency } });
	});

	it("a second refund of an order logs its own money and state, not the order's refunds so far", async () => {
		const { createDropAs, createPromoter, keyFetch } = await import("../support/tenants");
		const promoter = await createPromoter("Refunder in parts");
		const drop = await createDropAs(promoter.apiKey, { admission: WIDE_OPEN, capacity: 10, maxPerFan: 3, priceCents: 700 });
		const bought = await buyWith(drop.id, "fan-refund-parts", { quantity: 3 });
		await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		const refundAs = (body: unknown) => keyFetch(promoter.apiKey, `/api/admin/drops/${drop.id}/orders/${bought.orderId}/refund`, { method: "POST", body: JSON.stringify(body) });
		expect((await refundAs({ tickets: [bought.tickets[0]] })).status).toBe(200);
		expect((await refundAs({})).status).toBe(200);
		const log = (await (await keyFetch(promoter.apiKey, "/api/admin/activity")).json()) as { entries: { action: string; createdAt: string; detail: Record<string, unknown> }[] };
		const refunds = log.entries.filter((e) => e.action === "order.refunded");
		expect(refunds).toHaveLength(2);
		const byTickets = (n: number) => refunds.find((e) => (e.detail.refundedTickets as number) === n)!.detail;
		// The first refunded one ticket; the second the two left: each entry is that call's money.
		expect(byTickets(1)).toMatchObject({ amountCents: 700, state: "refunded", currency: drop.currency });
		expect(byTickets(3)).toMatchObject({ amountCents: 2 * 700, state: "refunded", currency: drop.currency });
	});
});
