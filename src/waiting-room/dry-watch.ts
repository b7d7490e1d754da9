// The pacer's side of a dry drop watched by its shards: while nothing is free anywhere
// and holds are outstanding, the shards tell the pacer when stock frees or sells
// (stockMoved), so it looks at them every DRY_LOOK_MS instead of every second. Memory
// only: a fresh pacer looks every second again.
import { DRY_LOOK_MS } from "../inventory/pacer-look";
import type { ShardTotals } from "../inventory/ledger";

export class DryWatch {
	/** The last look asked the shards to watch, and found the drop dry. */
	watching = false;
	/** Shards' tells counted: a look that one came during, or after, is not a watched dry look. */
	moves = 0;
	/** A look owed at once: a watched dry look found stock, which the shards must be shown. */
	lookOwed = false;

	/** A shard told of stock moving (freed or sold): the next tick looks at every shard, a look under way is not a watched dry look. */
	told(): void {
		this.moves++;
		this.watching = false;
	}

	/** Whether a look is due at `now` (the totals read at `totalsAt`); null: the pacer's usual rule decides. */
	lookDue(totalsAt: number | null, now: number): boolean | null {
		if (this.lookOwed) return true;
		if (this.watching) return totalsAt === null || totalsAt + DRY_LOOK_MS <= now;
		return null;
	}

	/** A look's totals kept: watched from now on when it was a watched look that found the drop dry. */
	recorded(watched: boolean, totals: ShardTotals): void {
		this.watching = watched && totals.remaining === 0 && totals.held > 0;
	}
}
