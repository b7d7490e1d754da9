// What fans see is left: per type, per slot and per section, with each
// section's free seats row by row. Gathered from the shards by the pacer at most
// once a second, whoever asks (WaitingRoom.availability), and published to the
// Worker through the same caches as the watermark (src/waiting-room/watermark-cache.ts): a
// request never calls the shards.
import type { Availability } from "../contract/fan-answers";
import { type DropConfig, typesOf } from "../drops/rules";
import type { ShardAvailability } from "./inventory-shard";
import { roomStub, shardStub } from "../shared/names";
import type { Outcome } from "../shared/outcome";
import { poolKey, primaryType } from "../drops/ticket-types";
import { config } from "../shared/config";
import { PublishedCopies } from "../shared/published-copies";

/** How old the pacer's gathered availability may be before it asks the shards again. */
export const AVAILABILITY_MAX_AGE_MS = 1_000;

/** What the pacer keeps and publishes: the answer less the time it is served at. */
export type AvailabilityDoc = Omit<Availability, "serverTime">;

/** Reads every shard once and puts the drop's availability together. */
export async function gatherAvailability(env: Env, drop: DropConfig, now: number): Promise<AvailabilityDoc> {
	const parts = await Promise.all(Array.from({ length: drop.shards }, (_, k) => shardStub(env, drop.id, k).availability()));
	return composeAvailability(drop, parts as ShardAvailability[], now);
}

/** The drop's availability from every shard's part. Pure. */
export function composeAvailability(drop: DropConfig, parts: ShardAvailability[], now: number): AvailabilityDoc {
	const types = typesOf(drop);
	const primary = primaryType(types);
	const free = new Map<string, number>();
	for (const p of parts) for (const pool of p.pools) free.set(`${pool.typeId}\n${pool.pool}`, pool.free);
	const seats = new Map<string, { row: string; free: string }[]>();
	for (const p of parts) for (const s of p.sections) seats.set(`${s.typeId}\n${poolKey.section(s.section)}`, s.rows);
	const left = (typeId: string, pool: string) => free.get(`${typeId}\n${pool}`) ?? 0;
	return {
		dropId: drop.id,
		ticketTypes: types.map((t) => {
			if (t === primary) {
				// Counted as the pacer counts it: stock moving between two shards is counted once.
				const remaining = parts.reduce((a, p) => a + p.general.remaining + p.general.given - p.general.received, 0);
				return { id: t.id, kind: t.kind, remaining };
			}
			if (t.kind === "general") return { id: t.id, kind: t.kind, remaining: left(t.id, poolKey.general()) };
			if (t.kind === "timeslot") {
				const slots = (t.slots ?? []).map((s) => ({ id: s.id, remaining: left(t.id, poolKey.slot(s.id)) }));
				return { id: t.id, kind: t.kind, remaining: slots.reduce((a, s) => a + s.remaining, 0), slots };
			}
			const sections = (t.sections ?? []).map((s) => ({
				name: s.name,
				remaining: left(t.id, poolKey.section(s.name)),
				rows: seats.get(`${t.id}\n${poolKey.section(s.name)}`) ?? [],
			}));
			return { id: t.id, kind: t.kind, remaining: sections.reduce((a, s) => a + s.remaining, 0), sections };
		}),
		gatheredAt: new Date(now).toISOString(),
	};
}

/** The Worker's copies: at most a second old (the watermark's setting, at least 1 s), then the pacer's (at most a second older). */
const copies = new PublishedCopies<AvailabilityDoc>(
	"availability",
	(env) => Math.max(1_000, config(env).watermarkCacheMs),
	(env, dropId) => roomStub(env, dropId).availability() as Promise<Outcome<AvailabilityDoc>>,
);

export function cachedAvailability(env: Env, dropId: string, ctx?: Pick<ExecutionContext, "waitUntil">): Promise<Outcome<AvailabilityDoc>> {
	return copies.get(env, dropId, Date.now(), ctx);
}

export const forgetAvailability = (dropId: string) => copies.forget(dropId);
