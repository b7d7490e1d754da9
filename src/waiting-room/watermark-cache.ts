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
import type { Outcome } from "../shared/outcome";
import { config } from "../shared/config";
import type { Watermark } from "./watermark";
import { roomStub } from "../shared/names";
import { PublishedCopies } from "../shared/published-copies";

const watermarks = new PublishedCopies<Watermark>("watermark", (env) => config(env).watermarkCacheMs, (env, dropId) => roomStub(env, dropId).watermark());

export function cachedWatermark(env: Env, dropId: string, now = Date.now(), ctx?: Pick<ExecutionContext, "waitUntil">): Promise<Outcome<Watermark>> {
	return watermarks.get(env, dropId, now, ctx);
}

/**
 * A promoter changed the drop (a pause, a reschedule): this isolate and this data
 * center drop their copies, so the promoter and the fans near them see the change at
 * once; elsewhere copies are at most WATERMARK_CACHE_MS old anyway.
 */
export function forgetWatermark(dropId: string): Promise<void> {
	return watermarks.forget(dropId);
}

/** Forgets this isolate's copies, as a fresh isolate would start (for tests of the shared cache). */
export function forgetIsolateWatermarks(): void {
	watermarks.forgetIsolate();
}
