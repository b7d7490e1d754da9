// Faults from a run's seed, each kind switched on by name: object restarts in the
// middle of a request and between requests (storage kept, memory lost), alarms late
// and twice, peer messages and fans' answers lost, doubled and late (so reordered), a
// line's answer to a join lost (the fan joins again), a shard's tell to the pacer
// lost, skew between the lines' clocks, an outage of the sales Queue and D1, and a
// payment provider that answers late or not at all; the pacer restarting in the
// middle of its tick, and its calls to the lines and shards lost or late. Each kind
// draws from its own seeded stream, so switching one off leaves the others' draws as
// they were. Also the run's trace: what each request, alarm and fault did, kept only
// when asked for (a failure's replay).
import { randomStream } from "./events";

export const FAULT_KINDS = ["restart", "alarm", "message", "skew", "d1", "provider", "pacer-restart", "pacer-calls"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * The most two lines' clocks differ by. Cloudflare publishes no bound; its machines keep
 * time by NTP (a few milliseconds apart), so a tenth of a second is taken as generous.
 */
export const SKEW_BOUND_MS = 100;

/** How often each fault strikes when its kind is on: per request, per alarm, per message, per charge. */
export const FAULT_RATES = {
	/** A shard restarts while a request of it awaits a peer or the provider. */
	restartMidRequest: 0.004,
	/** A shard restarts after a request it served, at the first moment none of its requests is in flight. */
	restartBetween: 0.0005,
	/** A line restarts between two joins. */
	restartLine: 0.0005,
	alarmLate: 0.1,
	alarmLateMaxMs: 4_000,
	alarmTwice: 0.1,
	/** A peer's give: the ask lost, the answer lost, delivered twice, or late (past the asker's 3 s). */
	giveLost: 0.03,
	giveAnswerLost: 0.03,
	giveTwice: 0.05,
	giveLate: 0.05,
	giveLateMaxMs: 6_000,
	/** A fan's hold or purchase answer lost on the way back: the fan asks again under the same key. */
	answerLost: 0.01,
	/** A line's answer to a fan's join lost: the fan's client gives up at its timeout and joins again. */
	joinAnswerLost: 0.01,
	/** A shard's tell to the pacer that stock moved under its watch, lost on the way (the call fails). */
	tellLost: 0.2,
	/** The sales Queue (and D1 behind it) down: this many windows after the opening, each this long at most. */
	outages: 3,
	outageMaxMs: 90_000,
	/** In this share of runs, one more window, long enough that the consumer's retries run out: its sales go to the dead-letter queue. */
	longOutage: 0.1,
	longOutageMinMs: 300_000,
	longOutageMaxMs: 600_000,
	/** The provider: an answer late (past the charge's 30 s settling), or never (the charge made or not). */
	providerLate: 0.05,
	providerLateMaxMs: 45_000,
	providerSilent: 0.02,
	/** The pacer restarts a moment after one of its calls to a line or a shard goes out (mid-tick, or mid-gathering for a reader). */
	restartPacer: 0.005,
	/** A pacer's call to a line or a shard: lost, its answer lost, or late (up to past the tick's 5 s bound). */
	tickCallLost: 0.01,
	tickAnswerLost: 0.01,
	tickCallLate: 0.03,
	tickCallLateMaxMs: 8_000,
};

export function parseFaults(text: string): FaultKind[] {
	if (text === "all") return [...FAULT_KINDS];
	if (text === "none" || text === "") return [];
	const kinds = text.split(",").map((k) => k.trim());
	for (const k of kinds) if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new Error(`unknown fault "${k}" (kinds: ${FAULT_KINDS.join(", ")}, or all, or none)`);
	return FAULT_KINDS.filter((k) => kinds.includes(k));
}

export interface TraceEntry {
	at: number;
	/** The objects and fans it touched, as the failures name them ("shard 2", "fan fan-7-31", "line 4"). */
	touches: string[];
	what: string;
}

export class Faults {
	private readonly streams = new Map<FaultKind, () => number>();
	/** Faults injected, by what happened, for the summary. */
	readonly injected = new Map<string, number>();
	/** The trace, when kept: null in an ordinary run (it costs). */
	readonly trace: TraceEntry[] | null;

	constructor(readonly kinds: readonly FaultKind[], seed: number, keepTrace: boolean) {
		for (const k of kinds) this.streams.set(k, randomStream(seed, `fault:${k}`));
		this.trace = keepTrace ? [] : null;
	}

	on(kind: FaultKind): boolean {
		return this.streams.has(kind);
	}

	/** A draw of `kind`'s stream in [0, 1); 1 (nothing strikes) when the kind is off. */
	draw(kind: FaultKind): number {
		const stream = this.streams.get(kind);
		return stream === undefined ? 1 : stream();
	}

	/** Whether a fault of `kind` strikes now, with probability `p`; counted under `name` when it does. */
	strikes(kind: FaultKind, p: number, name: string): boolean {
		if (this.draw(kind) >= p) return false;
		this.count(name);
		return true;
	}

	/** A fault counted under `name` when it happens rather than when it is drawn (a restart owed until its object is idle). */
	count(name: string): void {
		this.injected.set(name, (this.injected.get(name) ?? 0) + 1);
	}

	note(at: number, touches: string[], what: string): void {
		this.trace?.push({ at, touches, what });
	}
}
