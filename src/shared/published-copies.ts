// A copy of what the pacer publishes, kept per isolate and per data center.

import type { Outcome } from "./outcome";
import { BoundedMap } from "./bounded-map";

const MAX_ENTRIES = 10_000;
/** How long a request may answer from the previous copy while another fetches the next. */
const REFRESH_WAIT_MS = 1_000;

/**
 * A copy of something the pacer publishes, kept in the isolate and in the data center's
 * cache for at most `maxAge(env)` ms: the watermark, and the availability fans see
 * (src/inventory/availability.ts) use the same machinery, each under its own name.
 */
export class PublishedCopies<T> {
	private readonly entries = new BoundedMap<string, { at: number; value: Outcome<T> }>(MAX_ENTRIES);
	/** Drops whose copy this isolate is asking the pacer for right now, since when. */
	private readonly refreshing = new Map<string, number>();

	constructor(
		private readonly name: string,
		private readonly maxAge: (env: Env) => number,
		private readonly ask: (env: Env, dropId: string) => Promise<Outcome<T>>,
	) {}

	/** The cache key of a drop's copy; never a URL anyone can request. */
	private cacheKey(dropId: string): string {
		return `https://${this.name}.ticket-drop.internal/${encodeURIComponent(dropId)}`;
	}

	async get(env: Env, dropId: string, now = Date.now(), ctx?: Pick<ExecutionContext, "waitUntil">): Promise<Outcome<T>> {
		const maxAge = this.maxAge(env);
		const hit = this.entries.get(dropId);
		if (hit && now - hit.at <= maxAge && now >= hit.at) return hit.value;
		// Another request of this isolate is fetching a fresh copy: the one in hand, a little older, will do
		// meanwhile, so a crowd of polls at the turn of the second costs one call, not one each.
		const since = this.refreshing.get(dropId);
		if (maxAge > 0 && hit && since !== undefined && now - since < REFRESH_WAIT_MS && now - hit.at <= maxAge + REFRESH_WAIT_MS) return hit.value;
		// From here on this request fetches the next copy (the data center's, else the pacer's).
		this.refreshing.set(dropId, now);
		let value: Outcome<T>;
		try {
			if (maxAge > 0) {
				const shared = await this.fromDataCenter(dropId, maxAge, now);
				if (shared !== null) {
					this.remember(dropId, shared.at, shared.value);
					return shared.value;
				}
			}
			value = await this.ask(env, dropId);
		} finally {
			if (this.refreshing.get(dropId) === now) this.refreshing.delete(dropId);
		}
		// Only answers are kept (a missing drop is asked again), stamped with when the
		// question was asked, so an entry is never older than it claims.
		if (maxAge > 0 && value.ok) {
			this.remember(dropId, now, value);
			const put = this.toDataCenter(dropId, now, value, maxAge);
			if (ctx) ctx.waitUntil(put);
			else await put;
		}
		return value;
	}

	/** Drops this isolate's and this data center's copies of a drop. */
	async forget(dropId: string): Promise<void> {
		this.entries.delete(dropId);
		try {
			await caches.default.delete(this.cacheKey(dropId));
		} catch (err) {
			console.warn("cache delete failed; the copy runs out by itself", err);
		}
	}

	/** Forgets this isolate's copies, as a fresh isolate would start. */
	forgetIsolate(): void {
		this.entries.clear();
		this.refreshing.clear();
	}

	private remember(dropId: string, at: number, value: Outcome<T>): void {
		if ((this.entries.get(dropId)?.at ?? -Infinity) > at) return;
		this.entries.set(dropId, { at, value });
	}

	private async fromDataCenter(dropId: string, maxAge: number, now: number): Promise<{ at: number; value: Outcome<T> } | null> {
		try {
			const res = await caches.default.match(this.cacheKey(dropId));
			if (!res) return null;
			const stored = (await res.json()) as { at: number; value: Outcome<T> };
			return now - stored.at <= maxAge && now >= stored.at && stored.value.ok ? stored : null;
		} catch (err) {
			console.warn("cache read failed; asking the pacer", err);
			return null;
		}
	}

	private async toDataCenter(dropId: string, at: number, value: Outcome<T>, maxAge: number): Promise<void> {
		try {
			const body = JSON.stringify({ at, value });
			await caches.default.put(
				this.cacheKey(dropId),
				new Response(body, { headers: { "Content-Type": "application/json", "Cache-Control": `max-age=${Math.max(1, Math.ceil(maxAge / 1000))}` } }),
			);
		} catch (err) {
			console.warn("cache write failed", err);
		}
	}
}
