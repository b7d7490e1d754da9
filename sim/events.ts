// The simulator's clock and event queue: simulated milliseconds, events run in
// (time, order scheduled) order so two events at the same moment always run the
// same way round, and a seeded random stream from the engine's own generator.
// Nothing here reads the wall clock or Math.random: a seed replays a run exactly.
// The engine's shard code is async (a transfer awaits its peer, a purchase its
// provider): after an event that started or resumed such work (`touched`), the run
// lets every promise continuation settle before the clock moves on.
import { seededRandom } from "../src/waiting-room/admission";
import { stableHash } from "../src/shared/crypto";

/** The simulation's time 0 as the engine's cores see it (a slot boundary): their clock is this plus the simulated ms. */
export const EPOCH = Date.UTC(2030, 0, 1);

/** Node's (the simulator runs in Node; the worker types this folder is checked against have none). */
const nodeSetImmediate = (globalThis as unknown as { setImmediate(fn: () => void): void }).setImmediate;

type Event = { at: number; seq: number; run: () => void };

/** A binary min-heap of events by time, then by the order they were scheduled. */
export class EventQueue {
	private heap: Event[] = [];
	private seq = 0;
	now = 0;
	ran = 0;
	/** Set by an event that started or resumed async work: its continuations run before the next event. */
	touched = false;
	/** The first invariant broken, wherever it was found (an event, or a continuation): the run stops with it. */
	failure: Error | null = null;

	at(time: number, run: () => void): void {
		const event = { at: Math.max(time, this.now), seq: this.seq++, run };
		const heap = this.heap;
		heap.push(event);
		let i = heap.length - 1;
		while (i > 0) {
			const parent = (i - 1) >> 1;
			if (!before(heap[i]!, heap[parent]!)) break;
			[heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
			i = parent;
		}
	}

	/** The time as the engine's cores take it: epoch milliseconds. */
	clock(): number {
		return EPOCH + this.now;
	}

	after(ms: number, run: () => void): void {
		this.at(this.now + ms, run);
	}

	/** Runs events in order until none is left or the next one is past `until`, or an invariant breaks. */
	async runUntil(until: number): Promise<void> {
		const heap = this.heap;
		while (heap.length > 0 && heap[0]!.at <= until) {
			const top = heap[0]!;
			const last = heap.pop()!;
			if (heap.length > 0) {
				heap[0] = last;
				let i = 0;
				for (;;) {
					const l = 2 * i + 1;
					const r = l + 1;
					let m = i;
					if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
					if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
					if (m === i) break;
					[heap[i], heap[m]] = [heap[m]!, heap[i]!];
					i = m;
				}
			}
			this.now = top.at;
			this.ran++;
			try {
				top.run();
			} catch (err) {
				this.failure ??= err as Error;
			}
			// Microtasks all run before the next macrotask: one turn settles every continuation.
			if (this.touched) {
				this.touched = false;
				await new Promise<void>((resolve) => nodeSetImmediate(resolve));
			}
			if (this.failure !== null) throw this.failure;
		}
	}

	get pending(): number {
		return this.heap.length;
	}
}

const before = (a: Event, b: Event) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** 32 hex digits drawn from a run's seed and a purpose, for the engine's seeded generator. */
export function seedHex(seed: number, purpose: string): string {
	return [0, 1, 2, 3].map((i) => stableHash(`${seed}:${purpose}:${i}`).toString(16).padStart(8, "0")).join("");
}

/** A uniform number in [0, 1) from the engine's xoshiro128**, seeded by the run's seed. */
export function randomStream(seed: number, purpose: string): () => number {
	const next = seededRandom(seedHex(seed, purpose));
	return () => next() / 2 ** 32;
}
