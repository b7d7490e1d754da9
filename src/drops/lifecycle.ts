// A drop's life as one state machine: scheduled → open → paused → sold out →
// closed, and cancelled, an end state nothing leaves. Every place that takes a
// fan's money or gives a fan a place asks `refusal` here, with the state as far
// as it knows it (the Worker from the watermark, a shard from what the pacer and
// the cancel told it), and every change of a drop's settings asks `moveRefusal`.
// A pause stops admission (no new fans are let in) but not the fans already in
// their turn: their holds and purchases go on. A cancel stops everything. Pure.
import { type Outcome, fail } from "../shared/outcome";

export type DropState = "scheduled" | "open" | "paused" | "sold_out" | "closed" | "cancelled";

/** What decides a drop's state: its times, what the promoter set, and whether its tickets are gone. */
export interface LifeFacts {
	opensAt: string;
	closesAt: string | null;
	paused: boolean;
	/** When the drop was cancelled; null (or absent, in settings kept before cancels were) while it was not. */
	cancelledAt?: string | null;
}

const isCancelled = (facts: Pick<LifeFacts, "cancelledAt">) => typeof facts.cancelledAt === "string";

/** The state of a drop at `now` (ms). */
export function dropState(facts: LifeFacts, soldOut: boolean, now: number): DropState {
	if (isCancelled(facts)) return "cancelled";
	if (facts.closesAt !== null && Date.parse(facts.closesAt) <= now) return "closed";
	if (soldOut) return "sold_out";
	if (facts.paused) return "paused";
	return Date.parse(facts.opensAt) <= now ? "open" : "scheduled";
}

/**
 * The moves the promoter may make from each state (time opens and closes a drop, and
 * stock sells it out and brings it back). Reopening a closed drop is a new closesAt;
 * cancelled allows none. The promoter page offers exactly these.
 */
export type PromoterMove = "pause" | "resume" | "reschedule" | "close" | "reopen" | "cancel";

export const MOVES: Readonly<Record<DropState, readonly PromoterMove[]>> = {
	scheduled: ["pause", "reschedule", "close", "cancel"],
	open: ["pause", "close", "cancel"],
	paused: ["resume", "close", "cancel"],
	sold_out: ["pause", "close", "cancel"],
	closed: ["reopen", "cancel"],
	cancelled: [],
};

/** The settings whose change moves a drop through its states: none of them changes on a cancelled drop. */
const LIFE_FIELDS = ["paused", "opensAt", "closesAt"] as const;

/** What a fan or the engine may do with a drop. */
export type DropAct = "join" | "admit" | "hold" | "purchase" | "restock";

/**
 * The states in which each act goes on. Joins are taken before the opening and during a
 * pause (the fan waits); only an open drop admits; holds and purchases go on while
 * paused (the fans already in their turn keep it) and after a sell-out (a hold made
 * before it is still bought). Closing is enforced by the turn's end and the lines.
 */
const ALLOWED: Readonly<Record<DropAct, readonly DropState[]>> = {
	join: ["scheduled", "open", "paused", "sold_out", "closed"],
	admit: ["open"],
	hold: ["scheduled", "open", "paused", "sold_out", "closed"],
	purchase: ["scheduled", "open", "paused", "sold_out", "closed"],
	restock: ["scheduled", "open", "paused", "sold_out", "closed"],
};

export const allows = (state: DropState, act: DropAct): boolean => ALLOWED[act].includes(state);

export const dropCancelled = (): Outcome<never> => fail(409, "drop_cancelled", "This drop was cancelled: nothing more is sold, and its orders are refunded.");

/** Why `act` may not happen in `state` (409 drop_cancelled on a cancelled drop), or null when it may. Refusals other than a cancel are not errors (a paused drop admits nobody, and says nothing). */
export function refusal(state: DropState, act: DropAct): Outcome<never> | null {
	if (allows(state, act)) return null;
	return state === "cancelled" ? dropCancelled() : null;
}

/** Why a drop's settings may not change from `drop` to `next` (a cancelled drop is never resumed, rescheduled or reopened, nor uncancelled), or null. */
export function changeRefusal(drop: LifeFacts, next: LifeFacts): Outcome<never> | null {
	if (!isCancelled(drop)) return null;
	if (!isCancelled(next) || LIFE_FIELDS.some((f) => drop[f] !== next[f])) return dropCancelled();
	return null;
}

/** The part of the state the promoter sets, as a shard keeps it: the shard knows no times or totals. */
export type SetState = "running" | "paused" | "cancelled";

/** What a shard passes to `refusal`: the state its set part implies. */
export const stateOfSet = (set: SetState): DropState => (set === "running" ? "open" : set);

export const setStateOf = (facts: Pick<LifeFacts, "paused" | "cancelledAt">): SetState => (isCancelled(facts) ? "cancelled" : facts.paused ? "paused" : "running");
