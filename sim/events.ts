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

/**
 * A binary min-heap of events by time, then by the order they were scheduled, kept in
 * typed arrays (times and order numbers) beside an array of the callbacks: a million
 * pending events are three flat arrays rather than a million small objects, so a sift
 * reads numbers next to each other and the collector has nothing to trace but the callbacks.
 */
export class EventQueue {
	private ats = new Float64Array(1024);
	private seqs = new Float64Array(1024);
	private runs: ((() => void) | undefined)[] = [];
	private size = 0;
	private seq = 0;
	now = 0;
	ran = 0;
	/** Set by an event that started or resumed async work: its continuations run before the next event. */
	touched = false;
	/** The first invariant broken, wherever it was found (an event, or a continuation): the run stops with it. */
	failure: Error | null = null;

	at(time: number, run: () => void): void {
		const at = Math.max(time, this.now);
		const seq = this.seq++;
		if (this.size === this.ats.length) this.grow();
		const ats = this.ats;
		const seqs = this.seqs;
		const runs = this.runs;
		// Sift up: parents later than the new event move down into the hole.
		let i = this.size++;
		while (i > 0) {
			const parent = (i - 1) >> 1;
			const pa = ats[parent]!;
			if (pa < at || (pa === at && seqs[parent]! < seq)) break;
			ats[i] = pa;
			seqs[i] = seqs[parent]!;
			runs[i] = runs[parent];
			i = parent;
		}
		ats[i] = at;
		seqs[i] = seq;
		runs[i] = run;
	}

	private grow(): void {
		const ats = new Float64Array(this.ats.length * 2);
		ats.set(this.ats);
		this.ats = ats;
		const seqs = new Float64Array(this.seqs.length * 2);
		seqs.set(this.seqs);
		this.seqs = seqs;
	}

	/** Takes the earliest event off the heap and moves the clock to it. */
	private take(): () => void {
		const ats = this.ats;
		const seqs = this.seqs;
		const runs = this.runs;
		const top = runs[0]!;
		this.now = ats[0]!;
		const n = --this.size;
		const lastAt = ats[n]!;
		const lastSeq = seqs[n]!;
		const lastRun = runs[n];
		runs[n] = undefined;
		if (n > 0) {
			// Sift down: the earlier child moves up into the hole until the last event fits.
			let i = 0;
			for (;;) {
				let c = 2 * i + 1;
				if (c >= n) break;
				let ca = ats[c]!;
				const r = c + 1;
				if (r < n) {
					const ra = ats[r]!;
					if (ra < ca || (ra === ca && seqs[r]! < seqs[c]!)) {
						c = r;
						ca = ra;
					}
				}
				if (lastAt < ca || (lastAt === ca && lastSeq < seqs[c]!)) break;
				ats[i] = ca;
				seqs[i] = seqs[c]!;
				runs[i] = runs[c];
				i = c;
			}
			ats[i] = lastAt;
			seqs[i] = lastSeq;
			runs[i] = lastRun;
		}
		return top;
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
		while (this.size > 0 && this.ats[0]! <= until) {
			const run = this.take();
			this.ran++;
			try {
				run();
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
		return this.size;
	}
}

/** 32 hex digits drawn from a run's seed and a purpose, for the engine's seeded generator. */
export function seedHex(seed: number, purpose: string): string {
	return [0, 1, 2, 3].map((i) => stableHash(`${seed}:${purpose}:${i}`).toString(16).padStart(8, "0")).join("");
}

/** A uniform number in [0, 1) from the engine's xoshiro128**, seeded by the run's seed. */
export function randomStream(seed: number, purpose: string): () => number {
	const next = seededRandom(seedHex(seed, purpose));
	return () => next() / 2 ** 32;
}
