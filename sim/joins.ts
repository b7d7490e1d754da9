// A fan's join as the load runner's journey sends it (loadtest/lib/journey.js): the
// same secret with every join, and when no answer comes within the client's timeout
// (the runner's 30 s, REQUEST_TIMEOUT_SECONDS in loadtest/lib/k6-client.js) the join
// is sent again after the journey's pause, as many attempts as it makes (its own
// JOIN_ATTEMPTS and joinRetryPauseMs).
// And what the simulator holds a join sent again to: the line answers the place it
// gave the first (one place a fan).
import { JOIN_ATTEMPTS, joinRetryPauseMs } from "../loadtest/lib/journey.js";
import { seedHex, type EventQueue } from "./events";
import type { JoinAnswer, Room } from "./room";

/** How long the runner's client waits for an answer before it counts the request as failed. */
export const JOIN_TIMEOUT_MS = 30_000;

/** The fan's secret as its line keeps it (the Worker hands the line its SHA-256): drawn from the seed, the same with every join of the fan. */
export function secretOf(seed: number, fanId: string): string {
	return seedHex(seed, `secret:${fanId}`);
}

/**
 * Sends fan's join through `send` (the fans' machine) to its line, and again as the journey
 * does when its answer never comes; `joined` gets the answer, `failed` is called when every
 * attempt went unanswered.
 */
export function sendJoin(room: Room, events: EventQueue, seed: number, fan: { id: string; line: number }, send: (request: () => void) => void, joined: (a: JoinAnswer) => void, failed: () => void, attempt = 0): void {
	send(() => {
		const sentAt = events.now;
		room.join(fan.id, fan.line, secretOf(seed, fan.id), joined, () =>
			events.at(sentAt + JOIN_TIMEOUT_MS + joinRetryPauseMs(attempt), () => {
				if (attempt + 1 >= JOIN_ATTEMPTS) return failed();
				sendJoin(room, events, seed, fan, send, joined, failed, attempt + 1);
			}),
		);
	});
}

export function samePlace(a: JoinAnswer, b: JoinAnswer): boolean {
	if (a.kind === "prequeue" && b.kind === "prequeue") return a.line === b.line && a.seq === b.seq;
	if (a.kind === "slot" && b.kind === "slot") return a.line === b.line && a.slot === b.slot && a.index === b.index;
	return a.kind === b.kind;
}

export function describePlace(a: JoinAnswer): string {
	if (a.kind === "prequeue") return `place ${a.seq} of line ${a.line}'s pre-queue`;
	if (a.kind === "slot") return `index ${a.index} of slot ${a.slot} on line ${a.line}`;
	return "sold out";
}
