// A fan's turn as the Worker grants and checks it, from its copy of the watermark:
// on a poll, whether an admitted fan's turn is still on and what its access token
// says (when the turn began, when it ends, the position it carries); on a hold, what
// the Worker refuses before asking a shard. Pure, so the fan routes
// (src/http/fan-queue-routes.ts, fan-hold-routes.ts) and the simulator (sim/fans.ts)
// decide a turn with the same code. The token's signature is the routes' own
// (src/shared/tokens.ts).
import { type Outcome, fail, ok } from "../shared/outcome";
import { dropState, refusal } from "../drops/lifecycle";
import { hasClosed } from "../drops/rules";
import { admittedAt } from "./placement";
import type { Watermark } from "./watermark";

/** Whether a fan's turn is the offer of a returned ticket: they were placed after the sell-out. */
export function isOffer(w: Pick<Watermark, "returnsFrom">, position: number): boolean {
	return w.returnsFrom !== null && position > w.returnsFrom;
}

/** How long a fan's turn lasts: after a sell-out, a fan placed after it is offered a returned ticket, a longer turn (s). */
export function turnSeconds(w: Pick<Watermark, "returnsFrom" | "offerSeconds">, position: number, accessSeconds: number): number {
	return isOffer(w, position) ? Math.max(accessSeconds, w.offerSeconds) : accessSeconds;
}

/**
 * Where the time the fan's batch went in is found: in the watermark's batches (`at`), nowhere
 * (admitted before every listed batch, and the list is whole: longer ago than a turn lasts),
 * or only at the pacer (the list was cut short).
 */
export type AdmissionSource = { kind: "listed"; at: number | null } | { kind: "gone" } | { kind: "ask" };

export function admissionSource(w: Pick<Watermark, "batches" | "batchesFrom" | "batchesComplete">, position: number): AdmissionSource {
	if (position > w.batchesFrom) return { kind: "listed", at: admittedAt(w.batches, position) };
	return w.batchesComplete ? { kind: "gone" } : { kind: "ask" };
}

/**
 * An admitted fan's turn. `at`: when their batch went in (null: not known, the turn long over).
 * The turn ends a turn's length after it (an offer's longer), and a sale window's turn with the
 * window at the latest; the token's expiry is that end in whole seconds, and a turn whose expiry
 * has passed grants nothing. A window's token carries position 0: its place is in the window's
 * own line, never a turn for the general sale's returned tickets. The same batch always gives
 * the same grant, so polling again never makes a new turn.
 */
export type Grant = { kind: "expired" } | { kind: "granted"; admittedAt: number; exp: number; offer: boolean; tokenPosition: number };

export function accessGrant(
	w: Pick<Watermark, "returnsFrom" | "offerSeconds" | "closesAt">,
	turn: { position: number; at: number | null; window: string | undefined },
	now: number,
	accessSeconds: number,
): Grant {
	const { position, at, window } = turn;
	if (at === null) return { kind: "expired" };
	const windowEnd = window === undefined || w.closesAt === null ? Infinity : Date.parse(w.closesAt);
	const exp = Math.floor(Math.min(at + turnSeconds(w, position, accessSeconds) * 1000, windowEnd) / 1000);
	if (exp * 1000 <= now) return { kind: "expired" };
	return { kind: "granted", admittedAt: at, exp, offer: isOffer(w, position), tokenPosition: window === undefined ? position : 0 };
}

/**
 * What the Worker refuses of a hold before any shard is asked, from its copy of the
 * watermark (which may be a second old: the shard, told of a cancel at once, judges
 * again): a drop whose state takes no holds, a closed drop, and, after a sell-out, a
 * turn from before it (`tokenPosition`, 0 when the token carries none) while anyone is
 * in the line for returned tickets (src/inventory/returns-line.ts judges again where the
 * stock is taken).
 */
export function holdRefusal(w: Watermark, tokenPosition: number, now: number): Outcome<null> {
	const state = refusal(dropState(w, false, now), "hold");
	if (state !== null) return state;
	if (hasClosed(w, now)) return fail(409, "drop_closed", "This drop has closed.");
	if (w.returnsFrom !== null && tokenPosition <= w.returnsFrom && w.lastPosition > w.returnsFrom) {
		return fail(409, "returns_in_line", "This drop sold out; tickets that come back go to the fans waiting in line, in order.");
	}
	return ok(null);
}
