// GET /api/orders/:orderId: the buyer sees their order straight from the shard,
// before D1 has it; nobody else learns it exists.
import { describe, expect, it } from "vitest";
import { adminFetch, admittedFan, createDrop, errorCode, fanFetch } from "./helpers";
import { buy, failingQueue, ordersInD1, restoreShardSales, setShardSales, waitForOrders } from "./sales-helpers";

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
		expect(body).toMatchObject({ orderId: order.orderId, dropId: drop.id, quantity: 3, tickets: order.tickets });
		expect(body.tickets).toHaveLength(3);

		// Once the queue is back the same order reaches D1, and the buyer's view is unchanged.
		await restoreShardSales(drop.id, 0);
		await buy(drop.id, "fan-after", 1);
		expect(await waitForOrders(drop.id, 2)).toHaveLength(2);
		expect(await (await getOrder(order.orderId, order.accessToken)).json()).toEqual(body);
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
