// One simulated drop, start to end: the objects, the fans, the invariants checked
// as it runs and at its end, and the summary it prints. Everything in the summary
// follows from the seed, so the same seed prints the same summary.
import { EventQueue, randomStream } from "./events";
import { Fans } from "./fans";
import { Inventory, type ShardHook } from "./shards";
import { installSimulatedGlobals } from "./globals";
import type { SqlJs } from "./sqlite";
import { Room } from "./room";
import { OBJECT_REQUESTS_PER_SECOND, type SimObject } from "./objects";
import type { SimConfig } from "./config";
import { Faults, type TraceEntry } from "./faults";
import { SimProvider, SimQueue } from "./provider";
import { waitEstimateStats, waitEstimateText } from "../loadtest/lib/wait-estimate.js";
import { RunRecorder, type SimReport } from "./report";
import { SalesPath, type Spread } from "./sales";

/** An invariant broke: the run stops at the event that broke it. */
export class InvariantBroken extends Error {
	/** The run's trace up to the failure, when it was kept. */
	trace: TraceEntry[] | null = null;
	constructor(readonly at: number, readonly seed: number, readonly what: string) {
		super(`invariant broken at ${(at / 1000).toFixed(3)} s (seed ${seed}): ${what}`);
	}
}

export interface SimResult {
	lines: string[];
	events: number;
	soldOutAt: number | null;
	/** The wait estimate against each admitted fan's real wait, as the load runner reports it. */
	waitEstimate: ReturnType<typeof waitEstimateStats>;
	/** The run's report in the load runner's JSON shape (sim/report.ts), when asked for. */
	report: SimReport | null;
}

/** The simulation ends this long after the last fan could have arrived, or when nothing is left to happen. */
const RUN_AFTER_LAST_ARRIVAL_MS = 15 * 60_000;
/** And goes on at most this much longer while a sale is still on its way to D1 (a long outage's come back through the dead-letter queue). */
const DEAD_LETTER_DRAIN_MS = 60 * 60_000;

/**
 * Runs the drop. `sqlJs`: sql.js's module, for the objects' databases. `hooks`, for tests
 * only: called with each shard, and with the room (its lines and pacer), once built, to
 * plant a bug in their real path; with the fans, to watch what each was told; with the
 * sales path (the Queue's consumer and D1), to plant a bug in the consumer. `report`:
 * record the run for its report (result.report), which a run without one does not pay for.
 */
export async function simulate(
	config: SimConfig,
	sqlJs: SqlJs,
	hooks: { shard?: ShardHook; room?: (room: Room) => void; fans?: (fans: Fans) => void; sales?: (sales: SalesPath) => void; trace?: boolean; report?: boolean } = {},
): Promise<SimResult> {
	const events = new EventQueue();
	const faults = new Faults(config.faults, config.seed, hooks.trace === true);
	const fail = (what: string): never => {
		const broken = new InvariantBroken(events.now, config.seed, what);
		broken.trace = faults.trace;
		faults.note(events.now, [], `invariant broken: ${what}`);
		// Found in a promise's continuation, it would be lost as a rejection: the run stops at its next step.
		events.failure ??= broken;
		throw broken;
	};
	const globals = installSimulatedGlobals(config.seed, events, (message) => faults.note(events.now, [], message));
	let inventory: Inventory | null = null;
	let room: Room | null = null;
	let sales: SalesPath | null = null;
	try {
		const queue = new SimQueue(events, faults, config.opensAt);
		inventory = new Inventory(events, config, sqlJs, fail, faults, new SimProvider(events, faults), queue, hooks.shard);
		room = new Room(events, config, inventory, sqlJs, fail, faults);
		hooks.room?.(room);
		sales = new SalesPath(events, config, sqlJs, queue, inventory, fail);
		await sales.createDrop(room.drop);
		hooks.sales?.(sales);
		const fans = new Fans(events, config, room, inventory, randomStream(config.seed, "fans"), fail);
		hooks.fans?.(fans);
		const recorder = hooks.report === true ? new RunRecorder(config, events) : null;
		recorder?.watch(room, inventory, fans);
		fans.arrive();
		room.start();
		let ended = 0;
		room.readers(randomStream(config.seed, "readers"), () => {
			// Fans end once each, so the count of outcomes only grows: read again only while it is short.
			if (ended < config.fans) ended = [...fans.outcomes.values()].reduce((a, n) => a + n, 0);
			return ended < config.fans;
		});
		const end = config.opensAt + config.spreadSeconds * 1000 + RUN_AFTER_LAST_ARRIVAL_MS;
		await events.runUntil(end);
		// A long outage's sales come back through the dead-letter queue, whose consumer waits up to 10 minutes between
		// turns, and then through the outboxes and the Queue: the run goes on while any is on its way.
		for (let until = end; sales.pending() && until < end + DEAD_LETTER_DRAIN_MS; ) await events.runUntil((until += 60_000));
		inventory.check();
		inventory.settled();
		await sales.settled();
		checkPositions(fans, room, fail);
		const waitEstimate = waitEstimateStats(fans.all);
		const lines = summary(config, events, inventory, room, sales, fans, faults, waitEstimate);
		const report = recorder === null ? null : recorder.report({ inventory, room, sales, fans, waitEstimate, summary: lines, events: events.ran });
		return { lines, events: events.ran, soldOutAt: inventory.soldOutAt, waitEstimate, report };
	} finally {
		globals.restore();
		inventory?.close();
		room?.close();
		sales?.close();
	}
}

/**
 * Admission by position, at the end: the positions told are 1..P with none twice, the
 * admitted fans are exactly the first positions, and a fan whose join reached its line a
 * slot or more after another's never stands ahead of them.
 */
function checkPositions(fans: Fans, room: Room, fail: (what: string) => never): void {
	const seen = new Uint8Array(room.nextPosition);
	let admitted = 0;
	for (const fan of fans.all) {
		const p = fan.position;
		if (p === null) continue;
		if (p < 1 || p >= room.nextPosition) fail(`fan ${fan.index} told position ${p}, outside 1..${room.nextPosition - 1}`);
		if (seen[p] === 1) fail(`position ${p} told to two fans`);
		seen[p] = 1;
		if (fan.admittedAt !== null) {
			admitted++;
			if (p > room.admittedThrough) fail(`fan at ${p} admitted, the watermark is ${room.admittedThrough}`);
		}
	}
	const slotted = fans.all.filter((f) => f.join?.kind === "slot" && f.position !== null);
	slotted.sort((a, b) => a.position! - b.position!);
	let latestSlot = -1;
	for (const fan of slotted) {
		const slot = fan.join!.kind === "slot" ? fan.join!.slot : 0;
		if (slot < latestSlot) fail(`fan ${fan.index} of slot ${slot} placed behind a fan of slot ${latestSlot}`);
		latestSlot = slot;
	}
	room.positionsChecked = seen.reduce((a, b) => a + b, 0);
	room.admittedChecked = admitted;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function saleToTicketText(toD1: Spread, toBatch: Spread): string {
	const s = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
	return (
		`sale-to-ticket, to the order's row written in D1: median ${s(toD1.median)}, p90 ${s(toD1.p90)}, max ${s(toD1.max)} over ${toD1.count} orders ` +
		`(to the consumer's batch: median ${s(toBatch.median)}, p90 ${s(toBatch.p90)}, max ${s(toBatch.max)})`
	);
}

function salesText(sales: SalesPath): string {
	const q = sales.queue;
	const peak = sales.peak();
	const opens = sales.queue.opensAt;
	return (
		`D1: ${sales.rows()} order rows, each written once and each a shard's order (drop, fan, quantity, payment: ${sales.checked} checked as written), every sale in D1 by the engine's comparison of order ids; ` +
		`${q.batches} consumer batches, ${q.retries} messages retried (${sales.d1.refused} D1 calls refused while down), ${q.twice} batches delivered twice, ${q.deadLetters.length} to the dead-letter queue (its consumer: ${sales.dlq.batches} batches, ${sales.dlq.acked} messages done, ${sales.dlq.givenUp.length} given up); ` +
		`${sales.followUps.bodies.length} follow-ups queued (not run); ${sales.d1.queries} queries, the busiest second ${peak.queries} at ${seconds(peak.at - opens)} (${((100 * peak.queries) / peak.limit).toFixed(0)} % of ${peak.limit}), at most ${q.mostQueries} in one invocation (of ${q.queryLimit}); ` +
		`the Queue's busiest second ${q.peak().messages} messages`
	);
}

function hottest(objects: SimObject[]): { object: SimObject; peak: { requests: number; at: number } } {
	let best = { object: objects[0]!, peak: objects[0]!.peak() };
	for (const object of objects.slice(1)) {
		const peak = object.peak();
		if (peak.requests > best.peak.requests) best = { object, peak };
	}
	return best;
}

function summary(config: SimConfig, events: EventQueue, inventory: Inventory, room: Room, sales: SalesPath, fans: Fans, faults: Faults, waits: SimResult["waitEstimate"]): string[] {
	const opens = config.opensAt;
	const totals = inventory.totals();
	const out = [
		`seed ${config.seed}: ${config.fans} fans, ${config.tickets} tickets, ${config.lines} lines, ${config.shards} shards, faults ${config.faults.length === 0 ? "none" : config.faults.join(",")} (replay: --seed ${config.seed})`,
		`invariants held: ${inventory.checks} stock checks on the ledgers' own counts as it ran (never oversold, every ticket accounted, the orders' tickets = the shards' sold, per-fan limit), ${room.positionsChecked} positions unique, ${room.admittedChecked} admitted all within the watermark, ${room.batchesChecked} batches within the configured size, slots in order`,
		`sold ${totals.sold} of ${config.tickets} in ${inventory.orders} orders; ${totals.held} held, ${totals.remaining} free at the end; ${inventory.transfers()} tickets moved between shards; ${inventory.statements()} SQL statements on the shards`,
		`sold out: ${inventory.soldOutAt === null ? "no" : `${seconds(inventory.soldOutAt - opens)} after the opening`}`,
		saleToTicketText(sales.saleToTicket(), inventory.saleToConsumer()),
		salesText(sales),
		`admission: ${room.admittedThrough} admitted of ${room.nextPosition - 1} placed, by position; ${fans.polls} polls answered by the Worker (${fans.locates} of them asked the fan's line; ${fans.parkedPolls} by fans parked while waiting for tickets, counted without an event each)`,
		`turns: ${fans.turnsGranted} granted by the Worker from the time the fan's batch went in (${fans.pacerAsks} of those times asked of the pacer), ${fans.expiredAtPoll} over before the fan's poll saw them; ${fans.holdsWithinTurn} holds made, each ending by its turn's end (${fans.holdsExpiredAtPurchase} ran out before their purchase: the fan held again); ${fans.workerRefusals} holds refused by the Worker before any shard, ${fans.expiredAtHold} past their turn's end`,
		`wait estimate: ${waitEstimateText(waits)}`,
		`fans: ${[...fans.outcomes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(", ")}`,
		`requests per object per second against the limit of ${OBJECT_REQUESTS_PER_SECOND} (time from the opening):`,
	];
	const kinds: [string, SimObject[]][] = [["line", room.lines.map((l) => l.object)], ["pacer", [room.pacer]], ["shard", inventory.shards.map((s) => s.object)]];
	for (const [kind, objects] of kinds) {
		const { object, peak } = hottest(objects);
		const requests = objects.reduce((a, o) => a + o.requests, 0);
		const deepest = objects.reduce((a, o) => (o.deepestQueue > a.deepestQueue ? o : a));
		out.push(
			`  ${kind.padEnd(5)} hottest ${object.name}: ${peak.requests}/s at ${seconds(peak.at - opens)} (${((100 * peak.requests) / OBJECT_REQUESTS_PER_SECOND).toFixed(0)} % of the limit); ` +
				`${requests} requests over ${objects.length}, ${(requests / config.fans).toFixed(3)} per fan; deepest queue ${deepest.deepestQueue} at ${deepest.name} (its longest wait ${deepest.longestWaitMs.toFixed(0)} ms)`,
		);
	}
	if (config.faults.length > 0) {
		out.push(`faults injected: ${[...faults.injected.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(", ") || "none struck"}`);
		out.push(room.faultChecks());
		out.push(`money and sales at the end: ${inventory.keptPayments} payments kept = ${inventory.orders} orders, no hold paid twice, no charge open; ${inventory.queue.delivered.size} sales reached the Queue (${inventory.queue.failedSends} sends refused while it was down)`);
	}
	out.push(`events simulated: ${events.ran}`);
	return out;
}
