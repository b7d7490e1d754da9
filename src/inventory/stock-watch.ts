// A shard watching a dry drop for the pacer: after a look that found nothing free
// anywhere with holds outstanding, the pacer asks each shard to watch, and a shard
// whose stock frees (a hold that ended, a release, a restock) or sells tells it once,
// so it looks again instead of asking every shard every second. Memory only: the
// pacer looks within DRY_LOOK_MS all the same. The shard object (inventory-shard.ts)
// and the simulator's shards (sim/shard.ts) both keep one.
import type { ShardCounts } from "./ledger";
import type { UnitCounts } from "./unit-ledger";

type Counts = ShardCounts & { named: UnitCounts };

export class StockWatch {
	private watching: { remaining: number; sold: number; namedFree: number; namedSold: number } | null = null;

	/** Whether a look asked this shard to watch, and it has not told yet. */
	get on(): boolean {
		return this.watching !== null;
	}

	/** The pacer's look: watched from these counts on when it asks (`watch`), not watched otherwise. */
	looked(watch: boolean, counts: Counts): void {
		this.watching = watch ? { remaining: counts.remaining, sold: counts.sold, namedFree: counts.named.free, namedSold: counts.named.sold } : null;
	}

	/**
	 * Tells the pacer (`tell`) once if stock freed or sold here since the look; `counts` is read
	 * only while watching. A failed call costs only time: the pacer looks all the same.
	 */
	async tellIfMoved(counts: () => Counts, tell: () => Promise<void>): Promise<void> {
		const w = this.watching;
		if (w === null) return;
		const c = counts();
		if (c.remaining <= w.remaining && c.sold === w.sold && c.named.free <= w.namedFree && c.named.sold === w.namedSold) return;
		this.watching = null;
		try {
			await tell();
		} catch (err) {
			console.warn("the pacer was not told of stock moving; it looks all the same", err);
		}
	}
}
