// Which drop ids exist, asked of D1 before any Durable Object is called by a
// drop's name: an object called by name is created (and stored) if it was not
// there, so a request for a drop that does not exist must never reach one.
// The answers are kept per isolate (only a cache: D1 decides), bounded in
// number so that random ids cannot grow memory: a known id for an hour (drops
// are never deleted), an unknown one for UNKNOWN_FOR_MS, so a drop created
// after someone asked for its id is reachable everywhere within that time.
//
// With a known drop it keeps its promoter's join limit, so a join
// still asks D1 nothing: the limit is read again when it is older than
// LIMIT_FOR_MS, so an operator's change reaches every isolate within that time
// (and if D1 cannot be asked then, the limit known before stays).
//
// It keeps answers, never promises (see watermark-cache.ts: workerd ties a
// promise to the request that made it).
import { dropJoinFacts } from "./store";
import type { Presale } from "./presales";
import { ApiError, notFound } from "../shared/errors";
import { BoundedMap } from "../shared/bounded-map";

export const KNOWN_FOR_MS = 60 * 60_000;
export const UNKNOWN_FOR_MS = 5_000;
const MAX_KNOWN = 10_000;
const MAX_UNKNOWN = 1_000;
/** How long a known drop's promoter join limit is used before it is read again. */
export const LIMIT_FOR_MS = 60_000;

/** What a join needs to know of a drop besides its existence. */
export interface KnownDrop {
	/** Joins a minute the drop takes, all fans together (its promoter's limit); null: none. */
	joinsPerMinute: number | null;
	/** Its sale windows before the general sale, absent for a drop without (they never change once the drop is made). */
	presales?: Presale[];
}

type Entry = { at: number; facts: KnownDrop; checkedAt: number };

/** Separate maps, so a flood of unknown ids never pushes a real drop out. Insertion order is age. */
const known = new BoundedMap<string, Entry>(MAX_KNOWN);
const unknown = new BoundedMap<string, { at: number }>(MAX_UNKNOWN);

function fresh<T extends { at: number }>(map: Map<string, T>, id: string, forMs: number, now: number): T | null {
	const entry = map.get(id);
	if (entry === undefined) return null;
	if (now - entry.at <= forMs && now >= entry.at) return entry;
	map.delete(id);
	return null;
}

/** The drop's facts when it exists, null when it does not: from this isolate's answers or D1. */
export async function knownDrop(env: Pick<Env, "DB">, dropId: string, now = Date.now()): Promise<KnownDrop | null> {
	const entry = fresh(known, dropId, KNOWN_FOR_MS, now);
	if (entry !== null) {
		if (now - entry.checkedAt > LIMIT_FOR_MS || now < entry.checkedAt) {
			entry.checkedAt = now;
			try {
				entry.facts = (await dropJoinFacts(env.DB, dropId)) ?? entry.facts;
			} catch (err) {
				console.error("could not read a drop's join limit again; the one known stays", err);
			}
		}
		return entry.facts;
	}
	if (fresh(unknown, dropId, UNKNOWN_FOR_MS, now)) return null;
	let facts: KnownDrop | null;
	try {
		facts = await dropJoinFacts(env.DB, dropId);
	} catch (err) {
		// Without D1 the engine cannot tell a real drop from a made-up id; it does not guess.
		console.error("could not check whether a drop exists", err);
		throw new ApiError(503, "try_again", "The drop could not be looked up just now; try again.", { retryAfter: 1 });
	}
	if (facts !== null) {
		unknown.delete(dropId);
		known.set(dropId, { at: now, facts, checkedAt: now });
	} else {
		unknown.set(dropId, { at: now });
	}
	return facts;
}

/** Whether the drop exists, from this isolate's answers or D1. */
export async function isKnownDrop(env: Pick<Env, "DB">, dropId: string, now = Date.now()): Promise<boolean> {
	return (await knownDrop(env, dropId, now)) !== null;
}

/** 404 `not_found` for a drop that does not exist, before anything calls an object by its name; its facts when it does. */
export async function requireKnownDrop(env: Pick<Env, "DB">, dropId: string): Promise<KnownDrop> {
	const facts = await knownDrop(env, dropId);
	if (facts === null) throw notFound("drop");
	return facts;
}

/** How many answers this isolate holds (for the test that floods it with random ids). */
export function knownDropCacheSize(): { known: number; unknown: number } {
	return { known: known.size, unknown: unknown.size };
}
