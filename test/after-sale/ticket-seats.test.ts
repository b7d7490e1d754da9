// A seated ticket names its seat at the order's read: section, row and number
// from the drop's seat directory, both before the order reaches D1 (from the
// shard's seats, in ticket order) and after (from each ticket's row), so the
// fan's QR tickets say which seat each one is; other tickets name none.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { orderProgress } from "../../src/after-sale/order-store";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { saleMessage, storeSales } from "../support/sales";

describe("a seated ticket names its seat at the order's read", () => {
	it("before and after the order reaches D1, each pass carries its own seat's section, row and number", async () => {
		const seats = [{ id: "F-D-5", section: "Floor", row: "D", number: 5 }, { id: "F-D-6", section: "Floor", row: "D", number: 6 }, { id: "B-A-1", section: "Balcony", row: "A", number: 1 }];
		const drop = await createDrop({ capacity: undefined, priceCents: 0, admission: WIDE_OPEN, ticketTypes: [{ id: "seat", name: "Seated", kind: "seated", priceCents: 4_000, seats }] });
		// Ticket order is not seat order: each pass is matched to its own seat.
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_seat_names", quantity: 2, ticketType: "seat", seats: ["F-D-6", "F-D-5"] });
		const named = [
			{ id: "F-D-6", section: "Floor", row: "D", number: 6 },
			{ id: "F-D-5", section: "Floor", row: "D", number: 5 },
		];
		const early = await orderProgress(env, sale.orderId, sale.tickets, { dropId: drop.id, seats: sale.seats });
		expect(early.status).toBe("paid");
		expect(early.passes.map((p) => [p.code, p.seat])).toEqual(sale.tickets.map((code, i) => [code, named[i]]));
		await storeSales([sale]);
		const stored = await orderProgress(env, sale.orderId, sale.tickets, { dropId: drop.id, seats: sale.seats });
		expect(stored.passes.every((p) => p.token !== null)).toBe(true);
		expect(stored.passes.map((p) => [p.code, p.seat])).toEqual(sale.tickets.map((code, i) => [code, named[i]]));
	});

	it("names no seat on a ticket that has none", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_no_seat", quantity: 2 });
		await storeSales([sale]);
		const read = await orderProgress(env, sale.orderId, sale.tickets, { dropId: drop.id });
		expect(read.passes.map((p) => "seat" in p)).toEqual([false, false]);
	});
});
