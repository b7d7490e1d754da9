// GET /api/orders/:orderId: the buyer sees their order straight from the shard,
// before D1 has it, with the access token of their turn or, for as long as a
// year, the order token the purchase answered; nobody else learns it exists.
import { env } from "cloudflare:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ORDER_TOKEN_SECONDS, ORDER_TYP, verifyOrderToken } from "../../src/shared/tokens";
import { config } from "../../src/shared/config";
import { createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { admittedFan, newHold, purchase } from "../support/fans";
import { orderReaches } from "../support/after-sale";
import { buy, failingQueue, ordersInD1, restoreShardSales, setShardSales, waitForOrders } from "../support/sales";
import { adminFetch, fanFetch } from "../support/worker";

async function getOrder(orderId: string, token: string | null): Promise<Response> {
	return fanFetch(`/api/orders/${encodeURIComponent(orderId)}`, token);
}

describe("a buyer's order", () => {
	it("is visible to the buyer right after purchase, before D1 has it", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		// With the queue down the sale cannot reach D1, so what the buyer sees comes from the shard.
		await setShardSales(drop.id, 0, failingQueue);
		const order = await buy(drop.id, "fan-buyer", 3);
		expect(await ordersInD1(drop.id)).toHaveLength(0);

		const res = await getOrder(order.orderId, order.accessToken);
		expect(res.status).toBe(200);
		const body = (await res.json()) as Record<string, unknown>;
		expect(body).toMatchObject({ orderId: order.orderId, dropId: drop.id, quantity: 3, tickets: order.tickets, status: "paid" });
		expect(body.tickets).toHaveLength(3);

		// Once the queue is back the same order reaches D1, and the buyer's view of it is unchanged
		// (what came after the sale, its status and signed tickets, only moves forward).
		await restoreShardSales(drop.id, 0);
		await buy(drop.id, "fan-after", 1);
		expect(await waitForOrders(drop.id, 2)).toHaveLength(2);
		const { status: _status, statusDetail: _detail, refundedTickets: _refunded, passes: _passes, ...fromShard } = body;
		expect(await (await getOrder(order.orderId, order.accessToken)).json()).toMatchObject(fromShard);
	});

	it("answers 404 to anyone else, whoever they are", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		const order = await buy(drop.id, "fan-owner", 2);

		// Another fan admitted to the same drop.
		const other = await admittedFan(drop.id, "fan-snoop");
		let res = await getOrder(order.orderId, other);
		expect(res.status).toBe(404);
		expect(await errorCode(res)).toBe("not_found");

		// The same fan id admitted to another drop: a token for that drop does not reach this one.
		const elsewhere = await createDrop({ capacity: 10, shards: 2 });
		const sameNameElsewhere = await admittedFan(elsewhere.id, "fan-owner");
		res = await getOrder(order.orderId, sameNameElsewhere);
		expect(res.status).toBe(404);

		// An order id that does not exist, or is not one of ours, is the same 404 to the buyer.
		const unknown = order.orderId.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
		expect((await getOrder(unknown, order.accessToken)).status).toBe(404);
		expect((await getOrder("o_9_AAAAAAAAAAAAAAAA", order.accessToken)).status).toBe(404);
		expect((await getOrder("not-an-order", order.accessToken)).status).toBe(404);

		// No token, a garbage token, or the admin token: not a buyer at all.
		expect((await getOrder(order.orderId, null)).status).toBe(401);
		expect((await getOrder(order.orderId, "not.a.jwt")).status).toBe(401);
		const admin = await adminFetch(`/api/orders/${order.orderId}`);
		expect(admin.status).toBe(401);

		// The buyer still sees it.
		expect((await getOrder(order.orderId, order.accessToken)).status).toBe(200);
	});
});

describe("the order token", () => {
	afterEach(() => {
		vi.useRealTimers();
	});

	it("comes with the purchase and its replays: its own kind, a year long, bound to the drop, the fan and the order", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		const accessToken = await admittedFan(drop.id, "fan-keeper");
		const held = await newHold(drop.id, accessToken, 2);
		const first = await purchase(drop.id, accessToken, held.holdId);
		expect(first.status).toBe(201);
		const order = (await first.json()) as { orderId: string; tickets: string[]; createdAt: string; orderToken: string };

		expect(decodeProtectedHeader(order.orderToken)).toMatchObject({ alg: "ES256", typ: ORDER_TYP });
		const claims = decodeJwt(order.orderToken);
		expect(claims).toMatchObject({ aud: `drop:${drop.id}`, sub: "fan-keeper", oid: order.orderId });
		// A year from the purchase.
		expect(claims.iat).toBe(Math.floor(Date.parse(order.createdAt) / 1000));
		expect(claims.exp! - claims.iat!).toBe(ORDER_TOKEN_SECONDS);
		expect(ORDER_TOKEN_SECONDS).toBe(365 * 24 * 3600);

		// A replayed purchase answers the same order, with a token for it too.
		const replay = await purchase(drop.id, accessToken, held.holdId);
		expect(replay.status).toBe(201);
		expect(replay.headers.get("idempotent-replayed")).toBe("true");
		const again = (await replay.json()) as { orderId: string; orderToken: string };
		expect(again.orderId).toBe(order.orderId);
		expect(decodeJwt(again.orderToken)).toEqual(claims);
		expect(await verifyOrderToken(env, again.orderToken, drop.id)).toEqual({ dropId: drop.id, fanId: "fan-keeper", orderId: order.orderId });
	});

	it("reads the order once the turn and its access token have expired, until the year is out", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		const order = await buy(drop.id, "fan-later", 2);
		// Read it once ticketed: until then each read signs its tickets afresh (ES256 signatures differ every time).
		await orderReaches(order.orderId, order.orderToken, ["ticketed", "receipt_sent"]);
		const { status: _status, ...expected } = (await (await getOrder(order.orderId, order.accessToken)).json()) as Record<string, unknown>;
		expect(expected).toMatchObject({ orderId: order.orderId, tickets: order.tickets });

		// Past the end of the turn (jose checks tokens against Date.now()): the access token is refused.
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(Date.now() + (config(env).accessTokenSeconds + 60) * 1000);
		const expired = await getOrder(order.orderId, order.accessToken);
		expect({ status: expired.status, code: await errorCode(expired) }).toEqual({ status: 401, code: "token_expired" });
		// The order token reads the same order, codes and all.
		const later = await getOrder(order.orderId, order.orderToken);
		expect(later.status).toBe(200);
		const { status: laterStatus, ...laterOrder } = (await later.json()) as Record<string, unknown>;
		expect(["ticketed", "receipt_sent"]).toContain(laterStatus);
		expect(laterOrder).toEqual(expected);

		// Eleven months on, still; a year and a day on, it has expired too.
		vi.setSystemTime(Date.now() + 330 * 24 * 3600 * 1000);
		expect((await getOrder(order.orderId, order.orderToken)).status).toBe(200);
		vi.setSystemTime(Date.now() + 36 * 24 * 3600 * 1000);
		const yearOut = await getOrder(order.orderId, order.orderToken);
		expect({ status: yearOut.status, code: await errorCode(yearOut) }).toEqual({ status: 401, code: "token_expired" });
	});

	it("reads its own order only: another order of the same fan, another drop's, or one that does not exist is the same 404", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		const mine = await buy(drop.id, "fan-two-orders", 1);
		// The same fan's second order, in the same drop.
		const h = await newHold(drop.id, mine.accessToken, 1);
		const second = (await (await purchase(drop.id, mine.accessToken, h.holdId)).json()) as { orderId: string; orderToken: string };
		expect(second.orderId).not.toBe(mine.orderId);
		// The same fan id's order in another drop.
		const elsewhere = await createDrop({ capacity: 10, shards: 2 });
		const theirs = await buy(elsewhere.id, "fan-two-orders", 1);

		const notFound = { status: 404, body: { error: { code: "not_found", message: "No such order." } } };
		const answer = async (res: Response) => ({ status: res.status, body: await res.json() });
		const unknown = mine.orderId.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
		for (const [orderId, token] of [
			[second.orderId, mine.orderToken],
			[mine.orderId, second.orderToken],
			[mine.orderId, theirs.orderToken],
			[theirs.orderId, mine.orderToken],
			[unknown, mine.orderToken],
			["o_9_AAAAAAAAAAAAAAAA", mine.orderToken],
			["not-an-order", mine.orderToken],
		] as const) {
			expect(await answer(await getOrder(orderId, token))).toEqual(notFound);
		}
		// Each token still reads its own.
		for (const [orderId, token] of [
			[mine.orderId, mine.orderToken],
			[second.orderId, second.orderToken],
			[theirs.orderId, theirs.orderToken],
		] as const) {
			expect((await getOrder(orderId, token)).status).toBe(200);
		}
	});
});

