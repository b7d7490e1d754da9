// A simulated Durable Object: one request at a time, in arrival order, each taking
// the CPU the bench measured for its kind of call, and never more than the
// platform's request rate (about 1,000 simple requests a second an object). What
// a request decides is decided when it is served, so an object's state changes in
// the order its requests queued. A request whose decision awaits (a shard asking a
// peer for stock, or the payment provider) holds the object only for its CPU: as in
// workerd, other requests run while it waits, and it answers when its work ends. Counts every request per simulated second and the
// deepest its queue got, for the report.
import type { EventQueue } from "./events";

/** Cloudflare's figure for one Durable Object: about 1,000 simple requests a second. */
export const OBJECT_REQUESTS_PER_SECOND = 1000;

/** The answer of a caller that does nothing with it (a watermark reader, a wake): no event is queued to deliver it. */
export const NO_ANSWER = (): void => undefined;

export class SimObject {
	private busyUntil = 0;
	/** Requests that arrived in each simulated second (index: second since the drop was made). */
	readonly perSecond: number[] = [];
	/** The deepest queue a request found on arriving in each simulated second (same index), for the report's queue depth over time. */
	readonly depthPerSecond: number[] = [];
	/** Requests by what they asked (the engine's own method names, as the audit's load counts a shard's), and "alarm" for the object's alarms. */
	readonly byMethod = new Map<string, number>();
	requests = 0;
	cpuMs = 0;
	deepestQueue = 0;
	deepestQueueAt = 0;
	longestWaitMs = 0;
	/** Restarts so far: a request served before the last one and still awaiting is dead. */
	generation = 0;
	/** Requests that started and await (a peer, the provider): a restart ends them. */
	private readonly awaiting = new Set<{ onReset: (() => void) | undefined }>();
	/** Told each time a request's work ends (its decision made, or its await settled): the restart fault's moment to look for. */
	afterRequest: (() => void) | null = null;

	constructor(
		readonly kind: string,
		readonly name: string,
		private readonly events: EventQueue,
	) {}

	/**
	 * A request that reaches the object now: `decide` runs when the object serves it,
	 * and `answer` gets its result one network hop after. `method` names the request for
	 * the counts by method.
	 */
	call<T>(cpuMs: number, decide: () => T | Promise<T>, answer: (result: T) => void, hopMs = 0, onReset?: () => void, method = "other"): void {
		const now = this.events.now;
		const second = Math.floor(now / 1000);
		while (this.perSecond.length <= second) {
			this.perSecond.push(0);
			this.depthPerSecond.push(0);
		}
		this.perSecond[second]!++;
		this.requests++;
		this.byMethod.set(method, (this.byMethod.get(method) ?? 0) + 1);
		this.cpuMs += cpuMs;
		const service = Math.max(cpuMs, 1000 / OBJECT_REQUESTS_PER_SECOND);
		const start = Math.max(now, this.busyUntil);
		const depth = Math.ceil((start - now) / service);
		if (depth > this.depthPerSecond[second]!) this.depthPerSecond[second] = depth;
		if (depth > this.deepestQueue) {
			this.deepestQueue = depth;
			this.deepestQueueAt = now;
		}
		this.longestWaitMs = Math.max(this.longestWaitMs, start - now);
		this.busyUntil = start + service;
		this.events.at(this.busyUntil, () => {
			const result = decide();
			if (!(result instanceof Promise)) {
				if (answer !== NO_ANSWER) this.events.after(hopMs, () => answer(result));
				this.afterRequest?.();
				return;
			}
			this.events.touched = true;
			const pending = { onReset };
			this.awaiting.add(pending);
			result.then(
				(value) => {
					if (!this.awaiting.delete(pending)) return;
					if (answer !== NO_ANSWER) this.events.after(hopMs, () => answer(value));
					this.afterRequest?.();
				},
				(err: Error) => {
					if (this.awaiting.delete(pending)) this.events.failure ??= err;
				},
			);
		});
	}

	/** No request of it in flight: none awaits, and none is queued or being served. */
	idle(): boolean {
		return this.awaiting.size === 0 && this.busyUntil <= this.events.now;
	}

	/**
	 * The object restarts (as a Durable Object does when its isolate goes): what awaited
	 * is gone, its callers told so a hop later (`onReset`, or nothing: a caller that
	 * waits forever is one whose answer was lost), and whatever it would have done after
	 * its await never happens. Requests still queued are served by the new instance.
	 */
	reset(hopMs: number): void {
		this.generation++;
		for (const pending of this.awaiting) if (pending.onReset) this.events.after(hopMs, pending.onReset);
		this.awaiting.clear();
	}

	/** The busiest simulated second: its requests and when (ms since the drop was made). */
	peak(): { requests: number; at: number } {
		let best = 0;
		let at = 0;
		this.perSecond.forEach((n, s) => {
			if (n > best) {
				best = n;
				at = s * 1000;
			}
		});
		return { requests: best, at };
	}
}
