// The drop rules of src/drops/rules.ts as plain functions: a new drop's fields and
// defaults, its shards, its id, a promoter's changes and the public status.
import { describe, expect, it } from "vitest";
import { type DropConfig, DROP_ID, allocateShards, applyDropPatch, defaultShardCount, newDropId, parseCreateDrop, publicStatus } from "../../src/drops/rules";
import { createDropRefusals, patchDropRefusals, validDropBody } from "../support/drop-rules";
import { rejection } from "../support/errors";
import { DAY, HOUR } from "../support/time";

const NOW = Date.parse("2026-06-01T12:00:00Z");

describe("parseCreateDrop", () => {
	it("fills the defaults", () => {
		const d = parseCreateDrop(validDropBody(NOW), NOW);
		expect(d).toEqual({
			name: "Summer tour",
			capacity: 1_000,
			maxPerFan: 4,
			opensAt: new Date(NOW + DAY).toISOString(),
			closesAt: null,
			priceCents: 0,
			currency: "USD",
			shards: 1,
			lines: 2,
			admission: { batchSize: 100, intervalMs: 2_000, activeMultiple: 2, offerSeconds: 1_800 },
			holdSeconds: 300,
			paused: false,
			cancelledAt: null,
			timeZone: "UTC",
			// Made without ticketTypes: one general-admission type of the drop's capacity, price and limit.
			ticketTypes: [{ id: "general", name: "General admission", kind: "general", priceCents: 0, maxPerFan: 4, capacity: 1_000 }],
		});
	});

	it("gives a drop one line per 500 tickets by default, at most 256, and takes 1..256 when asked", () => {
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 1 }), NOW).lines).toBe(1);
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 500 }), NOW).lines).toBe(1);
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 501 }), NOW).lines).toBe(2);
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 10_000_000 }), NOW).lines).toBe(256);
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 10, lines: 256 }), NOW).lines).toBe(256);
		expect(parseCreateDrop(validDropBody(NOW, { lines: 1 }), NOW).lines).toBe(1);
	});

	it("keeps every optional field it is given, and merges a partial admission over the defaults", () => {
		const d = parseCreateDrop(
			validDropBody(NOW, {
				closesAt: new Date(NOW + 2 * DAY).toISOString(),
				priceCents: 4_500,
				currency: "EUR",
				shards: 8,
				admission: { batchSize: 50 },
				holdSeconds: 120,
			}),
			NOW,
		);
		expect(d).toMatchObject({ priceCents: 4_500, currency: "EUR", shards: 8, holdSeconds: 120, closesAt: new Date(NOW + 2 * DAY).toISOString() });
		expect(d.admission).toEqual({ batchSize: 50, intervalMs: 2_000, activeMultiple: 2, offerSeconds: 1_800 });
	});

	for (const [what, over, status, code, field] of createDropRefusals(NOW)) {
		it(`${what}: ${status} ${code}`, () => {
			expect(rejection(() => parseCreateDrop(validDropBody(NOW, over), NOW))).toEqual([status, code, field]);
		});
	}

	it("accepts every bound exactly", () => {
		const low = parseCreateDrop(
			validDropBody(NOW, { capacity: 1, maxPerFan: 1, shards: 1, priceCents: 0, holdSeconds: 10, admission: { batchSize: 1, intervalMs: 250, activeMultiple: 1 }, name: "x" }),
			NOW,
		);
		expect(low).toMatchObject({ capacity: 1, maxPerFan: 1, shards: 1, holdSeconds: 10 });
		const high = parseCreateDrop(
			validDropBody(NOW, {
				capacity: 10_000_000,
				maxPerFan: 20,
				shards: 64,
				priceCents: 100_000_000,
				holdSeconds: 3_600,
				admission: { batchSize: 10_000, intervalMs: 600_000, activeMultiple: 20 },
				name: "x".repeat(120),
			}),
			NOW,
		);
		expect(high).toMatchObject({ capacity: 10_000_000, maxPerFan: 20, shards: 64, priceCents: 100_000_000, holdSeconds: 3_600 });
		// A drop that opened recently may still be created (a promoter starting one now).
		expect(parseCreateDrop(validDropBody(NOW, { opensAt: new Date(NOW - DAY).toISOString() }), NOW).opensAt).toBe(new Date(NOW - DAY).toISOString());
		expect(parseCreateDrop(validDropBody(NOW, { closesAt: null }), NOW).closesAt).toBeNull();
	});

	it("spreads large drops over shards by default, never more shards than tickets", () => {
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 3 }), NOW).shards).toBe(1);
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 5_000 }), NOW).shards).toBe(1);
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 5_001 }), NOW).shards).toBe(2);
		expect(parseCreateDrop(validDropBody(NOW, { capacity: 10_000_000 }), NOW).shards).toBe(64);
		expect(defaultShardCount(1)).toBe(1);
	});
});

describe("allocateShards", () => {
	it("splits capacity exactly, the first shards taking the remainder", () => {
		expect(allocateShards(10, 3)).toEqual([4, 3, 3]);
		expect(allocateShards(64, 64)).toEqual(Array(64).fill(1));
		for (const [capacity, shards] of [[1, 1], [7, 7], [10_000_000, 64], [12_345, 17]] as const) {
			const parts = allocateShards(capacity, shards);
			expect(parts).toHaveLength(shards);
			expect(parts.reduce((a, b) => a + b, 0)).toBe(capacity);
			expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
		}
	});
});

describe("drop ids", () => {
	it("are random, URL-safe and accepted by the route pattern", () => {
		const ids = new Set(Array.from({ length: 1_000 }, newDropId));
		expect(ids.size).toBe(1_000);
		for (const id of ids) {
			expect(id).toMatch(/^d_[A-Za-z0-9_-]{16}$/);
			expect(DROP_ID.test(id)).toBe(true);
			expect(encodeURIComponent(id)).toBe(id);
		}
	});
});

function drop(over: Partial<DropConfig> = {}): DropConfig {
	return {
		id: "d_test",
		...parseCreateDrop(validDropBody(NOW), NOW - HOUR),
		createdAt: new Date(NOW - HOUR).toISOString(),
		updatedAt: new Date(NOW - HOUR).toISOString(),
		promoterId: null,
		...over,
	};
}

describe("applyDropPatch", () => {
	it("changes only what is sent and stamps updatedAt", () => {
		const before = drop();
		const after = applyDropPatch(before, { name: "Renamed", admission: { intervalMs: 500 }, paused: true, holdSeconds: 60 }, NOW);
		expect(after).toEqual({
			...before,
			name: "Renamed",
			admission: { ...before.admission, intervalMs: 500 },
			paused: true,
			holdSeconds: 60,
			updatedAt: new Date(NOW).toISOString(),
		});
	});

	it("reschedules before the open, and sets or clears closesAt", () => {
		const before = drop();
		const later = new Date(NOW + 2 * DAY).toISOString();
		expect(applyDropPatch(before, { opensAt: later }, NOW).opensAt).toBe(later);
		const closes = new Date(NOW + 3 * DAY).toISOString();
		const closed = applyDropPatch(before, { closesAt: closes }, NOW);
		expect(closed.closesAt).toBe(closes);
		expect(applyDropPatch(closed, { closesAt: null }, NOW).closesAt).toBeNull();
	});

	it("refuses to reschedule a drop that has opened", () => {
		const opened = drop({ opensAt: new Date(NOW - HOUR).toISOString() });
		expect(rejection(() => applyDropPatch(opened, { opensAt: new Date(NOW + DAY).toISOString() }, NOW))).toEqual([422, "already_open", "opensAt"]);
		// Sending the same time back is not a reschedule.
		expect(applyDropPatch(opened, { opensAt: opened.opensAt, paused: true }, NOW).paused).toBe(true);
		// Pausing, resuming and admission changes stay allowed after the open.
		expect(applyDropPatch(opened, { admission: { batchSize: 5 } }, NOW).admission.batchSize).toBe(5);
		// The line count is fixed from the opening on (the same count sent back is no change).
		expect(rejection(() => applyDropPatch(opened, { lines: opened.lines + 1 }, NOW))).toEqual([422, "already_open", "lines"]);
		expect(applyDropPatch(opened, { lines: opened.lines, paused: true }, NOW).lines).toBe(opened.lines);
	});

	it("keeps closesAt after opensAt", () => {
		const before = drop({ closesAt: new Date(NOW + 2 * DAY).toISOString() });
		expect(rejection(() => applyDropPatch(before, { opensAt: new Date(NOW + 3 * DAY).toISOString() }, NOW))).toEqual([422, "invalid_time", "closesAt"]);
		expect(rejection(() => applyDropPatch(before, { closesAt: before.opensAt }, NOW))).toEqual([422, "invalid_time", "closesAt"]);
	});

	// Every refusal of the patch table (support/drop-rules.ts), for a drop that opens in a day.
	for (const [what, patch, status, code, field] of patchDropRefusals(drop().opensAt, NOW)) {
		it(`refuses ${what}: ${status} ${code}`, () => {
			expect(rejection(() => applyDropPatch(drop(), patch, NOW))).toEqual([status, code, field]);
		});
	}
});

describe("publicStatus", () => {
	const d = { opensAt: new Date(NOW + HOUR).toISOString(), closesAt: new Date(NOW + DAY).toISOString() };
	it("scheduled, open, sold_out, closed", () => {
		expect(publicStatus(d, false, NOW)).toBe("scheduled");
		expect(publicStatus(d, false, NOW + HOUR)).toBe("open");
		expect(publicStatus(d, true, NOW + 2 * HOUR)).toBe("sold_out");
		expect(publicStatus(d, true, NOW + DAY)).toBe("closed");
		expect(publicStatus({ ...d, closesAt: null }, false, NOW + 1_000 * DAY)).toBe("open");
	});
});
