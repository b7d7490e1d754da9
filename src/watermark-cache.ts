// How the pacer's watermark reaches fans: published, not pulled. The Worker
// answers polls, access grants and the public drop view from a copy at most
// WATERMARK_CACHE_MS (≤ 1 s) old (up to a second more while another request of
// the same isolate is fetching the next copy), looked up first in the isolate's memory and
// then in the data center's cache (Cloudflare's Cache API), and asks the pacer
// only when neither has a fresh one. On a custom domain that is about one call
// a second per data center, whatever the number of isolates and fans; on
// *.workers.dev the Cache API stores nothing, so it is one call a second per
// isolate. Only a cache: admission itself is decided in the pacer, and a copy
// can only be behind it, never ahead.
//
// It keeps answers, never promises: workerd ties a promise to the request that
// made it, so a poll awaiting another poll's Durable Object call is cancelled
// (and never answered) if that other request is dropped first.
import type { Outcome } from "./outcome";
import { config } from "./config";
import type { Watermark } from "./waiting-room";
import { roomStub } from "./names";

const MAX_ENTRIES = 10_000;
const entries = new Map<string, { at: number; value: Outcome<Watermark> }>();
/** Drops whose watermark this isolate is asking the pacer for right now, since when. */
const refreshing = new Map<string, number>();
/** How long a request may answer from the previous copy while another fetches the next. */
const REFRESH_WAIT_MS = 1_000;

/** The cache key of a drop's watermark; never a URL anyone can request. */
const cacheKey = (dropId: string) => `https://watermark.ticket-drop.internal/${encodeURIComponent(dropId)}`;

export async function cachedWatermark(env: Env, dropId: string, now = Date.now(), ctx?: Pick<ExecutionContext, "waitUntil">): Promise<Outcome<Watermark>> {
	const maxAge = config(env).watermarkCacheMs;
	const hit = entries.get(dropId);
	if (hit && now - hit.at <= maxAge && now >= hit.at) return hit.value;
	// Another request of this isolate is fetching a fresh copy: the one in hand, a little older, will do
	// meanwhile, so a crowd of polls at the turn of the second costs one call, not one each.
	const since = refreshing.get(dropId);
	if (maxAge > 0 && hit && since !== undefined && now - since < REFRESH_WAIT_MS && now - hit.at <= maxAge + REFRESH_WAIT_MS) return hit.value;
	// From here on this request fetches the next copy (the data center's, else the pacer's).
	refreshing.set(dropId, now);
	let value: Outcome<Watermark>;
	try {
		if (maxAge > 0) {
			const shared = await fromDataCenter(dropId, maxAge, now);
			if (shared !== null) {
				remember(dropId, shared.at, shared.value);
				return shared.value;
			}
		}
		value = await roomStub(env, dropId).watermark();
	} finally {
		if (refreshing.get(dropId) === now) refreshing.delete(dropId);
	}
	// Only answers are kept (a missing drop is asked again), stamped with when the
	// question was asked, so an entry is never older than it claims.
	if (maxAge > 0 && value.ok) {
		remember(dropId, now, value);
		const put = toDataCenter(dropId, now, value, maxAge);
		if (ctx) ctx.waitUntil(put);
		else await put;
	}
	return value;
}

/**
 * A promoter changed the drop (a pause, a reschedule): this isolate and this data
 * center drop their copies, so the promoter and the fans near them see the change at
 * once; elsewhere copies are at most WATERMARK_CACHE_MS old anyway.
 */
export async function forgetWatermark(dropId: string): Promise<void> {
	entries.delete(dropId);
	try {
		await caches.default.delete(cacheKey(dropId));
	} catch (err) {
		console.warn("cache delete failed; the copy runs out by itself", err);
	}
}

/** Forgets this isolate's copies, as a fresh isolate would start (for tests of the shared cache). */
export function forgetIsolateWatermarks(): void {
	entries.clear();
	refreshing.clear();
}

function remember(dropId: string, at: number, value: Outcome<Watermark>): void {
	if ((entries.get(dropId)?.at ?? -Infinity) > at) return;
	entries.delete(dropId);
	entries.set(dropId, { at, value });
	if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
}

type Stored = { at: number; value: Outcome<Watermark> };

async function fromDataCenter(dropId: string, maxAge: number, now: number): Promise<Stored | null> {
	try {
		const res = await caches.default.match(cacheKey(dropId));
		if (!res) return null;
		const stored = (await res.json()) as Stored;
		return now - stored.at <= maxAge && now >= stored.at && stored.value.ok ? stored : null;
	} catch (err) {
		console.warn("cache read failed; asking the pacer", err);
		return null;
	}
}

async function toDataCenter(dropId: string, at: number, value: Outcome<Watermark>, maxAge: number): Promise<void> {
	try {
		const body = JSON.stringify({ at, value } satisfies Stored);
		await caches.default.put(
			cacheKey(dropId),
			new Response(body, { headers: { "Content-Type": "application/json", "Cache-Control": `max-age=${Math.max(1, Math.ceil(maxAge / 1000))}` } }),
		);
	} catch (err) {
		console.warn("cache write failed", err);
	}
}
