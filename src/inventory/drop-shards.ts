// A drop's inventory seen from outside its shards: setting them up, routing,
// and adding up their totals.
import type { ReturnsLine } from "./returns-line";
import { allocateShards, type DropConfig, typesOf } from "../drops/rules";
import { type Seat, type SeatsByType, type TicketType, poolKey, poolPlan, primaryType } from "../drops/ticket-types";
import type { PoolInit } from "./unit-ledger";
import type { ShardCountsWithUnits, ShardStatsWithUnits } from "./inventory-shard";
import type { ShardTotals } from "./ledger";
import { shardStub } from "../shared/names";
import type { SetState } from "../drops/lifecycle";
import { stableHash } from "../shared/crypto";


/** The shard that keeps a fan's ledger: a stable hash of the fan id (FNV-1a, unsalted). */
export const homeShard = (fanId: string, shards: number) => stableHash(fanId) % shards;

/**
 * Sets up every shard of a drop: its share of the general admission spread over the
 * shards, the drop's types, and the named pools placed on it (with their seats, when
 * `seats` brings them: at creation). Idempotent.
 */
export async function initShards(env: Env, drop: DropConfig, seats: SeatsByType = new Map()): Promise<void> {
	const types = typesOf(drop);
	const primary = primaryType(types);
	const allocation = allocateShards(primary?.capacity ?? 0, drop.shards);
	const pools = poolsByShard(types, drop.shards, seats);
	await Promise.all(
		allocation.map((stock, shard) =>
			shardStub(env, drop.id, shard).init({
				dropId: drop.id,
				shard,
				shards: drop.shards,
				allocation: stock,
				maxPerFan: drop.maxPerFan,
				holdSeconds: drop.holdSeconds,
				priceCents: primary?.priceCents ?? drop.priceCents,
				currency: drop.currency,
				types: types.map((t) => ({ id: t.id, kind: t.kind, priceCents: t.priceCents, maxPerFan: t.maxPerFan, primary: t === primary })),
				pools: pools[shard] ?? [],
			}),
		),
	);
}

/** The named pools each shard keeps, with the seats of each section (when given). */
export function poolsByShard(types: TicketType[], shards: number, seats: SeatsByType): PoolInit[][] {
	const out: PoolInit[][] = Array.from({ length: shards }, () => []);
	const bySection = new Map<string, Seat[]>();
	for (const [typeId, list] of seats) {
		for (const s of list) {
			const key = `${typeId}\n${poolKey.section(s.section)}`;
			const group = bySection.get(key);
			if (group) group.push(s);
			else bySection.set(key, [s]);
		}
	}
	for (const p of poolPlan(types, shards)) {
		out[p.shard]!.push({ typeId: p.typeId, pool: p.pool, kind: p.kind, capacity: p.capacity, ...(p.kind === "seats" ? { seats: bySection.get(`${p.typeId}\n${p.pool}`) ?? [] } : {}) });
	}
	return out;
}

/** A seated type's seats replaced before the opening: every shard drops its sections of the type and takes those placed on it now. */
export async function replaceSeats(env: Env, drop: DropConfig, typeId: string, seats: Seat[]): Promise<void> {
	const types = typesOf(drop).filter((t) => t.id === typeId);
	const pools = poolsByShard(types, drop.shards, new Map([[typeId, seats]]));
	await Promise.all(pools.map((list, shard) => shardStub(env, drop.id, shard).replaceSeats({ typeId, pools: list })));
}

/**
 * The drop's totals. The shards are read one by one while stock may move between
 * them, so `remaining` is counted as Σ(remaining + given − received): each shard's
 * own read is atomic, and a transfer between two reads (or one cut short by a
 * restart, until the alarm completes it) is then counted exactly once, never
 * missed or doubled. Missing it could tell the pacer "sold out" for good. The pacer's
 * look brings each shard the drop's `state` as the promoter set it (a pause, a cancel), and the line for returned
 * tickets once the drop has sold out (returns-line.ts).
 */
export async function inventoryTotals(
	env: Env,
	dropId: string,
	shards: number,
	hint?: StockHint,
	state?: SetState,
	returns?: ReturnsLine,
): Promise<ShardTotals & { perShard: number[]; inFlight: number }> {
	const input = { ...hint, ...(state === undefined ? {} : { state }), ...(returns === undefined ? {} : { returns }) };
	const parts = await Promise.all(Array.from({ length: shards }, (_, k) => shardStub(env, dropId, k).totals(input)));
	return sumShardTotals(parts);
}

/** Every shard's counts as the pacer adds them up: the drop's totals, each shard's free stock, and the stock between shards. */
export function sumShardTotals(parts: ShardCountsWithUnits[]): ShardTotals & { perShard: number[]; inFlight: number } {
	// Named units count where they are decided (their pool's shard): free, held by a claim, or sold.
	const sum = parts.reduce(
		(a, b) => ({
			remaining: a.remaining + b.remaining + b.given - b.received + b.named.free,
			held: a.held + b.held + b.named.held,
			sold: a.sold + b.sold + b.named.sold,
			buyers: a.buyers + b.buyers,
		}),
		{ remaining: 0, held: 0, sold: 0, buyers: 0 },
	);
	const inFlight = parts.reduce((a, b) => a + b.given - b.received, 0);
	return { ...sum, perShard: parts.map((p) => p.remaining), inFlight };
}

/** Tells every shard of the drop its state as the promoter set it, at once (the cancel route); the pacer's looks carry it too. */
export async function tellShards(env: Env, dropId: string, shards: number, state: SetState): Promise<void> {
	await Promise.all(Array.from({ length: shards }, (_, k) => shardStub(env, dropId, k).tellState({ state })));
}

/** What the pacer tells every shard at its look: each shard's free stock, and the stock between shards. */
export interface StockHint {
	peerStock: number[];
	inFlight: number;
	/** Tickets held anywhere: while any are, "no free stock" is not final (a hold may end). */
	held: number;
	/**
	 * The last look found no free stock anywhere, holds outstanding: a shard with no free
	 * stock now tells the pacer (its `stockMoved`) when some comes back or it sells, and the
	 * pacer stops asking every shard every second.
	 */
	watch?: boolean;
}


export function shardStats(env: Env, dropId: string, shards: number, graceMs = 0): Promise<ShardStatsWithUnits[]> {
	return Promise.all(Array.from({ length: shards }, (_, k) => shardStub(env, dropId, k).stats(graceMs))) as Promise<ShardStatsWithUnits[]>;
}
