// The pacer and a dry drop: with nothing free anywhere and holds outstanding, the shards
// watch for a change, so the pacer stops asking every shard every second; a hold that
// ends tells it, and it looks again at once (the drop sells again). And the lines of a
// drop nobody joins any more are sealed every few seconds, not every tick.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { createDrop } from "../support/drops";
import { hold, join, status } from "../support/fans";
import { admitBatch, lineStub, movePacerClock, openRoom, roomStub, tickRoom } from "../support/room";
import { shardStub } from "../support/shards";
import { HOUR } from "../support/time";

const totalsCalls = (dropId: string) => runInDurableObject(shardStub(dropId, 0), (shard: InventoryShard) => shard.loadByMethod().methods.totals ?? 0);
const watching = (dropId: string) => runInDurableObject(roomStub(dropId), (room: WaitingRoom) => room["core"].dry.watching);

/** Ticks the pacer as its alarm would, `seconds` times a second later each (its clock moved, no real wait). */
async function tickSeconds(dropId: string, seconds: number): Promise<void> {
	for (let s = 0; s < seconds; s++) {
		await runInDurableObject(roomStub(dropId), async (room: WaitingRoom) => {
			movePacerClock(room, 1_000);
			await room.alarm();
		});
	}
}

describe("a dry drop watched by its shards", () => {
	it("costs the shards no look a second while holds are outstanding, and a hold that ends reopens it", async () => {
		const opensAt = Date.now() + HOUR;
		const drop = await createDrop({ opensAt: new Date(opensAt).toISOString(), capacity: 1, maxPerFan: 1, shards: 1, holdSeconds: 60, admission: { batchSize: 2, activeMultiple: 1, intervalMs: 600_000 } });
		const fans = [await join(drop.id, "dry-a"), await join(drop.id, "dry-b"), await join(drop.id, "dry-c")];
		await openRoom(drop.id, opensAt);
		await admitBatch(drop.id);
		const tokens = await Promise.all(fans.map(async (f) => (await status(drop.id, f.queueToken)).accessToken as string | undefined));
		const access = tokens.find((t) => typeof t === "string")!;
		expect((await hold(drop.id, access, 1)).status).toBe(201);
		// The first look finds the drop dry, the next asks the shards to watch it.
		await tickRoom(drop.id);
		await tickRoom(drop.id);
		expect(await watching(drop.id)).toBe(true);
		const before = await totalsCalls(drop.id);
		await tickSeconds(drop.id, 5);
		// Before the shards watched, each of these ticks looked at every shard (its totals a second old).
		expect(await totalsCalls(drop.id)).toBe(before);

		// The hold ends: the shard's alarm returns it to stock and tells the pacer.
		await runInDurableObject(shardStub(drop.id, 0), (shard: InventoryShard) => {
			shard.clock = () => Date.now() + 2 * 60_000;
		});
		await runDurableObjectAlarm(shardStub(drop.id, 0));
		expect(await watching(drop.id)).toBe(false);
		await tickSeconds(drop.id, 1);
		expect(await totalsCalls(drop.id)).toBe(before + 1);
		const remaining = await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => room["core"].totals(room["core"].config()!).remaining);
		expect(remaining).toBe(1);
	});

	it("seals the lines every few seconds, not every tick, while nobody joins; a join wakes the next tick's seal and is placed", async () => {
		const opensAt = Date.now() + HOUR;
		const drop = await createDrop({ opensAt: new Date(opensAt).toISOString(), capacity: 10, lines: 2, admission: { batchSize: 1, activeMultiple: 1, intervalMs: 600_000 } });
		// Fans waiting (one admitted per ten minutes) keep the pacer ticking.
		for (const f of ["quiet-a", "quiet-b", "quiet-c"]) await join(drop.id, f);
		await openRoom(drop.id, opensAt);
		await tickSeconds(drop.id, 4);
		const lineCalls = () => Promise.all([0, 1].map((k) => lineStub(drop.id, k).load()));
		const before = await lineCalls();
		await tickSeconds(drop.id, 10);
		// Ten ticks a second apart with nobody joining: each line sealed every 5 s (twice), not ten times.
		expect((await lineCalls()).map((n, k) => n - before[k]!)).toEqual([2, 2]);

		// A join: its line wakes the pacer, and the very next tick seals both lines and places it.
		const placedBefore = await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => room["core"]["state"]().next_position);
		const joined = await join(drop.id, "quiet-late");
		const atJoin = await lineCalls();
		await tickSeconds(drop.id, 1);
		expect((await lineCalls()).map((n, k) => n - atJoin[k]!)).toEqual([1, 1]);
		const placedAfter = await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => room["core"]["state"]().next_position);
		expect(placedAfter).toBe(placedBefore + 1);
		expect(joined.queueToken).toEqual(expect.any(String));
	});

	it("a shard's tell that comes while the pacer reads the shards is not lost: the drop is not watched on counts from before it, and the new look goes out at once", async () => {
		const opensAt = Date.now() + HOUR;
		const drop = await createDrop({ opensAt: new Date(opensAt).toISOString(), capacity: 1, maxPerFan: 1, shards: 1, holdSeconds: 60, admission: { batchSize: 2, activeMultiple: 1, intervalMs: 600_000 } });
		const fans = [await join(drop.id, "told-a"), await join(drop.id, "told-b")];
		await openRoom(drop.id, opensAt);
		await admitBatch(drop.id);
		const tokens = await Promise.all(fans.map(async (f) => (await status(drop.id, f.queueToken)).accessToken as string | undefined));
		expect((await hold(drop.id, tokens.find((t) => typeof t === "string")!, 1)).status).toBe(201);
		await tickRoom(drop.id);
		await tickRoom(drop.id);
		expect(await watching(drop.id)).toBe(true);
		// The next look (due after DRY_LOOK_MS): while the shard answers it, the shard tells of stock moving.
		let told = 0;
		await runInDurableObject(roomStub(drop.id), async (room: WaitingRoom) => {
			const pacer = room as unknown as { env: Env };
			const real = pacer.env;
			const namespace = real.INVENTORY;
			const telling = (stub: object) =>
				new Proxy(stub, {
					get(target, prop) {
						if (prop !== "totals") return Reflect.get(target, prop);
						return async (...args: unknown[]) => {
							const answer: unknown = await (target as Record<string, (...a: unknown[]) => Promise<unknown>>).totals!(...args);
							told++;
							await room.stockMoved();
							return answer;
						};
					},
				});
			pacer.env = new Proxy(real, { get: (t, p) => (p === "INVENTORY" ? { getByName: (n: string) => telling(namespace.getByName(n)) } : Reflect.get(t, p)) });
			movePacerClock(room, 11_000);
			await room.alarm();
			pacer.env = real;
		});
		expect(told).toBe(1);
		// Not watched on counts that may predate the tell, and a look is owed at once.
		expect(await watching(drop.id)).toBe(false);
		expect(await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => room["core"].dry.lookOwed)).toBe(true);
		const before = await totalsCalls(drop.id);
		await tickSeconds(drop.id, 1);
		expect(await totalsCalls(drop.id)).toBe(before + 1);
	});

	it("a line's wake that comes while a seal is on its way still seals on the next tick", async () => {
		const opensAt = Date.now() + HOUR;
		const drop = await createDrop({ opensAt: new Date(opensAt).toISOString(), capacity: 10, lines: 2, admission: { batchSize: 1, activeMultiple: 1, intervalMs: 600_000 } });
		for (const f of ["woke-a", "woke-b", "woke-c"]) await join(drop.id, f);
		await openRoom(drop.id, opensAt);
		await tickSeconds(drop.id, 6);
		const lineCalls = () => Promise.all([0, 1].map((k) => lineStub(drop.id, k).load()));
		// A quiet seal (5 s after the last): while it is on its way, a line wakes the pacer.
		await runInDurableObject(roomStub(drop.id), async (room: WaitingRoom) => {
			const pacer = room as unknown as { env: Env };
			const real = pacer.env;
			const namespace = real.WAITING_LINE;
			let woke = false;
			const waking = (stub: object) =>
				new Proxy(stub, {
					get(target, prop) {
						if (prop !== "seal") return Reflect.get(target, prop);
						return async (...args: unknown[]) => {
							const answer: unknown = await (target as Record<string, (...a: unknown[]) => Promise<unknown>>).seal!(...args);
							if (!woke) {
								woke = true;
								await room.wake();
							}
							return answer;
						};
					},
				});
			pacer.env = new Proxy(real, { get: (t, p) => (p === "WAITING_LINE" ? { getByName: (n: string) => waking(namespace.getByName(n)) } : Reflect.get(t, p)) });
			// Ticks a second apart until a quiet seal goes out (every 5 s).
			for (let i = 0; i < 6 && !woke; i++) {
				movePacerClock(room, 1_000);
				await room.alarm();
			}
			pacer.env = real;
			expect(woke).toBe(true);
		});
		const afterWake = await lineCalls();
		await tickSeconds(drop.id, 1);
		expect((await lineCalls()).map((n, k) => n - afterWake[k]!)).toEqual([1, 1]);
	});

	it("two readers that find a sleeping pacer's totals stale share one look at the shards, so no shard is handed the same look twice", async () => {
		const opensAt = Date.now() + HOUR;
		const drop = await createDrop({ opensAt: new Date(opensAt).toISOString(), capacity: 4, shards: 1 });
		await openRoom(drop.id, opensAt);
		await tickRoom(drop.id);
		const sleeping = await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => room["core"].state().sleeping);
		expect(sleeping).toBe(1);
		const before = await totalsCalls(drop.id);
		const answers = await runInDurableObject(roomStub(drop.id), async (room: WaitingRoom) => {
			movePacerClock(room, 5_000);
			return Promise.all([room.watermark(), room.watermark()]);
		});
		expect(answers.every((a) => a.ok)).toBe(true);
		expect(await totalsCalls(drop.id)).toBe(before + 1);
	});
});
