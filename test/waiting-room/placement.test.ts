// Positions over lines, on their own: the pre-queue's global shuffle and the
// layout of later joins by slot and line. Pure functions, so every case is exact.
import { describe, expect, it } from "vitest";
import { seededRandom, shuffle, uniformInt } from "../../src/waiting-room/admission";
import { admittedAt, lineOf, placeSlots, placedPosition, prequeueOffsets, prequeueOrder, prequeuePosition, prequeuePositionOfIndex, trackedPrequeuePosition } from "../../src/waiting-room/placement";
import { chiSquare, seedsFrom } from "../support/statistics";

/** Where each (line, place) of a pre-queue lands, for lines of the given sizes. */
function positionsOf(seed: string, counts: number[], place: (seed: string, counts: number[], line: number, seq: number) => number) {
	const out: number[] = [];
	counts.forEach((n, line) => {
		for (let seq = 1; seq <= n; seq++) out.push(place(seed, counts, line, seq));
	});
	return out;
}

describe("the pre-queue over lines", () => {
	it("is the Fisher-Yates of admission.ts over the join order laid out line by line", () => {
		const counts = [3, 0, 5, 1, 4];
		const fans = counts.flatMap((n, line) => Array.from({ length: n }, (_, i) => `line${line}-place${i + 1}`));
		for (const seed of seedsFrom(0xab12, 50)) {
			const byShuffle = shuffle(fans, seed);
			const order = prequeueOrder(seed, fans.length);
			expect(Array.from(order, (g) => fans[g])).toEqual(byShuffle);
			const offsets = prequeueOffsets(counts);
			counts.forEach((n, line) => {
				for (let seq = 1; seq <= n; seq++) {
					const fan = `line${line}-place${seq}`;
					expect(prequeuePosition(seed, counts, line, seq)).toBe(byShuffle.indexOf(fan) + 1);
					expect(offsets[line]! + seq - 1).toBe(fans.indexOf(fan));
				}
			});
		}
	});

	it("gives every fan a distinct position 1..P, the same from memory or by following one index", () => {
		const counts = [40, 7, 0, 113, 1];
		const size = counts.reduce((a, b) => a + b, 0);
		for (const seed of seedsFrom(0x77, 10)) {
			const positions = positionsOf(seed, counts, prequeuePosition);
			expect([...positions].sort((a, b) => a - b)).toEqual(Array.from({ length: size }, (_, i) => i + 1));
			for (let g = 0; g < size; g += 13) expect(trackedPrequeuePosition(seed, size, g)).toBe(prequeuePositionOfIndex(seed, size, g));
		}
	});

	it("refuses a place that is not in the pre-queue", () => {
		const seed = "00112233445566778899aabbccddeeff";
		expect(() => prequeuePosition(seed, [2, 3], 0, 3)).toThrow(RangeError);
		expect(() => prequeuePosition(seed, [2, 3], 2, 1)).toThrow(RangeError);
		expect(() => prequeuePosition(seed, [2, 3], 1, 0)).toThrow(RangeError);
	});

	it("puts each fan at each position equally often whatever the size of their line (chi-square, lines of 3, 1, 0 and 6)", () => {
		const counts = [3, 1, 0, 6];
		const n = 10;
		const trials = 20_000;
		const cells = new Array<number>(n * n).fill(0);
		for (const seed of seedsFrom(0x1ee5, trials)) positionsOf(seed, counts, prequeuePosition).forEach((p, fan) => cells[fan * n + p - 1]!++);
		// df = (n - 1)^2 = 81; the 99.99th percentile of chi-square(81) is 137.1. Fixed seeds: deterministic.
		expect(chiSquare(cells, trials / n)).toBeLessThan(137.1);
		// The lone fan of line 1 in particular is nowhere favoured.
		const lone = cells.slice(3 * n, 4 * n);
		expect(Math.min(...lone)).toBeGreaterThan(trials / n - 250);
		expect(Math.max(...lone)).toBeLessThan(trials / n + 250);
	});

	it("would catch a shuffle that mixes fans only within their line, so the check has teeth", () => {
		// Negative control: each line shuffled on its own, lines then dealt out round robin.
		const counts = [3, 1, 0, 6];
		const n = 10;
		const perLine = (seed: string) => {
			const next = seededRandom(seed);
			const lines = counts.map((c, line) => {
				const out = Array.from({ length: c }, (_, i) => prequeueOffsets(counts)[line]! + i);
				for (let i = out.length - 1; i > 0; i--) {
					const j = uniformInt(next, i + 1);
					[out[i], out[j]] = [out[j]!, out[i]!];
				}
				return out;
			});
			const order: number[] = [];
			while (order.length < n) for (const l of lines) if (l.length) order.push(l.shift()!);
			return order;
		};
		const trials = 20_000;
		const cells = new Array<number>(n * n).fill(0);
		for (const seed of seedsFrom(0x1ee5, trials)) perLine(seed).forEach((fan, position) => cells[fan * n + position]!++);
		expect(chiSquare(cells, trials / n)).toBeGreaterThan(137.1);
	});
});

describe("later joins, slot by slot", () => {
	it("lays blocks out by slot, then line, with no gap and no overlap", () => {
		const laid = placeSlots(11, [
			{ line: 2, slots: [{ slot: 7, count: 2 }, { slot: 5, count: 1 }] },
			{ line: 0, slots: [{ slot: 5, count: 3 }, { slot: 6, count: 0 }] },
			{ line: 1, slots: [{ slot: 7, count: 4 }] },
		]);
		expect(laid.placements).toEqual([
			{ slot: 5, line: 0, count: 3, start: 11 },
			{ slot: 5, line: 2, count: 1, start: 14 },
			{ slot: 7, line: 1, count: 4, start: 15 },
			{ slot: 7, line: 2, count: 2, start: 19 },
		]);
		expect(laid.nextPosition).toBe(21);
		const published = laid.placements.map((p) => [p.slot, p.line, p.start]);
		expect(placedPosition(published, 7, 2, 1)).toBe(20);
		expect(placedPosition(published, 6, 0, 0)).toBeNull();
	});

	it("finds the batch that admitted a position", () => {
		const batches = [
			[10, 1000],
			[25, 3000],
			[30, 5000],
		];
		expect(admittedAt(batches, 1)).toBe(1000);
		expect(admittedAt(batches, 10)).toBe(1000);
		expect(admittedAt(batches, 11)).toBe(3000);
		expect(admittedAt(batches, 30)).toBe(5000);
		expect(admittedAt(batches, 31)).toBeNull();
	});

	it("sends a fan to the same line every time, and spreads fans over the lines", () => {
		expect(lineOf("fan@example.com", 16)).toBe(lineOf("fan@example.com", 16));
		const counts = new Array<number>(16).fill(0);
		for (let i = 0; i < 16_000; i++) counts[lineOf(`fan-${i}`, 16)]!++;
		expect(Math.min(...counts)).toBeGreaterThan(850);
		expect(Math.max(...counts)).toBeLessThan(1150);
	});
});
