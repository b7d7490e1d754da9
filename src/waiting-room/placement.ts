// Where a fan stands in a drop spread over lines. Pure: no Cloudflare types.
//
// Every fan joins one line (a stable hash of the fan id) and is numbered there
// in join order. Global positions follow from that alone:
//
// - the pre-queue (fans who joined before the opening) is laid out line after
//   line in join order, global index g = 0..P-1, and Fisher-Yates driven by
//   the drop's seed puts index g at one position in 1..P. Anyone with the seed,
//   the per-line counts and their own place in their line re-derives it;
// - after the opening, a line stamps each join with a slot (SLOT_MS of its
//   clock) and its index within that slot on that line. The pacer seals slots
//   one tick at a time (a join that reaches a line after its slot was sealed
//   takes the next one): it learns every line's count per slot and lays the
//   slots out in order (slot, then line). A fan's position is the start of
//   their (slot, line) block plus their index in it. So a fan whose join reached
//   their line at least SLOT_MS after another's is never ahead of them.
import { seededRandom, uniformInt } from "./admission";
import { SLOT_MS } from "./timing";
import { stableHash } from "../shared/crypto";
import { BoundedMap } from "../shared/bounded-map";

export const slotOf = (ms: number) => Math.floor(ms / SLOT_MS);

/** The line a fan always joins, so a rejoin finds their place. */
export const lineOf = (fanId: string, lines: number) => stableHash(fanId, "line:") % lines;

/** Where each line's pre-queue starts in the global join-order list. */
export function prequeueOffsets(counts: readonly number[]): number[] {
	const offsets: number[] = [];
	let sum = 0;
	for (const n of counts) {
		offsets.push(sum);
		sum += n;
	}
	return offsets;
}

/**
 * The whole pre-queue in position order: entry k is the global join-order index
 * of the fan at position k + 1. The same Fisher-Yates as `shuffle` in
 * admission.ts over 0..size-1, so the two agree for any seed.
 */
export function prequeueOrder(seedHex: string, size: number): Uint32Array {
	const out = new Uint32Array(size);
	for (let i = 0; i < size; i++) out[i] = i;
	const next = seededRandom(seedHex);
	for (let i = size - 1; i > 0; i--) {
		const j = uniformInt(next, i + 1);
		const t = out[i]!;
		out[i] = out[j]!;
		out[j] = t;
	}
	return out;
}

/** Inverse orders kept per isolate, for pre-queues small enough to hold (4 bytes a fan, twice). */
const MEMO_LIMIT = 2_000_000;
const memo = new BoundedMap<string, Uint32Array>(4);

/** The 1-based position of global join-order index `g` in a shuffled pre-queue of `size` fans. */
export function prequeuePositionOfIndex(seedHex: string, size: number, g: number): number {
	if (!Number.isInteger(g) || g < 0 || g >= size) throw new RangeError("index outside the pre-queue");
	if (size <= MEMO_LIMIT) {
		const key = `${seedHex}:${size}`;
		let inverse = memo.get(key);
		if (inverse === undefined) {
			const order = prequeueOrder(seedHex, size);
			inverse = new Uint32Array(size);
			for (let k = 0; k < size; k++) inverse[order[k]!] = k;
			memo.set(key, inverse);
		}
		return inverse[g]! + 1;
	}
	return trackedPrequeuePosition(seedHex, size, g);
}

/** The same position without memory: follow index `g` through the swaps (the same draws, O(size) time). */
export function trackedPrequeuePosition(seedHex: string, size: number, g: number): number {
	let cur = g;
	const next = seededRandom(seedHex);
	for (let i = size - 1; i > 0; i--) {
		const j = uniformInt(next, i + 1);
		if (cur === i) cur = j;
		else if (cur === j) cur = i;
	}
	return cur + 1;
}

/** The position of the `seq`-th (1-based) pre-queue fan of `line`, given every line's pre-queue count. */
export function prequeuePosition(seedHex: string, counts: readonly number[], line: number, seq: number): number {
	const lineCount = counts[line];
	if (lineCount === undefined || !Number.isInteger(seq) || seq < 1 || seq > lineCount) throw new RangeError("no such place in the pre-queue");
	const size = counts.reduce((a, b) => a + b, 0);
	return prequeuePositionOfIndex(seedHex, size, prequeueOffsets(counts)[line]! + seq - 1);
}

export interface SlotCount {
	slot: number;
	count: number;
}

export interface LineReport {
	line: number;
	slots: readonly SlotCount[];
}

/** A block of consecutive positions: the fans of one line who joined in one slot. */
export interface Placement {
	slot: number;
	line: number;
	start: number;
	count: number;
}

/**
 * Lays sealed slots out after `nextPosition`: slot by slot, and within a slot
 * line by line, each block as long as that line's count.
 */
export function placeSlots(nextPosition: number, reports: readonly LineReport[]): { placements: Placement[]; nextPosition: number } {
	const blocks = reports
		.flatMap((r) => r.slots.filter((s) => s.count > 0).map((s) => ({ slot: s.slot, line: r.line, count: s.count })))
		.sort((a, b) => a.slot - b.slot || a.line - b.line);
	let next = nextPosition;
	const placements = blocks.map((b) => {
		const start = next;
		next += b.count;
		return { ...b, start };
	});
	return { placements, nextPosition: next };
}

/** A fan's position from the placements the pacer published, or null when their block is not among them. */
export function placedPosition(placements: readonly (readonly number[])[], slot: number, line: number, index: number): number | null {
	for (const [s, l, start] of placements) if (s === slot && l === line && start !== undefined) return start + index;
	return null;
}

/**
 * When the fan at `position` was admitted, from published batches `[through, at]`
 * in order: the first batch that reaches it; null when none listed does.
 */
export function admittedAt(batches: readonly (readonly number[])[], position: number): number | null {
	for (const [through, at] of batches) if (through !== undefined && at !== undefined && through >= position) return at;
	return null;
}

