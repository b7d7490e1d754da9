// The queue's figures per minute, derived from what the pacer keeps anyway: the
// blocks of positions it placed (each with its slot, so the joins' time to within
// SLOT_MS) and the batches it admitted (each with its time and its last position).
// No note per fan is written anywhere for these: a batch's positions are matched
// to the slots they joined in by walking both tables in position order, so the
// time from join to admission is known for every fan admitted. Pure.
import type { BatchRow, PacerCore, PlacementRow } from "./pacer-core";
import { SLOT_MS } from "./timing";

export const MINUTE_MS = 60_000;

/** Seconds from join to admission, over the fans admitted in a span. */
export interface WaitFigures {
	p50: number;
	p90: number;
	max: number;
}

/** One minute of the queue, by the minute's start (ms since the epoch). */
export interface QueueMinute {
	at: number;
	/** Joins placed in slots within this minute (the pre-queue is counted apart, at the opening). */
	arrivals: number;
	admitted: number;
	/** Turns that ran to their end in this minute (fans admitted one access window before). */
	turnsEnded: number;
	/** From join to admission for the fans admitted in this minute; null when none were. */
	wait: WaitFigures | null;
}

export interface QueueMinutes {
	openedAt: number | null;
	/** Fans who joined before the opening: their wait is counted from the opening, when the line began to move. */
	prequeue: number;
	joined: number;
	admitted: number;
	/** Fans whose turn has ended (whether they bought is D1's to say). */
	turnsEnded: number;
	wait: WaitFigures | null;
	minutes: QueueMinute[];
}

/** The pacer's state the figures need. */
export interface QueueSource {
	openedAt: number | null;
	prequeueSize: number;
	placements: PlacementRow[];
	batches: BatchRow[];
	/** How long an admitted fan's turn lasts. */
	accessWindowMs: number;
	now: number;
}

const minuteOf = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/** Weighted percentiles over (seconds, fans) pairs, each the smallest wait that covers that share of the fans. */
export function waitFigures(waits: [number, number][]): WaitFigures | null {
	const total = waits.reduce((sum, [, n]) => sum + n, 0);
	if (total === 0) return null;
	const sorted = [...waits].sort((a, b) => a[0] - b[0]);
	const at = (share: number) => {
		const need = Math.max(1, Math.ceil(share * total));
		let seen = 0;
		for (const [seconds, n] of sorted) {
			seen += n;
			if (seen >= need) return seconds;
		}
		return sorted.at(-1)![0];
	};
	return { p50: at(0.5), p90: at(0.9), max: sorted.at(-1)![0] };
}

/**
 * The figures per minute. A join's time is its slot's start (a wait is over by at most SLOT_MS);
 * a pre-queue fan's is the opening. Placements and batches both run in position order.
 */
export function queueMinutes(source: QueueSource): QueueMinutes {
	const byMinute = new Map<number, { arrivals: number; admitted: number; turnsEnded: number; waits: [number, number][] }>();
	const minute = (at: number) => {
		const key = minuteOf(at);
		let row = byMinute.get(key);
		if (row === undefined) byMinute.set(key, (row = { arrivals: 0, admitted: 0, turnsEnded: 0, waits: [] }));
		return row;
	};
	const placements = [...source.placements].sort((a, b) => a.start - b.start);
	for (const p of placements) minute(p.slot * SLOT_MS).arrivals += p.count;

	const all: [number, number][] = [];
	let turnsEnded = 0;
	let admitted = 0;
	let next = 0;
	let position = 1;
	for (const batch of [...source.batches].sort((a, b) => a.through - b.through)) {
		const row = minute(batch.at);
		row.admitted += batch.count;
		admitted += batch.count;
		const ends = batch.at + source.accessWindowMs;
		if (ends <= source.now) {
			minute(ends).turnsEnded += batch.count;
			turnsEnded += batch.count;
		}
		// The positions of this batch, split by where they joined: the pre-queue, then block after block.
		position = batch.through - batch.count + 1;
		while (position <= batch.through) {
			let joinedAt: number;
			let upTo: number;
			if (position <= source.prequeueSize) {
				joinedAt = source.openedAt ?? batch.at;
				upTo = Math.min(batch.through, source.prequeueSize);
			} else {
				while (next < placements.length && placements[next]!.start + placements[next]!.count <= position) next++;
				const block = placements[next];
				// Admitted past the last block placed cannot happen (admission never passes placed fans); counted as no wait if it did.
				joinedAt = block === undefined ? batch.at : block.slot * SLOT_MS;
				upTo = block === undefined ? batch.through : Math.min(batch.through, block.start + block.count - 1);
			}
			const pair: [number, number] = [Math.max(0, Math.round((batch.at - joinedAt) / 100) / 10), upTo - position + 1];
			row.waits.push(pair);
			all.push(pair);
			position = upTo + 1;
		}
	}
	const joined = source.prequeueSize + placements.reduce((sum, p) => sum + p.count, 0);
	return {
		openedAt: source.openedAt,
		prequeue: source.prequeueSize,
		joined,
		admitted,
		turnsEnded,
		wait: waitFigures(all),
		minutes: [...byMinute.entries()]
			.sort((a, b) => a[0] - b[0])
			.map(([at, r]) => ({ at, arrivals: r.arrivals, admitted: r.admitted, turnsEnded: r.turnsEnded, wait: waitFigures(r.waits) })),
	};
}

/** How long the pacer answers from the figures it last derived: a promoter page asks every few seconds, and a long drop's walk takes tens of ms. */
export const QUEUE_MINUTES_MAX_AGE_MS = 5_000;

/** The figures last derived, kept in memory (a restart derives them afresh from the tables). */
export class QueueMinutesCopy {
	private copy: { at: number; value: QueueMinutes } | null = null;

	read(core: PacerCore, now: number): QueueMinutes {
		if (this.copy === null || now - this.copy.at >= QUEUE_MINUTES_MAX_AGE_MS || now < this.copy.at) this.copy = { at: now, value: pacerQueueMinutes(core, now) };
		return this.copy.value;
	}
}

/** The figures from a pacer's own tables at `now`. */
export function pacerQueueMinutes(core: PacerCore, now: number): QueueMinutes {
	const state = core.state();
	return queueMinutes({
		openedAt: state.opened_at,
		prequeueSize: state.prequeue_size,
		placements: core.allPlacements(),
		batches: core.allBatches(),
		accessWindowMs: core.accessWindowMs,
		now,
	});
}
