// Invariant 10: ticket types, reserved seats and timeslots. A seat
// (or a slot's unit) is sold at most once per drop; a multi-seat hold is all or
// none; best available keeps seats together; the per-fan limits (per type and the
// drop's total) hold across types, sections and shards; expiry returns seats; the
// audit and D1 carry types and seats.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop, dropsInD1 } from "../support/drops";
import { errorCode } from "../support/errors";
import { admittedFans, newKey, purchase, releaseHold } from "../support/fans";
import { holdUnits, seatStates, seatsCsv, seatsInD1, seatsOf, sectionsOnDifferentShards, uploadSeats } from "../support/named";
import { backdateHold, shardOfHold, shardStub } from "../support/shards";
import { purchaseWith } from "../support/after-sale";
import { waitUntil } from "../support/wait";
import { adminFetch, fanFetch } from "../support/worker";
import { saleStatements } from "../../src/sales/consumer";
import { orderRecord, orderTickets, saleOfRecord } from "../../src/after-sale/order-store";
import type { InventoryShard } from "../../src/inventory/inventory-shard";

const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

/** A drop of general admission, a VIP type, a seated type and timeslots. */
function typedDrop(overrides: Record<string, unknown> = {}, seats = [...seatsOf("A", 2, 10), ...seatsOf("B", 2, 10)], extra: unknown[] = []) {
	return createDrop({
		capacity: undefined,
		maxPerFan: 4,
		shards: 4,
		admission: WIDE_OPEN,
		ticketTypes: [
			{ id: "floor", name: "Floor", kind: "general", priceCents: 5_000, capacity: 50 },
			{ id: "vip", name: "VIP", kind: "general", priceCents: 20_000, maxPerFan: 1, capacity: 5 },
			{ id: "seat", name: "Seated", kind: "seated", priceCents: 8_000, seats },
			{
				id: "slot",
				name: "Museum",
				kind: "timeslot",
				priceCents: 1_500,
				slots: [
					{ id: "10am", startsAt: "2026-12-01T10:00:00Z", capacity: 5 },
					{ id: "11am", startsAt: "2026-12-01T11:00:00Z", capacity: 30 },
				],
			},
			...extra,
		],
		...overrides,
	});
}

type HoldAnswer = { holdId: string; quantity: number; seats?: string[]; slot?: string; ticketType?: string; together?: boolean };

describe("ticket types", () => {
	it("a drop with types keeps them, counts its capacity from them, and shows them to fans with prices", async () => {
		const drop = await typedDrop();
		expect(drop.capacity).toBe(50 + 5 + 40 + 35);
		expect(drop.ticketTypes.map((t) => [t.id, t.kind, t.capacity, t.priceCents])).toEqual([
			["floor", "general", 50, 5_000],
			["vip", "general", 5, 20_000],
			["seat", "seated", 40, 8_000],
			["slot", "timeslot", 35, 1_500],
		]);
		expect(drop.ticketTypes[2]!.sections).toEqual([
			{ name: "A", seats: 20 },
			{ name: "B", seats: 20 },
		]);
		expect(await seatsInD1(drop.id)).toBe(40);
		const view = (await (await fanFetch(`/api/drops/${drop.id}`, null)).json()) as { ticketTypes: unknown[]; capacity: number };
		expect(view.capacity).toBe(130);
		expect(view.ticketTypes).toEqual(drop.ticketTypes);
		const a = await expectCleanAudit(drop.id);
		expect(a.named.ok).toBe(true);
		expect(a.named.types.map((t) => [t.ticketType, t.free])).toEqual([
			["floor", 50],
			["vip", 5],
			["seat", 40],
			["slot", 35],
		]);
	});

	it("a drop made the old way is one general type, and a hold of {quantity} buys it as before", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2, priceCents: 700, admission: WIDE_OPEN });
		expect(drop.ticketTypes).toEqual([{ id: "general", name: "General admission", kind: "general", priceCents: 700, maxPerFan: 4, capacity: 10 }]);
		const token = (await admittedFans(drop.id, ["plain"])).get("plain")!;
		const hold = (await (await holdUnits(drop.id, token, { quantity: 2 })).json()) as HoldAnswer;
		expect(hold).not.toHaveProperty("ticketType");
		const bought = await purchase(drop.id, token, hold.holdId);
		expect(bought.status).toBe(201);
		expect(await bought.json()).toMatchObject({ quantity: 2, totalCents: 1_400 });
		// Naming the one type is the same hold.
		expect((await holdUnits(drop.id, token, { ticketType: "general", quantity: 1 })).status).toBe(201);
		expect((await expectCleanAudit(drop.id)).named.types).toMatchObject([{ ticketType: "general", capacity: 10, sold: 2, held: 1, free: 7 }]);
	});

	it("general holds of the first type, a further general type and a slot each charge their own price", async () => {
		const drop = await typedDrop();
		const token = (await admittedFans(drop.id, ["buyer"])).get("buyer")!;
		const floor = (await (await holdUnits(drop.id, token, { quantity: 1 })).json()) as HoldAnswer;
		const vip = (await (await holdUnits(drop.id, token, { ticketType: "vip", quantity: 1 })).json()) as HoldAnswer;
		const slot = (await (await holdUnits(drop.id, token, { ticketType: "slot", slot: "11am", quantity: 2 })).json()) as HoldAnswer;
		expect(vip).toMatchObject({ ticketType: "vip", quantity: 1 });
		expect(slot).toMatchObject({ ticketType: "slot", slot: "11am", quantity: 2 });
		const totals = [];
		for (const h of [floor, vip, slot]) {
			const res = await purchase(drop.id, token, h.holdId);
			expect(res.status).toBe(201);
			totals.push(((await res.json()) as { totalCents: number }).totalCents);
		}
		expect(totals).toEqual([5_000, 20_000, 3_000]);
	});
});

describe("reserved seats", () => {
	it("ten fans racing for one seat: exactly one gets it, the others hear seats_taken", async () => {
		const drop = await typedDrop();
		const fans = Array.from({ length: 10 }, (_, i) => `racer-${i}`);
		const tokens = await admittedFans(drop.id, fans);
		const answers = await Promise.all(fans.map((f) => holdUnits(drop.id, tokens.get(f)!, { ticketType: "seat", section: "A", seats: ["A-1-1"] })));
		const won = answers.filter((r) => r.status === 201);
		expect(won).toHaveLength(1);
		for (const r of answers.filter((r) => r.status !== 201)) {
			expect(r.status).toBe(409);
			expect(await errorCode(r)).toBe("seats_taken");
		}
		const winner = (await won[0]!.json()) as HoldAnswer;
		expect(winner.seats).toEqual(["A-1-1"]);
		expect((await seatStates(drop.id, 4, "seat", "A")).get("A-1-1")).toBe("held");
		const a = await expectCleanAudit(drop.id);
		expect(a.named.types.find((t) => t.ticketType === "seat")).toMatchObject({ held: 1, free: 39, consistent: true });
	});

	it("overlapping multi-seat holds at once: each gets all its seats or none, and no seat goes to two holds", async () => {
		const drop = await typedDrop();
		const wants = [
			["A-1-1", "A-1-2", "A-1-3"],
			["A-1-3", "A-1-4"],
			["A-1-4", "A-1-5", "A-1-6"],
			["A-1-6", "A-1-7"],
			["A-1-2", "A-1-7"],
			["A-1-8", "A-1-9"],
		];
		const fans = wants.map((_, i) => `overlap-${i}`);
		const tokens = await admittedFans(drop.id, fans);
		const answers = await Promise.all(wants.map((seats, i) => holdUnits(drop.id, tokens.get(fans[i]!)!, { ticketType: "seat", seats })));
		const states = await seatStates(drop.id, 4, "seat", "A");
		const granted: string[] = [];
		for (const [i, res] of answers.entries()) {
			if (res.status === 201) {
				const hold = (await res.json()) as HoldAnswer;
				expect(hold.seats).toEqual(wants[i]);
				granted.push(...wants[i]!);
			} else {
				expect(res.status).toBe(409);
				expect(await errorCode(res)).toBe("seats_taken");
			}
		}
		// Both sides happened: some holds won, some lost, and the last one (no overlap) always won.
		expect(answers[5]!.status).toBe(201);
		expect(answers.some((r) => r.status === 409)).toBe(true);
		expect(new Set(granted).size).toBe(granted.length);
		const held = [...states].filter(([, s]) => s === "held").map(([id]) => id);
		expect(held.sort()).toEqual([...granted].sort());
		await expectCleanAudit(drop.id);
	});

	it("best available keeps seats side by side in one row, and says when it cannot", async () => {
		const drop = await typedDrop({}, seatsOf("A", 2, 6));
		const tokens = await admittedFans(drop.id, ["a", "b", "c", "d"]);
		// Row 1: seats 3 and 5 taken, so no run of 3 is left there; row 2 has one.
		expect((await holdUnits(drop.id, tokens.get("a")!, { ticketType: "seat", seats: ["A-1-3"] })).status).toBe(201);
		expect((await holdUnits(drop.id, tokens.get("a")!, { ticketType: "seat", seats: ["A-1-5"] })).status).toBe(201);
		const three = (await (await holdUnits(drop.id, tokens.get("b")!, { ticketType: "seat", section: "A", quantity: 3 })).json()) as HoldAnswer;
		expect(three).toMatchObject({ seats: ["A-2-1", "A-2-2", "A-2-3"], together: true });
		// Two side by side: row 1's first pair (1, 2).
		const two = (await (await holdUnits(drop.id, tokens.get("c")!, { ticketType: "seat", quantity: 2 })).json()) as HoldAnswer;
		expect(two).toMatchObject({ seats: ["A-1-1", "A-1-2"], together: true });
		// Left: A-1-4, A-1-6, A-2-4..6. Four are never side by side: the best four, not together.
		const four = (await (await holdUnits(drop.id, tokens.get("d")!, { ticketType: "seat", section: "A", quantity: 4 })).json()) as HoldAnswer;
		expect(four).toMatchObject({ seats: ["A-1-4", "A-1-6", "A-2-4", "A-2-5"], together: false });
	});

	it("an expired hold gives its seats back on their shard; a released one too", async () => {
		const drop = await typedDrop();
		const tokens = await admittedFans(drop.id, ["slow", "next"]);
		const hold = (await (await holdUnits(drop.id, tokens.get("slow")!, { ticketType: "seat", seats: ["B-1-1", "B-1-2"] })).json()) as HoldAnswer;
		expect((await holdUnits(drop.id, tokens.get("next")!, { ticketType: "seat", seats: ["B-1-2"] })).status).toBe(409);
		await backdateHold(drop.id, hold.holdId);
		// The hold's home shard expires it and tells the seats' shard.
		await runDurableObjectAlarm(shardStub(drop.id, shardOfHold(hold.holdId)));
		const states = await seatStates(drop.id, 4, "seat", "B");
		expect([states.get("B-1-1"), states.get("B-1-2")]).toEqual(["free", "free"]);
		const again = (await (await holdUnits(drop.id, tokens.get("next")!, { ticketType: "seat", seats: ["B-1-2"] })).json()) as HoldAnswer;
		expect(again.seats).toEqual(["B-1-2"]);
		expect((await releaseHold(drop.id, tokens.get("next")!, again.holdId)).status).toBe(204);
		expect((await seatStates(drop.id, 4, "seat", "B")).get("B-1-2")).toBe("free");
		const a = await expectCleanAudit(drop.id);
		expect(a.named.noticesPending).toBe(0);
		expect(a.named.types.find((t) => t.ticketType === "seat")).toMatchObject({ free: 40, held: 0, sold: 0 });
	});

	it("bought seats reach D1 once, on their tickets; the order, the sales and the audit name them", async () => {
		const drop = await typedDrop();
		const token = (await admittedFans(drop.id, ["seated"])).get("seated")!;
		const hold = (await (await holdUnits(drop.id, token, { ticketType: "seat", section: "A", quantity: 2 })).json()) as HoldAnswer;
		const res = await purchase(drop.id, token, hold.holdId);
		expect(res.status).toBe(201);
		const order = (await res.json()) as { orderId: string; seats: string[]; ticketType: string; tickets: string[]; totalCents: number };
		expect(order).toMatchObject({ ticketType: "seat", seats: ["A-1-1", "A-1-2"], totalCents: 16_000 });
		const states = await seatStates(drop.id, 4, "seat", "A");
		expect([states.get("A-1-1"), states.get("A-1-2")]).toEqual(["sold", "sold"]);
		await waitUntil(async () => (await audit(drop.id)).recordedTickets === 2, 20_000, "the seated sale in D1", 100);
		const rows = await env.DB.prepare(`SELECT code, seat_id, ticket_type FROM tickets WHERE order_id = ? ORDER BY seq`).bind(order.orderId).all();
		expect(rows.results).toEqual(order.tickets.map((code, i) => ({ code, seat_id: order.seats[i], ticket_type: "seat" })));
		const sales = (await (await adminFetch(`/api/admin/drops/${drop.id}/sales`)).json()) as { sales: { ticketType: string; seats: string[] }[] };
		expect(sales.sales).toMatchObject([{ ticketType: "seat", seats: ["A-1-1", "A-1-2"], slot: null }]);
		const a = await expectCleanAudit(drop.id);
		expect(a.named).toMatchObject({ ok: true, seatsSold: 2, seatsRecorded: 2, seatsSoldTwice: 0 });
		expect(a.named.types.find((t) => t.ticketType === "seat")).toMatchObject({ sold: 2, soldToFans: 2, recorded: 2, consistent: true });
	});

	it("a sale rebuilt from D1 (the Workflow of a retried or missed order) is the message its shard sent: seats, slot and receipt address too", async () => {
		const drop = await typedDrop();
		const tokens = await admittedFans(drop.id, ["rebuilt-seats", "rebuilt-slot"]);
		const bought: { orderId: string; holdId: string }[] = [];
		for (const [fan, body] of [
			["rebuilt-seats", { ticketType: "seat", seats: ["B-2-3", "B-2-4"] }],
			["rebuilt-slot", { ticketType: "slot", slot: "11am", quantity: 2 }],
		] as const) {
			const token = tokens.get(fan)!;
			const hold = (await (await holdUnits(drop.id, token, body)).json()) as HoldAnswer;
			const res = await purchaseWith(drop.id, token, hold.holdId, { payment: { method: "test", token: "ok" }, email: `${fan}@example.test` });
			expect(res.status).toBe(201);
			bought.push({ orderId: ((await res.json()) as { orderId: string }).orderId, holdId: hold.holdId });
		}
		await waitUntil(async () => (await audit(drop.id)).recordedTickets === 4, 20_000, "both sales in D1", 100);
		for (const { orderId, holdId } of bought) {
			const sent = await runInDurableObject(shardStub(drop.id, shardOfHold(holdId)), (_shard: InventoryShard, state) =>
				JSON.parse(state.storage.sql.exec<{ payload: string }>(`SELECT payload FROM outbox WHERE order_id = ?`, orderId).one().payload),
			);
			expect(sent).toMatchObject({ email: expect.any(String), ticketType: expect.any(String) });
			expect(saleOfRecord((await orderRecord(env.DB, orderId))!, await orderTickets(env.DB, orderId))).toEqual(sent);
		}
	});

	it("D1 refuses a second ticket for a seat already sold (the unique constraint): the consumer's batch stores nothing", async () => {
		const drop = await typedDrop();
		const sale = (orderId: string, code: string) => ({
			v: 1 as const,
			orderId,
			dropId: drop.id,
			shard: 0,
			fanId: `fan-${orderId}`,
			holdId: `h-${orderId}`,
			quantity: 1,
			unitPriceCents: 8_000,
			totalCents: 8_000,
			currency: "USD",
			paymentId: `pay-${orderId}`,
			tickets: [code],
			createdAt: new Date().toISOString(),
			ticketType: "seat",
			seats: ["A-1-1"],
		});
		await expect(env.DB.batch(saleStatements(env.DB, [sale("o_twice_1", "T-1"), sale("o_twice_2", "T-2")]))).rejects.toThrow(/UNIQUE/);
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM orders WHERE drop_id = ?`).bind(drop.id).first<number>("n")).toBe(0);
		// One of them alone is stored, with its seat.
		await env.DB.batch(saleStatements(env.DB, [sale("o_once", "T-3")]));
		expect(await env.DB.prepare(`SELECT seat_id FROM tickets WHERE drop_id = ?`).bind(drop.id).first<string>("seat_id")).toBe("A-1-1");
		await env.DB.batch([env.DB.prepare(`DELETE FROM tickets WHERE drop_id = ?`).bind(drop.id), env.DB.prepare(`DELETE FROM orders WHERE drop_id = ?`).bind(drop.id)]);
	});
});

describe("timeslots", () => {
	it("twelve fans at once for a slot of five: exactly five get one, the rest hear sold_out", async () => {
		const drop = await typedDrop();
		const fans = Array.from({ length: 12 }, (_, i) => `visitor-${i}`);
		const tokens = await admittedFans(drop.id, fans);
		const answers = await Promise.all(fans.map((f) => holdUnits(drop.id, tokens.get(f)!, { ticketType: "slot", slot: "10am", quantity: 1 })));
		expect(answers.filter((r) => r.status === 201)).toHaveLength(5);
		for (const r of answers.filter((r) => r.status !== 201)) {
			expect(r.status).toBe(409);
			expect(await errorCode(r)).toBe("sold_out");
		}
		const a = await expectCleanAudit(drop.id);
		expect(a.named.slots.find((s) => s.slot === "10am")).toMatchObject({ capacity: 5, held: 5, sold: 0, oversold: 0 });
		expect(a.named.slots.find((s) => s.slot === "11am")).toMatchObject({ capacity: 30, held: 0 });
	});
});

describe("per-fan limits across types, sections and shards", () => {
	it("one fan's concurrent holds over every type and two shards' sections never pass the drop's total or a type's own", async () => {
		const shards = 4;
		const [s1, s2] = sectionsOnDifferentShards("seat", shards, 2);
		const drop = await typedDrop({ shards }, [...seatsOf(s1!, 1, 10), ...seatsOf(s2!, 1, 10)]);
		const token = (await admittedFans(drop.id, ["spreader"])).get("spreader")!;
		const asks: [Record<string, unknown>, number, string | null][] = [
			[{ quantity: 2 }, 2, null],
			[{ ticketType: "vip", quantity: 1 }, 1, "vip"],
			[{ ticketType: "vip", quantity: 1 }, 1, "vip"],
			[{ ticketType: "seat", section: s1, quantity: 2 }, 2, null],
			[{ ticketType: "seat", section: s2, quantity: 2 }, 2, null],
			[{ ticketType: "seat", seats: [`${s2}-1-9`] }, 1, null],
			[{ ticketType: "slot", slot: "11am", quantity: 2 }, 2, null],
			[{ ticketType: "slot", slot: "10am", quantity: 1 }, 1, null],
		];
		const answers = await Promise.all(asks.map(([body]) => holdUnits(drop.id, token, body)));
		let granted = 0;
		let vip = 0;
		for (const [i, res] of answers.entries()) {
			if (res.status === 201) {
				granted += asks[i]![1];
				if (asks[i]![2] === "vip") vip += 1;
			} else {
				expect(res.status).toBe(422);
				expect(["limit_exceeded", "type_limit_exceeded"]).toContain(await errorCode(res));
			}
		}
		expect(granted).toBeLessThanOrEqual(4);
		expect(vip).toBeLessThanOrEqual(1);
		// Both sides: something was granted, something refused.
		expect(granted).toBeGreaterThan(0);
		expect(answers.some((r) => r.status === 422)).toBe(true);
		// What the shards hold for the fan, wherever the units are, is what was granted.
		const a = await expectCleanAudit(drop.id);
		expect(a.totals.held).toBe(granted);
		// Later, one at a time: the total is full, so nothing more of any type.
		if (granted === 4) {
			for (const body of [{ ticketType: "slot", slot: "11am", quantity: 1 }, { ticketType: "seat", section: s1, quantity: 1 }, { quantity: 1 }]) {
				const over = await holdUnits(drop.id, token, body);
				expect(over.status).toBe(422);
				expect(await errorCode(over)).toBe("limit_exceeded");
			}
		}
	});

	it("a type's own limit: a second VIP is refused while the drop's total has room", async () => {
		const drop = await typedDrop();
		const token = (await admittedFans(drop.id, ["vipfan"])).get("vipfan")!;
		expect((await holdUnits(drop.id, token, { ticketType: "vip", quantity: 1 })).status).toBe(201);
		const second = await holdUnits(drop.id, token, { ticketType: "vip", quantity: 1 });
		expect(second.status).toBe(422);
		expect(await second.json()).toMatchObject({ error: { code: "type_limit_exceeded", maxPerFan: 1, alreadyHeldOrBought: 1 } });
		expect((await holdUnits(drop.id, token, { quantity: 3 })).status).toBe(201);
	});

	it("a replayed named hold answers its first hold and changes nothing", async () => {
		const drop = await typedDrop();
		const token = (await admittedFans(drop.id, ["replayer"])).get("replayer")!;
		const key = newKey();
		const first = await holdUnits(drop.id, token, { ticketType: "seat", section: "A", quantity: 2 }, key);
		const again = await holdUnits(drop.id, token, { ticketType: "seat", section: "A", quantity: 2 }, key);
		expect(again.status).toBe(201);
		expect(again.headers.get("Idempotent-Replayed")).toBe("true");
		expect(await again.json()).toEqual(await first.json());
		const other = await holdUnits(drop.id, token, { ticketType: "seat", section: "A", quantity: 1 }, key);
		expect(await errorCode(other)).toBe("idempotency_key_conflict");
		expect((await expectCleanAudit(drop.id)).totals.held).toBe(2);
	});
});

describe("bad input about types and seats: a clear 4xx, nothing changed", () => {
	it("holds naming what is not there", async () => {
		const box = { id: "box", name: "Boxes", kind: "seated", priceCents: 30_000, seats: seatsOf("X", 1, 2) };
		const drop = await typedDrop({}, undefined, [box]);
		const token = (await admittedFans(drop.id, ["confused"])).get("confused")!;
		const cases: [Record<string, unknown>, number, string][] = [
			[{ ticketType: "seat", section: "A", seats: ["A-9-9"] }, 422, "unknown_seat"],
			[{ ticketType: "seat", seats: ["nope"] }, 422, "unknown_seat"],
			[{ ticketType: "seat", section: "A", seats: ["B-1-1"] }, 422, "unknown_seat"],
			[{ ticketType: "seat", section: "A", seats: ["X-1-1"] }, 422, "unknown_seat"],
			[{ ticketType: "seat", seats: ["X-1-1"] }, 422, "seat_not_in_type"],
			[{ ticketType: "box", seats: ["A-1-1", "X-1-1"] }, 422, "seat_not_in_type"],
			[{ ticketType: "seat", seats: ["A-1-1", "B-1-1"] }, 422, "seats_apart"],
			[{ ticketType: "seat", seats: ["A-1-1", "A-1-1"] }, 422, "duplicate_seat"],
			[{ ticketType: "seat", seats: ["A-1-1"], quantity: 2 }, 422, "quantity_mismatch"],
			[{ ticketType: "seat", section: "Z", quantity: 1 }, 422, "unknown_section"],
			[{ ticketType: "seat" }, 400, "missing_field"],
			[{ ticketType: "nope", quantity: 1 }, 422, "unknown_ticket_type"],
			[{ ticketType: "slot", quantity: 1 }, 400, "missing_field"],
			[{ ticketType: "slot", slot: "9pm", quantity: 1 }, 422, "unknown_slot"],
			[{ ticketType: "floor", slot: "10am", quantity: 1 }, 422, "not_for_type"],
			[{ ticketType: "vip", seats: ["A-1-1"] }, 422, "not_for_type"],
		];
		const before = await audit(drop.id, 3600);
		for (const [body, status, code] of cases) {
			const res = await holdUnits(drop.id, token, body);
			expect(res.status, JSON.stringify(body)).toBe(status);
			expect(await errorCode(res), JSON.stringify(body)).toBe(code);
		}
		const after = await audit(drop.id, 3600);
		expect(after.totals).toEqual(before.totals);
		expect(after.named.types).toEqual(before.named.types);
	});

	it("a drop of 100,000 seats (the most) is taken with its CSV, every seat in D1 and on its section's shard", async () => {
		const lines = ["id,section,row,number"];
		for (let i = 0; i < 100_000; i++) lines.push(`s${i},S${Math.floor(i / 2_000)},${1 + Math.floor((i % 2_000) / 50)},${1 + (i % 50)}`);
		const drop = await createDrop({
			capacity: undefined,
			maxPerFan: 4,
			shards: 8,
			admission: WIDE_OPEN,
			ticketTypes: [{ id: "arena", name: "Arena", kind: "seated", seatsCsv: lines.join("\n") }],
		});
		expect(drop.capacity).toBe(100_000);
		expect(drop.ticketTypes[0]!.sections).toHaveLength(50);
		expect(await seatsInD1(drop.id)).toBe(100_000);
		const token = (await admittedFans(drop.id, ["arena-fan"])).get("arena-fan")!;
		const hold = (await (await holdUnits(drop.id, token, { ticketType: "arena", section: "S49", quantity: 4 })).json()) as HoldAnswer;
		expect(hold).toMatchObject({ seats: ["s98000", "s98001", "s98002", "s98003"], together: true });
		const a = await expectCleanAudit(drop.id);
		expect(a.named.types[0]).toMatchObject({ capacity: 100_000, held: 4, free: 99_996 });
	}, 120_000);

	it("drops with broken types or seats are refused, and nothing is stored", async () => {
		const drops = await dropsInD1();
		const seatRows = (await env.DB.prepare(`SELECT COUNT(*) AS n FROM seats`).first<number>("n")) ?? 0;
		const many = Array.from({ length: 100_001 }, (_, i) => ({ id: `s${i}`, section: `S${Math.floor(i / 1000)}`, row: String(Math.floor(i / 50) % 20), number: (i % 50) + 1 }));
		const cases: [unknown, number, string, string?][] = [
			[[{ id: "s", name: "S", kind: "seated", seats: [...seatsOf("A", 1, 2), { id: "A-1-1", section: "A", row: "2", number: 1 }] }], 422, "duplicate_seat"],
			[[{ id: "s", name: "S", kind: "seated", seats: seatsOf("A", 1, 2) }, { id: "t", name: "T", kind: "seated", seats: seatsOf("A", 1, 1) }], 422, "duplicate_seat"],
			[[{ id: "s", name: "S", kind: "seated", seats: many }], 422, "too_many_seats"],
			[[{ id: "s", name: "S", kind: "seated", seatsCsv: "id,section,row,number\nA-1,A,1,1\nA-2,A,1,x\n" }], 422, "invalid_csv", "Line 3"],
			[[{ id: "s", name: "S", kind: "seated", seatsCsv: "id,section,row,number\nA-1,A,1,1\nA-1,A,1,2\n" }], 422, "duplicate_seat", "Line 3"],
			[[{ id: "g", name: "G", kind: "general" }], 400, "missing_field"],
			[[{ id: "g", name: "G", kind: "general", capacity: 5, maxPerFan: 9 }], 422, "out_of_range"],
			[[{ id: "g", name: "G", kind: "general", capacity: 5, slots: [] }], 422, "out_of_range"],
			[[{ id: "g", name: "G", kind: "general", capacity: 5 }, { id: "g", name: "H", kind: "general", capacity: 5 }], 422, "duplicate_id"],
			[[{ id: "s", name: "S", kind: "seated" }], 422, "no_tickets"],
			[[{ id: "t", name: "T", kind: "timeslot", slots: [{ id: "x", startsAt: "2026-12-01T10:00:00Z", capacity: 1 }, { id: "x", startsAt: "2026-12-01T11:00:00Z", capacity: 1 }] }], 422, "duplicate_id"],
		];
		for (const [ticketTypes, status, code, line] of cases) {
			const res = await adminFetch("/api/admin/drops", {
				method: "POST",
				body: JSON.stringify({ name: "Broken", maxPerFan: 4, opensAt: inHours(1), ticketTypes }),
			});
			const body = (await res.json()) as { error: { code: string; message: string; line?: number } };
			expect(res.status, code).toBe(status);
			expect(body.error.code).toBe(code);
			if (line) expect(body.error.message).toContain(line);
		}
		const mismatch = await adminFetch("/api/admin/drops", {
			method: "POST",
			body: JSON.stringify({ name: "Broken", capacity: 9, maxPerFan: 4, opensAt: inHours(1), ticketTypes: [{ id: "g", name: "G", kind: "general", capacity: 5 }] }),
		});
		expect(await errorCode(mismatch)).toBe("capacity_mismatch");
		expect(await dropsInD1()).toBe(drops);
		expect((await env.DB.prepare(`SELECT COUNT(*) AS n FROM seats`).first<number>("n")) ?? 0).toBe(seatRows);
	});

	it("a seats CSV before the opening replaces the type's seats; errors name their line and change nothing", async () => {
		const drop = await typedDrop({ opensAt: inHours(2) }, seatsOf("A", 1, 4));
		const bad: [string, number, string, number?][] = [
			[seatsCsv(seatsOf("C", 1, 3)) + "\nC-1-2,C,1,9", 422, "duplicate_seat", 5],
			["id,section,row,number\nC-1,C,1,1\nC-2,C,1", 422, "invalid_csv", 3],
			["id,section,row\nC-1,C,1", 422, "invalid_csv", 1],
			["id,section,row,number\nC-1,C,1,0", 422, "invalid_csv", 2],
			// A seat id another seated type of the drop already has.
		];
		for (const [csv, status, code, line] of bad) {
			const res = await uploadSeats(drop.id, "seat", csv);
			const body = (await res.json()) as { error: { code: string; line?: number } };
			expect(res.status, csv).toBe(status);
			expect(body.error).toMatchObject({ code, line });
		}
		expect((await uploadSeats(drop.id, "seat", "id,section,row,number\n", "application/json")).status).toBe(415);
		expect((await uploadSeats(drop.id, "vip", seatsCsv(seatsOf("C", 1, 2)))).status).toBe(422);
		expect((await uploadSeats(drop.id, "nope", seatsCsv(seatsOf("C", 1, 2)))).status).toBe(404);
		const tooMany = ["id,section,row,number", ...Array.from({ length: 100_001 }, (_, i) => `s${i},S,${i % 50},${i + 1}`)].join("\n");
		expect(await errorCode(await uploadSeats(drop.id, "seat", tooMany))).toBe("too_many_seats");
		// Nothing changed: the four seats of A, in D1 and on their shard.
		expect(await seatsInD1(drop.id)).toBe(4);
		expect([...(await seatStates(drop.id, 4, "seat", "A")).keys()].sort()).toEqual(["A-1-1", "A-1-2", "A-1-3", "A-1-4"]);

		const ok = await uploadSeats(drop.id, "seat", seatsCsv([...seatsOf("C", 2, 3), ...seatsOf("D", 1, 2)]));
		expect(ok.status).toBe(200);
		const view = (await ok.json()) as { capacity: number; ticketTypes: { id: string; capacity: number; sections?: unknown }[] };
		expect(view.capacity).toBe(50 + 5 + 8 + 35);
		expect(view.ticketTypes.find((t) => t.id === "seat")).toMatchObject({ capacity: 8, sections: [{ name: "C", seats: 6 }, { name: "D", seats: 2 }] });
		expect(await seatsInD1(drop.id)).toBe(8);
		expect((await seatStates(drop.id, 4, "seat", "A")).size).toBe(0);
		expect((await seatStates(drop.id, 4, "seat", "C")).size).toBe(6);
		await expectCleanAudit(drop.id);

		const open = await typedDrop();
		const late = await uploadSeats(open.id, "seat", seatsCsv(seatsOf("C", 1, 2)));
		expect(late.status).toBe(422);
		expect(await errorCode(late)).toBe("already_open");
	});
});

describe("availability", () => {
	it("answers what is left per type, slot and section, with free seats row by row, without asking the shards per request", async () => {
		const drop = await typedDrop();
		const token = (await admittedFans(drop.id, ["looker"])).get("looker")!;
		expect((await holdUnits(drop.id, token, { ticketType: "seat", seats: ["A-1-2", "A-1-3"] })).status).toBe(201);
		expect((await holdUnits(drop.id, token, { ticketType: "slot", slot: "10am", quantity: 1 })).status).toBe(201);
		type Doc = { ticketTypes: { id: string; remaining: number; slots?: { id: string; remaining: number }[]; sections?: { name: string; remaining: number; rows: { row: string; free: string }[] }[] }[] };
		let doc: Doc | null = null;
		await waitUntil(
			async () => {
				const res = await fanFetch(`/api/drops/${drop.id}/availability`, null);
				expect(res.status).toBe(200);
				expect(res.headers.get("cache-control")).toBe("public, max-age=1");
				doc = (await res.json()) as Doc;
				return doc.ticketTypes.find((t) => t.id === "seat")!.remaining === 38;
			},
			5_000,
			"availability to show the held seats",
			200,
		);
		const types = doc!.ticketTypes;
		expect(types.map((t) => [t.id, t.remaining])).toEqual([
			["floor", 50],
			["vip", 5],
			["seat", 38],
			["slot", 34],
		]);
		expect(types[3]!.slots).toEqual([
			{ id: "10am", remaining: 4 },
			{ id: "11am", remaining: 30 },
		]);
		expect(types[2]!.sections![0]).toEqual({ name: "A", remaining: 18, rows: [{ row: "1", free: "1,4-10" }, { row: "2", free: "1-10" }] });

		// Thirty readers at once: the shards are read once or twice (the pacer's gathering), not thirty times.
		const load = () => Promise.all(Array.from({ length: 4 }, (_, k) => shardStub(drop.id, k).load()));
		const before = await load();
		const answers = await Promise.all(Array.from({ length: 30 }, () => fanFetch(`/api/drops/${drop.id}/availability`, null)));
		expect(answers.every((r) => r.status === 200)).toBe(true);
		const after = await load();
		for (let k = 0; k < 4; k++) expect(after[k]! - before[k]!).toBeLessThanOrEqual(2);
		expect((await fanFetch(`/api/drops/d_unknownunknown/availability`, null)).status).toBe(404);
	});
});
