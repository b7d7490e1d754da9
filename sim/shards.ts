// The drop's inventory in the simulation: each shard's free stock, holds and
// orders, the per-fan limit, holds that end at their time, and stock taken from
// the richest peer (by the pacer's last look) when a fan's home shard is short.
// This is a model of the shard's ledger (src/inventory/ledger*.ts), not the
// ledger itself: the ledger is SQL, and Node 20 has no SQLite (docs/simulation.md).
// Every change is followed by the invariant checks, so a broken one stops the
// run at the event that broke it.
import { allocateShards } from "../src/drops/rules";
import { homeShard } from "../src/inventory/drop-shards";
import { SimObject } from "./objects";
import type { EventQueue } from "./events";

export interface SimHold {
	id: number;
	fan: number;
	shard: number;
	quantity: number;
	expiresAt: number;
	state: "active" | "purchased" | "released" | "expired";
}

export type HoldAnswer = { ok: true; hold: SimHold } | { ok: false; code: "sold_out" | "limit" | "short" };
export type BuyAnswer = { ok: true } | { ok: false; code: "declined" | "expired" | "gone" };

interface Shard {
	object: SimObject;
	allocation: number;
	remaining: number;
	held: number;
	sold: number;
	/** Fans with an order here. */
	buyers: number;
	received: number;
	given: number;
	/** Tickets each fan holds or bought here (their home shard), for the per-fan limit. */
	perFan: Map<number, number>;
}

export class Inventory {
	readonly shards: Shard[];
	/** Each shard's live holds, the only ones its clean-up looks at. */
	private live: Set<SimHold>[];
	private nextHold = 1;
	/** Orders' tickets, counted apart from the shards' own totals: the two must agree. */
	orderedTickets = 0;
	orders = 0;
	transfers = 0;
	soldOutAt: number | null = null;
	checks = 0;

	constructor(
		private readonly events: EventQueue,
		readonly capacity: number,
		shards: number,
		readonly maxPerFan: number,
		private readonly fail: (what: string) => never,
	) {
		this.shards = allocateShards(capacity, shards).map((allocation, k) => ({
			object: new SimObject("shard", `shard ${k}`, events),
			allocation,
			remaining: allocation,
			held: 0,
			sold: 0,
			buyers: 0,
			received: 0,
			given: 0,
			perFan: new Map(),
		}));
		this.live = this.shards.map(() => new Set());
	}

	homeOf(fanId: string): number {
		return homeShard(fanId, this.shards.length);
	}

	/** A hold decided on the fan's home shard: the per-fan limit, then stock here, else "short". */
	holdHere(k: number, fan: number, quantity: number, notAfter: number, holdMs: number): HoldAnswer {
		const shard = this.shards[k]!;
		this.returnDue(k);
		const mine = shard.perFan.get(fan) ?? 0;
		if (mine + quantity > this.maxPerFan) return { ok: false, code: "limit" };
		if (shard.remaining < quantity) return { ok: false, code: this.soldOut() ? "sold_out" : "short" };
		const hold: SimHold = { id: this.nextHold++, fan, shard: k, quantity, expiresAt: Math.min(this.events.now + holdMs, notAfter), state: "active" };
		shard.remaining -= quantity;
		shard.held += quantity;
		shard.perFan.set(fan, mine + quantity);
		this.live[k]!.add(hold);
		this.events.at(hold.expiresAt, () => this.expire(hold));
		this.check();
		return { ok: true, hold };
	}

	/** What a giving peer hands over when asked for `missing`: what it has free, at most that. */
	give(from: number, to: number, missing: number): number {
		const giver = this.shards[from]!;
		this.returnDue(from);
		const moved = Math.min(missing, giver.remaining);
		if (moved <= 0) return 0;
		giver.remaining -= moved;
		giver.given += moved;
		const taker = this.shards[to]!;
		taker.remaining += moved;
		taker.received += moved;
		this.transfers++;
		this.check();
		return moved;
	}

	buy(hold: SimHold, declined: boolean): BuyAnswer {
		this.returnDue(hold.shard);
		if (hold.state === "expired" || hold.state === "released") return { ok: false, code: "expired" };
		if (hold.state !== "active") return { ok: false, code: "gone" };
		if (declined) return { ok: false, code: "declined" };
		const shard = this.shards[hold.shard]!;
		hold.state = "purchased";
		this.live[hold.shard]!.delete(hold);
		shard.held -= hold.quantity;
		shard.sold += hold.quantity;
		shard.buyers++;
		this.orderedTickets += hold.quantity;
		this.orders++;
		if (this.soldOutAt === null && this.orderedTickets === this.capacity) this.soldOutAt = this.events.now;
		this.check();
		return { ok: true };
	}

	release(hold: SimHold): void {
		if (hold.state === "active") this.end(hold, "released");
	}

	private expire(hold: SimHold): void {
		if (hold.state === "active" && hold.expiresAt <= this.events.now) this.end(hold, "expired");
	}

	/** Every hold of shard `k` past its time goes back to stock (its alarm may not have run yet). */
	private returnDue(k: number): void {
		const now = this.events.now;
		for (const hold of [...this.live[k]!]) if (hold.expiresAt <= now) this.end(hold, "expired");
	}

	private end(hold: SimHold, state: "released" | "expired"): void {
		const shard = this.shards[hold.shard]!;
		hold.state = state;
		shard.held -= hold.quantity;
		shard.remaining += hold.quantity;
		shard.perFan.set(hold.fan, (shard.perFan.get(hold.fan) ?? 0) - hold.quantity);
		this.live[hold.shard]!.delete(hold);
		this.check();
	}

	/** Nothing free and nothing held anywhere: no ticket can come back, the answer is final. */
	soldOut(): boolean {
		return this.shards.every((s) => s.remaining === 0 && s.held === 0);
	}

	totalFree(): number {
		return this.shards.reduce((a, s) => a + s.remaining, 0);
	}

	totals(): { remaining: number; held: number; sold: number } {
		return this.shards.reduce((a, s) => ({ remaining: a.remaining + s.remaining, held: a.held + s.held, sold: a.sold + s.sold }), { remaining: 0, held: 0, sold: 0 });
	}

	/** The invariants of the stock, after every change: no oversell, every ticket accounted, the per-fan limit. */
	check(): void {
		this.checks++;
		let sold = 0;
		let held = 0;
		let remaining = 0;
		for (const [k, s] of this.shards.entries()) {
			if (s.remaining < 0 || s.held < 0) this.fail(`shard ${k} went below zero: remaining ${s.remaining}, held ${s.held}`);
			if (s.remaining + s.held + s.sold !== s.allocation + s.received - s.given) {
				this.fail(`shard ${k} does not account for its stock: ${s.remaining} free + ${s.held} held + ${s.sold} sold ≠ ${s.allocation} + ${s.received} received − ${s.given} given`);
			}
			sold += s.sold;
			held += s.held;
			remaining += s.remaining;
		}
		if (sold + held > this.capacity) this.fail(`oversold: ${sold} sold + ${held} held > capacity ${this.capacity}`);
		if (sold + held + remaining !== this.capacity) this.fail(`tickets lost or made: ${sold} + ${held} + ${remaining} ≠ ${this.capacity}`);
		if (sold !== this.orderedTickets) this.fail(`the orders' ${this.orderedTickets} tickets ≠ the shards' ${sold} sold`);
	}

	checkFan(k: number, fan: number): void {
		const mine = this.shards[k]!.perFan.get(fan) ?? 0;
		if (mine > this.maxPerFan) this.fail(`fan ${fan} holds or bought ${mine} > maxPerFan ${this.maxPerFan}`);
	}
}
