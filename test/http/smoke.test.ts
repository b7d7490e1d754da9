// The whole journey through SELF, the real HTTP path into the Worker (the
// other files call the fetch handler directly for speed; see callWorker).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admitBatch } from "../support/room";
import { fanFetch } from "../support/worker";

/** A request through SELF with a bearer token (the admin's or a fan's): its status and JSON body. */
async function call(path: string, token: string | null, init: RequestInit = {}) {
	const res = await fanFetch(path, token, init, { via: "self" });
	return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("a fan's whole journey over HTTP", () => {
	it("joins, is admitted, holds, pays, sees the order, and the sale is counted", async () => {
		const created = await call("/api/admin/drops", env.ADMIN_TOKEN, {
			method: "POST",
			body: JSON.stringify({ name: "Smoke", capacity: 10, maxPerFan: 4, shards: 2, opensAt: new Date(Date.now() - 1000).toISOString(), admission: { batchSize: 10, intervalMs: 250 } }),
		});
		expect(created.status).toBe(201);
		const dropId = created.body.id as string;

		const joined = await call(`/api/drops/${dropId}/join`, null, { method: "POST", body: JSON.stringify({ fanId: "smoke-fan" }) });
		expect(joined.status).toBe(201);
		expect(joined.body.position).toBe(1);
		await admitBatch(dropId);
		const polled = await call(`/api/drops/${dropId}/status`, joined.body.queueToken as string);
		expect(polled.body.status).toBe("admitted");
		const access = polled.body.accessToken as string;

		const held = await call(`/api/drops/${dropId}/holds`, access, { method: "POST", headers: { "idempotency-key": "smoke-1" }, body: JSON.stringify({ quantity: 2 }) });
		expect(held.status).toBe(201);
		const bought = await call(`/api/drops/${dropId}/holds/${held.body.holdId as string}/purchase`, access, {
			method: "POST",
			body: JSON.stringify({ payment: { method: "test", token: "ok" } }),
		});
		expect(bought.status).toBe(201);
		expect(bought.body.tickets).toHaveLength(2);

		const order = await call(`/api/orders/${bought.body.orderId as string}`, access);
		expect(order.status).toBe(200);
		expect(order.body.tickets).toEqual(bought.body.tickets);

		const view = await call(`/api/admin/drops/${dropId}`, env.ADMIN_TOKEN);
		expect(view.body.stats).toMatchObject({ sold: 2, remaining: 8, held: 0, joined: 1, admitted: 1 });
	});
});
