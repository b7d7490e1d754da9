// Which drop ids exist, asked of D1 before any Durable Object is called by a
// drop's name: an object called by name is created (and stored) if it was not
// there, so a request for a drop that does not exist must never reach one.
// The answers are kept per isolate (only a cache: D1 decides), bounded in
// number so that random ids cannot grow memory: a known id for an hour (drops
// are never deleted), an unknown one for UNKNOWN_FOR_MS, so a drop created
// after someone asked for its id is reachable everywhere within that time.
//
// It keeps answers, never promises (see watermark-cache.ts: workerd ties a
// promise to the request that made it).
import { dropExists } from "./drops-store";
import { ApiError, notFound } from "./http";

export const KNOWN_FOR_MS = 60 * 60_000;
export const UNKNOWN_FOR_MS = 5_000;
const MAX_KNOWN = 10_000;
const MAX_UNKNOWN = 1_000;

/** Separate maps, so a flood of unknown ids never pushes a real drop out. Insertion order is age. */
const known = new Map<string, number>();
const unknown = new Map<string, number>();

function fresh(map: Map<string, number>, id: string, forMs: number, now: number): boolean {
	const at = map.get(id);
	if (at === undefined) return false;
	if (now - at <= forMs && now >= at) return true;
	map.delete(id);
	return false;
}

function remember(map: Map<string, number>, id: string, now: number, max: number): void {
	map.delete(id);
	map.set(id, now);
	if (map.size > max) map.delete(map.keys().next().value as string);
}

/** Whether the drop exists, from this isolate's answers or D1. */
export async function isKnownDrop(env: Pick<Env, "DB">, dropId: string, now = Date.now()): Promise<boolean> {
	if (fresh(known, dropId, KNOWN_FOR_MS, now)) return true;
	if (fresh(unknown, dropId, UNKNOWN_FOR_MS, now)) return false;
	let exists: boolean;
	try {
		exists = await dropExists(env.DB, dropId);
	} catch (err) {
		// Without D1 the engine cannot tell a real drop from a made-up id; it does not guess.
		console.error("could not check whether a drop exists", err);
		throw new ApiError(503, "try_again", "The drop could not be looked up just now; try again.", { retryAfter: 1 });
	}
	if (exists) {
		unknown.delete(dropId);
		remember(known, dropId, now, MAX_KNOWN);
	} else {
		remember(unknown, dropId, now, MAX_UNKNOWN);
	}
	return exists;
}

/** 404 `not_found` for a drop that does not exist, before anything calls an object by its name. */
export async function requireKnownDrop(env: Pick<Env, "DB">, dropId: string): Promise<void> {
	if (!(await isKnownDrop(env, dropId))) throw notFound("drop");
}

/** How many answers this isolate holds (for the test that floods it with random ids). */
export function knownDropCacheSize(): { known: number; unknown: number } {
	return { known: known.size, unknown: unknown.size };
}
