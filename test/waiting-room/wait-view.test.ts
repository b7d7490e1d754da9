// The wait a waiting fan is told (waitView, shared by the fan route and the simulator's
// fans) on the cases the simulator showed: the end of a drop, where the batches shrink
// and stop once the tickets left are spoken for and a rhythm's wait would be a promise
// broken by minutes; fans just let in, who have not held yet and must not make the
// tickets look plentiful; and a wait that counts down between polls instead of swinging.
import { describe, expect, it } from "vitest";
import { SETTLE_MS, type WaitSource, stockRoom, unplacedPollMs, waitView } from "../../src/waiting-room/wait-view";
import { MAX_POLL_MS } from "../../src/waiting-room/admission";

/** Batches of `size` every second up to `at` (the watermark's time), `through` the last admitted position. */
function line(input: { batches: number; size: number; at: number; remaining: number; taken: number; room?: number }): WaitSource {
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
		held: Math.floor(input.taken / 2),
		sold: input.taken - Math.floor(input.taken / 2),
	};
}

describe("the tickets left as a bound on the wait told", () => {
	it("counts the fans the tickets left can serve at the tickets each settled fan took, less the fans let in since", () => {
		// 20 batches of 20 a second: the last five (100 fans) went in within SETTLE_MS and have mostly not held yet.
		const w = line({ batches: 20, size: 20, at: 60_000, remaining: 300, taken: 750 });
		expect(SETTLE_MS).toBe(5_000);
		// 300 settled fans took 750 tickets, 2.5 each: the 300 left serve 120 fans, of whom the 100 just let in come first.
		expect(stockRoom(w)).toBe(20);
		expect(waitView(w, 20, 60_000, 0.5).estimatedWaitMs).toBe(1_000);
		const past = waitView(w, 21, 60_000, 0.5);
		expect(past).toMatchObject({ estimatedWaitMs: null, waitUnknown: "waiting_for_tickets" });
		// Such a fan polls at the slowest pace: their place moves only as holds are given up or run out.
		expect(past.pollAfterMs).toBeGreaterThanOrEqual(MAX_POLL_MS * 0.9);
	});

	it("the simulator's endgame: place 350 within the shoppers' room, past what the tickets can serve, is told no rhythm's wait", () => {
		// 1,000 tickets, batches of 20 a second, 2.5 tickets a fan: 8 s in, 160 fans in and 350 took; the cap's room is 1,300.
		const w = line({ batches: 8, size: 20, at: 8_000, remaining: 650, taken: 150, room: 1_300 });
		// 60 settled fans took 150 tickets: the 650 left serve 260 fans, the 100 just let in first.
		expect(stockRoom(w)).toBe(160);
		expect(waitView(w, 160, 8_000, 0.5).estimatedWaitMs).toBe(8_000);
		// Before, place 350 was told about 18 s, and (in the simulation) waited 160 s for an abandoned hold to run out.
		expect(waitView(w, 350, 8_000, 0.5)).toMatchObject({ estimatedWaitMs: null, waitUnknown: "waiting_for_tickets" });
	});

	it("is no bound while no settled fan has taken a ticket: the opening's first batches are told their rhythm", () => {
		// Every fan let in within SETTLE_MS: their holds are still on the way, the tickets are not spoken for.
		const fresh = line({ batches: 3, size: 100, at: 3_000, remaining: 100, taken: 200 });
		expect(stockRoom(fresh)).toBe(Infinity);
		expect(waitView(fresh, 250, 3_000, 0.5)).toMatchObject({ estimatedWaitMs: 3_000, waitUnknown: null });
		// Nothing taken yet, however long ago the fans went in.
		expect(stockRoom(line({ batches: 10, size: 10, at: 20_000, remaining: 300, taken: 0 }))).toBe(Infinity);
	});

	it("the shoppers' cap still bounds it where it is the tighter", () => {
		const w = line({ batches: 20, size: 20, at: 60_000, remaining: 3_000, taken: 750, room: 30 });
		expect(stockRoom(w)).toBeGreaterThan(30);
		expect(waitView(w, 30, 60_000, 0.5).waitUnknown).toBeNull();
		expect(waitView(w, 31, 60_000, 0.5).waitUnknown).toBe("waiting_for_tickets");
	});
});

describe("a wait that holds between polls", () => {
	it("counts down with the clock over one watermark, and across a batch drops by the batch's spacing, not more", () => {
		const w = line({ batches: 10, size: 20, at: 10_000, remaining: 5_000, taken: 0 });
		const at = (now: number) => waitView(w, 100, now, 0.5).estimatedWaitMs!;
		expect(at(10_000)).toBe(5_000);
		expect(at(10_400)).toBe(4_600);
		// The next watermark: one more batch went in on time, place 100 is place 80.
		const next = line({ batches: 11, size: 20, at: 11_000, remaining: 5_000, taken: 0 });
		expect(waitView(next, 80, 11_000, 0.5).estimatedWaitMs).toBe(at(11_000));
	});

	it("an unplaced fan polls around the opening before it, about a second after it", () => {
		const opensAt = new Date(100_000).toISOString();
		expect(unplacedPollMs({ opened: false, opensAt }, 40_000, 0.5)).toBe(30_000);
		expect(unplacedPollMs({ opened: false, opensAt }, 95_000, 0.5)).toBe(5_000);
		expect(unplacedPollMs({ opened: true, opensAt }, 101_000, 0.5)).toBe(1_000);
	});
});
