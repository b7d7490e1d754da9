// The sender of the line's activity entries: a write D1 refuses keeps the
// entries in the pacer and brings the pacer back later to write them; one send
// at a time (a second flush while one is under way writes nothing twice); a
// full batch brings it back at once for the rest. The entries themselves (one
// per sell-out and per batch, written once) are in returns.test.ts.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LINE_LOG_BATCH, LINE_LOG_RETRY_MAX_MS, LINE_LOG_RETRY_MS, LineLog, type LineLogHost, LineLogSender } from "../../src/waiting-room/line-log";
import type { RoomConfig } from "../../src/waiting-room/window-rooms";
import { Sql } from "../../src/shared/sql";
import { createDrop } from "../support/drops";
import { roomStub } from "../support/room";

/** A D1 stand-in: counts the batches, refuses the first `failures`. */
function fakeDb(failures: number) {
	const batches: number[] = [];
	const db = {
		prepare: () => ({ bind: () => ({}) }),
		batch: async (statements: unknown[]) => {
			batches.push(statements.length);
			if (batches.length <= failures) throw new Error("D1 unavailable");
			return [];
		},
	};
	return { db: db as unknown as D1Database, batches };
}

describe("the line's activity entries on their way to D1", () => {
	it("a refused write keeps the entries and comes back later; the next write takes them and forgets them; a second flush meanwhile sends nothing", async () => {
		const drop = await createDrop({});
		await runInDurableObject(roomStub(drop.id), async (_room, state) => {
			const log = new LineLog(new Sql(state.storage.sql));
			log.note("drop.sold_out", { returnsFrom: 4, waiting: 9 }, 1_000);
			log.note("drop.returns_offered", { fans: 1 }, 2_000);
			const comeBacks: number[] = [];
			const waits: Promise<unknown>[] = [];
			const host: LineLogHost = {
				log,
				room: () => drop as RoomConfig,
				now: () => 50_000,
				waitUntil: (work) => waits.push(work),
				comeBack: async (at) => {
					comeBacks.push(at);
				},
			};
			const { db, batches } = fakeDb(1);
			const sender = new LineLogSender(db, host);
			sender.flush();
			sender.flush();
			await Promise.all(waits);
			expect(batches).toEqual([2]);
			expect(comeBacks).toEqual([50_000 + LINE_LOG_RETRY_MS]);
			expect(log.pending().map((r) => r.action)).toEqual(["drop.sold_out", "drop.returns_offered"]);
			// The pacer's alarm came back: the entries are written and forgotten, and nothing is left to send.
			sender.flush();
			await Promise.all(waits);
			expect(batches).toEqual([2, 2]);
			expect(log.pending()).toEqual([]);
			sender.flush();
			await sender.settled();
			expect(batches).toEqual([2, 2]);
			expect(comeBacks).toHaveLength(1);
			// More than one batch waiting: the first full one is written and the pacer comes back at once for the rest.
			for (let i = 0; i < LINE_LOG_BATCH + 3; i++) log.note("drop.returns_offered", { fans: 1, i }, 3_000 + i);
			sender.flush();
			await Promise.all(waits);
			expect(batches).toEqual([2, 2, LINE_LOG_BATCH]);
			expect(comeBacks).toEqual([50_000 + LINE_LOG_RETRY_MS, 50_000]);
			expect(log.pending()).toHaveLength(3);
		});
	});

	it("a write refused again and again comes back later each time, twice as late up to a cap, and once written starts over", async () => {
		const drop = await createDrop({});
		await runInDurableObject(roomStub(drop.id), async (_room, state) => {
			const log = new LineLog(new Sql(state.storage.sql));
			log.note("drop.sold_out", { returnsFrom: 4, waiting: 9 }, 1_000);
			const comeBacks: number[] = [];
			const host: LineLogHost = { log, room: () => drop as RoomConfig, now: () => 0, waitUntil: () => {}, comeBack: async (at) => void comeBacks.push(at) };
			const { db, batches } = fakeDb(8);
			const sender = new LineLogSender(db, host);
			for (let i = 0; i < 9; i++) {
				sender.flush();
				await sender.settled();
			}
			const doubling = Array.from({ length: 8 }, (_, i) => Math.min(LINE_LOG_RETRY_MS * 2 ** i, LINE_LOG_RETRY_MAX_MS));
			expect(comeBacks).toEqual(doubling);
			expect(doubling.at(-1)).toBe(LINE_LOG_RETRY_MAX_MS);
			expect(batches).toHaveLength(9);
			expect(log.pending()).toEqual([]);
		});
	});
});
