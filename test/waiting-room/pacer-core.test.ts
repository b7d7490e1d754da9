// The pacer's synchronous core on its own: the opening and the seed's
// commitment, sealing and placing slots, the pace of batch admission, the
// sell-out and its late look, pause and resume, and reopening. No Worker, no
// RPC, no alarm: each test hands a fresh core the SQLite of a fresh object and
// the time as a number, calls its decisions and reads what they stored, the way
// the pacer (and a simulator) drives it.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type DropConfig, parseCreateDrop } from "../../src/drops/rules";
import type { ShardTotals } from "../../src/inventory/ledger";
import type { LineAudit, SealReport } from "../../src/waiting-room/line-core";
import { pacerAudit } from "../../src/waiting-room/pacer-audit";
import { PacerCore } from "../../src/waiting-room/pacer-core";
import { slotOf } from "../../src/waiting-room/placement";
import { BUSY_TICK_MS, SLOT_MS, TOTALS_MAX_AGE_MS, WAKE_AFTER_MS } from "../../src/waiting-room/timing";
import { watermarkOf } from "../../src/waiting-room/watermark";
import { STALL_MS } from "../../src/waiting-room/admission";
import { sha256Hex } from "../../src/shared/crypto";
import { Sql } from "../../src/shared/sql";
import { validDropBody } from "../support/drop-rules";
import { roomStub } from "../support/room";
import { DAY } from "../support/time";

/** A day ahead, on a slot boundary, so the first slot starts at the opening. */
const T0 = Math.ceil((Date.now() + DAY) / SLOT_MS) * SLOT_MS;
const FIRST_SLOT = slotOf(T0);
const ACCESS_MS = 600_000;
const SEED = "0123456789abcdef0011223344556677";
const COMMITMENT = await sha256Hex(SEED);

function dropConfig(over: Record<string, unknown> = {}): DropConfig {
	const now = Date.now();
	const body = validDropBody(now, {
		opensAt: new Date(T0).toISOString(),
		capacity: 100,
		lines: 2,
		shards: 1,
		admission: { batchSize: 2, intervalMs: 1_000, activeMultiple: 20 },
		...over,
	});
	const at = new Date(now).toISOString();
	return { ...parseCreateDrop(body, now), id: "pacer-core-drop", createdAt: at, updatedAt: at, promoterId: null };
}

/** Runs `test` inside a fresh object with a fresh core over its SQLite (`restart` makes another core over the same tables). */
function onCore<T>(test: (core: PacerCore, restart: () => PacerCore) => T, accessWindowMs = ACCESS_MS): Promise<T> {
	return runInDurableObject(roomStub(`pacer-core-${crypto.randomUUID()}`), (_room, state) => {
		const restart = () => new PacerCore(new Sql(state.storage.sql), (fn) => state.storage.transactionSync(fn), accessWindowMs);
		return test(restart(), restart);
	});
}

/** The settings stored with the seed, as the first configure leaves them. */
function configured(core: PacerCore, drop: DropConfig): void {
	core.commitSeed(SEED, COMMITMENT);
	core.storeConfig(drop);
}

/** Opened at T0 with each line's pre-queue size. */
function opened(core: PacerCore, drop: DropConfig, counts: number[]): void {
	configured(core, drop);
	expect(core.startTick(T0)).toEqual({ kind: "open", drop });
	core.opened(FIRST_SLOT, counts, T0);
}

const free = (remaining: number, more: Partial<ShardTotals> = {}): ShardTotals => ({ remaining, held: 0, sold: 0, buyers: 0, ...more });
const lineAudit = (line: number, prequeue: number, slots: LineAudit["slots"] = []): LineAudit => ({ line, joined: prequeue, prequeue, consistent: true, slots });

describe("the opening and the seed's commitment", () => {
	it("draws the seed once and publishes only its commitment before the opening", async () => {
		const drop = dropConfig();
		const seen = await onCore((core) => {
			const before = core.needsSeed();
			core.commitSeed(SEED, COMMITMENT);
			// A second configure's draw, racing the first: the first seed stands.
			core.commitSeed("ffffffffffffffffffffffffffffffff", "another commitment");
			core.storeConfig(drop);
			return { before, after: core.needsSeed(), state: core.state(), watermark: watermarkOf(core, drop, T0 - 1_000), start: core.startTick(T0 - 1_000) };
		});
		expect(seen.before).toBe(true);
		expect(seen.after).toBe(false);
		expect(seen.state).toMatchObject({ seed: SEED, seed_commitment: COMMITMENT, opened_at: null });
		expect(seen.watermark).toMatchObject({ opened: false, seedCommitment: COMMITMENT, seed: null, prequeue: null, sealedThrough: null, lastPosition: 0 });
		expect(seen.start).toEqual({ kind: "wait", until: T0 });
	});

	it("opens once: the pre-queue takes positions 1..size, the seed is revealed, and later joins are sealed from the first slot", async () => {
		const drop = dropConfig();
		const seen = await onCore((core) => {
			opened(core, drop, [3, 2]);
			// Asked again (a tick that ran beside it), the opening changes nothing.
			core.opened(FIRST_SLOT + 4, [9, 9], T0 + 2_000);
			return { state: core.state(), watermark: watermarkOf(core, drop, T0 + 10), start: core.startTick(T0 + 10), alarm: core.alarmForSettings(drop, T0 + 10) };
		});
		expect(seen.state).toMatchObject({ opened_at: T0, prequeue_size: 5, next_position: 6, sealed_through: FIRST_SLOT - 1 });
		expect(seen.watermark).toMatchObject({ opened: true, seed: SEED, seedCommitment: COMMITMENT, prequeue: [3, 2], lastPosition: 5, sealedThrough: FIRST_SLOT - 1 });
		expect(seen.start).toEqual({ kind: "run", drop });
		// New settings after the opening: the pacer looks at once.
		expect(seen.alarm).toBe(T0 + 10);
	});

	it("knows no drop without its seed row: settings alone are a pacer of an engine before lines", async () => {
		const drop = dropConfig();
		const seen = await onCore((core, restart) => {
			core.storeConfig(drop);
			const later = restart();
			return { config: later.config(), start: later.startTick(T0) };
		});
		expect(seen.config).toBeNull();
		expect(seen.start).toEqual({ kind: "idle" });
	});

	it("vouches for the shuffle only when every line holds the pre-queue it was drawn over", async () => {
		const drop = dropConfig();
		const seen = await onCore((core) => {
			configured(core, drop);
			const before = pacerAudit(core, core.state(), [lineAudit(0, 3), lineAudit(1, 2)], null);
			core.opened(FIRST_SLOT, [3, 2], T0);
			const state = core.state();
			return {
				before,
				agreeing: pacerAudit(core, state, [lineAudit(0, 3), lineAudit(1, 2)], true),
				shrunk: pacerAudit(core, state, [lineAudit(0, 3), lineAudit(1, 1)], true),
				reordered: pacerAudit(core, state, [lineAudit(0, 3), { ...lineAudit(1, 2), consistent: false }], true),
			};
		});
		expect(seen.before).toMatchObject({ seed: null, shuffleVerified: null, prequeue: null, openedAt: null });
		expect(seen.agreeing).toMatchObject({ seed: SEED, shuffleVerified: true, prequeueSize: 5, placed: 5, admittedInOrder: true, openedAt: new Date(T0).toISOString() });
		expect(seen.shrunk.shuffleVerified).toBe(false);
		expect(seen.reordered.shuffleVerified).toBe(false);
	});
});

describe("sealing and placing slots", () => {
	it("seals every slot up to the present one and lays the blocks out by slot, then line, after the pre-queue", async () => {
		const drop = dropConfig();
		const now = T0 + SLOT_MS + 10;
		const seen = await onCore((core) => {
			configured(core, drop);
			// Not open yet: no slot to seal.
			expect(core.sealRequest(2, now)).toBeNull();
			core.opened(FIRST_SLOT, [3, 2], T0);
			const request = core.sealRequest(2, now)!;
			const placed = core.placeSealed(request, [
				{ line: 1, slots: [{ slot: FIRST_SLOT, count: 1 }] },
				{ line: 0, slots: [{ slot: FIRST_SLOT, count: 2 }, { slot: FIRST_SLOT + 1, count: 1 }] },
			]);
			return { request, placed, blocks: core.allPlacements(), watermark: watermarkOf(core, drop, now), again: core.sealRequest(2, now) };
		});
		expect(seen.request).toMatchObject({ sealedThrough: FIRST_SLOT - 1, from: FIRST_SLOT, through: FIRST_SLOT + 1 });
		const prequeue = { seed: SEED, counts: [3, 2] };
		expect(seen.request.lines).toEqual([0, 1].map(() => ({ from: FIRST_SLOT, through: FIRST_SLOT + 1, placements: [], prequeue })));
		expect(seen.placed).toBe(4);
		expect(seen.blocks).toEqual([
			{ slot: FIRST_SLOT, line: 0, start: 6, count: 2 },
			{ slot: FIRST_SLOT, line: 1, start: 8, count: 1 },
			{ slot: FIRST_SLOT + 1, line: 0, start: 9, count: 1 },
		]);
		expect(seen.watermark).toMatchObject({
			lastPosition: 9,
			sealedThrough: FIRST_SLOT + 1,
			placements: [[FIRST_SLOT, 0, 6], [FIRST_SLOT, 1, 8], [FIRST_SLOT + 1, 0, 9]],
		});
		// Within the slot just sealed there is nothing more to seal.
		expect(seen.again).toBeNull();
	});

	it("tells each line where its blocks went on the next seal, and the seed only once", async () => {
		const drop = dropConfig();
		const seen = await onCore((core) => {
			opened(core, drop, [3, 2]);
			core.placeSealed(core.sealRequest(2, T0 + SLOT_MS)!, [
				{ line: 0, slots: [{ slot: FIRST_SLOT, count: 2 }, { slot: FIRST_SLOT + 1, count: 1 }] },
				{ line: 1, slots: [{ slot: FIRST_SLOT, count: 1 }] },
			]);
			const next = core.sealRequest(2, T0 + 3 * SLOT_MS)!;
			core.placeSealed(next, [{ line: 0, slots: [] }, { line: 1, slots: [] }]);
			return { next, later: core.sealRequest(2, T0 + 4 * SLOT_MS)! };
		});
		const bySlot = (ps: { slot: number; start: number }[]) => [...ps].sort((a, b) => a.slot - b.slot);
		expect(seen.next).toMatchObject({ from: FIRST_SLOT + 2, through: FIRST_SLOT + 3 });
		expect(bySlot(seen.next.lines[0]!.placements)).toEqual([{ slot: FIRST_SLOT, start: 6 }, { slot: FIRST_SLOT + 1, start: 9 }]);
		expect(seen.next.lines[1]!.placements).toEqual([{ slot: FIRST_SLOT, start: 8 }]);
		expect(seen.next.lines.map((l) => l.prequeue)).toEqual([null, null]);
		// Delivered: not brought again.
		expect(seen.later.lines.map((l) => l.placements)).toEqual([[], []]);
	});

	it("places nobody twice when another tick sealed the same slots while the lines answered", async () => {
		const drop = dropConfig();
		const reports: SealReport[] = [
			{ line: 0, slots: [{ slot: FIRST_SLOT, count: 2 }] },
			{ line: 1, slots: [{ slot: FIRST_SLOT, count: 1 }] },
		];
		const seen = await onCore((core) => {
			opened(core, drop, [0, 0]);
			const first = core.sealRequest(2, T0 + 10)!;
			const second = core.sealRequest(2, T0 + 20)!;
			return { first: core.placeSealed(first, reports), second: core.placeSealed(second, reports), state: core.state(), blocks: core.allPlacements() };
		});
		expect(seen.first).toBe(3);
		expect(seen.second).toBe(0);
		expect(seen.state.next_position).toBe(4);
		expect(seen.blocks.map((b) => b.start)).toEqual([1, 3]);
	});
});

describe("batch admission", () => {
	it("audits the pace admission kept: the closest two batches and the median gap between them", async () => {
		const drop = dropConfig({ admission: { batchSize: 2, intervalMs: 1_000, activeMultiple: 20 } });
		const seen = await onCore((core) => {
			opened(core, drop, [5, 5]);
			core.recordTotals(drop, free(100), core.reopens, T0);
			const one = pacerAudit(core, core.state(), [], null);
			// Batches 1.3 s, 1.0 s, 2.2 s and 1.1 s apart (a late alarm, on time, a tick skipped, a little late).
			for (const at of [T0 + 10, T0 + 1_310, T0 + 2_310, T0 + 4_510, T0 + 5_610]) core.admitIfDue(drop, free(100), at);
			return { one, five: pacerAudit(core, core.state(), [], null) };
		});
		expect(seen.one).toMatchObject({ batches: 0, closestBatchesMs: null, medianBatchGapMs: null });
		expect(seen.five).toMatchObject({ batches: 5, closestBatchesMs: 1_000, medianBatchGapMs: 1_100 });
	});

	it("admits one batch per interval, counted from when the last went in, in position order, and publishes the pace", async () => {
		const drop = dropConfig({ admission: { batchSize: 2, intervalMs: 1_000, activeMultiple: 20 } });
		const seen = await onCore((core) => {
			opened(core, drop, [5, 0]);
			const pace = core.pace(drop, T0);
			const dueFirst = core.totalsDue(drop, T0);
			core.recordTotals(drop, free(100), core.reopens, T0);
			// Fresh totals, but a batch is due with fans waiting: they are gathered afresh for it.
			const dueForBatch = core.totalsDue(drop, T0 + 10);
			const admitted = [
				core.admitIfDue(drop, free(100), T0 + 10),
				core.admitIfDue(drop, free(100), T0 + 1_009),
				core.admitIfDue(drop, free(100), T0 + 1_010),
				core.admitIfDue(drop, free(100), T0 + 2_010),
				core.admitIfDue(drop, free(100), T0 + 3_010),
			];
			// Nobody waiting: only stale totals are gathered.
			core.recordTotals(drop, free(95), core.reopens, T0 + 3_010);
			return {
				pace,
				dueFirst,
				dueForBatch,
				dueFresh: core.totalsDue(drop, T0 + 3_010 + TOTALS_MAX_AGE_MS - 1),
				dueStale: core.totalsDue(drop, T0 + 3_010 + TOTALS_MAX_AGE_MS),
				admitted,
				batches: core.allBatches(),
				third: core.admittedAt(3),
				sixth: core.admittedAt(6),
				watermark: watermarkOf(core, drop, T0 + 2_010),
			};
		});
		// Before any batch, the configured pace: 2 a second.
		expect(seen.pace).toBe(2);
		expect(seen.dueFirst).toBe(true);
		expect(seen.dueForBatch).toBe(true);
		expect(seen.dueFresh).toBe(false);
		expect(seen.dueStale).toBe(true);
		expect(seen.admitted).toEqual([2, 0, 2, 1, 0]);
		expect(seen.batches).toEqual([
			{ through: 2, at: T0 + 10, count: 2 },
			{ through: 4, at: T0 + 1_010, count: 2 },
			{ through: 5, at: T0 + 2_010, count: 1 },
		]);
		expect(seen.third).toEqual({ ok: true, value: { at: T0 + 1_010 } });
		expect(seen.sixth).toMatchObject({ ok: false, status: 409, code: "not_admitted" });
		expect(seen.watermark).toMatchObject({
			admittedThrough: 5,
			batches: [[2, T0 + 10], [4, T0 + 1_010], [5, T0 + 2_010]],
			batchesFrom: 0,
			batchesComplete: true,
			// 5 fans over the 2 s since the first batch plus one interval.
			pacePerSecond: 5_000 / 3_000,
		});
	});

	it("keeps the fans still shopping within activeMultiple x remaining, until they buy or their turn runs out", async () => {
		const drop = dropConfig({ admission: { batchSize: 10, intervalMs: 250, activeMultiple: 2 } });
		const seen = await onCore(
			(core) => {
				opened(core, drop, [20, 0]);
				const shopping = free(3, { held: 1 });
				return [
					core.admitIfDue(drop, shopping, T0),
					// Six still shopping for three tickets: nobody more.
					core.admitIfDue(drop, shopping, T0 + 250),
					// Two of them bought: four shop for three tickets, two more may.
					core.admitIfDue(drop, free(3, { held: 1, sold: 2, buyers: 2 }), T0 + 500),
					// The first batch's turn has run out: only the second's two still shop.
					core.admitIfDue(drop, free(3, { held: 1, sold: 2, buyers: 2 }), T0 + 60_001),
				];
			},
			60_000,
		);
		expect(seen).toEqual([6, 0, 2, 4]);
	});

	it("takes the admitted fans as gone when tickets sit free and nobody has held one for STALL_MS", async () => {
		const drop = dropConfig({ admission: { batchSize: 4, intervalMs: 250, activeMultiple: 1 } });
		const seen = await onCore((core) => {
			opened(core, drop, [10, 0]);
			return [
				core.admitIfDue(drop, free(4), T0),
				// Someone holds a ticket: the four are at work, until a look sees the ticket free again.
				core.admitIfDue(drop, free(3, { held: 1 }), T0 + 2_000),
				core.admitIfDue(drop, free(4), T0 + 2_500),
				core.admitIfDue(drop, free(4), T0 + 2_500 + STALL_MS - 1),
				core.admitIfDue(drop, free(4), T0 + 2_500 + STALL_MS),
			];
		});
		expect(seen).toEqual([4, 0, 0, 0, 4]);
	});

	it("counts fans at work until the first look that sees no holds, however far apart the looks (a watched dry drop looks every 10 s)", async () => {
		const drop = dropConfig({ admission: { batchSize: 4, intervalMs: 250, activeMultiple: 1 } });
		const seen = await onCore((core) => {
			opened(core, drop, [10, 0]);
			return [
				core.admitIfDue(drop, free(4), T0),
				core.admitIfDue(drop, free(0, { held: 4 }), T0 + 1_000),
				// The holds ended somewhere in the 12 s to this look: not a stall yet, the four may still be buying.
				core.admitIfDue(drop, free(4), T0 + 1_000 + STALL_MS + 2_000),
				core.admitIfDue(drop, free(4), T0 + 1_000 + 2 * STALL_MS + 2_000),
			];
		});
		expect(seen).toEqual([4, 0, 0, 4]);
	});
});

describe("the sell-out and the late look", () => {
	it("marks the drop sold out when every ticket is sold, not when stock is only out of sight", async () => {
		const drop = dropConfig({ capacity: 10 });
		const seen = await onCore((core) => {
			opened(core, drop, [4, 0]);
			// Every ticket held or between shards, one unsold: not sold out.
			core.recordTotals(drop, free(0, { sold: 9, buyers: 9 }), core.reopens, T0 + 10);
			const before = core.soldOut();
			core.recordTotals(drop, free(0, { sold: 10, buyers: 10 }), core.reopens, T0 + 20);
			const after = core.soldOut();
			// The late look taken, the pacer sleeps.
			core.afterSellOut(0, T0 + 20);
			core.afterSellOut(0, T0 + 2_020);
			const sleeping = core.state().sleeping;
			return { before, after, sleeping, watermark: watermarkOf(core, drop, T0 + 30), stats: core.stats(12), stale: core.readerFindsTotalsStale(T0 + 60_000) };
		});
		expect(seen.before).toBe(false);
		expect(seen.after).toBe(true);
		expect(seen.sleeping).toBe(1);
		expect(seen.watermark).toMatchObject({ soldOut: true, remaining: 0, sold: 10 });
		// Sold out, the fans in line still wait: for the tickets that come back.
		expect(seen.stats).toEqual({ seedCommitment: COMMITMENT, joined: 12, waiting: 12, admitted: 0, placed: 4 });
		// Asleep with old totals, but sold out: a reader gets the totals as they are.
		expect(seen.stale).toBe(false);
	});

	it("ticks on while late joins are placed, takes one more look WAKE_AFTER_MS later, then sleeps; a restart owes the look again", async () => {
		const drop = dropConfig({ capacity: 1 });
		const seen = await onCore((core, restart) => {
			opened(core, drop, [1, 0]);
			core.recordTotals(drop, free(0, { sold: 1, buyers: 1 }), core.reopens, T0);
			const steps = [core.afterSellOut(1, T0 + 100), core.afterSellOut(0, T0 + 600)];
			const awake = core.state().sleeping;
			steps.push(core.afterSellOut(0, T0 + 2_600));
			const asleep = core.state().sleeping;
			// A join placed after that owes its own late look.
			steps.push(core.afterSellOut(1, T0 + 9_000), core.afterSellOut(0, T0 + 9_500), core.afterSellOut(0, T0 + 11_500));
			return { steps, awake, asleep, restarted: restart().afterSellOut(0, T0 + 20_000) };
		});
		expect(seen.steps).toEqual([
			T0 + 100 + BUSY_TICK_MS,
			T0 + 600 + WAKE_AFTER_MS + BUSY_TICK_MS,
			null,
			T0 + 9_000 + BUSY_TICK_MS,
			T0 + 9_500 + WAKE_AFTER_MS + BUSY_TICK_MS,
			null,
		]);
		expect(seen.awake).toBe(0);
		expect(seen.asleep).toBe(1);
		expect(seen.restarted).toBe(T0 + 20_000 + WAKE_AFTER_MS + BUSY_TICK_MS);
	});
});

describe("pause and resume", () => {
	it("a pause: no batch; the joins the lines take are placed, then no alarm until a line wakes it; resuming looks at once and admission goes on", async () => {
		const drop = dropConfig();
		const paused = { ...drop, paused: true };
		const seen = await onCore((core) => {
			configured(core, paused);
			// Paused before the opening: no alarm, an idle tick, no wake (nobody has a position yet).
			const beforeOpening = { alarm: core.alarmForSettings(paused, T0 - 5_000), tick: core.startTick(T0 - 5_000), wake: core.wake() };
			core.storeConfig(drop);
			const opening = core.alarmForSettings(drop, T0 - 5_000);
			core.opened(FIRST_SLOT, [0, 0], T0);
			core.recordTotals(drop, free(100), core.reopens, T0);
			// Nobody joining or waiting: asleep.
			const slept = core.endTick(0, T0);
			core.placeSealed(core.sealRequest(2, T0 + 10)!, [{ line: 0, slots: [{ slot: FIRST_SLOT, count: 3 }] }, { line: 1, slots: [] }]);
			core.storeConfig(paused);
			core.lateLookDue = true;
			const alarm = core.alarmForSettings(paused, T0 + 20);
			const tick = core.startTick(T0 + 20);
			// A tick that began before the pause, with the settings it read then.
			const batch = core.admitIfDue(drop, free(100), T0 + 20);
			// The lines took two more joins meanwhile: they are placed, and the pacer ticks on while it places some.
			const placed = core.placeSealed(core.sealRequest(2, T0 + SLOT_MS)!, [{ line: 0, slots: [{ slot: FIRST_SLOT + 1, count: 2 }] }, { line: 1, slots: [] }]);
			const busy = core.afterSellOut(placed, T0 + SLOT_MS);
			// Then one more look for a join in the slot after, and asleep: no alarm.
			const lateLook = core.afterSellOut(0, T0 + 2 * SLOT_MS);
			const asleep = core.afterSellOut(0, T0 + 3 * SLOT_MS);
			const whilePaused = { alarm, tick, batch, placed, busy, lateLook, asleep, wake: core.wake(), wakeAgain: core.wake(), state: core.state() };
			core.storeConfig(drop);
			return {
				beforeOpening,
				opening,
				slept,
				whilePaused,
				alarm: core.alarmForSettings(drop, T0 + 30),
				tick: core.startTick(T0 + 30),
				batch: core.admitIfDue(drop, free(100), T0 + 30),
			};
		});
		expect(seen.beforeOpening).toEqual({ alarm: null, tick: { kind: "idle" }, wake: false });
		expect(seen.opening).toBe(T0);
		expect(seen.slept).toBeNull();
		expect(seen.whilePaused).toMatchObject({
			alarm: T0 + 20,
			tick: { kind: "paused", drop: paused },
			batch: 0,
			placed: 2,
			busy: T0 + SLOT_MS + BUSY_TICK_MS,
			lateLook: T0 + 2 * SLOT_MS + WAKE_AFTER_MS + BUSY_TICK_MS,
			asleep: null,
			wake: true,
			wakeAgain: false,
			state: { admitted_through: 0, next_position: 6 },
		});
		expect(seen.alarm).toBe(T0 + 30);
		expect(seen.tick).toEqual({ kind: "run", drop });
		expect(seen.batch).toBe(2);
	});

	it("sleeps with nobody joining or waiting and ticks on while anyone is; a reader of stale totals wakes it", async () => {
		const drop = dropConfig();
		const seen = await onCore((core) => {
			opened(core, drop, [2, 0]);
			core.recordTotals(drop, free(100), core.reopens, T0);
			const waiting = core.endTick(0, T0);
			core.admitIfDue(drop, free(100), T0);
			const placing = core.endTick(1, T0);
			const nobody = core.endTick(0, T0 + 1);
			return {
				waiting,
				placing,
				nobody,
				sleeping: core.state().sleeping,
				freshTotals: core.readerFindsTotalsStale(T0 + TOTALS_MAX_AGE_MS - 1),
				staleTotals: core.readerFindsTotalsStale(T0 + TOTALS_MAX_AGE_MS),
				wake: core.wake(),
				afterWake: core.readerFindsTotalsStale(T0 + TOTALS_MAX_AGE_MS),
			};
		});
		expect(seen).toEqual({
			waiting: T0 + BUSY_TICK_MS,
			placing: T0 + BUSY_TICK_MS,
			nobody: null,
			sleeping: 1,
			freshTotals: false,
			staleTotals: true,
			wake: true,
			afterWake: false,
		});
	});
});

describe("reopening", () => {
	it("forgets the sell-out, asks for fresh totals at once, admits again and owes a new late look", async () => {
		const drop = dropConfig({ capacity: 2 });
		const seen = await onCore((core) => {
			opened(core, drop, [4, 0]);
			core.recordTotals(drop, free(2), core.reopens, T0);
			core.admitIfDue(drop, free(2), T0);
			core.recordTotals(drop, free(0, { sold: 2, buyers: 2 }), core.reopens, T0 + 1_000);
			core.afterSellOut(0, T0 + 1_000);
			const slept = core.afterSellOut(0, T0 + 3_000);
			const reopened = core.reopen();
			const state = core.state();
			const due = core.totalsDue(drop, T0 + 3_001);
			const notSoldOut = core.reopen();
			core.recordTotals(drop, free(1, { sold: 1, buyers: 1 }), core.reopens, T0 + 3_001);
			const batch = core.admitIfDue(drop, free(1, { sold: 1, buyers: 1 }), T0 + 3_001);
			core.recordTotals(drop, free(0, { sold: 2, buyers: 2 }), core.reopens, T0 + 4_000);
			return { slept, reopened, state, due, notSoldOut, batch, soldOutAgain: core.soldOut(), lateLook: core.afterSellOut(0, T0 + 4_000) };
		});
		expect(seen.slept).toBeNull();
		expect(seen.reopened).toBe(true);
		expect(seen.state).toMatchObject({ sold_out: 0, totals_at: null, sleeping: 0 });
		expect(seen.due).toBe(true);
		// Not sold out: nothing to forget, no alarm.
		expect(seen.notSoldOut).toBe(false);
		// After a sell-out a ticket that came back is offered to one fan, the next in line (the returns line).
		expect(seen.batch).toBe(1);
		expect(seen.soldOutAgain).toBe(true);
		expect(seen.lateLook).toBe(T0 + 4_000 + WAKE_AFTER_MS + BUSY_TICK_MS);
	});

	it("a look at the totals that began before a reopening does not mark the drop sold out from them", async () => {
		const drop = dropConfig({ capacity: 1 });
		const seen = await onCore((core) => {
			opened(core, drop, [1, 0]);
			const asked = core.reopens;
			core.reopen();
			core.recordTotals(drop, free(0, { sold: 1, buyers: 1 }), asked, T0 + 10);
			const older = core.soldOut();
			core.recordTotals(drop, free(0, { sold: 1, buyers: 1 }), core.reopens, T0 + 20);
			return { older, newer: core.soldOut(), totals: core.totals(drop) };
		});
		expect(seen.older).toBe(false);
		expect(seen.newer).toBe(true);
		expect(seen.totals).toEqual(free(0, { sold: 1, buyers: 1 }));
	});
});
