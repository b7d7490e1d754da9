// The fans: they arrive on a curve (a share before the opening, most of the rest in
// the seconds after it, the others spread over a window), join their line, poll as
// the Worker tells them (src/waiting-room/wait-view.ts, the fan route's own code), and once
// admitted hold up to their limit on their home shard, think, and pay, pay again
// after a decline, release, or walk away, as loadtest/lib/journey.js's fans do; a
// few send their hold twice under two keys, and the per-fan limit must hold.
// A poll is answered by the Worker from the published watermark: no object call.
// Each fan keeps the first wait it was told and when its batch went in, as the load
// runner's fans do (loadtest/lib/wait-estimate.js).
import { MIN_POLL_MS } from "../src/waiting-room/admission";
import { admittedAt } from "../src/waiting-room/placement";
import { unplacedPollMs, waitView } from "../src/waiting-room/wait-view";
import { EPOCH, type EventQueue } from "./events";
import type { HoldView } from "../src/inventory/ledger-store";
import type { Inventory } from "./shards";
import type { JoinAnswer, Room } from "./room";
import type { SimConfig } from "./config";
import type { Watermark } from "../src/waiting-room/watermark";

export type Outcome = "bought" | "sold_out" | "abandoned" | "gave_up" | "expired" | "refused";

export interface Fan {
	index: number;
	id: string;
	line: number;
	home: number;
	wants: number;
	abandons: boolean;
	walksAway: boolean;
	declined: boolean;
	/** Sends their hold twice, the second under a new key (a client that lost the answer). */
	retries: boolean;
	/** Holds asked for so far: each under its own key. */
	holds: number;
	thinkMs: number;
	arrivedAt: number;
	join: JoinAnswer | null;
	position: number | null;
	admittedAt: number | null;
	turnEnds: number;
	bought: number;
	outcome: Outcome | null;
	/** The first wait told while waiting after the opening, the Worker's time of that answer, and when the fan's batch went in (epoch ms). */
	estimateMs: number | null;
	estimateAt: number | null;
	admittedServerAt: number | null;
}

export class Fans {
	readonly all: Fan[] = [];
	readonly outcomes = new Map<Outcome, number>();
	polls = 0;
	/** Polls the Worker answered by asking the fan's line (their slot had left the watermark). */
	locates = 0;
	/** For studies of the estimate: called at every poll of a placed, waiting fan with what the Worker answered from. */
	watch: ((fan: Fan, w: Watermark, place: number, now: number) => void) | null = null;

	constructor(
		private readonly events: EventQueue,
		private readonly config: SimConfig,
		private readonly room: Room,
		private readonly inventory: Inventory,
		private readonly random: () => number,
		private readonly fail: (what: string) => never,
	) {}

	/** Every fan's arrival and choices, drawn in fan order from the seed. */
	arrive(): void {
		const c = this.config;
		for (let i = 0; i < c.fans; i++) {
			const id = `fan-${c.seed}-${i}`;
			const r = this.random();
			const arrivedAt = r < c.earlyShare
				? Math.floor(this.random() * c.opensAt)
				: r < c.earlyShare + (1 - c.earlyShare) * 0.7
					? c.opensAt + Math.floor(-Math.log(1 - this.random()) * 1000)
					: c.opensAt + Math.floor(this.random() * c.spreadSeconds * 1000);
			const fan: Fan = {
				index: i, id, line: this.room.lineOf(id), home: this.inventory.homeOf(id),
				wants: 1 + Math.floor(this.random() * c.maxPerFan), abandons: this.random() < c.abandonRate, walksAway: this.random() < 0.5,
				declined: this.random() < c.declineRate, thinkMs: this.random() * c.thinkMs, retries: this.random() < c.retryRate, holds: 0,
				arrivedAt, join: null, position: null, admittedAt: null, turnEnds: 0, bought: 0, outcome: null,
				estimateMs: null, estimateAt: null, admittedServerAt: null,
			};
			this.all.push(fan);
			this.events.at(arrivedAt, () => this.room.join(fan.id, fan.line, (a) => this.joined(fan, a)));
		}
	}

	private end(fan: Fan, outcome: Outcome): void {
		if (fan.outcome !== null) return;
		fan.outcome = outcome;
		this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
	}

	private joined(fan: Fan, answer: JoinAnswer): void {
		if (answer.kind === "sold_out") return this.end(fan, "sold_out");
		fan.join = answer;
		this.poll(fan);
	}

	private poll(fan: Fan): void {
		this.polls++;
		const now = this.events.now;
		const w = this.room.published;
		if (w?.soldOut) return this.end(fan, "sold_out");
		if (now >= fan.arrivedAt + this.config.fanTimeoutSeconds * 1000) return this.end(fan, "gave_up");
		fan.position ??= this.room.positionOf(fan.join!);
		const join = fan.join!;
		// Placed, but in a slot the watermark no longer lists: the Worker asks the fan's line.
		if (fan.position === null && join.kind === "slot" && w?.sealedThrough != null && join.slot <= w.sealedThrough) {
			this.locates++;
			return this.room.locate(fan.id, join.line, (position) => {
				fan.position = position;
				this.events.after(MIN_POLL_MS, () => this.poll(fan));
			});
		}
		const through = w?.admittedThrough ?? 0;
		if (fan.position !== null && fan.position <= through) {
			fan.admittedServerAt = admittedAt(w!.batches, fan.position) ?? this.events.clock();
			return this.admitted(fan);
		}
		// As the fan route answers: the wait for the fan's place and when to poll again, from the watermark.
		let next = MIN_POLL_MS;
		if (w !== null && fan.position === null) next = unplacedPollMs(w, this.events.clock(), this.random());
		else if (w !== null && fan.position !== null) {
			this.watch?.(fan, w, fan.position - through, this.events.clock());
			const view = waitView(w, fan.position - through, this.events.clock(), this.random());
			if (fan.estimateMs === null && view.estimatedWaitMs !== null) {
				fan.estimateMs = view.estimatedWaitMs;
				fan.estimateAt = this.events.clock();
			}
			next = view.pollAfterMs;
		}
		this.events.after(next, () => this.poll(fan));
	}

	private admitted(fan: Fan): void {
		const now = this.events.now;
		// Admission by position: nobody is let in past the pacer's own watermark.
		if (fan.position! > this.room.admittedThrough) this.fail(`fan at position ${fan.position} admitted past the watermark ${this.room.admittedThrough}`);
		fan.admittedAt = now;
		fan.turnEnds = now + this.config.accessSeconds * 1000;
		this.hold(fan, fan.wants);
	}

	/**
	 * A hold at the fan's home shard, decided by its ledger (a short shard takes stock from
	 * its peers first). A fan who `retries` sends it again under a new key, as a client that
	 * lost the answer and kept no key would: the per-fan limit must refuse what goes past it.
	 */
	private hold(fan: Fan, quantity: number): void {
		const key = `${fan.id}:${fan.holds++}`;
		this.sendHold(fan, { fanId: fan.id, quantity, idempotencyKey: key, notAfter: EPOCH + fan.turnEnds });
	}

	private sendHold(fan: Fan, input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number }): void {
		const quantity = input.quantity;
		this.inventory.hold(fan.home, input, (o) => {
			if (o.ok) {
				if (fan.retries && fan.holds === 1) return this.inventory.hold(fan.home, { ...input, idempotencyKey: `${fan.id}:${fan.holds++}` }, () => this.bought(fan, o.value));
				return this.bought(fan, o.value);
			}
			if (o.code === "sold_out") return this.end(fan, "sold_out");
			if (o.code === "limit_exceeded") return this.end(fan, "refused");
			const later = this.events.now + 1000;
			if (later >= fan.turnEnds) return this.end(fan, "expired");
			// No answer, or the shard restarted under the request: the same request again, under its key.
			if (o.code === "unavailable" || o.code === "timeout") return this.events.at(later, () => this.sendHold(fan, input));
			// Fewer are left than asked for: ask for what is left. Stock on its way: again in a second, as told.
			if (o.code === "not_enough_left") {
				const available = Number(o.details?.available ?? 1);
				return this.hold(fan, Math.max(1, Math.min(quantity, available)));
			}
			if (o.code === "try_again") return this.events.at(later, () => this.hold(fan, quantity));
			this.end(fan, "expired");
		});
	}

	private bought(fan: Fan, hold: HoldView): void {
		this.events.after(fan.thinkMs, () => {
			if (fan.abandons) {
				if (fan.walksAway) return this.end(fan, "abandoned");
				const release = (): void =>
					this.inventory.release(fan.home, { holdId: hold.holdId, fanId: fan.id }, (o) => {
						if (!o.ok && (o.code === "unavailable" || o.code === "timeout") && this.events.now + 1000 < fan.turnEnds) return void this.events.after(1000, release);
						this.end(fan, "abandoned");
					});
				return release();
			}
			const pay = (declined: boolean): void => this.inventory.purchase(fan.home, { holdId: hold.holdId, fanId: fan.id, declined, notAfter: EPOCH + fan.turnEnds }, (o) => {
				if (o.ok) {
					fan.bought += hold.quantity;
					return this.end(fan, "bought");
				}
				if (o.code === "payment_declined") return pay(false);
				// No answer, or the shard restarted under it: the same purchase again (its charge is under the hold's key).
				if ((o.code === "unavailable" || o.code === "timeout") && this.events.now + 1000 < fan.turnEnds) return void this.events.after(1000, () => pay(declined));
				this.end(fan, "expired");
			});
			pay(fan.declined);
		});
	}
}
