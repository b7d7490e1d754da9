// The fans: they arrive on a curve (a share before the opening, most of the rest in the
// seconds after it, the others over a window), join their line (sim/joins.ts), poll as the
// Worker tells them (src/waiting-room/wait-view.ts, the fan route's own code), and once
// admitted hold up to their limit on their home shard, think, and pay, pay again after a
// decline, release, or walk away, as loadtest/lib/journey.js's fans do; a few send their
// hold twice under two keys, and the per-fan limit must hold.
// A poll is answered by the Worker from the published watermark: no object call.
// Each fan keeps the first wait it was told and when its batch went in, as the load
// runner's fans do (loadtest/lib/wait-estimate.js).
// A fan told "waiting for tickets" (a place past the room the shoppers' cap leaves) learns
// nothing from its polls until a published watermark reaches its place, sells out, or its
// patience ends: such a fan is parked, its polls' times drawn from its own stream and counted
// without an event each, and woken by the first watermark that could tell it something (`park`).
import { MIN_POLL_MS, pollAfterMs } from "../src/waiting-room/admission";
import { accessGrant, admissionSource, holdRefusal } from "../src/waiting-room/access-grant";
import { fail, type Outcome as Answer } from "../src/shared/outcome";
import { stockRoom, unplacedPollMs, waitView } from "../src/waiting-room/wait-view";
import { stableHash } from "../src/shared/crypto";
import { EPOCH, type EventQueue } from "./events";
import { arrivalOffsetMs, fanChoices, fanRandom } from "../loadtest/lib/journey.js";
import type { HoldView } from "../src/inventory/ledger-store";
import type { Inventory } from "./shards";
import type { JoinAnswer, Room } from "./room";
import { sendJoin } from "./joins";
import type { SimConfig } from "./config";
import { FansMachine } from "./client";
import type { Watermark } from "../src/waiting-room/watermark";

export type Outcome = "bought" | "sold_out" | "abandoned" | "gave_up" | "expired" | "refused" | "error";

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
	/** When the turn the Worker granted ends (simulated ms: its access token's expiry), and the position its token carries. */
	turnEnds: number;
	tokenPosition: number;
	bought: number;
	outcome: Outcome | null;
	/** The first wait told while waiting after the opening, the Worker's time of that answer, and when the fan's batch went in (epoch ms). */
	estimateMs: number | null;
	estimateAt: number | null;
	admittedServerAt: number | null;
	/** Polls drawn so far from the fan's own jitter stream (jitterOf). */
	pollDraws: number;
	/** Parked (see Fans.park): when its next poll falls, and the count of its parkings (a wake-up of an earlier one is stale). */
	parked: boolean;
	nextPollAt: number;
	parkings: number;
	/** The fan's poll, made once: no closure a poll. */
	pollNext: () => void;
}

/**
 * The jitter of a fan's `draw`th poll, in [0, 1): a hash of the run's seed, the fan and the
 * draw, so a parked fan's polls can be counted later in the order they would have fallen
 * without drawing from a stream other fans share.
 */
export function jitterOf(seedHash: number, fan: number, draw: number): number {
	let h = (Math.imul(fan, 0x9e3779b1) + seedHash) | 0;
	h ^= h >>> 16;
	h = Math.imul(h, 0x7feb352d);
	h = (h ^ (h >>> 15) ^ Math.imul(draw + 1, 0x85ebca6b)) | 0;
	h ^= h >>> 16;
	h = Math.imul(h, 0x846ca68b);
	h ^= h >>> 15;
	h = Math.imul(h, 0x7feb352d);
	h ^= h >>> 16;
	return (h >>> 0) / 2 ** 32;
}

/** The load runner's fans give up holding after this many (loadtest/lib/journey.js). */
const MAX_HOLDS = 200;
/** Mixed into the seed's hash for the fans' looks at a sold-out drop: a stream apart from their polls'. */
const LOOK_STREAM = 0x5bd1e995;

export class Fans {
	readonly all: Fan[] = [];
	readonly outcomes = new Map<Outcome, number>();
	polls = 0;
	/** Polls the Worker answered by asking the fan's line (their slot had left the watermark). */
	locates = 0;
	/** Admitted fans whose batch the watermark no longer listed: the Worker asked the pacer when it went in. */
	pacerAsks = 0;
	/** Turns granted, turns over before the fan's poll saw them, and holds sent past their turn's end (the token's expiry). */
	turnsGranted = 0;
	expiredAtPoll = 0;
	expiredAtHold = 0;
	/** Purchases answered that the hold had run out (the fan holds again). */
	holdsExpiredAtPurchase = 0;
	/** Holds made, each checked to end by its turn's end. */
	holdsWithinTurn = 0;
	/** Holds the Worker refused from its copy of the watermark before asking a shard (a closed drop, a turn from before a sell-out). */
	workerRefusals = 0;
	/** For studies of the estimate: called at every poll of a placed, waiting fan with what the Worker answered from (no fan is parked while it is set). */
	watch: ((fan: Fan, w: Watermark, place: number, now: number) => void) | null = null;
	/** Polls counted for parked fans, without an event each (in `polls` too). */
	parkedPolls = 0;
	/** For the run's report: each request the Worker answers itself (a poll, a parked fan's when counted; a look at the drop), when sent and answered. */
	onRequest: ((step: "status" | "drop", sentAt: number, at: number) => void) | null = null;
	private readonly seedHash: number;
	/** The machine the fans' requests leave from (their own, or the load runner's). */
	private readonly client: FansMachine;
	/** Parked fans, a min-heap by position (their indices beside): the first a watermark reaches is on top. */
	private heapPositions = new Float64Array(1024);
	private heapFans = new Int32Array(1024);
	private heapSize = 0;

	constructor(
		private readonly events: EventQueue,
		private readonly config: SimConfig,
		private readonly room: Room,
		private readonly inventory: Inventory,
		private readonly random: () => number,
		private readonly fail: (what: string) => never,
	) {
		this.seedHash = stableHash(`${config.seed}:polls`) | 0;
		this.client = new FansMachine({ rate: config.clientRate, rates: config.clientRates }, () => events.now, (at, run) => events.at(at, run));
		room.onPublish = (w) => this.published(w);
	}

	/**
	 * Every fan's arrival and choices as the load runner's fan of the same seed and index draws
	 * them (loadtest/lib/journey.js: the arrival curve, and the fan's own stream for what it
	 * wants, abandons, declines and thinks), so one seed makes the same fans; whether it sends a
	 * hold twice is the simulator's own draw, in fan order from the run's stream.
	 */
	arrive(): void {
		const c = this.config;
		const knobs = { seed: c.seed, leadSeconds: c.opensAt / 1000, spreadSeconds: c.spreadSeconds, quantity: "random", maxPerFan: c.maxPerFan, abandonRate: c.abandonRate, declineRate: c.declineRate, thinkMs: c.thinkMs };
		for (let i = 0; i < c.fans; i++) {
			const id = `fan-${c.seed}-${i}`;
			const arrivedAt = arrivalOffsetMs(i, knobs);
			const choice = fanChoices(knobs, fanRandom(c.seed, i));
			const fan: Fan = {
				index: i, id, line: this.room.lineOf(id), home: this.inventory.homeOf(id),
				wants: choice.wants, abandons: choice.abandons, walksAway: choice.walksAway,
				declined: choice.declined, thinkMs: choice.thinkMs, retries: this.random() < c.retryRate, holds: 0,
				arrivedAt, join: null, position: null, admittedAt: null, turnEnds: 0, tokenPosition: 0, bought: 0, outcome: null,
				estimateMs: null, estimateAt: null, admittedServerAt: null,
				pollDraws: 0, parked: false, nextPollAt: 0, parkings: 0, pollNext: () => this.send(() => this.poll(fan)),
			};
			this.all.push(fan);
			this.events.at(arrivedAt, () => sendJoin(this.room, this.events, c.seed, fan, (r) => this.send(r), (a) => this.joined(fan, a), () => this.end(fan, "error")));
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
		// The join's answer carries what a poll would (src/http/fan-queue-routes.ts): read, not asked for again.
		this.poll(fan, false);
	}

	/** A poll of the fan's status (`asked`), or the same view read from its join's answer. */
	private poll(fan: Fan, asked = true): void {
		const now = this.events.now;
		if (asked) {
			this.polls++;
			this.onRequest?.("status", now, now);
		}
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
				this.events.after(MIN_POLL_MS, fan.pollNext);
			});
		}
		const through = w?.admittedThrough ?? 0;
		if (fan.position !== null && fan.position <= through) {
			// As the fan route grants a turn: from the time the fan's batch went in, in the watermark or (its list cut short) at the pacer.
			const source = admissionSource(w!, fan.position);
			if (source.kind !== "ask") return this.granted(fan, source.kind === "listed" ? source.at : null);
			this.pacerAsks++;
			return this.room.admittedAt(fan.position, (at) => this.granted(fan, at));
		}
		// As the fan route answers: the wait for the fan's place and when to poll again, from the watermark.
		let next = MIN_POLL_MS;
		if (w !== null && fan.position === null) next = unplacedPollMs(w, this.events.clock(), this.jitter(fan));
		else if (w !== null && fan.position !== null) {
			this.watch?.(fan, w, fan.position - through, this.events.clock());
			const view = waitView(w, fan.position - through, this.events.clock(), this.jitter(fan));
			if (fan.estimateMs === null && view.estimatedWaitMs !== null) {
				fan.estimateMs = view.estimatedWaitMs;
				fan.estimateAt = this.events.clock();
			}
			next = view.pollAfterMs;
			// Parked polls make no event, so they cannot wait at the fans' machine: with one, every poll is made.
			if (view.waitUnknown === "waiting_for_tickets" && this.watch === null && this.client.own) return this.park(fan, now + next);
		}
		this.events.after(next, fan.pollNext);
	}

	private jitter(fan: Fan): number {
		return jitterOf(this.seedHash, fan.index, fan.pollDraws++);
	}

	/** The gap after a poll told "waiting for tickets" (no wait, so the slowest pace), with the fan's `draw`th jitter. */
	private cappedGap(fan: Fan, draw: number): number {
		return pollAfterMs(Infinity, jitterOf(this.seedHash, fan.index, draw));
	}

	/**
	 * A fan told "waiting for tickets" at its last poll, its next due at `nextPollAt`. Until a
	 * published watermark sells out or reaches its place (its place within the admission's
	 * room, or let in), each of its polls is answered the same: no wait, poll again at the
	 * slowest pace. So no event is queued for them: the fan waits in a heap by position, and
	 * the first watermark that could tell it something (`published`) counts the polls it made
	 * before (their times follow from its jitter stream) and queues the next as an event.
	 * Its patience ends at a known poll: an event is queued there, which does the same.
	 * Polls touch no object (the Worker answers them), so no object's request count moves.
	 */
	private park(fan: Fan, nextPollAt: number): void {
		fan.parked = true;
		fan.nextPollAt = nextPollAt;
		const parking = ++fan.parkings;
		this.push(fan.position!, fan.index);
		// The poll its patience ends at: the first at or past it, counted along its stream without drawing.
		const patience = fan.arrivedAt + this.config.fanTimeoutSeconds * 1000;
		let at = nextPollAt;
		for (let draw = fan.pollDraws; at < patience; draw++) at += this.cappedGap(fan, draw);
		// Still parked then: the polls before it are counted and this one is made, as its own event.
		this.events.at(at, () => {
			if (!fan.parked || fan.parkings !== parking) return;
			this.wake(fan, at);
			this.poll(fan);
		});
	}

	/**
	 * Counts a parked fan's polls before `until` (each told "waiting for tickets"), and one due at `until` itself when
	 * `atToo` (a poll queued before the event that wakes it, so answered first): the time of its next poll.
	 */
	private wake(fan: Fan, until: number, atToo = false): number {
		fan.parked = false;
		const patience = fan.arrivedAt + this.config.fanTimeoutSeconds * 1000;
		let at = fan.nextPollAt;
		while ((at < until || (atToo && at === until)) && at < patience) {
			this.polls++;
			this.parkedPolls++;
			this.onRequest?.("status", at, at);
			at += this.cappedGap(fan, fan.pollDraws++);
		}
		return at;
	}

	/**
	 * A watermark published: parked fans it could tell something wake. A poll answered from
	 * it tells a fan nothing new while the drop is neither sold out nor paused and the fan's
	 * place lies past both the watermark and the room the admission leaves (wait-view.ts's
	 * "waiting for tickets"); every fan at or before that bound wakes. A poll due at this very
	 * moment was answered from the watermark before it, as its event was queued first.
	 */
	private published(w: Watermark): void {
		if (this.heapSize === 0) return;
		const through = w.admittedThrough;
		const room = through + Math.min(w.admissionRoom, stockRoom(w));
		const bound = w.soldOut || w.paused || Number.isNaN(room) ? Infinity : Math.max(through, room);
		const now = this.events.now;
		while (this.heapSize > 0 && this.heapPositions[0]! <= bound) {
			const fan = this.all[this.pop()]!;
			// Poll times carry the fan's arrival's fraction of a millisecond: only a poll at or before this moment came first.
			if (fan.parked) this.events.at(this.wake(fan, now, true), fan.pollNext);
		}
	}

	private push(position: number, index: number): void {
		if (this.heapSize === this.heapPositions.length) {
			const positions = new Float64Array(this.heapSize * 2);
			positions.set(this.heapPositions);
			this.heapPositions = positions;
			const fans = new Int32Array(this.heapSize * 2);
			fans.set(this.heapFans);
			this.heapFans = fans;
		}
		const p = this.heapPositions;
		const f = this.heapFans;
		let i = this.heapSize++;
		while (i > 0) {
			const parent = (i - 1) >> 1;
			if (p[parent]! <= position) break;
			p[i] = p[parent]!;
			f[i] = f[parent]!;
			i = parent;
		}
		p[i] = position;
		f[i] = index;
	}

	private pop(): number {
		const p = this.heapPositions;
		const f = this.heapFans;
		const top = f[0]!;
		const n = --this.heapSize;
		const lastP = p[n]!;
		const lastF = f[n]!;
		let i = 0;
		for (;;) {
			let c = 2 * i + 1;
			if (c >= n) break;
			if (c + 1 < n && p[c + 1]! < p[c]!) c++;
			if (lastP <= p[c]!) break;
			p[i] = p[c]!;
			f[i] = f[c]!;
			i = c;
		}
		p[i] = lastP;
		f[i] = lastF;
		return top;
	}

	/**
	 * The turn the Worker grants an admitted fan (src/waiting-room/access-grant.ts, the status
	 * route's code): from when its batch went in (`at`; null, not known), a turn's length or an
	 * offer's, ending with its access token's expiry; a turn already over is "expired". The
	 * token's signature is not computed: its claims are what the shards and the hold route read.
	 */
	private granted(fan: Fan, at: number | null): void {
		const w = this.room.published!;
		const grant = accessGrant(w, { position: fan.position!, at, window: undefined }, this.events.clock(), this.config.accessSeconds);
		if (grant.kind === "expired") {
			this.expiredAtPoll++;
			return this.end(fan, "expired");
		}
		this.turnsGranted++;
		// Admission by position: nobody is let in past the pacer's own watermark.
		if (fan.position! > this.room.admittedThrough) this.fail(`fan at position ${fan.position} admitted past the watermark ${this.room.admittedThrough}`);
		fan.admittedAt = this.events.now;
		fan.admittedServerAt = grant.admittedAt;
		fan.turnEnds = grant.exp * 1000 - EPOCH;
		fan.tokenPosition = grant.tokenPosition;
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

	/** A fan's request leaves when the fans' machine lets it (sim/client.ts). */
	private send(request: () => void): void {
		this.client.send(request);
	}

	private sendHold(fan: Fan, input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number }): void {
		const quantity = input.quantity;
		this.send(() =>
			this.holdRoute(fan, input, (o) => {
				if (o.ok) {
					// The retrying fan's copy under a new key goes the same way; its answer is not the fan's to act on.
					if (fan.retries && fan.holds === 1) return this.send(() => this.holdRoute(fan, { ...input, idempotencyKey: `${fan.id}:${fan.holds++}` }, () => this.bought(fan, o.value)));
					return this.bought(fan, o.value);
				}
				// Refused by the Worker: the turn is over (the token expired), or a turn from before the sell-out while fans wait for returns.
				if (o.code === "token_expired") return this.end(fan, "expired");
				if (o.code === "returns_in_line") return this.end(fan, "sold_out");
				if (o.code === "sold_out") return this.config.waitForReturns ? this.waitForReturns(fan, quantity, 0) : this.end(fan, "sold_out");
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
			}),
		);
	}

	/**
	 * The hold route: the token's expiry (jose's: expired once the clock reaches it) and the Worker's refusals from its
	 * copy of the watermark (src/waiting-room/access-grant.ts) before any shard is asked, then the fan's home shard with
	 * the token's position. A hold the shard makes is checked to end by the turn's end: no hold outlives the turn that
	 * made it.
	 */
	private holdRoute(fan: Fan, input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number }, answer: (o: Answer<HoldView>) => void): void {
		const clock = this.events.clock();
		if (clock >= EPOCH + fan.turnEnds) {
			this.expiredAtHold++;
			return answer(fail(401, "token_expired", "The token has expired."));
		}
		const refused = holdRefusal(this.room.published!, fan.tokenPosition, clock);
		if (!refused.ok) {
			this.workerRefusals++;
			return answer(refused);
		}
		this.inventory.hold(fan.home, { ...input, position: fan.tokenPosition }, (o) => {
			if (o.ok) {
				if (Date.parse(o.value.expiresAt) > EPOCH + fan.turnEnds) this.fail(`fan ${fan.id}'s hold ${o.value.holdId} ends at ${o.value.expiresAt}, after its turn (${new Date(EPOCH + fan.turnEnds).toISOString()})`);
				this.holdsWithinTurn++;
			}
			answer(o);
		});
	}

	/**
	 * Told "sold out" at a hold, a fan does as the load runner's do: it looks at the drop (a
	 * request through the fans' machine like any other, answered by the Worker from its
	 * watermark a hop later: no object call) and ends there if the sale is over (sold out, or
	 * nothing free and nothing held), holds again when tickets are free (a released or expired
	 * hold's), and otherwise looks again, less and less often, until its patience ends; at most
	 * 200 holds a fan, as the runner's fans. The first look costs as much as the others: a look
	 * for free let a fan whose watermark still showed stock hold again every few milliseconds.
	 */
	private waitForReturns(fan: Fan, quantity: number, look: number): void {
		if (this.events.now >= fan.arrivedAt + this.config.fanTimeoutSeconds * 1000) return this.end(fan, "gave_up");
		this.send(() => {
			const sentAt = this.events.now;
			this.events.after(this.config.hopMs, () => {
				this.onRequest?.("drop", sentAt, this.events.now);
				const w = this.room.published;
				if (w === null || w.soldOut || (w.remaining === 0 && w.held === 0) || fan.holds >= MAX_HOLDS) return this.end(fan, "sold_out");
				if (this.events.now >= fan.turnEnds) return this.end(fan, "expired");
				if (w.remaining > 0) return this.hold(fan, quantity);
				const pause = Math.min(10_000, 1500 * (look + 1)) * (0.75 + 0.5 * jitterOf(this.seedHash ^ LOOK_STREAM, fan.index, fan.holds * 64 + look));
				this.events.after(Math.floor(pause), () => this.waitForReturns(fan, quantity, look + 1));
			});
		});
	}

	private bought(fan: Fan, hold: HoldView): void {
		this.events.after(fan.thinkMs, () => {
			if (fan.abandons) {
				if (fan.walksAway) return this.end(fan, "abandoned");
				const release = (): void =>
					this.send(() => this.inventory.release(fan.home, { holdId: hold.holdId, fanId: fan.id }, (o) => {
						if (!o.ok && (o.code === "unavailable" || o.code === "timeout") && this.events.now + 1000 < fan.turnEnds) return void this.events.after(1000, release);
						this.end(fan, "abandoned");
					}));
				return release();
			}
			const pay = (declined: boolean): void => this.send(() => this.inventory.purchase(fan.home, { holdId: hold.holdId, fanId: fan.id, declined, notAfter: EPOCH + fan.turnEnds, admittedAt: fan.admittedServerAt! }, (o) => {
				if (o.ok) {
					fan.bought += hold.quantity;
					return this.end(fan, "bought");
				}
				if (o.code === "payment_declined") return pay(false);
				// The hold ran out before the payment: the fan holds again, as the load runner's fans do.
				if (o.code === "hold_expired") {
					this.holdsExpiredAtPurchase++;
					return this.hold(fan, hold.quantity);
				}
				// No answer, or the shard restarted under it: the same purchase again (its charge is under the hold's key).
				if ((o.code === "unavailable" || o.code === "timeout") && this.events.now + 1000 < fan.turnEnds) return void this.events.after(1000, () => pay(declined));
				this.end(fan, "expired");
			}));
			pay(fan.declined);
		});
	}
}
