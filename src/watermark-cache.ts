// A per-isolate cache of each drop's admission watermark, at most a second old,
// so status polls are answered without a Durable Object call each time. Only a
// cache: admission itself is decided in the WaitingRoom.
import type { Outcome } from "./outcome";
import { type Watermark, roomName } from "./waiting-room";

const MAX_AGE_LIMIT_MS = 1_000;
const entries = new Map<string, { at: number; value: Promise<Outcome<Watermark>> }>();

export function watermarkMaxAge(env: Pick<Env, "WATERMARK_CACHE_MS">): number {
	const n = Number(env.WATERMARK_CACHE_MS);
	return Number.isFinite(n) ? Math.min(MAX_AGE_LIMIT_MS, Math.max(0, n)) : MAX_AGE_LIMIT_MS;
}

export function cachedWatermark(env: Env, dropId: string, now = Date.now()): Promise<Outcome<Watermark>> {
	const maxAge = watermarkMaxAge(env);
	const hit = entries.get(dropId);
	if (hit && now - hit.at <= maxAge) return hit.value;
	const value = env.WAITING_ROOM.getByName(roomName(dropId)).watermark();
	if (maxAge > 0) {
		// Concurrent polls share one fetch; a failed fetch is not kept.
		entries.set(dropId, { at: now, value });
		value.catch(() => entries.delete(dropId));
		if (entries.size > 10_000) entries.delete(entries.keys().next().value as string);
	}
	return value;
}
