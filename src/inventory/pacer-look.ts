// What a shard knows of where its drop's stock is: the pacer's last look at every
// shard's free stock and at the stock moving between shards, and the peers' answers
// since. The pacer passes each look on at its next call, so a look is dated by when
// this shard was counted in it (the call before), not by its arrival; a peer's answer
// newer than the look stands in for the look's count of that peer until the next look.
// Kept in the shard's storage (one row per look): a restart keeps it.
import type { TransferLedger } from "./ledger-transfers";

/**
 * While the shards watch a dry drop for the pacer, how long it goes without looking at
 * them all the same (a shard that restarted forgets it was watching), and how long a
 * dry shard trusts the look that told it so.
 */
export const DRY_LOOK_MS = 10_000;
/** How long the pacer's look guides a dry shard's asking (it looks about once a second). */
export const HINT_FRESH_MS = 2_000;

interface Look {
	stock: number[];
	inFlight: number;
	/** When this shard was counted in it. */
	at: number;
	/** How long it guides: longer for a watched dry drop's. */
	freshMs: number;
}

export class PacerLook {
	private look: Look = { stock: [], inFlight: 0, at: -Infinity, freshMs: HINT_FRESH_MS };
	/** When the pacer last counted this shard: the look it passes on next was gathered then. */
	private countedAt = -Infinity;
	/** What each peer answered it had left after an ask, and when. */
	private readonly heardFrom = new Map<number, { left: number; at: number }>();

	constructor(
		private readonly store: Pick<TransferLedger, "saveLook" | "savedLook">,
		private readonly clock: () => number,
	) {
		const saved = store.savedLook();
		if (saved !== null) {
			// JSON keeps -Infinity as null.
			const { look, countedAt } = JSON.parse(saved) as { look: Look; countedAt: number | null };
			this.look = { ...look, at: look.at ?? -Infinity };
			this.countedAt = countedAt ?? -Infinity;
		}
	}

	/** The pacer's call for this shard's count, with the look it gathered at its previous call (when it has one). */
	note(look: { peerStock: number[]; inFlight?: number; watch?: boolean } | null): void {
		if (look !== null) {
			const freshMs = look.watch === true ? DRY_LOOK_MS + HINT_FRESH_MS : HINT_FRESH_MS;
			this.look = { stock: look.peerStock, inFlight: look.inFlight ?? 0, at: this.countedAt, freshMs };
		}
		this.countedAt = this.clock();
		if (look !== null) this.store.saveLook(JSON.stringify({ look: this.look, countedAt: this.countedAt }));
	}

	/** A peer answered an ask with what it had left. */
	heard(peer: number, left: number): void {
		this.heardFrom.set(peer, { left, at: this.clock() });
	}

	/** When the look was gathered (this shard counted in it), and the stock moving between shards then. */
	get at(): number {
		return this.look.at;
	}

	get inFlight(): number {
		return this.look.inFlight;
	}

	/** Whether there is a look of `shards` shards (any, when not given) that still guides. */
	isFresh(shards?: number): boolean {
		const n = this.look.stock.length;
		return n > 0 && (shards === undefined || n === shards) && this.clock() - this.look.at < this.look.freshMs;
	}

	/** Each shard's free stock as the look counted it, or as the shard answered since. */
	stock(): number[] {
		return this.look.stock.map((n, k) => {
			const answer = this.heardFrom.get(k);
			return answer !== undefined && answer.at > this.look.at ? answer.left : n;
		});
	}
}
