// The queue figures minute by minute: derived exactly from the pacer's placements
// and batches (known joins, admissions and waits per minute), joined with D1's
// buyers, sales, refunds and times from admission to purchase, and the shards'
// fans who held and holds run out, answered as JSON and CSV, the same after the
// pacer restarts and after the shards forget old holds, and matching what really
// happened on a live drop.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { config } from "../../src/shared/config";
import { queueMinutes } from "../../src/waiting-room/queue-minutes";
import { SLOT_MS } from "../../src/waiting-room/timing";
import type { QueueStats } from "../../src/contract/queue-answers";
import { WIDE_OPEN, createDrop, getDrop } from "./../support/drops";
import { admittedFans, hold, purchase } from "../support/fans";
import { restartObjects } from "../support/objects";
import { movePacerClock, roomStub } from "../support/room";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { QUEUE_MINUTES_MAX_AGE_MS } from "../../src/waiting-room/queue-minutes";
import { saleMessage, storeSales, waitForOrders } from "../support/sales";
import { adminFetch } from "../support/worker";
import { shardStub } from "../support/shards";
import type { InventoryShard } from "../../src/inventory/inventory-shard";

// A minute long past, so every turn in it has ended.
const M = Date.UTC(2025, 0, 1, 12, 0, 0);
const slot = (ms: number) => Math.floor(ms / SLOT_MS);
const minute = (k: number) => new Date(M + k * 60_000).toISOString();

// Three fans in the pre-queue; two join at 12:00:10, four at 12:01:10 (three on line 0, one on line 1).
const PLACEMENTS = [
	{ slot: slot(M + 10_000), line: 0, start: 4, count: 2 },
	{ slot: slot(M + 70_000), line: 0, start: 6, count: 3 },
	{ slot: slot(M + 70_000), line: 1, start: 9, count: 1 },
];
// Four admitted at 12:00:20, three at 12:01:20, two at 12:02:10.
const BATCHES = [
	{ at: M + 20_000, count: 4, through: 4 },
	{ at: M + 80_000, count: 3, through: 7 },
	{ at: M + 130_000, count: 2, through: 9 },
];

describe("the queue's figures from the pacer's tables", () => {
	it("counts joins and admissions per minute and the wait of every fan admitted", () => {
		const window = 600_000;
		const q = queueMinutes({ openedAt: M, prequeueSize: 3, placements: PLACEMENTS, batches: BATCHES, accessWindowMs: window, now: M + 700_000 });
		expect(q).toMatchObject({ openedAt: M, prequeue: 3, joined: 9, admitted: 9, turnsEnded: 7 });
		// Waits: pre-queue 20 s ×3, 10 s ×1 | 70 s ×1, 10 s ×2 | 60 s ×2.
		expect(q.wait).toEqual({ p50: 20, p90: 70, max: 70 });
		const rows = new Map(q.minutes.map((m) => [m.at, m]));
		expect(rows.get(M)).toEqual({ at: M, arrivals: 2, admitted: 4, turnsEnded: 0, wait: { p50: 20, p90: 20, max: 20 } });
		expect(rows.get(M + 60_000)).toEqual({ at: M + 60_000, arrivals: 4, admitted: 3, turnsEnded: 0, wait: { p50: 10, p90: 70, max: 70 } });
		expect(rows.get(M + 120_000)).toEqual({ at: M + 120_000, arrivals: 0, admitted: 2, turnsEnded: 0, wait: { p50: 60, p90: 60, max: 60 } });
		// Turns of 10 minutes: the first two batches' ended by now (12:11:40), the third's (12:12:10) not yet.
		expect(rows.get(M + 600_000)!.turnsEnded).toBe(4);
		expect(rows.get(M + 660_000)!.turnsEnded).toBe(3);
		expect(q.minutes.reduce((sum, m) => sum + m.turnsEnded, 0)).toBe(7);
	});

	it("gives no wait before anyone is admitted, and splits a batch that spans the pre-queue and later blocks", () => {
		const none = queueMinutes({ openedAt: M, prequeueSize: 2, placements: [], batches: [], accessWindowMs: 1000, now: M });
		expect(none).toMatchObject({ joined: 2, admitted: 0, wait: null, minutes: [] });
		const one = queueMinutes({ openedAt: M, prequeueSize: 1, placements: [PLACEMENTS[0]!], batches: [{ at: M + 40_000, count: 3, through: 3 }], accessWindowMs: 1000, now: M });
		expect(one.wait).toEqual({ p50: 30, p90: 40, max: 40 });
	});
});

/** A drop whose pacer tables say what PLACEMENTS and BATCHES say (its real opening is a day away, so no tick changes them). */
async function scriptedDrop(): Promise<string> {
	const drop = await createDrop({ opensAt: new Date(Date.now() + 86_400_000).toISOString(), lines: 2, capacity: 50 });
	await runInDurableObject(roomStub(drop.id), (_room, state) => {
		const sql = state.storage.sql;
		sql.exec(`UPDATE pacer SET opened_at = ?, prequeue_size = 3, next_position = 10, admitted_through = 9, last_admission_at = ? WHERE id = 1`, M, M + 130_000);
		for (const p of PLACEMENTS) sql.exec(`INSERT INTO placements (slot, line, start, count) VALUES (?, ?, ?, ?)`, p.slot, p.line, p.start, p.count);
		for (const b of BATCHES) sql.exec(`INSERT INTO batches (at, count, through, buyers_before) VALUES (?, ?, ?, 0)`, b.at, b.count, b.through);
	});
	const at = (ms: number) => new Date(M + ms).toISOString();
	// fan-a admitted at 12:00:20 buys 10 s and 110 s later; fan-b admitted at 12:01:20 buys 20 s later.
	const sales = [
		saleMessage({ dropId: drop.id, fanId: "fan-a", quantity: 2, createdAt: at(30_000), admittedAt: at(20_000) }),
		saleMessage({ dropId: drop.id, fanId: "fan-b", quantity: 1, createdAt: at(100_000), admittedAt: at(80_000) }),
		saleMessage({ dropId: drop.id, fanId: "fan-a", quantity: 1, createdAt: at(130_000), admittedAt: at(20_000) }),
	];
	// On shard 0: fan-a and fan-b held and bought; fan-c held at 12:02:15 and let it run out at 12:03:30 (2 tickets);
	// fan-d held at 12:02:20 and released it. Four fans shopped, the first two in the first two minutes.
	await runInDurableObject(shardStub(drop.id, 0), (_shard, state) => {
		const holds: [string, string, number, number, number, string][] = [
			["h_0_scriptA1", "fan-a", 2, M + 25_000, M + 145_000, "purchased"],
			["h_0_scriptB1", "fan-b", 1, M + 90_000, M + 210_000, "purchased"],
			["h_0_scriptA2", "fan-a", 1, M + 125_000, M + 245_000, "purchased"],
			["h_0_scriptC1", "fan-c", 2, M + 135_000, M + 210_000, "expired"],
			["h_0_scriptD1", "fan-d", 1, M + 140_000, M + 260_000, "released"],
		];
		for (const h of holds) state.storage.sql.exec(`INSERT INTO holds (hold_id, fan_id, quantity, created_at, expires_at, state) VALUES (?, ?, ?, ?, ?, ?)`, ...h);
	});
	await storeSales(sales);
	const refund = (id: string, state: string) =>
		env.DB.prepare(
			`INSERT INTO refunds (refund_id, order_id, drop_id, shard, tickets, amount_cents, currency, state, created_at, updated_at) VALUES (?, ?, ?, 0, 1, 2500, 'USD', ?, ?, ?)`,
		).bind(id, sales[0]!.orderId, drop.id, state, at(185_000), at(185_000));
	await env.DB.batch([refund(`r_${drop.id}_1`, "refunded"), refund(`r_${drop.id}_2`, "failed")]);
	return drop.id;
}

async function readStats(dropId: string, query = ""): Promise<QueueStats> {
	const res = await adminFetch(`/api/admin/drops/${dropId}/queue-stats${query}`);
	expect(res.status).toBe(200);
	return (await res.json()) as QueueStats;
}

describe("GET /api/admin/drops/:id/queue-stats", () => {
	it("answers a scripted drop's figures per minute, pacer's and D1's side by side, and the same as CSV", async () => {
		const dropId = await scriptedDrop();
		const stats = await readStats(dropId);
		expect(stats.openedAt).toBe(minute(0));
		expect(stats.totals).toEqual({
			joined: 9, prequeue: 3, admitted: 9, waiting: 0, turnsEnded: 9, buyers: 2, conversion: 0.2222,
			leftWithoutBuying: 7, leftWithoutBuyingExact: true, wait: { p50: 20, p90: 70, max: 70 },
			orders: 3, tickets: 4, salesCents: 10_000, refundedTickets: 1, refundsCents: 2500,
			// Of the 7 who left without buying, fan-c and fan-d held first; the other 5 never held.
			shoppers: 4, leftAfterHolding: 2, leftWithoutHolding: 5,
			purchase: { p50: 20, p90: 110, max: 110 }, expiredHolds: 1, expiredTickets: 2,
		});
		const rows = new Map(stats.minutes.map((m) => [m.minute, m]));
		expect(rows.get(minute(0))).toEqual({
			minute: minute(0), arrivals: 2, admitted: 4, turnsEnded: 0, wait: { p50: 20, p90: 20, max: 20 },
			buyers: 1, orders: 1, tickets: 2, salesCents: 5000, refundedTickets: 0, refundsCents: 0,
			purchase: { p50: 10, p90: 10, max: 10 }, shoppers: 1, expiredHolds: 0, expiredTickets: 0,
		});
		expect(rows.get(minute(1))).toMatchObject({ arrivals: 4, admitted: 3, wait: { p50: 10, p90: 70, max: 70 }, buyers: 1, orders: 1, tickets: 1, purchase: { p50: 20, p90: 20, max: 20 }, shoppers: 1 });
		// fan-a's second order is no new buyer, nor a new shopper; fan-c and fan-d first held in this minute.
		expect(rows.get(minute(2))).toMatchObject({ arrivals: 0, admitted: 2, buyers: 0, orders: 1, tickets: 1, purchase: { p50: 110, p90: 110, max: 110 }, shoppers: 2 });
		// The failed refund is not a return; fan-c's hold that ran out is.
		expect(rows.get(minute(3))).toMatchObject({ admitted: 0, refundedTickets: 1, refundsCents: 2500, purchase: null, expiredHolds: 1, expiredTickets: 2 });
		const window = config(env).accessTokenSeconds * 1000;
		expect(stats.minutes.filter((m) => m.turnsEnded > 0).map((m) => [m.minute, m.turnsEnded])).toEqual([
			[new Date(M + 20_000 + window).toISOString().slice(0, 16) + ":00.000Z", 4],
			[new Date(M + 80_000 + window).toISOString().slice(0, 16) + ":00.000Z", 3],
			[new Date(M + 130_000 + window).toISOString().slice(0, 16) + ":00.000Z", 2],
		]);
		expect(stats.minutes.map((m) => m.minute)).toEqual([...stats.minutes.map((m) => m.minute)].sort());

		for (const ask of [() => adminFetch(`/api/admin/drops/${dropId}/queue-stats?format=csv`), () => adminFetch(`/api/admin/drops/${dropId}/queue-stats`, { headers: { accept: "text/csv" } })]) {
			const res = await ask();
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toContain("text/csv");
			const lines = (await res.text()).trim().split("\r\n");
			expect(lines[0]).toBe(
				"minute,arrivals,admitted,turns_ended,wait_p50_s,wait_p90_s,wait_max_s,buyers,orders,tickets,sales_cents,refunded_tickets,refunds_cents," +
					"shoppers,purchase_p50_s,purchase_p90_s,purchase_max_s,expired_holds,expired_tickets",
			);
			expect(lines.length).toBe(stats.minutes.length + 1);
			expect(lines[1]).toBe(`${minute(0)},2,4,0,20,20,20,1,1,2,5000,0,0,1,10,10,10,0,0`);
			expect(lines[4]).toBe(`${minute(3)},0,0,0,,,,0,0,0,0,1,2500,0,,,,1,2`);
		}
	});

	it("reads the same after the pacer restarts, and a read writes nothing", async () => {
		const dropId = await scriptedDrop();
		const before = await readStats(dropId);
		const tables = () =>
			runInDurableObject(roomStub(dropId), (_room, state) => ({
				pacer: state.storage.sql.exec(`SELECT * FROM pacer`).toArray(),
				batches: state.storage.sql.exec(`SELECT * FROM batches`).toArray(),
				placements: state.storage.sql.exec(`SELECT * FROM placements`).toArray(),
			}));
		const stored = await tables();
		await restartObjects([() => roomStub(dropId)]);
		expect(await readStats(dropId)).toEqual(before);
		expect(await tables()).toEqual(stored);
	});

	it("keeps the shards' figures when their prune forgets the finished holds a day on, and counts each shopper once", async () => {
		const dropId = await scriptedDrop();
		const before = await readStats(dropId);
		const count = () => runInDurableObject(shardStub(dropId, 0), (_s, state) => state.storage.sql.exec(`SELECT COUNT(*) AS n FROM holds`).one().n as number);
		expect(await count()).toBe(5);
		// Two days on, the alarm's prune forgets fan-c's and fan-d's holds (the bought ones stay).
		await runInDurableObject(shardStub(dropId, 0), async (shard: InventoryShard) => {
			shard.clock = () => Date.now() + 2 * 86_400_000;
			await shard.alarm();
		});
		expect(await count()).toBe(3);
		const after = await readStats(dropId);
		expect(after.minutes).toEqual(before.minutes);
		expect(after.totals).toEqual(before.totals);
		// A second prune with nothing left to forget folds nothing twice.
		await runInDurableObject(shardStub(dropId, 0), async (shard: InventoryShard) => {
			shard.clock = () => Date.now() + 2 * 86_400_000 + 10_000;
			await shard.alarm();
		});
		expect((await readStats(dropId)).totals).toEqual(before.totals);
	});

	it("answers from the pacer's last figures for a few seconds, then derives them afresh", async () => {
		const dropId = await scriptedDrop();
		expect((await readStats(dropId)).totals.admitted).toBe(9);
		// A tenth fan placed and admitted at 12:03:00 (a batch of one).
		await runInDurableObject(roomStub(dropId), (_room, state) => {
			state.storage.sql.exec(`INSERT INTO placements (slot, line, start, count) VALUES (?, 0, 10, 1)`, slot(M + 175_000));
			state.storage.sql.exec(`INSERT INTO batches (at, count, through, buyers_before) VALUES (?, 1, 10, 0)`, M + 180_000);
		});
		expect((await readStats(dropId)).totals.admitted).toBe(9);
		await runInDurableObject(roomStub(dropId), (room: WaitingRoom) => movePacerClock(room, QUEUE_MINUTES_MAX_AGE_MS));
		const fresh = await readStats(dropId);
		expect(fresh.totals).toMatchObject({ joined: 10, admitted: 10 });
		expect(fresh.minutes.find((m) => m.minute === minute(3))).toMatchObject({ admitted: 1, wait: { p50: 5, p90: 5, max: 5 } });
	});

	it("refuses an unknown format with 422 and an unknown drop with 404, as JSON", async () => {
		const dropId = await scriptedDrop();
		const bad = await adminFetch(`/api/admin/drops/${dropId}/queue-stats?format=xml`);
		expect(bad.status).toBe(422);
		expect(((await bad.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: "invalid_value", field: "format" });
		const unknown = await adminFetch(`/api/admin/drops/d_no_such_drop_here/queue-stats`);
		expect(unknown.status).toBe(404);
		expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("not_found");
	});

	it("matches a live drop: the fans who joined, were admitted and bought, and their running turns", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, capacity: 20 });
		const tokens = await admittedFans(drop.id, ["live-1", "live-2", "live-3"]);
		const h = await hold(drop.id, tokens.get("live-2")!, 2);
		expect(h.status).toBe(201);
		const p = await purchase(drop.id, tokens.get("live-2")!, ((await h.json()) as { holdId: string }).holdId);
		expect(p.status).toBe(201);
		await waitForOrders(drop.id, 1);
		const stats = await readStats(drop.id);
		const view = await getDrop(drop.id);
		expect(stats.totals).toMatchObject({ joined: 3, admitted: 3, waiting: 0, buyers: 1, orders: 1, tickets: 2, conversion: 0.3333 });
		expect(view.stats).toMatchObject({ joined: 3, admitted: 3 });
		// Every turn is still running: nobody can be said to have left yet.
		expect(stats.totals).toMatchObject({ turnsEnded: 0, leftWithoutBuying: 0, leftAfterHolding: 0, leftWithoutHolding: 0, leftWithoutBuyingExact: false });
		// live-2 held and bought within seconds of their admission (the purchase kept when their turn began).
		expect(stats.totals).toMatchObject({ shoppers: 1, expiredHolds: 0 });
		expect(stats.totals.purchase).not.toBeNull();
		expect(stats.totals.purchase!.max).toBeLessThan(60);
		const [row] = await env.DB.prepare(`SELECT admitted_at FROM orders WHERE drop_id = ?`).bind(drop.id).raw<[string | null]>();
		expect(row![0]).not.toBeNull();
		expect(stats.totals.wait).not.toBeNull();
		expect(stats.totals.wait!.max).toBeLessThan(60);
		expect(stats.minutes.reduce((sum, m) => sum + m.admitted, 0)).toBe(3);
		expect(stats.minutes.reduce((sum, m) => sum + m.arrivals, 0) + stats.totals.prequeue).toBe(3);
	});
});
