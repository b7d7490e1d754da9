// Admission policy: the open-time shuffle, batch sizes, the wait a fan is told and polling advice. Pure.
import { PACE_WINDOW_MS } from "./timing";

/** xoshiro128** seeded from 128 bits of hex: small, fast and easy to re-derive for an audit. */
export function seededRandom(seedHex: string): () => number {
	if (!/^[0-9a-f]{32}$/.test(seedHex)) throw new Error("seed must be 32 lowercase hex digits");
	const s = [0, 8, 16, 24].map((i) => parseInt(seedHex.slice(i, i + 8), 16) >>> 0);
	if (!s.some((x) => x !== 0)) s[0] = 1;
	return () => {
		const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
		const t = (s[1]! << 9) >>> 0;
		s[2]! ^= s[0]!;
		s[3]! ^= s[1]!;
		s[1]! ^= s[2]!;
		s[0]! ^= s[3]!;
		s[2]! ^= t;
		s[3] = rotl(s[3]!, 11);
		return result;
	};
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** A uniform integer in [0, n) without modulo bias (rejection sampling). */
export function uniformInt(next: () => number, n: number): number {
	if (n <= 0 || n > 2 ** 32) throw new Error("n out of range");
	const limit = 2 ** 32 - (2 ** 32 % n);
	for (;;) {
		const x = next();
		if (x < limit) return x % n;
	}
}

/**
 * The open-time shuffle: Fisher-Yates over the pre-queue in join order.
 * Given the stored seed and the join order, anyone can re-derive the queue.
 */
export function shuffle<T>(items: readonly T[], seedHex: string): T[] {
	const out = items.slice();
	const next = seededRandom(seedHex);
	for (let i = out.length - 1; i > 0; i--) {
		const j = uniformInt(next, i + 1);
		[out[i], out[j]] = [out[j]!, out[i]!];
	}
	return out;
}

export function newSeed(): string {
	return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface AdmissionInput {
	batchSize: number;
	activeMultiple: number;
	/** Tickets neither held nor sold, over all shards. */
	remaining: number;
	/** Tickets in holds, over all shards. */
	held: number;
	/** Admitted fans who have neither bought nor timed out. */
	active: number;
	/** Fans with a position who are not yet admitted. */
	waiting: number;
	/** How long tickets have been free with nobody holding any and no batch going in. */
	idleMs: number;
}

/**
 * How long free stock may sit with nobody holding any before the admitted fans
 * count as gone: past it, a batch is admitted whatever the active count says.
 */
export const STALL_MS = 10_000;

/**
 * How many fans the next batch admits: never more than a batch, none when
 * nothing is left to sell, and never so many that the fans still shopping
 * outnumber `activeMultiple` times the tickets left. Fans who walked away
 * without a word count as shopping until their access times out, so when
 * tickets are free and nobody has held one for STALL_MS, the admitted fans
 * are taken as gone and a full batch comes in: no ticket waits on them.
 */
export function nextBatchSize(input: AdmissionInput): number {
	if (input.remaining <= 0 || input.waiting <= 0) return 0;
	const stalled = input.held === 0 && input.idleMs >= STALL_MS;
	const room = stalled ? input.batchSize : input.activeMultiple * input.remaining - input.active;
	return Math.max(0, Math.min(input.batchSize, room, input.waiting));
}

/**
 * Fans still shopping: those admitted within an access window, less the buyers counted
 * since its first batch went in (`buyersBefore`, null when no batch is in the window).
 */
export function activeFans(admittedInWindow: number, buyersNow: number, buyersBefore: number | null): number {
	return Math.max(0, admittedInWindow - (buyersNow - (buyersBefore ?? buyersNow)));
}

export const MIN_POLL_MS = 1_000;
/** The longest a waiting fan goes between two polls: the figures on a fan's page are never older than this (and a second). */
export const MAX_POLL_MS = 20_000;

/** Fans admitted per second: measured when there is history, otherwise the configured pace. */
export function admissionPace(recent: { admitted: number; spanMs: number } | null, batchSize: number, intervalMs: number): number {
	if (recent && recent.admitted > 0 && recent.spanMs >= intervalMs) {
		return (recent.admitted * 1000) / recent.spanMs;
	}
	return (batchSize * 1000) / intervalMs;
}

/**
 * Fans admitted a minute over the recent window, measured only: null when no batch went in
 * within it, so a wait is never promised from a pace the line has not shown.
 */
export function measuredPacePerMinute(recent: { admitted: number; spanMs: number }): number | null {
	if (recent.admitted <= 0 || recent.spanMs <= 0) return null;
	return Math.round(((recent.admitted * 60_000) / recent.spanMs) * 10) / 10;
}

/** One batch as the watermark lists it: when it went in and how many it let in. */
export type RecentBatch = { at: number; count: number };

/** The batches a wait's rhythm is read from: the last few, so an opening's burst soon stops speaking for the line. */
export const RHYTHM_BATCHES = 10;

/**
 * The wait a fan is told, counted in batches: admission comes in batches, so a fan at
 * place 150 behind batches of 100 waits for two of them, and the first may be a moment
 * away. The last RHYTHM_BATCHES batches the watermark of `asOf` lists give the typical
 * size and spacing: the spacing at least the configured interval, and at least the time
 * from the last batch to `asOf` (admission that has slowed is not promised at its old
 * rhythm). The fan's batch is the place's count of batches after the last one, each a
 * spacing on; one the watermark says is due already (its copy lags the pacer by a second
 * or two) is told as the next batch due after `now`, never as no wait. Counted so, a
 * short line's estimate keeps the rhythm a mean pace smears (at place 150 right after a
 * batch of 100 a second, the pace says 1.5 s, the batches 2 s). Null until two batches
 * have shown a rhythm (one shows no spacing: a pacer running late would be promised the
 * configured one), and with none within PACE_WINDOW_MS: the page says the wait is not
 * known yet.
 */
export function waitFromBatches(place: number, listed: readonly RecentBatch[], asOf: number, now: number, intervalMs: number): number | null {
	if (place <= 0) return 0;
	const batches = listed.filter((b) => b.count > 0).slice(-RHYTHM_BATCHES);
	if (batches.length < 2) return null;
	const first = batches[0]!.at;
	const last = batches[batches.length - 1]!.at;
	if (asOf - last > PACE_WINDOW_MS) return null;
	const size = batches.reduce((n, b) => n + b.count, 0) / batches.length;
	const spacing = Math.max(intervalMs, (last - first) / (batches.length - 1), asOf - last);
	const next = last + spacing;
	const fans = next + (Math.ceil(place / size) - 1) * spacing;
	if (fans >= now) return Math.round(fans - now);
	return Math.round(next + Math.ceil((now - next) / spacing) * spacing - now);
}

/** How long a fan `ahead` places back may wait at `pacePerSecond`: the polling advice's guide (the configured pace before any is measured). */
export function estimatedWaitMs(ahead: number, pacePerSecond: number): number {
	if (ahead <= 0) return 0;
	if (pacePerSecond <= 0) return MAX_POLL_MS * 10;
	return Math.round((ahead / pacePerSecond) * 1000);
}

/**
 * The wait before the next poll grows with the distance to the front, so a
 * long queue polls less: about a sixth of the estimated wait, 1 s to 20 s,
 * with ±10% jitter so fans who joined together do not poll together. A poll
 * costs no object (the Worker answers from its copy of the watermark), and a
 * fan whose figures stood still for half a minute while the line moved took
 * the page for stuck.
 */
export function pollAfterMs(waitMs: number, jitter: number = Math.random()): number {
	const base = Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, waitMs / 6));
	const jittered = base * (0.9 + 0.2 * jitter);
	return Math.round(Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, jittered)));
}
