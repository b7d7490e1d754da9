// What the fan page's seat map costs the engine while it is shown: it reads the
// availability again every few seconds (public/named.js, MAP_REFRESH_MS). Many
// fans refreshing at once cost the pacer one read and each shard one read at
// most a second, whatever their number: the refresh stays off the shards' hot
// path (holds). Measured at the turn of a second, when the isolate's copy has
// just run out and every refresh finds it stale.
import { afterEach, describe, expect, it, vi } from "vitest";
import { InventoryShard } from "../../src/inventory/inventory-shard";
import { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { seatsOf } from "../support/named";
import { fanFetch } from "../support/worker";

afterEach(() => vi.restoreAllMocks());

describe("the seat map's refresh", () => {
	it("sixty fans' refreshes at once cost the pacer one read and each of the two shards one read", async () => {
		const drop = await createDrop({ capacity: undefined, maxPerFan: 4, shards: 2, admission: WIDE_OPEN, ticketTypes: [{ id: "seat", name: "Seated", kind: "seated", priceCents: 1_000, seats: seatsOf("A", 10, 20) }] });
		// The map was shown: the isolate has a copy, which then runs out before the crowd refreshes. The clock is
		// moved on 1.1 s rather than waited for, so the copy (and the pacer's) is stale exactly, whatever the machine's load.
		expect((await fanFetch(`/api/drops/${drop.id}/availability`, null)).status).toBe(200);
		const realNow = Date.now.bind(Date);
		vi.spyOn(Date, "now").mockImplementation(() => realNow() + 1_100);
		const pacerReads = vi.spyOn(WaitingRoom.prototype, "availability");
		const shardReads = vi.spyOn(InventoryShard.prototype, "availability");
		const answers = await Promise.all(Array.from({ length: 60 }, () => fanFetch(`/api/drops/${drop.id}/availability`, null)));
		expect(answers.map((r) => r.status)).toEqual(Array(60).fill(200));
		const docs = (await Promise.all(answers.map((r) => r.json()))) as { ticketTypes: { sections: { rows: unknown[] }[] }[] }[];
		// Both sides happened: every fan got the free seats row by row, and they were gathered from the shards.
		expect(docs.every((d) => d.ticketTypes[0]!.sections[0]!.rows.length === 10)).toBe(true);
		expect(pacerReads.mock.calls.length).toBe(1);
		expect(shardReads.mock.calls.length).toBe(2);
	});
});
