// The watermark: the one small document the pacer keeps for the Worker, which
// publishes it to fans through its caches (watermark-cache.ts) and answers polls,
// access grants and the public drop view from it without calling any object.
// Built synchronously from the pacer's core, with the time passed in.
import { type DropConfig, typesOf } from "../drops/rules";
import type { TicketType } from "../drops/ticket-types";
import type { RecentBatch } from "./admission";
import type { PacerCore } from "./pacer-core";

/** What the Worker needs to answer fans without calling any object: published, cached, at most a second old. */
export interface Watermark {
	dropId: string;
	name: string;
	capacity: number;
	maxPerFan: number;
	priceCents: number;
	currency: string;
	/** The drop's IANA time zone, for the fan page's dates. */
	timeZone: string;
	holdSeconds: number;
	opensAt: string;
	closesAt: string | null;
	paused: boolean;
	/** When the drop was cancelled, or null: a cancelled drop admits, holds and sells nothing. */
	cancelledAt: string | null;
	shards: number;
	lines: number;
	opened: boolean;
	soldOut: boolean;
	/**
	 * The last position admitted when the drop first sold out, or null: every fan placed after it waits for returned
	 * tickets, offered in line order as admissions whose turn lasts `offerSeconds`; nobody admitted before it holds again
	 * while anyone waits.
	 */
	returnsFrom: number | null;
	/** How long an offer of a returned ticket lasts (s). */
	offerSeconds: number;
	/** Lowercase hex SHA-256 of the seed, public from creation; the seed itself once the drop has opened. */
	seedCommitment: string;
	seed: string | null;
	/** Each line's pre-queue size, once the drop has opened. */
	prequeue: number[] | null;
	admittedThrough: number;
	/** The last position placed so far. */
	lastPosition: number;
	/** Joins in slots up to this one have positions. */
	sealedThrough: number | null;
	/** Recent blocks of positions: [slot, line, start]. */
	placements: number[][];
	/** Batches admitted within an access window, oldest first: [through, at]. */
	batches: number[][];
	/** Everyone through this position was admitted before the first listed batch. */
	batchesFrom: number;
	/** Whether the list holds every batch of the access window (else older ones are asked for). */
	batchesComplete: boolean;
	/** The polling advice's pace: measured, or the configured one before any batch. */
	pacePerSecond: number;
	/** The configured time between batches: the least a wait counts between two. */
	intervalMs: number;
	/**
	 * Fans the pacer may still let in before those shopping reach the drop's active multiple of the tickets left:
	 * a place past it waits for fans to buy, give up or run out of time, and no wait is promised to it.
	 */
	admissionRoom: number;
	/** Fans admitted a minute lately, measured only; null when nobody went in within the pace window. */
	admittedPerMinute: number | null;
	remaining: number;
	held: number;
	sold: number;
	/** Fans with an order: the tickets a buyer takes (sold / buyers) tell how many fans the tickets left can serve. */
	buyers: number;
	/** Fans let in whose turn runs and who have not bought (the shoppers' cap counts them): some have yet to hold. */
	shopping: number;
	/** The drop's ticket types (seats counted per section, not listed). */
	ticketTypes: TicketType[];
	/** When the pacer made this document (ms). */
	at: number;
}

/** Placements and batches the watermark carries: enough for every fan polling as told. */
const PUBLISHED_PLACEMENTS = 4_096;
const PUBLISHED_SLOTS = 120;
const PUBLISHED_BATCHES = 2_000;

/** The watermark of `drop` at `now`, from what the pacer has stored. */
export function watermarkOf(pacer: PacerCore, drop: DropConfig, now: number): Watermark {
	const state = pacer.state();
	const opened = state.opened_at !== null;
	const totals = pacer.totals(drop, state);
	// After a sell-out an offer of a returned ticket (`offerSeconds`) may outlast the access window: every batch whose
	// turn is still running is published.
	const turnWindowMs = state.returns_from === null ? pacer.accessWindowMs : Math.max(pacer.accessWindowMs, drop.admission.offerSeconds * 1000);
	const windowStart = now - turnWindowMs;
	const batches = pacer.batchesAfter(windowStart, PUBLISHED_BATCHES);
	const shopping = pacer.admission.shopping(drop, totals, state, now);
	const olderInWindow = batches.length === PUBLISHED_BATCHES && pacer.batchCountAfter(windowStart) > batches.length;
	return {
		dropId: drop.id,
		name: drop.name,
		capacity: drop.capacity,
		maxPerFan: drop.maxPerFan,
		priceCents: drop.priceCents,
		currency: drop.currency,
		// A config the pacer stored before drops had a zone reads as UTC, as D1's default says.
		timeZone: drop.timeZone ?? "UTC",
		holdSeconds: drop.holdSeconds,
		opensAt: drop.opensAt,
		closesAt: drop.closesAt,
		paused: drop.paused,
		cancelledAt: drop.cancelledAt ?? null,
		shards: drop.shards,
		lines: drop.lines,
		opened,
		soldOut: state.sold_out === 1,
		returnsFrom: state.returns_from,
		offerSeconds: drop.admission.offerSeconds,
		seedCommitment: state.seed_commitment,
		seed: opened ? state.seed : null,
		prequeue: opened && state.prequeue_counts !== null ? (JSON.parse(state.prequeue_counts) as number[]) : null,
		admittedThrough: state.admitted_through,
		lastPosition: state.next_position - 1,
		sealedThrough: opened ? state.sealed_through : null,
		placements: pacer.placementsAfter((state.sealed_through ?? 0) - PUBLISHED_SLOTS, PUBLISHED_PLACEMENTS).map((p) => [p.slot, p.line, p.start]),
		batches: batches.map((b) => [b.through, b.at]),
		batchesFrom: batches.length > 0 ? batches[0]!.through - batches[0]!.count : state.admitted_through,
		batchesComplete: !olderInWindow,
		pacePerSecond: pacer.pace(drop, now),
		intervalMs: drop.admission.intervalMs,
		admissionRoom: Math.max(0, pacer.admission.multiple(drop, state) * totals.remaining - shopping),
		admittedPerMinute: pacer.admittedPerMinute(drop, now),
		remaining: totals.remaining,
		held: totals.held,
		sold: totals.sold,
		buyers: totals.buyers,
		shopping,
		ticketTypes: typesOf(drop),
		at: now,
	};
}

/** The last `count` batches the watermark lists, each with its size, oldest first (read from the end: a poll's work stays small). */
export function lastBatches(w: Pick<Watermark, "batches" | "batchesFrom">, count: number): RecentBatch[] {
	const from = Math.max(0, w.batches.length - count);
	const out: RecentBatch[] = [];
	for (let i = from; i < w.batches.length; i++) {
		const [through, at] = w.batches[i]!;
		const before = i === 0 ? w.batchesFrom : w.batches[i - 1]![0]!;
		out.push({ at: at!, count: through! - before });
	}
	return out;
}
