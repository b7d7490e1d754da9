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
	"paused" | "admissionRoom" | "batches" | "batchesFrom" | "at" | "intervalMs" | "pacePerSecond" | "admittedThrough" | "remaining" | "held" | "sold" | "maxPerFan" | "buyers" | "shopping"
>;

/**
 * How many more fans the tickets left can serve: the tickets left at the tickets each buyer
 * took (sold / buyers), less the fans let in who are still shopping and hold nothing yet
 * (each will take as many; a fan admitted may not learn it until their next poll, so a
 * fan let in seconds ago is no sign of tickets to spare). Unbounded until someone has
 * bought. A place past it is let in only as holds are given up or run out (the end of a
 * drop, when the batches shrink and stop), which no rhythm foretells: telling it the
 * rhythm's wait promised seconds to fans who then waited out abandoned holds.
 */
export function stockRoom(w: WaitSource): number {
	// Written so a watermark without the counts (one from before they were carried) reads as "nobody has bought yet".
	if (!(w.buyers > 0 && w.sold > 0)) return Infinity;
	return roomAt(w, Math.min(Math.max(1, w.maxPerFan), Math.max(1, w.sold / w.buyers)));
}

/** Buyers the sure bound leans on at the drop's maxPerFan each before the real ones speak for the rest. */
export const PRIOR_BUYERS = 10;

/**
 * The fans the tickets left serve for sure enough to be told a wait: the tickets each
 * buyer took, counted with PRIOR_BUYERS more buyers taking the drop's maxPerFan, so the
 * first few buyers (or none, at the opening) do not make the tickets look plentiful. A
 * place within stockRoom but past this is told no wait yet and polls at the line's pace.
 */
export function sureRoom(w: WaitSource): number {
	const most = Math.max(1, w.maxPerFan);
	const sold = w.sold > 0 ? w.sold : 0;
	const buyers = w.buyers > 0 ? w.buyers : 0;
	return roomAt(w, Math.min(most, (sold + PRIOR_BUYERS * most) / (buyers + PRIOR_BUYERS)));
}

function roomAt(w: WaitSource, perFan: number): number {
	const yetToHold = Number.isFinite(w.shopping) ? Math.max(0, w.shopping - Math.ceil(w.held / perFan)) : 0;
	return Math.floor(w.remaining / perFan) - yetToHold;
}

/**
 * The wait told at `place` (1: next in line), counted in batches: none while paused, with
 * no batch lately, or to a place past the room the shoppers' cap leaves or past the fans
 * the tickets left can serve (admission there waits for fans to buy, give up or run out
 * of time, which no pace foretells); such a fan
 * polls at the slowest pace, since their place moves only as tickets free. Nor, polling at
 * the line's pace, to a place the tickets left may not reach (past sureRoom). The polling
 * advice keeps the configured pace until one is measured. `jitter` in [0, 1) spreads the polls.
 */
export function waitView(w: WaitSource, place: number, now: number, jitter: number = Math.random()): WaitView {
	const capped = place > Math.min(w.admissionRoom, stockRoom(w));
	// Not yet known whether the tickets reach this place: no wait told, and polls at the line's pace meanwhile.
	const unsure = !capped && place > sureRoom(w);
	const wait = w.paused || capped || unsure ? null : waitFromBatches(place, lastBatches(w, RHYTHM_BATCHES), w.at, now, w.intervalMs);
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
