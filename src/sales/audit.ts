// The invariants checked on live data: shard totals against capacity, shard
// sales against the rows in D1, refunds whose money is not settled, the admission order,
// and one valid holder per ticket through transfers.
import { type DropConfig, typesOf } from "../drops/rules";
import { shardStats } from "../inventory/drop-shards";
import type { ShardStatsWithUnits } from "../inventory/inventory-shard";
import type { AuditReport } from "../contract/audit-answers";
import { primaryType } from "../drops/ticket-types";
import { type LoadReport, loadReport } from "../shared/request-counter";
import { type IdSample, type ShardIds, compareDropOrderIds } from "./order-ids";
import { refundTotals, refundsOwed } from "../after-sale/refunds";
import { holderAudit } from "../after-sale/transfer-store";
import { type ResaleAudit, resaleAudit } from "../after-sale/resale-store";
import { recordedByShard, recordedNamed } from "./store";
import type { RoomAudit } from "../waiting-room/pacer-audit";
import { lineStub, roomKey, roomStub, shardStub } from "../shared/names";
import { windowRoomConfig, windowTotals } from "../waiting-room/window-rooms";

export interface Audit {
	dropId: string;
	capacity: number;
	/** Each shard's stats, its orders in D1, and its order ids set against D1's (counts, and the first ids of each kind). */
	shards: (ShardStatsWithUnits & { recorded: number } & Omit<ShardIds, "shard">)[];
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
	/** Payments the provider approved for the drop's holds (refunded ones too). */
	payments: number;
	/** Holds paid more than once: a fan charged twice for one hold, which never should be. */
	holdsChargedTwice: number;
	/** Rows in D1 naming a shard the drop does not have (part of `phantom`). */
	otherShardsInD1: IdSample;
	/** sold + held + remaining + stock moving between shards = capacity. */
	balanced: boolean;
	/** Per ticket type and slot: sold ≤ capacity, the shards and D1 agreeing; every seat sold at most once. */
	named: AuditReport["named"];
	/** The room's audit; `admittedInOrder` is null until the drop has opened (nobody admitted yet: nothing to check). */
	admission: Omit<RoomAudit, "admittedInOrder"> & { admittedInOrder: boolean | null };
	/** Requests each object has served, and the busiest one per fan who joined. */
	load: LoadReport;
	/** Refunds pending past the grace period (money owed back, not settled), and refunds the provider failed. */
	refundsPending: number;
	refundsFailed: number;
	/** Refunds: how many, their tickets and money, those put back on sale, and what the gate should expect (sold − refunded). */
	refunds: { refunds: number; tickets: number; amountCents: number; restocked: number; atGate: number };
	/** Every ticket has exactly one valid holder: transfers accepted and open, and every way that could be broken. */
	holders: { transferred: number; pending: number; broken: number };
	/** Every resale has one buyer payment and one seller refund; sold + listed ≤ capacity (resale-store.ts). */
	resale: ResaleAudit;
	ok: boolean;
}

/** `graceSeconds`: how long a sent sale may take to reach D1 before it counts as lost (the API's default is 30). */
export async function auditDrop(env: Env, drop: DropConfig, graceSeconds: number): Promise<Audit> {
	const [stats, recorded, room, ids, refunded, inD1, owed, holders, resale] = await Promise.all([
		shardStats(env, drop.id, drop.shards, graceSeconds * 1000),
		recordedByShard(env.DB, drop.id),
		roomStub(env, drop.id).audit(),
		compareDropOrderIds(env, drop, graceSeconds * 1000),
		refundTotals(env.DB, drop.id),
		recordedNamed(env.DB, drop.id),
		refundsOwed(env.DB, drop.id, graceSeconds * 1000),
		holderAudit(env.DB, drop.id),
		resaleAudit(env.DB, drop),
	]);
	// Before the opening no fan has been admitted: "in order" would be a check passed without looking. A pacer never
	// configured for the drop (no seed commitment) still answers false: it has nothing to vouch for.
	const admission = { ...room, admittedInOrder: room.openedAt === null && room.seedCommitment !== "" ? null : room.admittedInOrder };
	// Given by one shard and not yet credited by the other: stock in flight, not lost.
	// Each shard's counters are read atomically, so a transfer counts on both sides or on its giver's alone.
	const inFlight = stats.reduce((sum, s) => sum + s.given - s.received, 0);
	const shards = stats.map((s) => {
		const { missingInD1, inTransit, unknownInD1 } = ids.shards[s.shard]!;
		return { ...s, recorded: recorded.get(s.shard)?.orders ?? 0, missingInD1, inTransit, unknownInD1 };
	});
	const sum = (f: (s: (typeof shards)[number]) => number) => shards.reduce((acc, s) => acc + f(s), 0);
	// Named units count on the shard that decides them (their pool's).
	const pools = shards.flatMap((s) => s.pools);
	const poolSum = (f: (p: (typeof pools)[number]) => number) => pools.reduce((acc, p) => acc + f(p), 0);
	const totals = {
		sold: sum((s) => s.sold) + poolSum((p) => p.sold),
		held: sum((s) => s.held) + poolSum((p) => p.held),
		remaining: sum((s) => s.remaining) + poolSum((p) => p.free),
		orders: sum((s) => s.orders),
		inFlight,
	};
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
	const named = namedAudit(drop, shards, inD1, sum((s) => s.outboxPending) > 0 || inTransit > 0);
	const load = await dropLoad(env, drop, admission.lines.reduce((a, l) => a + l.joined, 0));
	const windows = drop.presales === undefined ? undefined : await windowAudits(env, drop);
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
		payments: sum((s) => s.payments),
		holdsChargedTwice: sum((s) => s.holdsChargedTwice),
		otherShardsInD1: ids.otherShards,
		balanced,
		named,
		admission,
		...(windows === undefined ? {} : { windows }),
		load,
		refundsPending: owed.pending,
		refundsFailed: owed.failed,
		refunds: { ...refunded, restocked, atGate: recordedTickets - refunded.tickets },
		holders,
		resale,
		ok: holders.broken === 0 && resale.broken === 0 && named.ok && owed.pending === 0 && oversold === 0 && lost === 0 && phantom === 0 && balanced && sum((s) => s.unreconciledCharges) === 0 && sum((s) => s.holdsChargedTwice) === 0 && admission.admittedInOrder !== false && admission.shuffleVerified !== false && admission.commitmentVerified !== false && (windows ?? []).every((w) => w.ok),
	};
}

/** Each window's own room (its shuffle and admission order) and its holds and sales against its capacity. */
async function windowAudits(env: Env, drop: DropConfig) {
	return Promise.all(
		(drop.presales ?? []).map(async (w) => {
			const [room, counts] = await Promise.all([roomStub(env, roomKey(drop.id, w.id)).audit(), windowTotals(env, { ...windowRoomConfig(drop, w), saleWindow: w.id })]);
			const oversold = w.capacity === null ? 0 : Math.max(0, counts.sold + counts.held - w.capacity);
			const admittedInOrder = room.openedAt === null && room.seedCommitment !== "" ? null : room.admittedInOrder;
			const ok = oversold === 0 && admittedInOrder !== false && room.shuffleVerified !== false && room.commitmentVerified !== false;
			return { id: w.id, capacity: w.capacity, sold: counts.sold, held: counts.held, oversold, seedCommitment: room.seedCommitment, commitmentVerified: room.commitmentVerified, shuffleVerified: room.shuffleVerified, admittedThrough: room.admittedThrough, admittedInOrder, ok };
		}),
	);
}

/** Read after everything else the audit asked, so its own calls are in the counts. */
async function dropLoad(env: Env, drop: DropConfig, fans: number): Promise<LoadReport> {
	// One call an object: its total and its methods read together.
	const [room, lines, shards] = await Promise.all([
		roomStub(env, drop.id).loadByMethod(),
		Promise.all(Array.from({ length: drop.lines }, (_, k) => lineStub(env, drop.id, k).load())),
		Promise.all(Array.from({ length: drop.shards }, (_, k) => shardStub(env, drop.id, k).loadByMethod())),
	]);
	return loadReport(fans, [
		{ kind: "room", index: 0, ...room },
		...lines.map((requests, index) => ({ kind: "line" as const, index, requests })),
		...shards.map((load, index) => ({ kind: "shard" as const, index, ...load })),
	]);
}

/**
 * Each type's units where they are decided (its pools, or the general stock of the shards),
 * set against the fans' orders on their home shards and the tickets in D1; each slot against
 * its capacity; every seat sold at most once. `busy`: sales are still on their way to D1.
 */
function namedAudit(
	drop: DropConfig,
	shards: ShardStatsWithUnits[],
	inD1: Awaited<ReturnType<typeof recordedNamed>>,
	busy: boolean,
): AuditReport["named"] {
	const types = typesOf(drop);
	const primary = primaryType(types);
	const pools = shards.flatMap((s) => s.pools);
	const noticesPending = shards.reduce((a, s) => a + s.noticesPending, 0);
	const soldToFans = new Map<string | null, number>();
	for (const s of shards) for (const t of s.soldByType) soldToFans.set(t.ticketType, (soldToFans.get(t.ticketType) ?? 0) + t.sold);
	const rows = types.map((t) => {
		const key = t === primary ? null : t.id;
		const mine = pools.filter((p) => p.typeId === t.id);
		const part =
			t === primary
				? {
						free: shards.reduce((a, s) => a + s.remaining, 0) + shards.reduce((a, s) => a + s.given - s.received, 0),
						held: shards.reduce((a, s) => a + s.held, 0),
						sold: shards.reduce((a, s) => a + s.sold, 0),
					}
				: { free: mine.reduce((a, p) => a + p.free, 0), held: mine.reduce((a, p) => a + p.held, 0), sold: mine.reduce((a, p) => a + p.sold, 0) };
		const fans = soldToFans.get(key) ?? 0;
		const recorded = inD1.byType.get(key) ?? 0;
		return {
			ticketType: t.id,
			kind: t.kind,
			capacity: t.capacity,
			...part,
			soldToFans: fans,
			recorded,
			oversold: Math.max(0, part.sold + part.held - t.capacity, fans - t.capacity, recorded - t.capacity),
			consistent: (noticesPending > 0 || part.sold === fans) && (busy || recorded === fans) && part.free + part.held + part.sold === t.capacity,
		};
	});
	const slots = pools
		.filter((p) => p.pool.startsWith("t:"))
		.map((p) => ({ ticketType: p.typeId, slot: p.pool.slice(2), capacity: p.capacity, sold: p.sold, held: p.held, oversold: Math.max(0, p.sold + p.held - p.capacity) }));
	const seatErrors = pools.reduce((a, p) => a + p.seatErrors, 0);
	const seatsSoldTwice = inD1.seats - inD1.distinctSeats + seatErrors;
	return {
		types: rows,
		slots,
		seatsSold: pools.filter((p) => p.kind === "seats").reduce((a, p) => a + p.sold, 0),
		seatsRecorded: inD1.seats,
		seatsSoldTwice,
		noticesPending,
		ok: seatsSoldTwice === 0 && rows.every((r) => r.oversold === 0 && r.consistent) && slots.every((s) => s.oversold === 0),
	};
}
