// The simulator's run report, in the load runner's JSON report shape (what
// loadtest/lib/report-html.js and scripts/report.mjs read), so `npm run simulate --
// --report FILE.json` gives the same HTML page as a load run, and the calibration
// (scripts/calibrate.mjs) reads a simulated and a real run the same way. What only a
// simulation knows goes under `simulation`: every object's requests and deepest queue
// each second against the platform's limit, and the hottest object and when.
// The recorder watches a run from outside its objects (the fans' requests and the
// watermarks published), so a run without a report records none of it (the objects'
// own counts, per method and per second, are kept on every run: the summary uses them).
import { batchPace } from "../src/waiting-room/pacer-audit";
import { createTimeline } from "../loadtest/lib/timeline.js";
import { loadSummary } from "../loadtest/lib/journey.js";
import { latencyStats } from "../loadtest/lib/node-client.mjs";
import type { waitEstimateStats } from "../loadtest/lib/wait-estimate.js";
import { EPOCH, type EventQueue } from "./events";
import { OBJECT_REQUESTS_PER_SECOND, type SimObject } from "./objects";
import type { SimConfig } from "./config";
import type { Inventory } from "./shards";
import type { Room } from "./room";
import type { Fans } from "./fans";
import type { SalesPath } from "./sales";

/** A fan's step as the load runner names it, with its answers' times and statuses. */
interface Step {
	latencies: number[];
	statuses: Map<string, number>;
}

/** The status the load runner records for an answer: the HTTP status, with the error code after a 4xx or 5xx ("503:try_again"). */
function statusOf(o: { ok: boolean; status?: number; code?: string }, okStatus: number): string {
	return o.ok ? String(okStatus) : `${o.status}:${o.code}`;
}

type Outcome = { ok: boolean; status?: number; code?: string; value?: unknown };

export class RunRecorder {
	private readonly timeline: ReturnType<typeof createTimeline>;
	private readonly steps = new Map<string, Step>();
	/** Tickets sold as the fans were answered: [simulated ms, quantity]. */
	readonly sales: [number, number][] = [];
	/** The last answer to a fan's request (simulated ms, from the run's start as the timeline's): where the run's duration ends. */
	private lastAnswerAt = 0;

	constructor(
		private readonly config: SimConfig,
		private readonly events: EventQueue,
	) {
		this.timeline = createTimeline({
			originMs: 0,
			openAtS: config.opensAt / 1000,
			bucketSeconds: 1,
			buckets: Math.ceil((config.opensAt + config.spreadSeconds * 1000) / 1000),
			pace: { batchSize: config.batchSize, intervalMs: config.intervalMs, activeMultiple: config.activeMultiple },
		});
	}

	private answered(step: string, sentAt: number, status: string): void {
		const now = this.events.now;
		this.lastAnswerAt = Math.max(this.lastAnswerAt, now);
		let s = this.steps.get(step);
		if (s === undefined) this.steps.set(step, (s = { latencies: [], statuses: new Map() }));
		s.latencies.push(now - sentAt);
		s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
		this.timeline.answer(step, now, now - sentAt, Number(status.split(":")[0]));
	}

	/**
	 * Watches the fans' requests (a join at its line; a hold, purchase and release at a
	 * shard; the polls and looks the Worker answers) and the watermarks the Worker publishes. Called once the fans are built
	 * (they listen to the room's publications first).
	 */
	watch(room: Room, inventory: Inventory, fans: Fans): void {
		// The requests the Worker answers itself: polls (no latency of their own here, so they go in
		// under a step the latency charts leave out) and the looks at the drop of fans told sold out.
		fans.onRequest = (step, sentAt, at) => {
			if (step === "drop") return this.answered("drop", sentAt, "200");
			this.lastAnswerAt = Math.max(this.lastAnswerAt, at);
			this.timeline.answer("poll", at, 0, 200);
		};
		const join = room.join.bind(room);
		room.join = (fanId, line, secret, answer, lost) => {
			const sentAt = this.events.now;
			join(fanId, line, secret, (a) => {
				this.answered("join", sentAt, a.kind === "sold_out" ? "200" : "201");
				this.timeline.event("joined", this.events.now);
				answer(a);
			}, lost);
		};
		const hold = inventory.hold.bind(inventory);
		inventory.hold = (k, input, answer) => {
			const sentAt = this.events.now;
			hold(k, input, (o) => {
				this.answered("hold", sentAt, statusOf(o as Outcome, 201));
				if (o.ok) this.timeline.event("held", this.events.now);
				answer(o);
			});
		};
		const purchase = inventory.purchase.bind(inventory);
		inventory.purchase = (k, input, answer) => {
			const sentAt = this.events.now;
			purchase(k, input, (o) => {
				this.answered("purchase", sentAt, statusOf(o as Outcome, 201));
				// The test provider never asks the fan to act: an approved purchase is an order.
				if (o.ok && "quantity" in o.value) {
					this.timeline.event("sold", this.events.now, o.value.quantity);
					this.sales.push([this.events.now, o.value.quantity]);
				}
				answer(o);
			});
		};
		const release = inventory.release.bind(inventory);
		inventory.release = (k, input, answer) => {
			const sentAt = this.events.now;
			release(k, input, (o) => {
				this.answered("release", sentAt, statusOf(o as Outcome, 204));
				answer(o);
			});
		};
		const told = room.onPublish;
		room.onPublish = (w) => {
			const now = this.events.now;
			this.timeline.observe("watermark", now, w.admittedThrough);
			this.timeline.observe("placed", now, w.lastPosition);
			this.timeline.observe("remaining", now, w.remaining);
			told?.(w);
		};
	}

	/** The report of the finished run, in the load runner's shape, with the simulation's own section. */
	report(input: { inventory: Inventory; room: Room; sales: SalesPath; fans: Fans; waitEstimate: ReturnType<typeof waitEstimateStats>; summary: string[]; events: number }): SimReport {
		const { config } = this;
		const { inventory, room, fans } = input;
		const salesPath = input.sales;
		const opens = config.opensAt;
		for (const fan of fans.all) {
			this.timeline.event("arrived", fan.arrivedAt);
			if (fan.admittedAt !== null) this.timeline.event("admitted", fan.admittedAt);
		}
		const objects = simObjects(room, inventory);
		// From the run's start (the drop made, the opening's lead before it) to the last answer a fan was
		// given: the load runner's, from just after it made the drop until its fans were done.
		const durationSeconds = this.lastAnswerAt / 1000;
		const steps: Record<string, { count: number; p50: number | null; p95: number | null; p99: number | null; max: number | null; mean: number | null; statuses: Record<string, number> }> = {};
		let requests = fans.polls;
		for (const [name, s] of this.steps) {
			requests += s.latencies.length;
			steps[name] = { count: s.latencies.length, ...latencyStats(s.latencies), statuses: Object.fromEntries([...s.statuses.entries()].sort(([a], [b]) => a.localeCompare(b))) };
		}
		// The Worker answers every poll from its copy of the watermark: no object call, and no latency of its own here.
		steps.status = { count: fans.polls, p50: null, p95: null, p99: null, max: null, mean: null, statuses: { "200": fans.polls } };
		const load = loadOf(objects, config.fans);
		const totals = inventory.totals();
		const soldOut = inventory.soldOutAt !== null;
		const sales = this.sales.slice().sort((a, b) => a[0] - b[0]);
		const outcomes = Object.fromEntries([...fans.outcomes.entries()].sort(([a], [b]) => a.localeCompare(b)));
		const hottest = hottestObject(objects);
		const t = inventory.saleToConsumer();
		const d = salesPath.saleToTicket();
		const d1Peak = salesPath.peak();
		return {
			scenario: "simulation",
			source: "simulator",
			// The simulated clock's date: the report of a seed is the same every time.
			at: new Date(EPOCH).toISOString(),
			knobs: {
				seed: config.seed, fans: config.fans, tickets: config.tickets, shards: config.shards, lines: config.lines, maxPerFan: config.maxPerFan,
				batchSize: config.batchSize, intervalMs: config.intervalMs, activeMultiple: config.activeMultiple, holdSeconds: config.holdSeconds,
				abandonRate: config.abandonRate, declineRate: config.declineRate, thinkMs: config.thinkMs, spreadSeconds: config.spreadSeconds,
				leadSeconds: opens / 1000, fanTimeoutSeconds: config.fanTimeoutSeconds, colos: config.colos, faults: config.faults.join(",") || "none",
			},
			drop: { id: inventory.dropId, shards: config.shards, lines: config.lines, opensAt: new Date(EPOCH + opens).toISOString() },
			expectSoldOut: false,
			durationSeconds,
			requests,
			requestsPerSecond: durationSeconds > 0 ? requests / durationSeconds : 0,
			steps,
			outcomes,
			timeToSellOutSeconds: soldOut ? (inventory.soldOutAt! - opens) / 1000 : null,
			soldAfterOpenSeconds: milestones(sales, config.tickets, opens),
			firstSaleAfterOpenSeconds: sales.length > 0 ? (sales[0]![0] - opens) / 1000 : null,
			waitEstimate: input.waitEstimate,
			admission: { admittedThrough: room.admittedThrough, placed: room.nextPosition - 1, ...paceOf(room.core.allBatches()) },
			load: { ...load, byKind: loadSummary(load) },
			// Every invariant was checked as the run went: a report is written only for a run that held them all.
			audit: { oversold: 0, lost: 0, capacity: config.tickets, totals: { sold: totals.sold, held: totals.held, remaining: totals.remaining, orders: inventory.orders }, load },
			failures: [],
			timeline: this.timeline.result(),
			simulation: {
				seed: config.seed,
				faults: config.faults,
				limit: OBJECT_REQUESTS_PER_SECOND,
				openAtS: opens / 1000,
				events: input.events,
				hottest: { kind: hottest.object.kind, name: hottest.object.name, requests: hottest.requests, atS: hottest.at / 1000 - opens / 1000, shareOfLimit: hottest.requests / OBJECT_REQUESTS_PER_SECOND },
				saleToQueue: { medianMs: t.median, p90Ms: t.p90, maxMs: t.max, orders: t.count },
				// To the order's row written in D1 by the engine's consumer: the sale-to-ticket time the simulation measures.
				saleToTicket: { medianMs: d.median, p90Ms: d.p90, maxMs: d.max, orders: d.count },
				d1: {
					queries: salesPath.d1.queries,
					limit: d1Peak.limit,
					peak: { queries: d1Peak.queries, atS: d1Peak.at / 1000 - opens / 1000 },
					batches: salesPath.queue.batches,
					retried: salesPath.queue.retries,
					refused: salesPath.d1.refused,
					deliveredTwice: salesPath.queue.twice,
					deadLettered: salesPath.queue.deadLetters.length,
					followUps: salesPath.followUps.bodies.length,
					mostQueriesInOneInvocation: salesPath.queue.mostQueries,
				},
				objects: objects.map(({ kind, index, object }) => {
					const peak = object.peak();
					return {
						kind, index, name: object.name, requests: object.requests, methods: methodsOf(object),
						peak: { requests: peak.requests, atS: peak.at / 1000 - opens / 1000 },
						deepestQueue: object.deepestQueue, deepestQueueAtS: object.deepestQueueAt / 1000 - opens / 1000, longestWaitMs: object.longestWaitMs,
						perSecond: object.perSecond.slice(), depthPerSecond: object.depthPerSecond.slice(),
					};
				}),
				summary: input.summary,
			},
		};
	}
}

export type SimReport = Record<string, unknown> & { simulation: Record<string, unknown> & { hottest: { kind: string; name: string; requests: number; atS: number; shareOfLimit: number } } };

interface Placed {
	kind: "room" | "line" | "shard";
	index: number;
	object: SimObject;
}

/** The simulated objects under the audit's names for their kinds (the pacer is the drop's room). */
function simObjects(room: Room, inventory: Inventory): Placed[] {
	return [
		{ kind: "room", index: 0, object: room.pacer },
		...room.lines.map((l, index) => ({ kind: "line" as const, index, object: l.object })),
		...inventory.shards.map((s, index) => ({ kind: "shard" as const, index, object: s.object })),
	];
}

function methodsOf(object: SimObject): Record<string, number> {
	return Object.fromEntries([...object.byMethod.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The audit's load (src/sales/audit.ts): requests each object served, the pacer's and a shard's by method.
 * An alarm is no request there (the engine counts what its methods serve), so it is left
 * out here too; the per-second series under `simulation` keep it, as it takes the object's time.
 */
function loadOf(objects: Placed[], fans: number) {
	const rows = objects.map(({ kind, index, object }) => {
		const requests = object.requests - (object.byMethod.get("alarm") ?? 0);
		if (kind === "line") return { kind, index, requests };
		const methods = methodsOf(object);
		delete methods.alarm;
		return { kind, index, requests, methods };
	});
	let hottest = rows[0]!;
	for (const r of rows) if (r.requests > hottest.requests) hottest = r;
	return { fans, objects: rows, hottest: { kind: hottest.kind, index: hottest.index, requests: hottest.requests, perFan: fans > 0 ? Math.round((hottest.requests / fans) * 10000) / 10000 : 0 } };
}

/** The busiest second of any object (its requests, alarms included, against the limit). */
function hottestObject(objects: Placed[]): { object: SimObject; requests: number; at: number } {
	let best = { object: objects[0]!.object, requests: -1, at: 0 };
	for (const { object } of objects) {
		const peak = object.peak();
		if (peak.requests > best.requests) best = { object, requests: peak.requests, at: peak.at };
	}
	return best;
}

/** Seconds after the opening at which half, 90 % and all of the tickets had been sold (the load runner's milestones). */
function milestones(sales: [number, number][], capacity: number, opens: number): Record<string, number | null> {
	const out: Record<string, number | null> = { "50%": null, "90%": null, "100%": null };
	let sold = 0;
	for (const [at, quantity] of sales) {
		sold += quantity;
		for (const [label, share] of [["50%", 0.5], ["90%", 0.9], ["100%", 1]] as const) {
			if (out[label] === null && sold >= capacity * share) out[label] = Math.round((at - opens) / 100) / 10;
		}
	}
	return out;
}

/** The pace admission kept, as the engine's audit reports it (closestBatchesMs, medianBatchGapMs). */
function paceOf(batches: readonly { at: number }[]): { closestBatchesMs: number | null; medianBatchGapMs: number | null } {
	const pace = batchPace(batches);
	const ms = (v: number | null) => (v === null ? null : Math.round(v));
	return { closestBatchesMs: ms(pace.closestMs), medianBatchGapMs: ms(pace.medianGapMs) };
}
