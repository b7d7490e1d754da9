// Attacks on named inventory: replays, a claim crossing an expiry, a restart mid-claim
// or before an ending is delivered, a seats upload crossing the opening, and the work
// a big section costs its shard. Each is a way a review found to break a promise.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import type { Ledger } from "../../src/inventory/ledger";
import { holdRequestText, poolKey, poolShard } from "../../src/drops/ticket-types";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { expectCleanAudit } from "../support/audit";
import { errorCode } from "../support/errors";
import { admittedFans, newKey, purchase, releaseHold } from "../support/fans";
import { holdUnits, seatStates, seatsCsv, seatsInD1, seatsOf, sectionsOnDifferentShards } from "../support/named";
import { fansHomedOn, rowCount, shardStub } from "../support/shards";
import { restartObjects } from "../support/objects";
import { waitUntil } from "../support/wait";
import { adminFetch, fanFetch } from "../support/worker";

type Doc = { ticketTypes: { id: string; remaining: number }[] };

const seatedDrop = (seats: ReturnType<typeof seatsOf>, shards = 2) =>
	createDrop({
		capacity: undefined,
		maxPerFan: 4,
		shards,
		admission: WIDE_OPEN,
		ticketTypes: [{ id: "seat", name: "Seated", kind: "seated", priceCents: 1_000, seats }],
	});

/** Held units of the pools on one shard. */
const heldOn = (dropId: string, shard: number) => runInDurableObject(shardStub(dropId, shard), (s: InventoryShard) => s.stats().pools.reduce((a, p) => a + p.held, 0));

/** Runs `fn` inside a shard with the rows its SQL reads and writes counted (the requests counter aside). */
async function counted<T>(state: DurableObjectState, fn: () => T | Promise<T>): Promise<{ value: T; read: number; written: number }> {
	const sql = state.storage.sql;
	const exec = sql.exec.bind(sql);
	const cursors: { rowsRead: number; rowsWritten: number }[] = [];
	sql.exec = ((query: string, ...params: SqlStorageValue[]) => {
		const cursor = exec(query, ...params);
		if (!/\bserved\b/.test(query)) cursors.push(cursor);
		return cursor;
	}) as typeof sql.exec;
	try {
		const value = await fn();
		return { value, read: cursors.reduce((a, c) => a + c.rowsRead, 0), written: cursors.reduce((a, c) => a + c.rowsWritten, 0) };
	} finally {
		sql.exec = exec as typeof sql.exec;
	}
}

describe("idempotency of named holds", () => {
	it("a replayed best-available hold answers its first hold even after the type's seats are all gone", async () => {
		const drop = await seatedDrop(seatsOf("A", 1, 2));
		const tokens = await admittedFans(drop.id, ["lucky", "late"]);
		const key = newKey();
		const first = await holdUnits(drop.id, tokens.get("lucky")!, { ticketType: "seat", quantity: 2 }, key);
		expect(first.status).toBe(201);
		const firstBody = await first.json();
		// The copy fans (and best available) read now shows none left.
		await waitUntil(
			async () => ((await (await fanFetch(`/api/drops/${drop.id}/availability`, null)).json()) as Doc).ticketTypes[0]!.remaining === 0,
			5_000,
			"availability to show the seats held",
			100,
		);
		const again = await holdUnits(drop.id, tokens.get("lucky")!, { ticketType: "seat", quantity: 2 }, key);
		expect(again.status).toBe(201);
		expect(again.headers.get("Idempotent-Replayed")).toBe("true");
		expect(await again.json()).toEqual(firstBody);
		// A new request is still told the truth.
		const other = await holdUnits(drop.id, tokens.get("late")!, { ticketType: "seat", quantity: 1 });
		expect(other.status).toBe(409);
		expect(await errorCode(other)).toBe("sold_out");
		expect(await heldOn(drop.id, poolShard("seat", poolKey.section("A"), 2))).toBe(2);
	});
});

describe("a best-available hold with nothing free", () => {
	it("answers sold_out from the fan's home shard and writes nothing there", async () => {
		const drop = await seatedDrop(seatsOf("A", 1, 2));
		const request = JSON.stringify({ kind: "best", typeId: "seat", section: null, quantity: 1 });
		const answer = await runInDurableObject(shardStub(drop.id, 0), (shard: InventoryShard, state) =>
			counted(state, () => shard.holdNamed({ fanId: "nothing-left", idempotencyKey: newKey(), notAfter: Date.now() + 600_000, request, typeId: "seat", quantity: 1, seats: null, targets: [] })),
		);
		expect(answer.value).toMatchObject({ ok: false, status: 409, code: "sold_out" });
		expect(answer.written).toBe(0);
	});
});

describe("a claim crossing an expiry", () => {
	it("a best-available hold that runs out while its first section is asked claims nothing in the next section", async () => {
		const shards = 4;
		const [small, big] = sectionsOnDifferentShards("seat", shards, 2);
		const smallShard = poolShard("seat", poolKey.section(small!), shards);
		const bigShard = poolShard("seat", poolKey.section(big!), shards);
		// One seat in the first section (too few for two), ten in the next.
		const drop = await seatedDrop([...seatsOf(small!, 1, 1), ...seatsOf(big!, 1, 10)], shards);
		const home = [0, 1, 2, 3].find((k) => k !== smallShard)!;
		const answer = await runInDurableObject(shardStub(drop.id, home), async (shard: InventoryShard) => {
			const asked = shard.holdNamed({
				fanId: "crosser",
				idempotencyKey: newKey(),
				notAfter: Date.now() + 600_000,
				request: JSON.stringify({ kind: "best", typeId: "seat", section: null, quantity: 2 }),
				typeId: "seat",
				quantity: 2,
				seats: null,
				targets: [
					{ shard: smallShard, pool: poolKey.section(small!) },
					{ shard: bigShard, pool: poolKey.section(big!) },
				],
			});
			// The first section is being asked (a call away): the hold's time runs out meanwhile,
			// and the alarm ends it and tells the first section's shard.
			const real = shard.clock;
			shard.clock = () => real() + 3_600_000;
			await shard.alarm();
			const outcome = await asked;
			shard.clock = real;
			return outcome;
		});
		expect(answer.ok).toBe(false);
		// Nothing is held anywhere for a hold that ended: the next section's seats are all free.
		await runInDurableObject(shardStub(drop.id, home), (shard: InventoryShard) => shard.alarm());
		expect(await heldOn(drop.id, bigShard)).toBe(0);
		expect(await heldOn(drop.id, smallShard)).toBe(0);
	});
});

describe("the work a big section costs its shard", () => {
	it("the free seats of a section of 20,000 (200 rows) are read in work that grows with the seats, not rows × seats", async () => {
		const drop = await seatedDrop(seatsOf("Arena", 200, 100), 1);
		const { value: seen, read } = await runInDurableObject(shardStub(drop.id, 0), (shard: InventoryShard, state) => counted(state, () => shard.availability()));
		expect(seen.sections[0]!.rows).toHaveLength(200);
		expect(seen.sections[0]!.rows[199]).toEqual({ row: "200", free: "1-100" });
		expect(read).toBeLessThan(10 * 20_000);
	}, 60_000);

	it("best available in a section of 20,000 reads the seats before its run, not the section, and finds a run past the first page", async () => {
		const drop = await seatedDrop([...seatsOf("Bowl", 20, 1_000)], 1);
		const claim = (shard: InventoryShard, holdId: string, quantity: number, seats: string[] | null = null) =>
			shard.claim({ holdId, homeShard: 0, typeId: "seat", pool: poolKey.section("Bowl"), quantity, seats, now: Date.now() });
		const answers = await runInDurableObject(shardStub(drop.id, 0), async (shard: InventoryShard, state) => {
			const first = await counted(state, () => claim(shard, "h_0_first", 2));
			// Row 1 left with every other seat from 3 on: 499 free seats, no two side by side, so the
			// first run of two starts the second row at the end of the first page and ends on the next.
			for (let k = 0; k < 25; k++) {
				const even = Array.from({ length: 20 }, (_, i) => 4 + 2 * (20 * k + i)).filter((n) => n <= 1_000).map((n) => `Bowl-1-${n}`);
				expect(claim(shard, `h_0_even${k}`, even.length, even).ok).toBe(true);
			}
			return { firstTwo: first.value, read: first.read, pair: claim(shard, "h_0_pair", 2), one: claim(shard, "h_0_one", 1) };
		});
		expect(answers.firstTwo).toEqual({ ok: true, value: { seats: ["Bowl-1-1", "Bowl-1-2"], together: true } });
		expect(answers.pair).toEqual({ ok: true, value: { seats: ["Bowl-2-1", "Bowl-2-2"], together: true } });
		expect(answers.one).toEqual({ ok: true, value: { seats: ["Bowl-1-3"], together: true } });
		expect(answers.read).toBeLessThan(2_000);
	}, 60_000);
});

describe("a seats upload crossing the opening", () => {
	it("an upload whose body arrives after the opening is refused and changes nothing, though a hold was made meanwhile", async () => {
		const shards = 4;
		const [held, other] = sectionsOnDifferentShards("seat", shards, 2);
		const opensAt = Date.now() + 4_000;
		const drop = await createDrop({
			capacity: undefined,
			maxPerFan: 4,
			shards,
			opensAt: new Date(opensAt).toISOString(),
			admission: WIDE_OPEN,
			ticketTypes: [{ id: "seat", name: "Seated", kind: "seated", priceCents: 1_000, seats: [...seatsOf(held!, 1, 4), ...seatsOf(other!, 1, 4)] }],
		});
		// The promoter starts the upload before the opening; its body is still arriving when the drop opens.
		let finish!: () => void;
		const rest = new Promise<void>((resolve) => (finish = resolve));
		// When the Worker first read the body: past the route's check of the opening.
		let firstRead: number | null = null;
		const body = new ReadableStream<Uint8Array>({
			async pull(controller) {
				if (firstRead === null) {
					firstRead = Date.now();
					controller.enqueue(new TextEncoder().encode("id,section,row,number\n"));
					return;
				}
				await rest;
				controller.enqueue(new TextEncoder().encode(seatsCsv(seatsOf("New", 1, 6)).split("\n").slice(1).join("\n")));
				controller.close();
			},
		});
		const upload = adminFetch(`/api/admin/drops/${drop.id}/ticket-types/seat/seats`, { method: "PUT", headers: { "content-type": "text/csv" }, body, duplex: "half" } as RequestInit);
		await waitUntil(async () => Date.now() > opensAt + 100, 10_000, "the opening", 100);
		// Both sides: the upload was under way before the opening, and a fan held a seat after it.
		expect(firstRead).not.toBeNull();
		expect(firstRead!).toBeLessThan(opensAt);
		const token = (await admittedFans(drop.id, ["early"])).get("early")!;
		expect((await holdUnits(drop.id, token, { ticketType: "seat", seats: [`${held}-1-1`] })).status).toBe(201);
		finish();
		const res = await upload;
		expect(res.status).toBe(422);
		expect(await errorCode(res)).toBe("already_open");
		// Nothing changed: every shard still has the seats fans were shown, D1 too, and the audit agrees.
		expect((await seatStates(drop.id, shards, "seat", other!)).size).toBe(4);
		expect((await seatStates(drop.id, shards, "seat", held!)).get(`${held}-1-1`)).toBe("held");
		expect(await seatsInD1(drop.id)).toBe(8);
		await expectCleanAudit(drop.id);
	}, 30_000);
});

describe("what a unit shard keeps", () => {
	it("claims of holds that ended, and the markers of releases, are forgotten after a day by the unit shard's own alarm", async () => {
		const shards = 4;
		const unitShard = poolShard("seat", poolKey.section("A"), shards);
		const drop = await seatedDrop(seatsOf("A", 1, 10), shards);
		const fans = fansHomedOn((unitShard + 1) % shards, shards, 2, "elsewhere");
		const tokens = await admittedFans(drop.id, fans);
		const kept = (await (await holdUnits(drop.id, tokens.get(fans[0]!)!, { ticketType: "seat", seats: ["A-1-1"] })).json()) as { holdId: string };
		expect((await purchase(drop.id, tokens.get(fans[0]!)!, kept.holdId)).status).toBe(201);
		for (let i = 0; i < 5; i++) {
			const hold = (await (await holdUnits(drop.id, tokens.get(fans[1]!)!, { ticketType: "seat", section: "A", quantity: 2 })).json()) as { holdId: string };
			expect((await releaseHold(drop.id, tokens.get(fans[1]!)!, hold.holdId)).status).toBe(204);
		}
		// A release that came before its claim: a marker.
		await shardStub(drop.id, unitShard).settleClaims({ sold: [], release: ["h_9_never"] });
		const claims = () => rowCount(drop.id, unitShard, "claims");
		expect(await claims()).toBe(7);
		// A day later the unit shard's alarm (it keeps no hold of these fans) forgets the ended ones; the sold one stays.
		await runInDurableObject(shardStub(drop.id, unitShard), (shard: InventoryShard) => {
			const real = shard.clock;
			shard.clock = () => real() + 25 * 3_600_000;
		});
		expect(await runDurableObjectAlarm(shardStub(drop.id, unitShard))).toBe(true);
		expect(await claims()).toBe(1);
		await runInDurableObject(shardStub(drop.id, unitShard), (shard: InventoryShard) => {
			shard.clock = () => Date.now();
		});
		expect((await seatStates(drop.id, shards, "seat", "A")).get("A-1-1")).toBe("sold");
		await expectCleanAudit(drop.id);
	});
});

describe("a home shard restarted mid-claim", () => {
	it("the fan's replay of a hold whose claim was made, but never confirmed, answers that hold rather than make a second", async () => {
		const shards = 4;
		const unitShard = poolShard("seat", poolKey.section("A"), shards);
		const drop = await seatedDrop(seatsOf("A", 1, 10), shards);
		const [fan] = fansHomedOn((unitShard + 1) % shards, shards, 1, "restarted");
		const home = (unitShard + 1) % shards;
		const token = (await admittedFans(drop.id, [fan!])).get(fan!)!;
		const key = newKey();
		const body = { ticketType: "seat", section: "A", quantity: 4 };
		// What a home shard restarted while its claim was on the way leaves: the hold written as
		// claiming (by its own code) and aimed at the section; the claim made on the units' shard.
		const holdId = await runInDurableObject(shardStub(drop.id, home), (shard: InventoryShard) => {
			const ledger = (shard as unknown as { ledger: Ledger }).ledger;
			const reserved = ledger.named.reserveNamed({ fanId: fan!, key, request: holdRequestText({ kind: "best", typeId: "seat", section: "A", quantity: 4 }), typeId: "seat", quantity: 4, now: Date.now(), notAfter: Date.now() + 600_000 });
			if (reserved.kind !== "reserved") throw new Error("not reserved");
			ledger.named.aimNamed(reserved.holdId, unitShard, poolKey.section("A"));
			return reserved.holdId;
		});
		const claimed = await shardStub(drop.id, unitShard).claim({ holdId, homeShard: home, typeId: "seat", pool: poolKey.section("A"), quantity: 4, seats: null, now: Date.now() });
		expect(claimed.ok).toBe(true);
		await restartObjects([() => shardStub(drop.id, home)]);
		// The fan, who never heard back, asks again with the same key.
		const again = await holdUnits(drop.id, token, body, key);
		expect(again.status).toBe(201);
		expect(await again.json()).toMatchObject({ holdId, seats: ["A-1-1", "A-1-2", "A-1-3", "A-1-4"], quantity: 4 });
		expect(await heldOn(drop.id, unitShard)).toBe(4);
		// One hold, bought once.
		expect((await purchase(drop.id, token, holdId)).status).toBe(201);
		const a = await expectCleanAudit(drop.id);
		expect(a.named.types[0]).toMatchObject({ sold: 4, held: 0, free: 6 });
	});
});

describe("endings owed across a restart", () => {
	it("a release written but not delivered before the home shard restarted reaches the seats' shard on the alarm", async () => {
		const shards = 4;
		const unitShard = poolShard("seat", poolKey.section("A"), shards);
		const home = (unitShard + 1) % shards;
		const drop = await seatedDrop(seatsOf("A", 1, 10), shards);
		const [fan] = fansHomedOn(home, shards, 1, "cut-off");
		const token = (await admittedFans(drop.id, [fan!])).get(fan!)!;
		const hold = (await (await holdUnits(drop.id, token, { ticketType: "seat", seats: ["A-1-5", "A-1-6"] })).json()) as { holdId: string };
		// The release is decided (its notice written in the same transaction), then the shard restarts before delivering it.
		await runInDurableObject(shardStub(drop.id, home), (shard: InventoryShard) => {
			const ledger = (shard as unknown as { ledger: Ledger }).ledger;
			expect(ledger.holds.release({ holdId: hold.holdId, fanId: fan!, now: Date.now() })).toEqual({ ok: true, value: { released: true } });
		});
		await restartObjects([() => shardStub(drop.id, home)]);
		expect((await seatStates(drop.id, shards, "seat", "A")).get("A-1-5")).toBe("held");
		expect(await runDurableObjectAlarm(shardStub(drop.id, home))).toBe(true);
		const states = await seatStates(drop.id, shards, "seat", "A");
		expect([states.get("A-1-5"), states.get("A-1-6")]).toEqual(["free", "free"]);
		const a = await expectCleanAudit(drop.id);
		expect(a.named.noticesPending).toBe(0);
		expect(a.named.types[0]).toMatchObject({ free: 10, held: 0 });
	});
});

