// The invariants checked on live data: shard totals against capacity, shard
// sales against the rows in D1, and the admission order.
import type { DropConfig } from "./drops";
import { shardStats } from "./inventory";
import type { ShardStats } from "./inventory-shard";
import { type LoadReport, loadReport } from "./load";
import { type IdSample, type ShardIds, compareDropOrderIds } from "./order-ids";
import { refundTotals } from "./refunds";
import { recordedByShard } from "./sales-store";
import { type RoomAudit } from "./waiting-room";
import { lineStub, roomStub, shardStub } from "./names";

export interface Audit {
	dropId: string;
	capacity: number;
	/** Each shard's stats, its orders in D1, and its order ids set against D1's (counts, and the first ids of each kind). */
	shards: (ShardStats & { recorded: number } & Omit<ShardIds, "shard">)[];
	totals: { sold: number; held: number; remaining: number; orders: number; inFlight: number };
	recorded: number;
	recordedTickets: number;
	/** Sales in shard outboxes not yet sent to the Queue. */
	outboxPending: number;
	/** Sales not yet sent, or sent within the grace period, and not yet in D1: on their way, not lost. */
	inTransit: number;
	/** Tickets sold or held beyond what exists, in total or in any shard. */
	oversold: number;
	/** Sales made in shards and sent before the grace period, yet absent from D1. */
	lost: number;
	/** Rows in D1 that no shard sold. */
	phantom: number;
	/** Charges open past the grace period: money taken that is neither an order nor refunded yet. */
	unreconciledCharges: number;
	/** Rows in D1 naming a shard the drop does not have (part of `phantom`). */
	otherShardsInD1: IdSample;
	/** sold + held + remaining + stock moving between shards = capacity. */
	balanced: boolean;
	admission: RoomAudit;
	/** Requests each object has served, and the busiest one per fan who joined. */
	load: LoadReport;
	/** Refunds (issue 15): how many, their tickets and money, those put back on sale, and what the gate should expect (sold − refunded). */
	refunds: { refunds: number; tickets: number; amountCents: number; restocked: number; atGate: number };
	ok: boolean;
}

/** `graceSeconds`: how long a sent sale may take to reach D1 before it counts as lost (the API's default is 30). */
export async function auditDrop(env: Env, drop: DropConfig, graceSeconds: number): Promise<Audit> {
	const [stats, recorded, admission, ids, refunded] = await Promise.all([
		shardStats(env, drop.id, drop.shards, graceSeconds * 1000),
		recordedByShard(env.DB, drop.id),
		roomStub(env, drop.id).audit(),
		compareDropOrderIds(env, drop, graceSeconds * 1000),
		refundTotals(env.DB, drop.id),
	]);
	// Given by one shard and not yet credited by the other: stock in flight, not lost.
	// Each shard's counters are read atomically, so a transfer counts on both sides or on its giver's alone.
	const inFlight = stats.reduce((sum, s) => sum + s.given - s.received, 0);
	const shards = stats.map((s) => {
		const { missingInD1, inTransit, unknownInD1 } = ids.shards[s.shard]!;
		return { ...s, recorded: recorded.get(s.shard)?.orders ?? 0, missingInD1, inTransit, unknownInD1 };
	});
	const sum = (f: (s: (typeof shards)[number]) => number) => shards.reduce((acc, s) => acc + f(s), 0);
	const totals = { sold: sum((s) => s.sold), held: sum((s) => s.held), remaining: sum((s) => s.remaining), orders: sum((s) => s.orders), inFlight };
	const recordedOrders = [...recorded.values()].reduce((a, r) => a + r.orders, 0);
	const recordedTickets = [...recorded.values()].reduce((a, r) => a + r.tickets, 0);
	// By order id, so a sale missing from D1 and a row no shard sold never cancel out.
	const inTransit = sum((s) => s.inTransit.count);
	const lost = sum((s) => s.missingInD1.count);
	const phantom = sum((s) => s.unknownInD1.count) + ids.otherShards.count;
	// Tickets refunded and put back on sale are sold again: D1 has both orders, the gate admits one.
	const restocked = sum((s) => s.restocked);
	const oversold = Math.max(sum((s) => Math.max(0, s.sold + s.held - s.accountable)), totals.sold + totals.held - drop.capacity, recordedTickets - restocked - drop.capacity, 0);
	const balanced = totals.sold + totals.held + totals.remaining + inFlight === drop.capacity;
	const load = await dropLoad(env, drop, admission.lines.reduce((a, l) => a + l.joined, 0));
	return {
		dropId: drop.id,
		capacity: drop.capacity,
		shards,
		totals,
		recorded: recordedOrders,
		recordedTickets,
		outboxPending: sum((s) => s.outboxPending),
		inTransit,
		oversold,
		lost,
		phantom,
		unreconciledCharges: sum((s) => s.unreconciledCharges),
		otherShardsInD1: ids.otherShards,
		balanced,
		admission,
		load,
		refunds: { ...refunded, restocked, atGate: recordedTickets - refunded.tickets },
		ok: oversold === 0 && lost === 0 && phantom === 0 && balanced && sum((s) => s.unreconciledCharges) === 0 && admission.admittedInOrder && admission.shuffleVerified !== false && admission.commitmentVerified !== false,
	};
}

/** Read after everything else the audit asked, so its own calls are in the counts. */
async function dropLoad(env: Env, drop: DropConfig, fans: number): Promise<LoadReport> {
	const [room, lines, shards] = await Promise.all([
		roomStub(env, drop.id).load(),
		Promise.all(Array.from({ length: drop.lines }, (_, k) => lineStub(env, drop.id, k).load())),
		Promise.all(Array.from({ length: drop.shards }, (_, k) => shardStub(env, drop.id, k).load())),
	]);
	return loadReport(fans, [
		{ kind: "room", index: 0, requests: room },
		...lines.map((requests, index) => ({ kind: "line" as const, index, requests })),
		...shards.map((requests, index) => ({ kind: "shard" as const, index, requests })),
	]);
}
