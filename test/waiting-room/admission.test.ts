// The admission policy on its own: the open-time shuffle, batch sizes, pace and
// polling advice. Pure functions, so every case is exact and deterministic.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_POLL_MS, MIN_POLL_MS, activeFans, admissionPace, estimatedWaitMs, measuredPacePerMinute, newSeed, waitFromBatches, nextBatchSize, STALL_MS, pollAfterMs, seededRandom, shuffle, uniformInt } from "../../src/waiting-room/admission";
import { chiSquare, seedsFrom } from "../support/statistics";
import { PACE_WINDOW_MS } from "../../src/waiting-room/timing";
import { lastBatches } from "../../src/waiting-room/watermark";

const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

/** The index of a permutation of 0..n-1 in lexicographic order (Lehmer code). */
function permutationIndex(p: number[]): number {
	let index = 0;
	for (let i = 0; i < p.length; i++) {
		let smaller = 0;
		for (let j = i + 1; j < p.length; j++) if (p[j]! < p[i]!) smaller++;
		index += smaller * factorial(p.length - 1 - i);
	}
	return index;
}

const hexSeed = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""));

describe("seededRandom (xoshiro128**)", () => {
	it("matches the reference implementation, so an auditor can re-derive the order with any copy of it", () => {
		// Outputs of the reference C code (Blackman and Vigna) for this state.
		const next = seededRandom("0123456789abcdef0011223344556677");
		expect(Array.from({ length: 6 }, next)).toEqual([2576975000, 2172744317, 3938314663, 2857347315, 438817211, 329692235]);
		const small = seededRandom("00000001000000020000000300000004");
		expect(Array.from({ length: 3 }, small)).toEqual([11520, 0, 5927040]);
	});

	it("gives unsigned 32-bit integers and the same stream for the same seed", () => {
		const a = seededRandom("ffffffff00000000ffffffff00000000");
		const b = seededRandom("ffffffff00000000ffffffff00000000");
		for (let i = 0; i < 1000; i++) {
			const x = a();
			expect(x).toBe(b());
			expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
		}
	});

	it("refuses a seed that is not 32 lowercase hex digits, and survives the all-zero seed", () => {
		for (const bad of ["", "abc", "0123456789ABCDEF0011223344556677", "0123456789abcdef00112233445566778", "g123456789abcdef0011223344556677"]) {
			expect(() => seededRandom(bad)).toThrow();
		}
		const zero = seededRandom("0".repeat(32));
		expect(new Set(Array.from({ length: 10 }, zero)).size).toBeGreaterThan(1);
	});

	it("newSeed makes fresh 128-bit seeds that seededRandom accepts", () => {
		const seeds = new Set(Array.from({ length: 100 }, newSeed));
		expect(seeds.size).toBe(100);
		for (const seed of seeds) {
			expect(seed).toMatch(/^[0-9a-f]{32}$/);
			expect(() => seededRandom(seed)).not.toThrow();
		}
	});
});

describe("uniformInt", () => {
	it("rejects the values that would bias a modulo instead of folding them in", () => {
		// For n = 3 the last value, 2^32 - 1, would make 0 more likely than 2: it must be skipped.
		const values = [2 ** 32 - 1, 2 ** 32 - 1, 5];
		expect(uniformInt(() => values.shift()!, 3)).toBe(2);
		// For n = 2^31 + 1 every value from 2^31 + 1 up is rejected.
		const big = [2 ** 31 + 1, 2 ** 32 - 1, 2 ** 31];
		expect(uniformInt(() => big.shift()!, 2 ** 31 + 1)).toBe(2 ** 31);
	});

	it("stays in range and refuses an empty range", () => {
		const next = seededRandom("0123456789abcdef0011223344556677");
		for (const n of [1, 2, 3, 7, 1000, 2 ** 31 + 1, 2 ** 32]) {
			for (let i = 0; i < 200; i++) {
				const x = uniformInt(next, n);
				expect(x >= 0 && x < n && Number.isInteger(x)).toBe(true);
			}
		}
		expect(() => uniformInt(next, 0)).toThrow();
		expect(() => uniformInt(next, 2 ** 32 + 1)).toThrow();
	});
});

describe("shuffle", () => {
	it("is a permutation of its input, leaves the input alone, and is the same for the same seed", () => {
		fc.assert(
			fc.property(fc.array(fc.integer(), { maxLength: 300 }), hexSeed, (items, seed) => {
				const before = items.slice();
				const out = shuffle(items, seed);
				expect(items).toEqual(before);
				expect(out).toHaveLength(items.length);
				expect(out.slice().sort((a, b) => a - b)).toEqual(items.slice().sort((a, b) => a - b));
				expect(shuffle(items, seed)).toEqual(out);
			}),
			{ numRuns: 300, seed: 20260426 },
		);
	});

	it("keeps distinct fan ids distinct: positions 1..n, none twice, none missing", () => {
		const fans = Array.from({ length: 5000 }, (_, i) => `fan-${i}`);
		const order = shuffle(fans, "00112233445566778899aabbccddeeff");
		expect(new Set(order).size).toBe(fans.length);
		expect(order.slice().sort()).toEqual(fans.slice().sort());
		// Not the join order: 5000 fans left in place would be no shuffle at all.
		const unmoved = order.filter((id, i) => id === fans[i]).length;
		expect(unmoved).toBeLessThan(20);
	});

	it("handles the empty and one-fan pre-queues", () => {
		expect(shuffle([], "00112233445566778899aabbccddeeff")).toEqual([]);
		expect(shuffle(["only"], "00112233445566778899aabbccddeeff")).toEqual(["only"]);
	});

	it("gives every one of the 120 orders of 5 fans equally often over 36,000 seeded trials (chi-square)", () => {
		const items = [0, 1, 2, 3, 4];
		const cells = factorial(items.length);
		const trials = cells * 300;
		const counts = new Array<number>(cells).fill(0);
		for (const seed of seedsFrom(0x5eed1234, trials)) counts[permutationIndex(shuffle(items, seed))]!++;
		expect(counts.every((c) => c > 0)).toBe(true);
		// df = 119; the 99.99th percentile of chi-square(119) is 185.1. The seeds are fixed,
		// so this is deterministic: it fails only for a biased shuffle.
		expect(chiSquare(counts, trials / cells)).toBeLessThan(185.1);
	});

	it("puts each fan at each position equally often over 20,000 seeded trials of 10 fans (chi-square)", () => {
		const n = 10;
		const items = Array.from({ length: n }, (_, i) => i);
		const trials = 20_000;
		const counts = new Array<number>(n * n).fill(0);
		for (const seed of seedsFrom(0xc0ffee, trials)) {
			shuffle(items, seed).forEach((fan, position) => counts[fan * n + position]!++);
		}
		// df = (n - 1)^2 = 81; the 99.99th percentile of chi-square(81) is 137.1.
		expect(chiSquare(counts, trials / n)).toBeLessThan(137.1);
	});

	it("would catch the classic biased shuffle, so the check has teeth", () => {
		// Swapping each place with any place (not only the ones not yet fixed) is a well-known bias.
		const naive = (items: number[], seed: string) => {
			const out = items.slice();
			const next = seededRandom(seed);
			for (let i = 0; i < out.length; i++) {
				const j = uniformInt(next, out.length);
				[out[i], out[j]] = [out[j]!, out[i]!];
			}
			return out;
		};
		const items = [0, 1, 2, 3, 4];
		const cells = factorial(items.length);
		const trials = cells * 300;
		const counts = new Array<number>(cells).fill(0);
		for (const seed of seedsFrom(0x5eed1234, trials)) counts[permutationIndex(naive(items, seed))]!++;
		expect(chiSquare(counts, trials / cells)).toBeGreaterThan(185.1);
	});
});

describe("nextBatchSize", () => {
	// Someone holds tickets and a batch went in a moment ago: the active gate applies.
	const base = { batchSize: 100, activeMultiple: 2, remaining: 1000, held: 5, active: 0, waiting: 5000, idleMs: 2_000 };

	it("admits a full batch when stock and room allow", () => {
		expect(nextBatchSize(base)).toBe(100);
	});

	it("never admits more than are waiting", () => {
		expect(nextBatchSize({ ...base, waiting: 7 })).toBe(7);
		expect(nextBatchSize({ ...base, waiting: 0 })).toBe(0);
	});

	it("admits nobody once no stock is left", () => {
		expect(nextBatchSize({ ...base, remaining: 0 })).toBe(0);
		expect(nextBatchSize({ ...base, remaining: -3 })).toBe(0);
	});

	it("keeps fans still shopping within activeMultiple x remaining", () => {
		expect(nextBatchSize({ ...base, remaining: 10 })).toBe(20);
		expect(nextBatchSize({ ...base, remaining: 10, active: 15 })).toBe(5);
		expect(nextBatchSize({ ...base, remaining: 10, active: 20 })).toBe(0);
		expect(nextBatchSize({ ...base, remaining: 10, active: 35 })).toBe(0);
		expect(nextBatchSize({ ...base, remaining: 3, activeMultiple: 1 })).toBe(3);
	});

	it("admits a full batch when tickets are free and nobody has held one for STALL_MS", () => {
		const idle = { ...base, remaining: 4, held: 0, active: 4, activeMultiple: 1 };
		expect(nextBatchSize({ ...idle, idleMs: STALL_MS - 1 })).toBe(0);
		expect(nextBatchSize({ ...idle, idleMs: STALL_MS })).toBe(100);
		expect(nextBatchSize({ ...idle, idleMs: Infinity, waiting: 3 })).toBe(3);
		// Someone is holding: the fans are not gone, the gate stays.
		expect(nextBatchSize({ ...idle, held: 1, idleMs: STALL_MS })).toBe(0);
		// Nothing left to sell: never.
		expect(nextBatchSize({ ...idle, remaining: 0, idleMs: Infinity })).toBe(0);
	});

	it("holds for every input: 0 <= n <= batch, n <= waiting, active + n <= multiple x remaining unless n = 0 or stalled", () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 1, max: 10_000 }),
				fc.integer({ min: 1, max: 20 }),
				fc.integer({ min: 0, max: 100_000 }),
				fc.integer({ min: 0, max: 100 }),
				fc.integer({ min: 0, max: 100_000 }),
				fc.integer({ min: 0, max: 100_000 }),
				fc.integer({ min: 0, max: 60_000 }),
				(batchSize, activeMultiple, remaining, held, active, waiting, idleMs) => {
					const n = nextBatchSize({ batchSize, activeMultiple, remaining, held, active, waiting, idleMs });
					expect(Number.isInteger(n) && n >= 0 && n <= batchSize && n <= waiting).toBe(true);
					const stalled = held === 0 && idleMs >= STALL_MS;
					if (n > 0 && !stalled) expect(active + n).toBeLessThanOrEqual(activeMultiple * remaining);
					if (remaining === 0) expect(n).toBe(0);
				},
			),
			{ numRuns: 500, seed: 7 },
		);
	});
});

describe("admissionPace and estimatedWaitMs", () => {
	it("uses the configured pace until there is a measured one", () => {
		expect(admissionPace(null, 100, 2000)).toBe(50);
		expect(admissionPace({ admitted: 0, spanMs: 0 }, 100, 2000)).toBe(50);
		// A span shorter than one interval says nothing yet.
		expect(admissionPace({ admitted: 100, spanMs: 500 }, 100, 2000)).toBe(50);
	});

	it("uses the measured pace when there is one", () => {
		expect(admissionPace({ admitted: 30, spanMs: 6000 }, 100, 2000)).toBe(5);
		expect(admissionPace({ admitted: 300, spanMs: 2000 }, 100, 2000)).toBe(150);
	});

	it("estimates the wait from the distance and the pace", () => {
		expect(estimatedWaitMs(0, 10)).toBe(0);
		expect(estimatedWaitMs(-1, 10)).toBe(0);
		expect(estimatedWaitMs(50, 10)).toBe(5000);
		expect(estimatedWaitMs(1, 3)).toBe(333);
		// No pace at all (paused or nothing admitted): a long but finite wait.
		expect(estimatedWaitMs(5, 0)).toBeGreaterThanOrEqual(MAX_POLL_MS);
	});
});

describe("the wait a fan is told", () => {
	it("is measured only: no batch in the window is no pace, never the configured one", () => {
		expect(measuredPacePerMinute({ admitted: 0, spanMs: 0 })).toBeNull();
		expect(measuredPacePerMinute({ admitted: 0, spanMs: 30_000 })).toBeNull();
		expect(measuredPacePerMinute({ admitted: 30, spanMs: 60_000 })).toBe(30);
		expect(measuredPacePerMinute({ admitted: 1, spanMs: 7_000 })).toBe(8.6);
	});

	it("counts the batches to come, the first one spacing after the last, at the size and spacing of the recent ones", () => {
		const second = (k: number, count = 100) => ({ at: 10_000 + k * 1_000, count });
		const recent = [second(0), second(1), second(2)];
		// A moment after a batch of 100 a second: place 150 goes in with the next two, the second of them 2 s away.
		expect(waitFromBatches(150, recent, 12_000, 12_000, 1_000)).toBe(2_000);
		// Place 100 is in the very next batch, 700 ms away; place 101 waits one batch more.
		expect(waitFromBatches(100, recent, 12_300, 12_300, 1_000)).toBe(700);
		expect(waitFromBatches(101, recent, 12_300, 12_300, 1_000)).toBe(1_700);
		// Batches of 10 every 3 s (the pacer held back by the shoppers' cap): 25 fans are three batches, the next due now.
		const slow = [{ at: 0, count: 10 }, { at: 3_000, count: 10 }, { at: 6_000, count: 10 }];
		expect(waitFromBatches(25, slow, 9_000, 9_000, 1_000)).toBe(6_000);
		// Never faster than the configured interval, whatever the batches' spacing looked like.
		expect(waitFromBatches(300, [{ at: 0, count: 100 }, { at: 100, count: 100 }], 100, 100, 1_000)).toBe(3_000);
	});

	it("does not promise an old rhythm once admission has slowed: the time from the last batch to the watermark is the least spacing", () => {
		const recent = [{ at: 0, count: 50 }, { at: 1_000, count: 50 }];
		// Twenty seconds with no batch: the next is counted as due now, and each after it twenty seconds on.
		expect(waitFromBatches(120, recent, 21_000, 21_000, 1_000)).toBe(2 * 20_000);
	});

	it("counts from the answer's time over a watermark a moment old, and a batch the watermark shows due is the next one after now, not no wait", () => {
		const recent = [{ at: 0, count: 100 }, { at: 1_000, count: 100 }];
		// The watermark is of 1.2 s; the answer at 1.8 s: place 150's batch (the second after the last) is at 3 s.
		expect(waitFromBatches(150, recent, 1_200, 1_800, 1_000)).toBe(1_200);
		// Place 50's batch was due at 2 s by that watermark, and the answer is at 2.5 s: the next batch due is at 3 s.
		expect(waitFromBatches(50, recent, 1_200, 2_500, 1_000)).toBe(500);
		expect(waitFromBatches(50, recent, 1_200, 3_000, 1_000)).toBe(0);
	});

	it("is 0 at the front, and unknown until two batches have shown a rhythm or with none in the last minute, never the configured pace", () => {
		expect(waitFromBatches(0, [], 5_000, 5_000, 1_000)).toBe(0);
		expect(waitFromBatches(5, [], 5_000, 5_000, 1_000)).toBeNull();
		expect(waitFromBatches(5, [{ at: 1_000, count: 0 }, { at: 2_000, count: 0 }], 5_000, 5_000, 1_000)).toBeNull();
		// One batch shows no spacing: a pacer running late would be promised the configured interval.
		expect(waitFromBatches(5, [{ at: 1_000, count: 100 }], 1_500, 1_500, 1_000)).toBeNull();
		expect(waitFromBatches(5, [{ at: 1_000, count: 100 }, { at: 3_000, count: 100 }], 3_500, 3_500, 1_000)).toBe(1_500);
		expect(waitFromBatches(5, [{ at: 1_000, count: 100 }, { at: 3_000, count: 100 }], 3_000 + PACE_WINDOW_MS + 1, 3_000 + PACE_WINDOW_MS + 1, 1_000)).toBeNull();
	});

	it("takes the watermark's last batches with their sizes, the first one's from where the list starts", () => {
		const w = { batchesFrom: 40, batches: [[50, 1_000], [70, 2_000], [100, 3_000]] };
		expect(lastBatches(w, 10)).toEqual([{ at: 1_000, count: 10 }, { at: 2_000, count: 20 }, { at: 3_000, count: 30 }]);
		expect(lastBatches(w, 2)).toEqual([{ at: 2_000, count: 20 }, { at: 3_000, count: 30 }]);
		expect(lastBatches({ batchesFrom: 7, batches: [] }, 10)).toEqual([]);
	});

	it("reads the rhythm from the last ten batches, so an opening's burst soon stops speaking for the line", () => {
		// Ten batches of 100 a second at the opening, then ten of 5 every 4 s (the shoppers' cap holding admission back).
		const burst = Array.from({ length: 10 }, (_, k) => ({ at: k * 1_000, count: 100 }));
		const slow = Array.from({ length: 10 }, (_, k) => ({ at: 10_000 + k * 4_000, count: 5 }));
		const last = slow[slow.length - 1]!.at;
		expect(waitFromBatches(20, [...burst, ...slow], last, last, 1_000)).toBe(4 * 4_000);
	});
});

describe("pollAfterMs", () => {
	it("grows with the distance to the front, for any fixed jitter", () => {
		fc.assert(
			fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (a, b, jitter) => {
				const [near, far] = a <= b ? [a, b] : [b, a];
				expect(pollAfterMs(near, jitter)).toBeLessThanOrEqual(pollAfterMs(far, jitter));
			}),
			{ numRuns: 1000, seed: 11 },
		);
		const waits = [0, 6_000, 12_000, 24_000, 48_000, 96_000];
		const polls = waits.map((w) => pollAfterMs(w, 0.5));
		expect(polls).toEqual([MIN_POLL_MS, MIN_POLL_MS, 2_000, 4_000, 8_000, 16_000]);
	});

	it("stays between 1 s and 20 s whatever the wait and the jitter", () => {
		fc.assert(
			fc.property(fc.integer({ min: 0, max: 10 ** 9 }), fc.double({ min: 0, max: 1, noNaN: true }), (wait, jitter) => {
				const p = pollAfterMs(wait, jitter);
				expect(Number.isInteger(p) && p >= MIN_POLL_MS && p <= MAX_POLL_MS).toBe(true);
			}),
			{ numRuns: 1000, seed: 13 },
		);
		expect(pollAfterMs(10 ** 9, 1)).toBe(MAX_POLL_MS);
		expect(pollAfterMs(0, 0)).toBe(MIN_POLL_MS);
	});

	it("spreads fans who would poll together by up to 10% either way", () => {
		expect(pollAfterMs(60_000, 0)).toBe(9_000);
		expect(pollAfterMs(60_000, 0.5)).toBe(10_000);
		expect(pollAfterMs(60_000, 1)).toBe(11_000);
	});
});

describe("activeFans", () => {
	it("counts the fans admitted within the window less the buyers since its first batch, never below zero", () => {
		expect(activeFans(300, 120, 100)).toBe(280);
		expect(activeFans(300, 100, 100)).toBe(300);
		// No batch in the window: nobody is counted as shopping whatever the buyers.
		expect(activeFans(0, 500, null)).toBe(0);
		// More buyers since than admitted in the window (fans admitted before it bought): none shopping, not a negative count.
		expect(activeFans(50, 400, 100)).toBe(0);
	});
});
