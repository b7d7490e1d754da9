// A drop's inventory seen from outside its shards: setting them up, routing,
// and adding up their totals.
import { allocateShards, type DropConfig } from "./drops";
import { type ShardStats, type ShardTotals } from "./inventory-shard";
import { stableHash } from "./placement";
import { shardStub } from "./names";


/** The shard that keeps a fan's ledger: a stable hash of the fan id (FNV-1a, unsalted). */
export const homeShard = (fanId: string, shards: number) => stableHash(fanId) % shards;

export async function initShards(env: Env, drop: DropConfig): Promise<void> {
	const allocation = allocateShards(drop.capacity, drop.shards);
	await Promise.all(
		allocation.map((stock, shard) =>
			shardStub(env, drop.id, shard).init({
				dropId: drop.id,
				shard,
				shards: drop.shards,
				allocation: stock,
				maxPerFan: drop.maxPerFan,
				holdSeconds: drop.holdSeconds,
				priceCents: drop.priceCents,
				currency: drop.currency,
			}),
		),
	);
}

/**
 * The drop's totals. The shards are read one by one while stock may move between
 * them, so `remaining` is counted as Σ(remaining + given − received): each shard's
 * own read is atomic, and a transfer between two reads (or one cut short by a
 * restart, until the alarm completes it) is then counted exactly once, never
 * missed or doubled. Missing it could tell the waiting room "sold out" for good.
 */
export async function inventoryTotals(
	env: Env,
	dropId: string,
	shards: number,
	hint?: StockHint,
): Promise<ShardTotals & { perShard: number[]; inFlight: number }> {
	const parts = await Promise.all(Array.from({ length: shards }, (_, k) => shardStub(env, dropId, k).totals(hint ?? {})));
	const sum = parts.reduce(
		(a, b) => ({ remaining: a.remaining + b.remaining + b.given - b.received, held: a.held + b.held, sold: a.sold + b.sold, buyers: a.buyers + b.buyers }),
		{ remaining: 0, held: 0, sold: 0, buyers: 0 },
	);
	const inFlight = parts.reduce((a, b) => a + b.given - b.received, 0);
	return { ...sum, perShard: parts.map((p) => p.remaining), inFlight };
}

/** What the pacer tells every shard at its look: each shard's free stock, and the stock between shards. */
export interface StockHint {
	peerStock: number[];
	inFlight: number;
	/** Tickets held anywhere: while any are, "no free stock" is not final (a hold may end). */
	held: number;
}

export function shardStats(env: Env, dropId: string, shards: number, graceMs = 0): Promise<ShardStats[]> {
	return Promise.all(Array.from({ length: shards }, (_, k) => shardStub(env, dropId, k).stats(graceMs)));
}
