// Where a hold of named units is claimed. The fan's home shard judges
// their limits and keeps the hold; the units are claimed on the shard of their
// pool: one target for a slot, a further general type or named seats (all in one
// section), a few sections best first for "best available" without a section.
// The home shard then claims them there, in turn (named-claims.ts).
import { cachedAvailability } from "./availability";
import { sectionsOfSeats } from "../drops/store";
import { ApiError } from "../shared/errors";
import type { ClaimTarget } from "./named-claims";
import { type HoldRequest, poolKey, poolShard } from "../drops/ticket-types";

/** Sections a best-available hold without a section tries, in turn. */
const BEST_SECTIONS_TRIED = 3;

export async function claimTargets(env: Env, dropId: string, asked: Exclude<HoldRequest, { kind: "primary" }>, shards: number, ctx?: ExecutionContext): Promise<ClaimTarget[]> {
	const at = (pool: string): ClaimTarget => ({ shard: poolShard(asked.typeId, pool, shards), pool });
	if (asked.kind === "count") return [at(asked.pool)];
	if (asked.kind === "seats") return [at(poolKey.section(asked.section ?? (await sectionOfSeats(env, dropId, asked.typeId, asked.seats))))];
	if (asked.section !== null) return [at(poolKey.section(asked.section))];
	// Best available anywhere: the first sections (in the promoter's order) that had room a second
	// ago, from the same copy fans read; a section that has run out since answers, and the next is asked.
	const doc = await cachedAvailability(env, dropId, ctx);
	if (!doc.ok) throw new ApiError(503, "try_again", "Availability is being gathered; try again in a moment.", { retryAfter: 1 });
	const sections = doc.value.ticketTypes.find((t) => t.id === asked.typeId)?.sections ?? [];
	const roomy = sections.filter((s) => s.remaining >= asked.quantity);
	const some = sections.filter((s) => s.remaining > 0 && s.remaining < asked.quantity);
	const tried = [...roomy, ...some].slice(0, BEST_SECTIONS_TRIED);
	// Nothing free a second ago: no target, and the home shard answers: a replayed key its first hold,
	// anyone else sold out (a seat coming back shows in the next copy, within a second or two).
	return tried.map((s) => at(poolKey.section(s.name)));
}

/** The one section of the seats named (from D1's seat directory): 422 for a seat unknown, of another type, or in another section. */
async function sectionOfSeats(env: Env, dropId: string, typeId: string, seats: string[]): Promise<string> {
	const found = await sectionsOfSeats(env.DB, dropId, seats);
	const unknown = seats.filter((s) => !found.has(s));
	if (unknown.length > 0) {
		throw new ApiError(422, "unknown_seat", `No seat ${unknown.map((s) => `"${s}"`).join(", ")} in this drop.`, { field: "seats", seats: unknown });
	}
	const other = seats.filter((s) => found.get(s)!.typeId !== typeId);
	if (other.length > 0) {
		throw new ApiError(422, "seat_not_in_type", `Seat(s) ${other.map((s) => `"${s}"`).join(", ")} are not of ticket type "${typeId}".`, { field: "seats", seats: other });
	}
	const sections = new Set(seats.map((s) => found.get(s)!.section));
	if (sections.size > 1) throw new ApiError(422, "seats_apart", "The seats of one hold must be in one section.", { field: "seats" });
	return [...sections][0]!;
}
