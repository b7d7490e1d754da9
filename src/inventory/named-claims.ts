// The claims a named hold makes, and the endings owed for them: the fan's home
// shard reserves the hold (its limits are judged there, with every hold of the fan),
// claims the units on the shard that keeps them, and tells that shard how each claim
// ended (sold, or released) until it has heard. The steps are written down first
// (ledger-named.ts), so a restart mid-claim resumes it and an ending is never lost.
// Handed only what it needs of its shard.
import { type Outcome, fail } from "../shared/outcome";
import type { AlarmScheduling } from "./alarm-schedule";
import type { Ledger } from "./ledger";
import type { Notice } from "./ledger-named";
import type { HoldView } from "./ledger-store";
import { SerialJob } from "./serial-job";
import type { WindowRule } from "../drops/presales";
import type { ClaimInput, Claimed, UnitLedger } from "./unit-ledger";

/** Where a named hold may be claimed: the shard and pool, best first (best available may name a few sections). */
export interface ClaimTarget {
	shard: number;
	pool: string;
}

/** A hold of a type's named units, as the Worker asks the fan's home shard for it. */
export interface NamedHoldRequest {
	fanId: string;
	idempotencyKey: string;
	notAfter: number;
	request: string;
	typeId: string;
	quantity: number;
	seats: string[] | null;
	targets: ClaimTarget[];
	/** The sale window whose token asks, if any. */
	window?: WindowRule | null;
}

/** What is asked of the shard that keeps the units (its `claim` and `settleClaims`, over RPC). */
export interface ClaimPeer {
	claim(ask: ClaimInput): Promise<Outcome<Claimed>>;
	settleClaims(ends: { sold: string[]; release: string[] }): Promise<void>;
}

/** What the claims need of their shard. */
export interface NamedClaimHost {
	clock(): number;
	ledger: Pick<Ledger, "named" | "requireMeta">;
	/** The units kept on this shard: a claim on its own shard is made without a call. */
	units: Pick<UnitLedger, "claim" | "settle">;
	alarm: Pick<AlarmScheduling, "by" | "fromStoredState">;
	/** Shard `shard` of the drop. */
	peer(dropId: string, shard: number): ClaimPeer;
}

export class NamedClaims {
	private readonly delivering: SerialJob;

	constructor(private readonly host: NamedClaimHost) {
		this.delivering = new SerialJob(() => this.sendNotices(), "claim endings not delivered; the alarm retries", () => this.host.alarm.fromStoredState());
	}

	/**
	 * Reserves the hold here (where the fan's limits are judged over all their holds), then
	 * claims its units on the shard that keeps them (`targets`, tried in order until one has
	 * them). All or none.
	 */
	async hold(input: NamedHoldRequest): Promise<Outcome<HoldView>> {
		const reserved = this.host.ledger.named.reserveNamed({ fanId: input.fanId, key: input.idempotencyKey, request: input.request, typeId: input.typeId, quantity: input.quantity, now: this.host.clock(), notAfter: input.notAfter, nowhere: input.targets.length === 0, window: input.window ?? null });
		if (reserved.kind === "answered") return reserved.outcome;
		const me = this.host.ledger.requireMeta();
		this.host.alarm.by(reserved.expiresAt);
		let last: Outcome<Claimed> = fail(409, "sold_out", "None of these are left.");
		// A hold resumed after a restart asks first where it had asked (its claim may be there).
		const at = reserved.resumed;
		const targets = at === null ? input.targets : [at, ...input.targets.filter((t) => t.shard !== at.shard || t.pool !== at.pool)];
		for (const target of targets) {
			// Ended while an earlier target was asked: a claim made now would have no release owed.
			if (!this.host.ledger.named.aimNamed(reserved.holdId, target.shard, target.pool)) {
				return fail(410, "hold_expired", "This hold ran out while its seats were claimed; make a new one.");
			}
			const ask: ClaimInput = { holdId: reserved.holdId, homeShard: me.shard, typeId: input.typeId, pool: target.pool, quantity: input.quantity, seats: input.seats, now: this.host.clock() };
			try {
				last = target.shard === me.shard ? this.host.units.claim(ask) : await this.host.peer(me.drop_id, target.shard).claim(ask);
			} catch (err) {
				// Unknown whether it was claimed: the claim is released (and refused should it arrive late).
				console.warn("claim failed; its release is owed", target.shard, err);
				this.host.ledger.named.abandonNamed(reserved.holdId, true, this.host.clock());
				await this.deliverNotices();
				return fail(503, "try_again", "The seats could not be reached; try again in a moment.", { retryAfter: 1 });
			}
			if (last.ok) {
				const made = this.host.ledger.named.confirmNamed({ holdId: reserved.holdId, fanId: input.fanId, key: input.idempotencyKey, request: input.request, claimed: last.value, now: this.host.clock() });
				if (made !== null) return made;
				// It ran out while being claimed: its release is owed already.
				await this.deliverNotices();
				return fail(410, "hold_expired", "This hold ran out while its seats were claimed; make a new one.");
			}
			// Taken or unknown seats are not found in another section.
			if (input.seats !== null) break;
		}
		this.host.ledger.named.abandonNamed(reserved.holdId, false, this.host.clock());
		return last.ok ? fail(409, "sold_out", "None of these are left.") : last;
	}

	/** Delivers owed endings of named holds to their units' shards; one run at a time, repeated while more were owed meanwhile. */
	deliverNotices(): Promise<void> {
		return this.delivering.run();
	}

	private async sendNotices(): Promise<void> {
		const meta = this.host.ledger.requireMeta();
		const byShard = new Map<number, Notice[]>();
		for (const n of this.host.ledger.named.pendingNotices()) byShard.set(n.shard, [...(byShard.get(n.shard) ?? []), n]);
		await Promise.all(
			[...byShard].map(async ([shard, notices]) => {
				const ends = { sold: notices.filter((n) => n.kind === "sold").map((n) => n.hold_id), release: notices.filter((n) => n.kind === "release").map((n) => n.hold_id) };
				if (shard === meta.shard) this.host.units.settle({ ...ends, now: this.host.clock() });
				else await this.host.peer(meta.drop_id, shard).settleClaims(ends);
				this.host.ledger.named.noticesDelivered(notices);
			}),
		);
	}
}
