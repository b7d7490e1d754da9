// A registered window's draw, the rule anyone re-derives: the verified
// registration ids in ascending order (by UTF-16 code unit, as SQLite's BINARY
// order sorts ASCII), shuffled by the pre-queue's own Fisher-Yates from the
// window's seed (prequeueOrder); the first `invites` of the shuffled order are
// invited. loadtest/lib/draw.js is the same rule in plain JavaScript, for
// `npm run verify-fairness`. Pure.
import { prequeueOrder } from "./placement";

/** The ids in the order the draw reads them. */
export const drawOrder = (ids: readonly string[]): string[] => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** The ids the draw invites, in ascending order: all of them when fewer than `invites` registered. */
export function drawInvited(seedHex: string, ids: readonly string[], invites: number): string[] {
	const sorted = drawOrder(ids);
	const order = prequeueOrder(seedHex, sorted.length);
	const picked: string[] = [];
	for (let k = 0; k < Math.min(invites, sorted.length); k++) picked.push(sorted[order[k]!]!);
	return drawOrder(picked);
}

/** The rule in words, as the public draw answers it. */
export const DRAW_ALGORITHM =
	"The verified registration ids in ascending order (by UTF-16 code unit) are shuffled by Fisher-Yates driven by xoshiro128** seeded with the 128-bit seed " +
	"(the pre-queue's shuffle over 0..n-1); the ids at the first `invites` places of the shuffled order are invited.";
