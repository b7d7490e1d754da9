import { describe, expect, it } from "vitest";
import { adminFetch, admittedFan, createDrop, hold, purchase } from "./helpers";

describe("a fan's whole journey", () => {
	it("joins, is admitted, holds, pays and the sale is counted", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2 });
		const token = await admittedFan(drop.id, "fan-1");
		const h = await hold(drop.id, token, 2);
		expect(h.status).toBe(201);
		const { holdId } = (await h.json()) as { holdId: string };
		const p = await purchase(drop.id, token, holdId);
		expect(p.status).toBe(201);
		const order = (await p.json()) as { tickets: string[]; quantity: number };
		expect(order.quantity).toBe(2);
		expect(order.tickets).toHaveLength(2);
		const view = (await (await adminFetch(`/api/admin/drops/${drop.id}`)).json()) as { stats: Record<string, number> };
		expect(view.stats.sold).toBe(2);
		expect(view.stats.remaining).toBe(8);
	});
});
