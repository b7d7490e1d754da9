// A per-isolate cache of each drop's admission watermark, at most a second old,
// so status polls are answered without a Durable Object call each time. Only a
// cache: admission itself is decided in the WaitingRoom.
//
// It keeps answers, never promises: workerd ties a promise to the request that
// made it, so a poll awaiting another poll's Durable Object call is cancelled
// (and never answered) if that other request is dropped first.
import type { Outcome } from "./outcome";
import { type Watermark, roomName } from "./waiting-room";

const MAX_AGE_LIMIT_MS = 1_000;
const MAX_ENTRIES = 10_000;
const entries = new Map<string, { at: number; value: Outcome<Watermark> }>();

export function watermarkMaxAge(env: Pick<Env, "WATERMARK_CACHE_MS">): number {
	const n = Number(env.WATERMARK_CACHE_MS);
	return Number.isFinite(n) ? Math.min(MAX_AGE_LIMIT_MS, Math.max(0, n)) : MAX_AGE_LIMIT_MS;
}

export async function cachedWatermark(env: Env, dropId: string, now = Date.now()): Promise<Outcome<Watermark>> {
	const maxAge = watermarkMaxAge(env);
	const hit = entries.get(dropId);
	if (hit && now - hit.at <= maxAge && now >= hit.at) return hit.value;
	const value = await env.WAITING_ROOM.getByName(roomName(dropId)).watermark();
	// Only answers are kept (a missing drop is asked again), stamped with when the
	// question was asked, so an entry is never older than it claims.
	if (maxAge > 0 && value.ok && !((entries.get(dropId)?.at ?? -Infinity) > now)) {
		entries.delete(dropId);
		entries.set(dropId, { at: now, value });
		if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
	}
	return value;
}
