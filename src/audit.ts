// The invariants checked on live data: shard totals against capacity, shard
// sales against the rows in D1, and the admission order.
import type { DropConfig } from "./drops";
import { shardStats, shardStub } from "./inventory";
import type { ShardStats } from "./inventory-shard";
import { type LoadReport, loadReport } from "./load";
import { recordedByShard } from "./sales-store";
import { lineName } from "./waiting-line";
import { type RoomAudit, roomName } from "./waiting-room";

export interface Audit {
	dropId: string;
	capacity: number;
	shards: (ShardStats & { recorded: number })[];
	totals: { sold: number; held: number; remaining: number; orders: number; inFlight: number };
	recorded: number;
	recordedTickets: number;
	/** Sales in shard outboxes not yet sent to the Queue. */
	outboxPending: number;
	/** Sales sent within the grace period and not yet in D1: on their way, not lost. */
	inTransit: number;
	/** Tickets sold or held beyond what exists, in total or in any shard. */
	oversold: number;
	/** Sales made in shards and sent before the grace period, yet absent from D1. */
	lost: number;
	/** Rows in D1 that no shard sold. */
	phantom: number;
	/** Charges open past the grace period: money taken that is neither an order nor refunded yet. */
	unreconciledCharges: number;
	/** sold + held + remaining + stock moving between shards = capacity. */
	balanced: boolean;
	admission: RoomAudit;
	/** Requests each object has served, and the busiest one per fan who joined. */
	load: LoadReport;
	ok: boolean;
}

export const DEFAULT_GRACE_SECONDS = 30;

export async function auditDrop(env: Env, drop: DropConfig, graceSeconds = DEFAULT_GRACE_SECONDS): Promise<Audit> {
	const [stats, recorded, admission] = await Promise.all([
		shardStats(env, drop.id, drop.shards, graceSeconds * 1000),
		recordedByShard(env.DB, drop.id),
		env.WAITING_ROOM.getByName(roomName(drop.id)).audit(),
	]);
	// Given by one shard and not yet credited by the other: stock in flight, not lost.
	// Each shard's counters are read atomically, so a transfer counts on both sides or on its giver's alone.
	const inFlight = stats.reduce((sum, s) => sum + s.given - s.received, 0);
	const shards = stats.map((s) => ({ ...s, recorded: recorded.get(s.shard)?.orders ?? 0 }));
	const sum = (f: (s: (typeof shards)[number]) => number) => shards.reduce((acc, s) => acc + f(s), 0);
	const totals = { sold: sum((s) => s.sold), held: sum((s) => s.held), remaining: sum((s) => s.remaining), orders: sum((s) => s.orders), inFlight };
	const recordedOrders = [...recorded.values()].reduce((a, r) => a + r.orders, 0);
	const recordedTickets = [...recorded.values()].reduce((a, r) => a + r.tickets, 0);
	const missing = (s: (typeof shards)[number]) => Math.max(0, s.orders - s.recorded);
	const waiting = (s: (typeof shards)[number]) => Math.min(missing(s), s.outboxPending + s.recentlySent);
	const inTransit = sum(waiting);
	const lost = sum((s) => missing(s) - waiting(s));
	const phantom = sum((s) => Math.max(0, s.recorded - s.orders)) + sumOtherShards(recorded, drop.shards);
	const oversold = Math.max(sum((s) => Math.max(0, s.sold + s.held - s.accountable)), totals.sold + totals.held - drop.capacity, recordedTickets - drop.capacity, 0);
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
		balanced,
		admission,
		load,
		ok: oversold === 0 && lost === 0 && phantom === 0 && balanced && sum((s) => s.unreconciledCharges) === 0 && admission.admittedInOrder && admission.shuffleVerified !== false && admission.commitmentVerified !== false,
	};
}

/** Read after everything else the audit asked, so its own calls are in the counts. */
async function dropLoad(env: Env, drop: DropConfig, fans: number): Promise<LoadReport> {
	const [room, lines, shards] = await Promise.all([
		env.WAITING_ROOM.getByName(roomName(drop.id)).load(),
		Promise.all(Array.from({ length: drop.lines }, (_, k) => env.WAITING_LINE.getByName(lineName(drop.id, k)).load())),
		Promise.all(Array.from({ length: drop.shards }, (_, k) => shardStub(env, drop.id, k).load())),
	]);
	return loadReport(fans, [
		{ kind: "room", index: 0, requests: room },
		...lines.map((requests, index) => ({ kind: "line" as const, index, requests })),
		...shards.map((requests, index) => ({ kind: "shard" as const, index, requests })),
	]);
}

/** D1 rows that name a shard the drop does not have. */
function sumOtherShards(recorded: Map<number, { orders: number }>, shards: number): number {
	let n = 0;
	for (const [shard, r] of recorded) if (shard < 0 || shard >= shards) n += r.orders;
	return n;
}
