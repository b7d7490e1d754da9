// Stock moving between a drop's shards, as the shard that lacks it asks: a hold
// of the stock spread over the shards is decided on the fan's home shard, which
// takes what it lacks from its peers (the richest first, by the pacer's last look)
// in a two-step exchange both sides write down (ledger-transfers.ts), so a transfer
// cut short by a restart or a failed call is finished later, never counted twice.
// The giver's side never calls anyone. Handed only what it needs of its shard.
//
// The endgame: every peer answers with its free stock counted with what it gave and
// has not received (`free`), a sum no transfer changes, so a sweep of every peer knows
// whether stock exists anywhere, on its way between two shards included, however the
// transfers interleave with the reads. None: the answer is final (sold out). Some that
// did not reach this shard: the fan's request waits the moment a transfer takes and
// sweeps again, instead of being told to come back. Holds that find their shard dry
// while a sweep runs join it rather than sweeping the peers once each.
import { type Outcome, fail } from "../shared/outcome";
import type { AlarmScheduling } from "./alarm-schedule";
import type { Ledger } from "./ledger";
import { type HoldView, KEEP_MS } from "./ledger-store";
import { PacerLook } from "./pacer-look";
import type { WindowRule } from "../drops/presales";
import type { ReturnsLine } from "./returns-line";
/** The alarm comes back this soon while a transfer this shard asked for is unanswered. */
export const TRANSFER_RETRY_MS = 2_000;
/**
 * Acks of credited transfers ride on this shard's next ask of the same peer; the alarm sends
 * those still waiting alone once they are this old (the giver keeps their records meanwhile).
 */
export const ACK_AFTER_MS = 30_000;
/** Rounds of asking peers for stock before a contended hold gives up. */
const MAX_HOLD_ROUNDS = 16;
/**
 * How long a hold waits before sweeping again when stock exists elsewhere but none came
 * (on its way between two shards, or taken by a peer after it was asked), one wait per
 * round: about a second in all before "try again", the last resort.
 */
const STOCK_WAITS_MS = [20, 40, 80, 160, 320, 400];
/** How long a sweep of every peer that found nothing answers for the holds after it. */
const EMPTY_SWEEP_MS = 1_000;
/** The most a dry shard takes from a peer beyond what the hold at hand lacks. */
const MAX_EXTRA_TAKE = 16;
/**
 * How long a peer may take to answer an ask before the sweep goes on without it (its
 * transfer stays written down; the alarm finishes it), and how long it is then left out
 * of sweeps: holds share one sweep, so a hung peer must not hold them all.
 */
export const PEER_ANSWER_MS = 3_000;
const PEER_REST_MS = 10_000;

/** What a peer answers when asked for stock: what it gave, and its free stock as the endgame counts it. */
export interface GiveAnswer {
	amount: number;
	/**
	 * The giver's free stock after this give, plus what it has given and not received
	 * (remaining + given − received). A transfer leaves this sum unchanged on both
	 * sides, so its total over every shard is the stock free anywhere or in flight,
	 * whenever each shard was read.
	 */
	free: number;
	/** The giver's free stock after this give (what a sweep guided by the pacer's look counts as left there). */
	left: number;
	/** The line for returned tickets as the giver knows it: stock that came back is never held here before it is known. */
	returns?: ReturnsLine | null;
}

/** What a sweep of the peers found: stock taken, and the stock free elsewhere (Infinity: unknown, a peer did not answer). */
interface Sweep {
	got: number;
	elsewhere: number;
}

/** What is asked of a peer shard for stock (its `give`, over RPC): a transfer, or acks alone (no transfer id). */
export interface StockPeer {
	give(input: { transferId: string; toShard: number; amount: number; acks: string[] }): Promise<GiveAnswer>;
}

/** What the transfers need of their shard. */
export interface StockTransferHost {
	clock(): number;
	ledger: Pick<Ledger, "holds" | "transfers" | "returns" | "requireMeta">;
	alarm: Pick<AlarmScheduling, "by" | "now">;
	/** Shard `shard` of the drop. */
	peer(dropId: string, shard: number): StockPeer;
}

export class StockTransfers {
	/** Transfers this instance is waiting on right now. */
	private readonly running = new Set<string>();
	/** The pacer's last look at every shard's stock, and the peers' answers since. */
	private readonly look: PacerLook;
	/** When a sweep of every peer last found no stock and none on its way. */
	private peersEmptyAt = -Infinity;
	/** When this shard last gave stock to a peer: a look older than that may not know where it went. */
	private gaveAt = -Infinity;
	/** The sweep of the peers running now, which holds short of stock join; and the stock they lack together. */
	private sweeping: Promise<Sweep> | null = null;
	private sweepNeed = 0;
	/** Peers that did not answer in time, and until when they are left out of sweeps. */
	private readonly resting = new Map<number, number>();

	constructor(private readonly host: StockTransferHost) {
		// A restart keeps the pacer's last look (it came with a write), and takes the last give it
		// still has on record as its last: a look older than that is not trusted as the last word.
		this.look = new PacerLook(host.ledger.transfers, () => host.clock());
		this.gaveAt = host.ledger.transfers.lastGiveAt() ?? -Infinity;
	}

	/**
	 * The pacer's call for this shard's count, with (when it has one) its look gathered at its previous call: a give
	 * this shard made in between is newer than the look, which may not know where it went (pacer-look.ts). Watched,
	 * a dry drop's look holds until the next: a shard whose stock comes back tells the pacer, which looks again at once.
	 */
	noteLook(look: { peerStock: number[]; inFlight?: number; watch?: boolean } | null): void {
		this.look.note(look);
	}

	/**
	 * Decides a hold of the stock spread over the shards: here, or with stock taken from
	 * the peers when this shard lacks some. `request` is what its key is remembered with.
	 */
	async hold(input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number; request: string; position: number; window?: WindowRule | null }): Promise<Outcome<HoldView>> {
		const ask = () =>
			this.host.ledger.holds.hold({
				fanId: input.fanId, quantity: input.quantity, key: input.idempotencyKey, request: input.request, now: this.host.clock(), notAfter: input.notAfter, position: input.position, window: input.window ?? null,
			});
		// Why this hold may end in "try again" (null: it would not), logged when it does: the operator's clue.
		let blocked: string | null = null;
		const started = this.host.clock();
		let waits = 0;
		// The stock free elsewhere as the last sweep counted it: what "not enough left" offers.
		let elsewhere = 0;
		for (let round = 1; ; round++) {
			const decision = ask();
			if (decision.kind === "answered") return this.held(decision.outcome);
			// Every peer was asked a moment ago and had nothing: answer from that sweep (in a
			// contended endgame this keeps a dry shard to a sweep a second, not one per hold).
			if (round === 1 && this.peersLatelyEmpty()) break;
			// Not enough here: take stock from the other shards and decide again. Other requests
			// ran during the await and may have taken what arrived, so this repeats for as long
			// as the peers still have stock to give. (Each round that gets stock moves it here.)
			const sweep = await this.sweep(decision.missing);
			blocked = null;
			elsewhere = sweep.elsewhere;
			if (sweep.got > 0) {
				// Stock keeps coming and other holds keep taking it: neither sold out nor held.
				if (round >= MAX_HOLD_ROUNDS) {
					blocked = `stock came ${round} times and other holds took it`;
					break;
				}
				continue;
			}
			if (sweep.elsewhere <= 0) {
				// No stock anywhere, none moving: final until a hold ends.
				this.peersEmptyAt = this.host.clock();
				break;
			}
			// Too little anywhere for this hold: final for it, not for a smaller one.
			if (sweep.elsewhere < decision.missing) break;
			// Stock exists but did not come: it is on its way between two shards, or a peer
			// took it after it was asked. Wait the moment a transfer takes, then sweep again.
			blocked = Number.isFinite(sweep.elsewhere) ? `${sweep.elsewhere} ticket(s) elsewhere did not come (on their way between shards, or taken at a peer)` : "a peer did not answer (now or lately)";
			const wait = STOCK_WAITS_MS[waits++];
			if (wait === undefined || round >= MAX_HOLD_ROUNDS) break;
			// Never past the fan's turn: the hold would be born expired (the ledger refuses it).
			if (this.host.clock() + wait >= input.notAfter) break;
			await new Promise((resolve) => setTimeout(resolve, wait));
		}
		// One more look: holds past their time are returned first, and stock may have come back.
		const last = ask();
		if (last.kind === "answered") return this.held(last.outcome);
		if (blocked !== null) {
			// A peer did not answer, or stock stayed on its way for the whole wait: "sold out" would be a guess.
			console.warn(`hold answered try_again: ${blocked} (shard ${this.host.ledger.requireMeta().shard}, after ${this.host.clock() - started} ms)`);
			return fail(503, "try_again", "Tickets are being moved between shards; try again in a moment.", { retryAfter: 1 });
		}
		// Stock elsewhere, too little for this hold (a sweep's count, so a hint, not a promise).
		const available = last.remaining + (Number.isFinite(elsewhere) ? Math.max(0, elsewhere) : 0);
		return available === 0
			? fail(409, "sold_out", "No tickets are left to hold.")
			: fail(409, "not_enough_left", `Only ${available} ticket(s) are left; ask for fewer.`, { available });
	}

	/**
	 * One sweep of the peers at a time: a hold short of stock while one runs adds what it
	 * lacks to that sweep and takes its answer (then decides again), so a burst of holds on
	 * a dry shard costs each peer one ask, not one per hold.
	 */
	private sweep(missing: number): Promise<Sweep> {
		if (this.sweeping !== null) {
			this.sweepNeed += missing;
			return this.sweeping;
		}
		this.sweepNeed = missing;
		const run = this.takeStockFromPeers().finally(() => {
			this.sweeping = null;
			this.sweepNeed = 0;
		});
		this.sweeping = run;
		return run;
	}

	private held(outcome: Outcome<HoldView>): Outcome<HoldView> {
		if (outcome.ok && !outcome.replayed) this.host.alarm.by(Date.parse(outcome.value.expiresAt));
		return outcome;
	}

	/**
	 * Whether a sweep of every peer found nothing within EMPTY_SWEEP_MS, or the pacer's
	 * fresh look (at most HINT_FRESH_MS old) saw no free stock at any peer and none moving,
	 * and this shard has given none away since: then a hold answers without asking. The
	 * look's counts are consistent (stock moving while it reads is counted as in flight),
	 * so only a hold that ended since can be missed, as with a sweep's memory; with none
	 * held either it is sold out for good. In an endgame the peers are asked only while the
	 * pacer sees stock somewhere.
	 */
	private peersLatelyEmpty(): boolean {
		const now = this.host.clock();
		const shard = this.host.ledger.requireMeta().shard;
		const peerHasStock = this.look.stock().some((n, k) => k !== shard && n > 0) || this.look.inFlight > 0;
		if (this.look.isFresh() && !peerHasStock && this.gaveAt < this.look.at) return true;
		if (now - this.peersEmptyAt >= EMPTY_SWEEP_MS) return false;
		return !(this.look.at > this.peersEmptyAt && peerHasStock);
	}

	/**
	 * Asks the other shards until what the holds waiting on this sweep lack has arrived, or
	 * all have been asked. `elsewhere`: after asking every peer, the stock free at the peers
	 * or on its way between shards (their `free`, with this shard's own given − received);
	 * Infinity when a peer did not answer (its transfer stays pending; the alarm completes it).
	 *
	 * Guided by a fresh look from the pacer, with nothing given away by this shard since, only
	 * the peers that look saw with free stock are asked, and `elsewhere` is what those have
	 * left: a peer with none then gets stock only from a hold that ended, or a transfer after
	 * the look or moving at it (to the shard that asked for it, for its own holds), which the
	 * next look shows (about a second; the same bound as answering from the look alone). In an endgame most peers are dry, so this
	 * is the difference between a sweep of one or two asks and one of every peer.
	 */
	private async takeStockFromPeers(): Promise<Sweep> {
		const meta = this.host.ledger.requireMeta();
		// Stock a peer already gave this shard, in a transfer cut short, comes first.
		const pending = await this.completePendingTransfers();
		let got = pending.got;
		let failed = pending.failed;
		let free = 0;
		// With a fresh look from the pacer, the peers that had free stock then are asked first, the
		// richest first, then the others (stock may have moved since, or be on its way to one of them).
		let peers = Array.from({ length: meta.shards - 1 }, (_, i) => (meta.shard + 1 + i) % meta.shards);
		const known = this.look.isFresh(meta.shards) ? this.look.stock() : null;
		// Stock moving at the look goes to the shard that asked for it: what it does not use shows in the next look.
		const trusted = known !== null && this.gaveAt < this.look.at;
		if (known) {
			const rich = peers.filter((k) => known[k]! > 0).sort((a, b) => known[b]! - known[a]!);
			peers = trusted ? rich : [...rich, ...peers.filter((k) => known[k]! === 0)];
		}
		let left = 0;
		let asked = 0;
		for (const from of peers) {
			if (got >= this.sweepNeed) break;
			asked++;
			if (this.isResting(from)) {
				failed = true;
				continue;
			}
			const needed = this.sweepNeed - got;
			// From a peer with plenty, take a little more than the holds lack, so the next holds here find it.
			const spare = known ? Math.max(0, known[from]! - needed) : 0;
			const amount = needed + Math.min(MAX_EXTRA_TAKE, Math.floor(spare / 2));
			try {
				const transferId = this.host.ledger.transfers.openTransfer(from, amount, this.host.clock());
				this.host.alarm.by(this.host.clock() + TRANSFER_RETRY_MS);
				const answer = await this.exchange(transferId, from, amount);
				got += answer.amount;
				free += answer.free;
				left += answer.left;
				if (known) known[from] = Math.max(0, known[from]! - answer.amount);
			} catch (err) {
				console.warn("stock transfer failed; the alarm completes it", from, err);
				failed = true;
			}
		}
		if (failed || asked < peers.length) return { got, elsewhere: Infinity };
		if (trusted) return { got, elsewhere: left };
		// Read after the last answer, with no await between: this shard's own part of the sum.
		const own = this.host.ledger.requireMeta();
		return { got, elsewhere: free + own.given - own.received };
	}

	/** Asks the giver for a transfer this shard has written down, credits the answer, and acks what it credited before. */
	private async exchange(transferId: string, from: number, requested: number): Promise<GiveAnswer> {
		const meta = this.host.ledger.requireMeta();
		const acks = this.host.ledger.transfers.unackedFrom(from).filter((id) => id !== transferId);
		this.running.add(transferId);
		let answer: GiveAnswer;
		try {
			answer = await this.askPeer(from, { transferId, toShard: meta.shard, amount: requested, acks });
		} finally {
			this.running.delete(transferId);
		}
		// The giver's line first: the stock it gave may have come back after the sell-out.
		this.host.ledger.returns.note(answer.returns, this.host.clock());
		this.host.ledger.transfers.credit(transferId, answer.amount);
		this.host.ledger.transfers.acked(acks);
		if (typeof answer.left === "number") this.look.heard(from, answer.left);
		return answer;
	}

	/**
	 * The giver's side: up to `amount` of this shard's free stock, once per transfer id,
	 * and its `free` after it. It never calls anyone; a transfer to this shard that nobody
	 * here waits on is left to the alarm, woken at once.
	 */
	give(input: { transferId: string; toShard: number; amount: number; acks?: string[] }): GiveAnswer {
		const amount = this.host.ledger.transfers.give({ ...input, acks: input.acks ?? [], now: this.host.clock() });
		// Acknowledged answers are kept a day for late copies of their asks; the alarm's prune forgets them.
		if ((input.acks?.length ?? 0) > 0) this.host.alarm.by(this.host.clock() + KEEP_MS);
		// Stock went to a peer: "every peer was empty a moment ago" no longer holds.
		if (amount > 0) {
			this.peersEmptyAt = -Infinity;
			this.gaveAt = this.host.clock();
		}
		const pending = this.host.ledger.transfers.pendingTransfers();
		// A transfer to this shard that nobody here is waiting on was cut short: the alarm
		// finishes it now, so the asker's next sweep (it waits, the stock being in flight) finds the stock.
		if (pending.some((t) => !this.running.has(t.transfer_id))) this.host.alarm.now();
		const meta = this.host.ledger.requireMeta();
		return { amount, free: meta.remaining + meta.given - meta.received, left: meta.remaining, returns: this.host.ledger.returns.line() };
	}

	/** Finishes transfers this shard asked for and never heard back from (idempotent on both sides). */
	async completePendingTransfers(): Promise<{ got: number; failed: boolean }> {
		let got = 0;
		let failed = false;
		// Those still running in this instance will finish by themselves; after a restart none are.
		for (const t of this.host.ledger.transfers.pendingTransfers()) {
			// Checked again right before each: another caller may have started or finished it
			// while this one awaited the transfers before it (from here to the ask, no await).
			if (this.running.has(t.transfer_id) || !this.host.ledger.transfers.isPending(t.transfer_id)) continue;
			if (this.isResting(t.from_shard)) {
				failed = true;
				continue;
			}
			try {
				got += (await this.exchange(t.transfer_id, t.from_shard, t.requested)).amount;
			} catch (err) {
				console.warn("transfer retry failed", t.transfer_id, err);
				failed = true;
			}
		}
		return { got, failed };
	}

	/**
	 * A peer's `give`, given up after PEER_ANSWER_MS (the peer is then rested). What it
	 * answers later is not lost: the transfer stays pending here, and asking again under
	 * the same id answers the same amount.
	 */
	private async askPeer(from: number, input: Parameters<StockPeer["give"]>[0]): Promise<GiveAnswer> {
		const meta = this.host.ledger.requireMeta();
		let timer: ReturnType<typeof setTimeout> | undefined;
		const late = new Promise<never>((_, reject) => {
			timer = setTimeout(() => {
				this.resting.set(from, this.host.clock() + PEER_REST_MS);
				reject(new Error(`shard ${from} did not answer within ${PEER_ANSWER_MS} ms`));
			}, PEER_ANSWER_MS);
		});
		try {
			return await Promise.race([this.host.peer(meta.drop_id, from).give(input), late]);
		} finally {
			if (timer !== undefined) clearTimeout(timer);
		}
	}

	/** Whether a peer that did not answer in time is still left out of sweeps. */
	private isResting(peer: number): boolean {
		const until = this.resting.get(peer);
		if (until === undefined) return false;
		if (this.host.clock() < until) return true;
		this.resting.delete(peer);
		return false;
	}

	/** Tells givers which of their transfers have been credited here (those waiting ACK_AFTER_MS), so both sides forget them. */
	async sendAcks(): Promise<void> {
		const meta = this.host.ledger.requireMeta();
		for (const from of this.host.ledger.transfers.peersToAck(this.host.clock() - ACK_AFTER_MS)) {
			if (this.isResting(from)) continue;
			const acks = this.host.ledger.transfers.unackedFrom(from);
			try {
				await this.askPeer(from, { transferId: "", toShard: meta.shard, amount: 0, acks });
				this.host.ledger.transfers.acked(acks);
			} catch (err) {
				console.warn("transfer acks not delivered; the alarm retries", from, err);
			}
		}
	}
}
