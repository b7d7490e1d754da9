// The drop's inventory in the simulation: its shards (sim/shard.ts, the engine's own
// shard code over SQLite), the requests fans send them, the gives between them over the
// simulated network (lost, doubled or late under the message fault), their tells to the
// pacer (lost under it), their restarts (under the restart fault), and the
// invariants: after every request a shard serves, its counts are read from its ledger
// (when its database changed) and checked, so a broken one stops the run at the request
// that broke it; money and sales are checked at the end.
import { allocateShards } from "../src/drops/rules";
import type { PurchaseView } from "../src/inventory/charges";
import { homeShard } from "../src/inventory/drop-shards";
import type { ShardCounts } from "../src/inventory/ledger";
import type { HoldView } from "../src/inventory/ledger-store";
import type { GiveAnswer } from "../src/inventory/stock-transfers";
import { type Outcome, fail as failed } from "../src/shared/outcome";
import type { ShardLook } from "../src/waiting-room/pacer-tick";
import { NO_UNITS, type RestartMoment, SimShard } from "./shard";
import type { SqlJs } from "./sqlite";
import type { SimConfig } from "./config";
import type { EventQueue } from "./events";
import { FAULT_RATES, type Faults } from "./faults";
import type { SimProvider, SimQueue } from "./provider";
import { type Spread, spreadOf } from "./sales";

/** What the fan is answered when the object restarted under their request (workerd's reset, a 503). */
export const RESTARTED = failed(503, "unavailable", "The object restarted; ask again.");
/** What the fan's client makes of an answer that never came: it asks again under the same key. */
export const TIMED_OUT = failed(504, "timeout", "No answer; ask again.");

/** A fan's client waits this long for an answer before asking again under the same key. */
const FAN_CLIENT_TIMEOUT_MS = 10_000;

/** What an answer carried, for the trace. */
function describe(value: unknown): string {
	if (value === null || typeof value !== "object") return "";
	const v = value as Record<string, unknown>;
	return [v.holdId && `hold ${v.holdId}`, v.orderId && `order ${v.orderId}`, v.quantity !== undefined && `× ${v.quantity}`].filter(Boolean).join(" ");
}


/**
 * A test's hook: called with each shard once it is built, and again after each restart (with
 * when it came), to plant a bug in its real path (never used by a run of the command).
 */
export type ShardHook = (shard: SimShard, restarted: boolean, how?: RestartMoment) => void;

type FanAnswer<T> = (o: Outcome<T>) => void;

export class Inventory {
	readonly dropId: string;
	readonly shards: SimShard[];
	/** Orders made (by purchases or by the alarms' reconcile), counted as the shards made them: their tickets must be the shards' sold. */
	readonly orderIds = new Set<string>();
	/** When each order was made (simulated ms): with the Queue's first delivery of its sale, the sale-to-Queue time. */
	readonly orderedAt = new Map<string, number>();
	orderedTickets = 0;
	soldOutAt: number | null = null;
	checks = 0;
	/** At the end: payments the provider kept, less those of stuck charges. */
	keptPayments = 0;
	/** A shard's call to the pacer telling it stock moved under its watch (the pacer's `stockMoved`): the room sets it. */
	tellPacer: () => Promise<void> = () => Promise.resolve();
	/** Told of each tell lost on its way (the room checks the pacer still finds the stock). */
	tellLostAt: ((from: SimShard) => void) | null = null;

	constructor(
		private readonly events: EventQueue,
		private readonly config: SimConfig,
		sqlJs: SqlJs,
		private readonly fail: (what: string) => never,
		readonly faults: Faults,
		readonly provider: SimProvider,
		readonly queue: SimQueue,
		private readonly hook?: ShardHook,
	) {
		this.dropId = `sim-${config.seed}`;
		this.shards = allocateShards(config.tickets, config.shards).map((allocation, k) => new SimShard(k, allocation, this, events, config, sqlJs));
		for (const shard of this.shards) hook?.(shard, false);
		if (faults.on("restart")) for (const shard of this.shards) shard.object.afterRequest = () => this.afterRequest(shard);
	}

	/**
	 * From each order to its sale's hand-over to the sales consumer: the outbox's send (retried
	 * through the Queue's outages) and the Queue's batching; the consumer's write to D1 comes
	 * after it (sim/sales.ts measures sale-to-ticket to the row).
	 */
	saleToConsumer(): Spread {
		const waits: number[] = [];
		for (const [id, at] of this.orderedAt) {
			const reached = this.queue.consumedAt.get(id);
			if (reached !== undefined) waits.push(reached - at);
		}
		return spreadOf(waits);
	}

	get orders(): number {
		return this.orderIds.size;
	}

	get capacity(): number {
		return this.config.tickets;
	}

	homeOf(fanId: string): number {
		return homeShard(fanId, this.shards.length);
	}

	/** An order the engine made: counted once, however often its sale is flushed. */
	ordered(orderId: string, quantity: number): void {
		if (this.orderIds.has(orderId)) return;
		this.orderIds.add(orderId);
		this.orderedAt.set(orderId, this.events.now);
		this.orderedTickets += quantity;
		if (this.soldOutAt === null && this.orderedTickets === this.capacity) this.soldOutAt = this.events.now;
	}

	/** Under the restart fault: the shard restarts a moment after a call of its goes out, while the request awaits the answer. */
	maybeRestart(shard: SimShard): void {
		if (this.faults.strikes("restart", FAULT_RATES.restartMidRequest, "shard restarted mid-request")) this.events.after(1, () => this.restart(shard, "mid-request"));
	}

	/**
	 * Under the restart fault, after each request a shard finished: it may restart between
	 * requests, at the first moment none of its requests is in flight (none awaits, none is
	 * queued), so the new instance starts with nothing but its storage, as a Durable Object
	 * evicted while idle, or moved, does. Counted when it restarts.
	 */
	private afterRequest(shard: SimShard): void {
		if (!shard.restartOwed) {
			if (this.faults.draw("restart") >= FAULT_RATES.restartBetween) return;
			shard.restartOwed = true;
		}
		if (!shard.object.idle()) return;
		// After the request's own event: a request that reaches the shard in the same millisecond comes first.
		this.events.after(0, () => {
			if (!shard.restartOwed || !shard.object.idle()) return;
			shard.restartOwed = false;
			this.faults.count("shard restarted between requests");
			this.restart(shard, "between requests");
		});
	}

	private restart(shard: SimShard, how: RestartMoment): void {
		shard.restart(how);
		this.hook?.(shard, true, how);
	}

	/**
	 * A shard's tell to the pacer that stock moved under its watch (the pacer's `stockMoved`).
	 * Under the message fault it is lost on the way: the pacer never hears, and the shard's
	 * call fails a round trip later, as an RPC whose connection dropped does (the shard goes
	 * on: the pacer looks within DRY_LOOK_MS all the same).
	 */
	tell(from: SimShard): Promise<void> {
		const f = this.faults;
		if (!f.strikes("message", FAULT_RATES.tellLost, "shard's tell lost")) return this.tellPacer();
		if (f.trace) f.note(this.events.now, [from.name, "pacer"], `${from.name}'s tell to the pacer that stock moved: lost`);
		this.tellLostAt?.(from);
		return new Promise<void>((_resolve, reject) =>
			this.events.after(2 * this.config.hopMs, () => {
				this.events.touched = true;
				reject(new Error(`${from.name}'s call to the pacer failed: the connection was lost`));
			}),
		);
	}

	/**
	 * Shard `from` asks shard `k` for stock: one hop there, its `give` in its queue, one hop
	 * back. Under the message fault the ask or its answer is lost, the ask delivered twice,
	 * or late (past the asker's patience, so asks and answers also arrive out of order).
	 */
	give(from: SimShard, k: number, input: { transferId: string; toShard: number; amount: number; acks: string[] }): Promise<GiveAnswer> {
		const shard = this.shards[k]!;
		const f = this.faults;
		const hop = this.config.hopMs;
		const late = f.strikes("message", FAULT_RATES.giveLate, "give late") ? Math.floor(f.draw("message") * FAULT_RATES.giveLateMaxMs) : 0;
		const lost = f.strikes("message", FAULT_RATES.giveLost, "give lost");
		const answerLost = !lost && f.strikes("message", FAULT_RATES.giveAnswerLost, "give answer lost");
		const twice = !lost && f.strikes("message", FAULT_RATES.giveTwice, "give twice");
		if (f.trace) f.note(this.events.now, [from.name, shard.name], `${from.name} asks ${shard.name} for ${input.amount} (transfer ${input.transferId || "acks only"})${lost ? ", lost" : ""}${answerLost ? ", its answer lost" : ""}${twice ? ", delivered twice" : ""}${late ? `, ${late} ms late` : ""}`);
		this.maybeRestart(from);
		return new Promise<GiveAnswer>((resolve) => {
			if (lost) return;
			const deliver = (answered: boolean) =>
				shard.object.call(this.config.cpu.give, () => {
					const answer = shard.transfers.give(input);
					// A give returns expired holds first: stock may have come back here (the tell is not awaited).
					void shard.toldIfMoved();
					if (f.trace) f.note(this.events.now, [from.name, shard.name], `${shard.name} gives ${answer.amount} of ${input.amount} to ${from.name} (transfer ${input.transferId || "acks only"})`);
					return this.served(k, answer);
				}, (answer) => {
					if (!answered || answerLost) return;
					this.events.touched = true;
					resolve(answer);
				}, hop, undefined, input.transferId === "" ? "acks" : "give");
			this.events.after(hop + late, () => deliver(true));
			if (twice) this.events.after(hop + Math.floor(f.draw("message") * FAULT_RATES.giveLateMaxMs), () => deliver(false));
		});
	}

	/**
	 * A fan's request at shard `k`: answered a hop after the shard decides, or told the
	 * shard restarted under it; under the message fault its answer may be lost (the fan's
	 * client gives up on it and asks again, under the same key).
	 */
	private request<T>(k: number, cpu: number, method: string, what: string, fanId: string, decide: () => Promise<Outcome<T>> | Outcome<T>, answer: FanAnswer<T>): void {
		const shard = this.shards[k]!;
		const f = this.faults;
		const touches = f.trace ? [shard.name, `fan ${fanId}`] : [];
		const told = (o: Outcome<T>) => {
			if (f.strikes("message", FAULT_RATES.answerLost, "fan's answer lost")) {
				if (f.trace) f.note(this.events.now, touches, `${what}: answer to fan ${fanId} lost`);
				return this.events.after(FAN_CLIENT_TIMEOUT_MS, () => answer(TIMED_OUT));
			}
			answer(o);
		};
		shard.object.call(cpu, async () => {
			const o = await decide();
			// As the shard object answers: after telling a pacer that watches a dry drop of stock that moved.
			await shard.toldIfMoved();
			if (f.trace) f.note(this.events.now, touches, `${what} by fan ${fanId}: ${o.ok ? `ok${o.replayed ? " (replayed)" : ""} ${describe(o.value)}` : `${o.status} ${o.code}`}`);
			return this.served(k, o);
		}, told, this.config.hopMs, () => {
			if (f.trace) f.note(this.events.now, touches, `${what} by fan ${fanId}: ended by the restart`);
			answer(RESTARTED);
		}, method);
	}

	/**
	 * The dead-letter consumer's ask of shard `k` (the object's `resendSales`): one hop there, the
	 * outbox's resend in its queue (sales D1 lacks marked unsent and sent again), one hop back.
	 * A restart under it fails the call, as an RPC to a restarting object does: the message waits.
	 */
	resendSales(k: number, input: { orderIds: string[] }): Promise<number> {
		const shard = this.shards[k]!;
		return new Promise<number>((resolve, reject) =>
			this.events.after(this.config.hopMs, () =>
				shard.object.call(this.config.cpu.read, async () => (shard.ledger.meta() === null ? 0 : await shard.outbox.resend(input.orderIds, this.events.clock())), (marked) => {
					this.events.touched = true;
					resolve(marked);
				}, this.config.hopMs, () => {
					this.events.touched = true;
					reject(new Error(`${shard.name} restarted under resendSales`));
				}, "resendSales"),
			),
		);
	}

	/** A hold at the fan's home shard, through the engine's transfers (a short shard asks its peers). */
	hold(k: number, input: { fanId: string; quantity: number; idempotencyKey: string; notAfter: number; position: number }, answer: FanAnswer<HoldView>): void {
		const shard = this.shards[k]!;
		const request = JSON.stringify({ quantity: input.quantity });
		this.request(k, this.config.cpu.hold, "hold", `hold of ${input.quantity} (key ${input.idempotencyKey})`, input.fanId, async () => {
			// The position is the access token's (the simulated shards are told no line for returned tickets, so it changes nothing yet).
			// The same key in flight (a fan's repeat after no answer): the first answer, as the shard object's hold.
			const o = await shard.once.run(input.fanId, input.idempotencyKey, request, () => shard.transfers.hold({ ...input, request }));
			const mine = shard.fanTickets(input.fanId);
			if (mine > this.config.maxPerFan) this.fail(`fan ${input.fanId} holds or bought ${mine} tickets on shard ${k} > maxPerFan ${this.config.maxPerFan}`);
			return o;
		}, answer);
	}

	/** A purchase of a hold: token "ok" is approved, any other declined. */
	purchase(k: number, input: { holdId: string; fanId: string; declined: boolean; notAfter: number; admittedAt: number }, answer: FanAnswer<PurchaseView>): void {
		const shard = this.shards[k]!;
		const token = input.declined ? "declined" : "ok";
		this.request(k, this.config.cpu.purchase, "purchase", `purchase of ${input.holdId}`, input.fanId, () => shard.charges.purchase({ holdId: input.holdId, fanId: input.fanId, payment: { method: "test", token }, notAfter: input.notAfter, admittedAt: input.admittedAt }), answer);
	}

	release(k: number, input: { holdId: string; fanId: string }, answer: FanAnswer<unknown>): void {
		const shard = this.shards[k]!;
		this.request(k, this.config.cpu.release, "release", `release of ${input.holdId}`, input.fanId, () => shard.ledger.holds.release({ ...input, now: this.events.clock() }) as Outcome<unknown>, answer);
	}

	/** The pacer's look at shard `k` (its `totals`): the stock every shard had at the last look comes with it, as the pacer sends it. */
	look(k: number, look: ShardLook, answer: (c: ShardCounts) => void): void {
		const shard = this.shards[k]!;
		shard.object.call(this.config.cpu.look, () => {
			shard.transfers.noteLook(look.peerStock ? { ...look, peerStock: look.peerStock } : null);
			const counts = shard.ledger.counts();
			shard.watch.looked(look.watch === true, { ...counts, named: NO_UNITS });
			return this.served(k, counts);
		}, answer, this.config.hopMs, undefined, "totals");
	}

	/** After a request a shard served: the counts of the shards that changed read again from their ledgers, and the invariants checked. */
	private served<T>(_k: number, value: T): T {
		this.check();
		return value;
	}

	totals(): { remaining: number; held: number; sold: number; given: number; received: number } {
		const t = { remaining: 0, held: 0, sold: 0, given: 0, received: 0 };
		for (const s of this.shards) {
			t.remaining += s.counts.remaining;
			t.held += s.counts.held;
			t.sold += s.counts.sold;
			t.given += s.counts.given;
			t.received += s.counts.received;
		}
		return t;
	}

	/** Transfers written down by the takers (credited or not yet), for the summary. */
	transfers(): number {
		return this.shards.reduce((a, s) => a + s.counts.received, 0);
	}

	/** The invariants of the stock, on the ledgers' own counts: no oversell, every ticket accounted, the orders' tickets = the shards' sold. */
	check(): void {
		this.checks++;
		for (const s of this.shards) {
			// Any shard may have changed since it was last read (its alarm's work is no request of a fan's): read again those whose database moved.
			if (s.storage.version !== s.countedAt) {
				s.countedAt = s.storage.version;
				s.counts = s.stockCounts();
			}
			const c = s.counts;
			if (c.remaining < 0 || c.held < 0 || c.sold < 0) this.fail(`shard ${s.index} went below zero: remaining ${c.remaining}, held ${c.held}, sold ${c.sold}`);
			if (c.remaining + c.held + c.sold !== s.allocation + c.received - c.given) {
				this.fail(`shard ${s.index} does not account for its stock: ${c.remaining} free + ${c.held} held + ${c.sold} sold ≠ ${s.allocation} + ${c.received} received − ${c.given} given`);
			}
		}
		const t = this.totals();
		// Given and not yet credited: stock on its way between two shards, never negative.
		if (t.given < t.received) this.fail(`shards received ${t.received} tickets, more than the ${t.given} given`);
		if (t.sold + t.held > this.capacity) this.fail(`oversold: ${t.sold} sold + ${t.held} held > capacity ${this.capacity}`);
		if (t.sold + t.held + t.remaining + t.given - t.received !== this.capacity) this.fail(`tickets lost or made: ${t.sold} + ${t.held} + ${t.remaining} + ${t.given - t.received} on their way ≠ ${this.capacity}`);
		if (t.sold !== this.orderedTickets) this.fail(`the orders' ${this.orderedTickets} tickets ≠ the shards' ${t.sold} sold`);
	}

	/** Statements the shards' databases ran, for the report. */
	statements(): number {
		return this.shards.reduce((a, s) => a + s.storage.statements, 0);
	}

	/**
	 * At the end, money and sales: every payment taken and kept is exactly one order's, every
	 * order paid once, no charge left open, and every order's sale reached the Queue.
	 */
	settled(): void {
		for (const s of this.shards) {
			// The counts checked as it ran are the ledger's own: the one statement and `counts` agree.
			const own = s.ledger.counts();
			const read = s.stockCounts();
			for (const k of ["remaining", "held", "sold", "given", "received", "restocked"] as const) {
				if (own[k] !== read[k]) this.fail(`${s.name}: the checks read ${k} ${read[k]}, its ledger counts ${own[k]}`);
			}
			const stats = s.ledger.stats(this.events.clock(), 0);
			if (stats.holdsChargedTwice > 0) this.fail(`${s.name}: ${stats.holdsChargedTwice} holds charged twice`);
			// Every charge has ended by now: a purchase gives a provider that never answers up (PROVIDER_ANSWER_MS), and the alarm settles the charge.
			const open = s.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM charges WHERE state IN ('pending', 'charged')`).one().n;
			if (open > 0) this.fail(`${s.name}: ${open} charges neither an order nor ended at the end`);
		}
		const live = this.provider.live();
		this.keptPayments = live.length;
		if (live.length !== this.orders) this.fail(`${live.length} payments kept by the provider for ${this.orders} orders`);
		for (const id of this.orderIds) if (!this.queue.delivered.has(id)) this.fail(`order ${id}'s sale never reached the Queue`);
	}

	close(): void {
		for (const s of this.shards) s.storage.close();
	}
}
