// How often the pacer seals the lines, on its own: every tick while fans join,
// every few seconds while nobody does, and a line's wake honoured until a seal
// has placed what woke it.
import { describe, expect, it } from "vitest";
import { SealPace } from "../../src/waiting-room/seal-pace";
import { SEAL_ACTIVE_MS, SEAL_QUIET_MS } from "../../src/waiting-room/timing";

const T = 1_000_000;

/** A pacer that placed fans long ago and sealed quietly at T. */
function quietAtT(): SealPace {
	const pace = new SealPace();
	pace.sealed(2, T - 60_000, pace.asking());
	pace.sealed(0, T, pace.asking());
	return pace;
}

describe("the seal pace", () => {
	it("seals every tick while seals place fans, and only every SEAL_QUIET_MS once they stop", () => {
		const pace = new SealPace();
		// A fresh pacer seals at its first tick.
		expect(pace.due(T)).toBe(true);
		pace.sealed(3, T, pace.asking());
		expect(pace.due(T + SEAL_ACTIVE_MS)).toBe(true);
		pace.sealed(0, T + SEAL_ACTIVE_MS, pace.asking());
		expect(pace.due(T + SEAL_ACTIVE_MS + 1)).toBe(false);
		expect(pace.due(T + SEAL_ACTIVE_MS + SEAL_QUIET_MS)).toBe(true);
	});

	it("keeps a line's wake until a seal places something: a seal that came before the woken join's slot closed does not use it up", () => {
		const pace = quietAtT();
		expect(pace.due(T + 100)).toBe(false);
		// A line's first join after the quiet seal wakes the pacer; the next seal runs before that join's slot is sealable.
		pace.woken();
		expect(pace.due(T + 200)).toBe(true);
		pace.sealed(0, T + 200, pace.asking());
		// The join is still to be placed: the next tick seals again, not 5 s later.
		expect(pace.due(T + 700)).toBe(true);
		pace.sealed(1, T + 700, pace.asking());
		expect(pace.due(T + 700 + SEAL_ACTIVE_MS)).toBe(true);
		expect(pace.due(T + 700 + SEAL_ACTIVE_MS + 1)).toBe(false);
	});

	it("does not keep a wake for ever when no seal places anything (its join was placed by a seal already on its way)", () => {
		const pace = quietAtT();
		pace.woken();
		for (let t = T + 500; t < T + 500 + SEAL_ACTIVE_MS; t += 500) {
			expect(pace.due(t)).toBe(true);
			pace.sealed(0, t, pace.asking());
		}
		pace.sealed(0, T + 500 + SEAL_ACTIVE_MS, pace.asking());
		expect(pace.due(T + 500 + SEAL_ACTIVE_MS + 100)).toBe(false);
	});

	it("keeps a wake that came while a seal was on its way", () => {
		const pace = quietAtT();
		const asked = pace.asking();
		pace.woken();
		pace.sealed(2, T + 100, asked);
		expect(pace.due(T + 100 + SEAL_ACTIVE_MS + 1)).toBe(true);
	});
});
