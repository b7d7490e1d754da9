// The pacer and a dry drop: with nothing free anywhere and holds outstanding, the shards
// watch for a change, so the pacer stops asking every shard every second; a hold that
// ends tells it, and it looks again at once (the drop sells again).
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { createDrop } from "../support/drops";
import { hold, join, status } from "../support/fans";
import { admitBatch, movePacerClock, openRoom, roomStub, tickRoom } from "../support/room";
import { shardStub } from "../support/shards";
import { HOUR } from "../support/time";

const totalsCalls = (dropId: string) => runInDurableObject(shardStub(dropId, 0), (shard: InventoryShard) => shard.loadByMethod().methods.totals ?? 0);
const watching = (dropId: string) => runInDurableObject(roomStub(dropId), (room: WaitingRoom) => room["core"].shardsWatching);

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
});
