// The wait a waiting fan is told and when they should poll next, from the one
// watermark the Worker answers from: pure, so the fan route and the simulator's
// fans compute it with the same code.
import { RHYTHM_BATCHES, estimatedWaitMs, pollAfterMs, waitFromBatches } from "./admission";
import { type Watermark, lastBatches } from "./watermark";

/** Why no wait is told: paused, no rhythm shown lately, or a place past the room the shoppers' cap leaves. */
export type WaitUnknown = "paused" | "no_pace" | "waiting_for_tickets" | null;

export interface WaitView {
	estimatedWaitMs: number | null;
	waitUnknown: WaitUnknown;
	pollAfterMs: number;
}

/** The watermark's fields a wait is read from. */
export type WaitSource = Pick<
	Watermark,
	"paused" | "admissionRoom" | "batches" | "batchesFrom" | "at" | "intervalMs" | "pacePerSecond" | "admittedThrough" | "remaining" | "held" | "sold"
>;

/** How long an admitted fan is given to have held before the tickets per fan are read from those admitted: longer than a hold takes. */
export const SETTLE_MS = 5_000;

/**
 * How many more fans the tickets left can serve: the tickets left over the tickets each
 * fan let in before SETTLE_MS took (held or bought), less the fans let in since, who
 * have mostly not held yet. Unbounded until some settled fan has taken a ticket. A place
 * past it is let in only as holds are given up or run out (the end of a drop, when the
 * batches shrink and stop), which no rhythm foretells: telling it the rhythm's wait
 * promised half a minute to fans who then waited out an abandoned hold.
 */
export function stockRoom(w: WaitSource): number {
	const taken = w.sold + w.held;
	let recent = 0;
	for (const b of lastBatches(w, Math.max(RHYTHM_BATCHES, Math.ceil(SETTLE_MS / Math.max(1, w.intervalMs)) + 1))) if (b.at > w.at - SETTLE_MS) recent += b.count;
	const settled = w.admittedThrough - recent;
	if (settled <= 0 || taken <= 0) return Infinity;
	return Math.floor(w.remaining / (taken / settled)) - recent;
}

/**
 * The wait told at `place` (1: next in line), counted in batches: none while paused, with
 * no batch lately, or to a place past the room the shoppers' cap leaves or past the fans
 * the tickets left can serve (admission there waits for fans to buy, give up or run out
 * of time, which no pace foretells); such a fan
 * polls at the slowest pace, since their place moves only as tickets free. The polling
 * advice keeps the configured pace until one is measured. `jitter` in [0, 1) spreads the polls.
 */
export function waitView(w: WaitSource, place: number, now: number, jitter: number = Math.random()): WaitView {
	const capped = place > Math.min(w.admissionRoom, stockRoom(w));
	const wait = w.paused || capped ? null : waitFromBatches(place, lastBatches(w, RHYTHM_BATCHES), w.at, now, w.intervalMs);
	const waitUnknown: WaitUnknown = w.paused ? "paused" : capped ? "waiting_for_tickets" : wait === null ? "no_pace" : null;
	const poll = w.paused ? 5_000 : pollAfterMs(capped ? Infinity : (wait ?? estimatedWaitMs(place, w.pacePerSecond)), jitter);
	return { estimatedWaitMs: wait, waitUnknown, pollAfterMs: poll };
}

/**
 * When a fan with no position yet should poll. Before the opening: around it, not before
 * a second nor later than 30 s. After it (a join whose slot is being sealed): in about a second.
 */
export function unplacedPollMs(w: Pick<Watermark, "opened" | "opensAt">, now: number, jitter: number = Math.random()): number {
	const untilOpen = Date.parse(w.opensAt) - now;
	const spread = 0.9 + 0.2 * jitter;
	return Math.round(w.opened ? 1_000 * spread : Math.min(30_000, Math.max(1_000, untilOpen * spread)));
}
