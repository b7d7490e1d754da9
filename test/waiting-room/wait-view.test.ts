// The wait a waiting fan is told (waitView, shared by the fan route and the simulator's
// fans) on the cases the simulator showed: the end of a drop, where the batches shrink
// and stop once the tickets left are spoken for and a rhythm's wait would be a promise
// broken by minutes; fans let in who have not held yet (they may not know it until their
// next poll) and must not make the tickets look plentiful; the opening, before anyone has
// bought; and a wait that counts down between polls instead of swinging.
import { describe, expect, it } from "vitest";
import { PRIOR_BUYERS, type WaitSource, stockRoom, sureRoom, unplacedPollMs, waitView } from "../../src/waiting-room/wait-view";
import { MAX_POLL_MS } from "../../src/waiting-room/admission";

/**
 * Batches of `size` every second up to `at` (the watermark's time), `through` the last admitted position; `buyers` took
 * `sold` tickets, `shopping` fans let in have not bought (`held` tickets are theirs), the drop's cap `maxPerFan` (4).
 */
function line(input: { batches: number; size: number; at: number; remaining: number; sold?: number; held?: number; buyers?: number; shopping?: number; room?: number; maxPerFan?: number }): WaitSource {
	const batches: number[][] = [];
	for (let k = 0; k < input.batches; k++) batches.push([(k + 1) * input.size, input.at - (input.batches - 1 - k) * 1_000]);
	const admittedThrough = input.batches * input.size;
	return {
		paused: false,
		admissionRoom: input.room ?? 10_000,
		batches,
		batchesFrom: 0,
		at: input.at,
		intervalMs: 1_000,
		pacePerSecond: input.size,
		admittedThrough,
		remaining: input.remaining,
		held: input.held ?? 0,
		sold: input.sold ?? 0,
		buyers: input.buyers ?? 0,
		shopping: input.shopping ?? admittedThrough - (input.buyers ?? 0),
		maxPerFan: input.maxPerFan ?? 4,
	};
}

describe("the tickets left as a bound on the wait told", () => {
	it("counts the fans the tickets left can serve at the tickets each buyer took, less the fans let in who hold nothing yet", () => {
		// 20 batches of 20: 400 let in; 200 bought 500 tickets (2.5 each); 150 still shop, 40 of them holding 100 tickets.
		const w = line({ batches: 20, size: 20, at: 60_000, remaining: 400, sold: 500, held: 100, buyers: 200, shopping: 150 });
		// The 400 left serve 160 fans; the 110 let in who hold nothing yet come first.
		expect(stockRoom(w)).toBe(50);
		expect(sureRoom(w)).toBeLessThanOrEqual(50);
		expect(waitView(w, 40, 60_000, 0.5)).toMatchObject({ estimatedWaitMs: 2_000, waitUnknown: null });
		const past = waitView(w, 51, 60_000, 0.5);
		expect(past).toMatchObject({ estimatedWaitMs: null, waitUnknown: "waiting_for_tickets" });
		// Such a fan polls at the slowest pace: their place moves only as holds are given up or run out.
		expect(past.pollAfterMs).toBeGreaterThanOrEqual(MAX_POLL_MS * 0.9);
	});

	it("the simulator's endgame on four shards: fans let in who have not held yet are no tickets to spare", () => {
		// 27 s in, seed 1 of 1,500 fans for 1,000 tickets in batches of 20: 520 let in, 141 bought 352, 156 held, 492 left.
		// Counting the tickets per fan over every fan let in (1.2) said 306 more could be served; fan 532, place 12, was
		// told 0.1 s and waited 70 s for abandoned holds to run out: the fans let in had mostly not held yet.
		const w = line({ batches: 26, size: 20, at: 27_000, remaining: 492, sold: 352, held: 156, buyers: 141, shopping: 379 });
		expect(stockRoom(w)).toBeLessThan(0);
		expect(waitView(w, 12, 27_000, 0.5)).toMatchObject({ estimatedWaitMs: null, waitUnknown: "waiting_for_tickets" });
	});

	it("before anyone has bought, only the fans sure to be served at the drop's cap each are told a wait; the rest poll at the line's pace", () => {
		// 3 batches of 20 at the opening, nobody has bought: 1,000 left serve 250 fans at 4 each, less the 60 let in.
		const w = line({ batches: 3, size: 20, at: 3_000, remaining: 1_000 });
		expect(stockRoom(w)).toBe(Infinity);
		expect(sureRoom(w)).toBe(190);
		expect(waitView(w, 190, 3_000, 0.5)).toMatchObject({ estimatedWaitMs: 10_000, waitUnknown: null });
		// Seed 1 told place 490 about 26 s at the opening; it waited 175 s. Now: not known yet, and a poll soon.
		const unsure = waitView(w, 490, 3_000, 0.5);
		expect(unsure).toMatchObject({ estimatedWaitMs: null, waitUnknown: "no_pace" });
		expect(unsure.pollAfterMs).toBeLessThan(MAX_POLL_MS * 0.9);
	});

	it("the first few buyers lean on the drop's cap (PRIOR_BUYERS), so two buyers of one ticket do not promise the tickets to 900 fans", () => {
		const few = line({ batches: 4, size: 20, at: 4_000, remaining: 998, sold: 2, buyers: 2, shopping: 78 });
		// 2 tickets by 2 buyers, with 10 more taking 4: 3.5 a fan, 285 fans, less the 78 let in shopping.
		expect(PRIOR_BUYERS).toBe(10);
		expect(sureRoom(few)).toBe(207);
		expect(stockRoom(few)).toBe(920);
		expect(waitView(few, 300, 4_000, 0.5).waitUnknown).toBe("no_pace");
		// With many buyers the prior weighs nothing much: 400 buyers of 2.5 each.
		const many = line({ batches: 30, size: 20, at: 30_000, remaining: 500, sold: 1_000, buyers: 400, shopping: 100, held: 0 });
		expect(sureRoom(many)).toBe(Math.floor(500 / (1_040 / 410)) - 100);
	});

	it("a watermark from before the counts were carried (no buyers, no shopping) reads as nobody having bought: the sure bound still holds", () => {
		const { buyers: _b, shopping: _s, ...old } = line({ batches: 3, size: 20, at: 3_000, remaining: 1_000 });
		const w = old as unknown as WaitSource;
		expect(stockRoom(w)).toBe(Infinity);
		expect(sureRoom(w)).toBe(250);
		expect(waitView(w, 250, 3_000, 0.5).waitUnknown).toBeNull();
		expect(waitView(w, 251, 3_000, 0.5).waitUnknown).toBe("no_pace");
	});

	it("the shoppers' cap still bounds it where it is the tighter", () => {
		const w = line({ batches: 20, size: 20, at: 60_000, remaining: 3_000, sold: 500, buyers: 200, shopping: 50, room: 30 });
		expect(stockRoom(w)).toBeGreaterThan(30);
		expect(waitView(w, 30, 60_000, 0.5).waitUnknown).toBeNull();
		expect(waitView(w, 31, 60_000, 0.5).waitUnknown).toBe("waiting_for_tickets");
	});
});

describe("a wait that holds between polls", () => {
	it("counts down with the clock over one watermark, and across a batch drops by the batch's spacing, not more", () => {
		const w = line({ batches: 10, size: 20, at: 10_000, remaining: 5_000 });
		const at = (now: number) => waitView(w, 100, now, 0.5).estimatedWaitMs!;
		expect(at(10_000)).toBe(5_000);
		expect(at(10_400)).toBe(4_600);
		// The next watermark: one more batch went in on time, place 100 is place 80.
		const next = line({ batches: 11, size: 20, at: 11_000, remaining: 5_000 });
		expect(waitView(next, 80, 11_000, 0.5).estimatedWaitMs).toBe(at(11_000));
	});

	it("an unplaced fan polls around the opening before it, about a second after it", () => {
		const opensAt = new Date(100_000).toISOString();
		expect(unplacedPollMs({ opened: false, opensAt }, 40_000, 0.5)).toBe(30_000);
		expect(unplacedPollMs({ opened: false, opensAt }, 95_000, 0.5)).toBe(5_000);
		expect(unplacedPollMs({ opened: true, opensAt }, 101_000, 0.5)).toBe(1_000);
	});
});
