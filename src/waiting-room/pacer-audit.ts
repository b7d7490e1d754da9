// What the pacer vouches for in a drop's public audit: the seed matches the
// commitment published before the opening, the shuffle was drawn over the
// pre-queue the lines hold, positions tile 1..placed with the lines agreeing,
// and admission went in order. Built synchronously from the pacer's core and
// the lines' own audits; the pacer (waiting-room.ts) gathers those.
import type { LineAudit } from "./line-core";
import type { PacerCore } from "./pacer-core";
import { SLOT_MS } from "./timing";
import type { PacerState } from "./pacer-schema";

export const SHUFFLE_ALGORITHM =
	"Fisher-Yates over the pre-queue laid out line by line in join order (global index g = fans on lower lines + place in line - 1), " +
	"driven by xoshiro128** seeded with the 128-bit seed; position = 1 + final index of g. " +
	`Later joiners: slots of ${SLOT_MS} ms by their line's clock, ordered by slot, then line, then join order in the line.`;

export interface RoomAudit {
	seed: string | null;
	seedCommitment: string;
	/** The seed hashes to the commitment published before the opening. */
	commitmentVerified: boolean | null;
	openedAt: string | null;
	prequeueSize: number;
	prequeue: number[] | null;
	algorithm: string;
	/** Every line's pre-queue is the size the shuffle was drawn over, with places 1..n, so the order re-derives from public data. */
	shuffleVerified: boolean | null;
	admittedThrough: number;
	/** Positions tile 1..placed with no gap or overlap, the lines agree with the pacer, and admission never passed placed fans. */
	admittedInOrder: boolean;
	placed: number;
	batches: number;
	largestBatch: number;
	/** The shortest time between two batches (null with fewer than two). */
	closestBatchesMs: number | null;
	/**
	 * The median time between two batches (null with fewer than two): the pace admission kept, set against the
	 * configured interval (a loaded machine's alarms run late; a batch skipped for want of room makes one gap longer).
	 */
	medianBatchGapMs: number | null;
	/** The last position admitted at the first sell-out (null before one): the fans placed after it wait for returned tickets. */
	returnsFrom: number | null;
	/** Fans offered a returned ticket so far, in line order (admitted after the sell-out). */
	offeredReturns: number;
	lines: LineAudit[];
}

/** The audit of a drop this pacer was never configured for: nothing placed or admitted, nothing to vouch for either. */
export const UNCONFIGURED_AUDIT: RoomAudit = {
	seed: null, seedCommitment: "", commitmentVerified: null, openedAt: null, prequeueSize: 0, prequeue: null,
	algorithm: SHUFFLE_ALGORITHM, shuffleVerified: null, admittedThrough: 0, admittedInOrder: false, placed: 0,
	batches: 0, largestBatch: 0, closestBatchesMs: null, medianBatchGapMs: null, returnsFrom: null, offeredReturns: 0, lines: [],
};

/**
 * The audit from the pacer's `state` (read before the lines were asked), the lines'
 * audits, and whether the seed hashes to its commitment (null before the opening).
 */
export function pacerAudit(pacer: PacerCore, state: PacerState, lines: LineAudit[], commitmentVerified: boolean | null): RoomAudit {
	const counts = state.prequeue_counts === null ? null : (JSON.parse(state.prequeue_counts) as number[]);
	const shuffleVerified = counts === null ? null : lines.every((l) => l.consistent && l.prequeue === counts[l.line]);

	// Placements tile prequeue_size+1 .. next_position-1, and each line's own counts say the same.
	const blocks = pacer.allPlacements();
	let expected = state.prequeue_size + 1;
	let tiled = true;
	for (const b of blocks) {
		if (b.start !== expected) tiled = false;
		expected = b.start + b.count;
	}
	tiled &&= expected === state.next_position;
	const byKey = new Map(blocks.map((b) => [`${b.slot}:${b.line}`, b]));
	const linesAgree = lines.every((l) =>
		l.slots.every((s) => {
			const b = byKey.get(`${s.slot}:${l.line}`);
			if (state.sealed_through === null || s.slot > state.sealed_through) return s.start === null;
			return b !== undefined && b.count === s.count && (s.start === null || s.start === b.start);
		}),
	);
	const batches = pacer.allBatches();
	const admitted = batches.reduce((sum, b) => sum + b.count, 0);
	const pace = batchPace(batches);
	return {
		seed: state.opened_at === null ? null : state.seed,
		seedCommitment: state.seed_commitment,
		commitmentVerified,
		openedAt: state.opened_at === null ? null : new Date(state.opened_at).toISOString(),
		prequeueSize: state.prequeue_size,
		prequeue: counts,
		algorithm: SHUFFLE_ALGORITHM,
		shuffleVerified,
		admittedThrough: state.admitted_through,
		admittedInOrder: tiled && linesAgree && admitted === state.admitted_through && state.admitted_through <= state.next_position - 1,
		placed: state.next_position - 1,
		batches: batches.length,
		largestBatch: batches.reduce((largest, b) => Math.max(largest, b.count), 0),
		closestBatchesMs: pace.closestMs,
		medianBatchGapMs: pace.medianGapMs,
		returnsFrom: state.returns_from,
		offeredReturns: state.returns_from === null ? 0 : Math.max(0, state.admitted_through - state.returns_from),
		lines,
	};
}

/** The closest two batches, and the median gap between two (the lower middle of an even count: a gap that happened); null with fewer than two. */
export function batchPace(batches: readonly { at: number }[]): { closestMs: number | null; medianGapMs: number | null } {
	const gaps: number[] = [];
	for (let i = 1; i < batches.length; i++) gaps.push(batches[i]!.at - batches[i - 1]!.at);
	gaps.sort((a, b) => a - b);
	return { closestMs: gaps.length === 0 ? null : gaps[0]!, medianGapMs: gaps.length === 0 ? null : gaps[Math.floor((gaps.length - 1) / 2)]! };
}
