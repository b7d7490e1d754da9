// Invariants 1 and 7: never one ticket too many, and no ticket stranded in a
// shard while fans ask for it.
import { describe, expect, it, vi } from "vitest";
import { homeShard } from "../../src/inventory/drop-shards";
import { InventoryShard } from "../../src/inventory/inventory-shard";
import { expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { type HoldJson, type OrderJson, admittedFans, hold, holdUntilDecided, newKey, purchase } from "../support/fans";
import { fansHomedOn, shardStub } from "../support/shards";
import { waitUntil } from "../support/wait";

describe("no oversell", () => {
	it("500 concurrent holds for 100 tickets over 4 shards give exactly 100", async () => {
		const drop = await createDrop({ capacity: 100, shards: 4, maxPerFan: 1, admission: WIDE_OPEN });
		const fans = Array.from({ length: 500 }, (_, i) => `crowd-${i}`);
		const tokens = await admittedFans(drop.id, fans);
		// Every shard is somebody's home, so transfers run in all directions at once.
		expect(new Set(fans.map((f) => homeShard(f, 4))).size).toBe(4);

		const keys = fans.map(() => newKey());
		const answers = await Promise.all(fans.map((f, i) => hold(drop.id, tokens.get(f)!, 1, keys[i])));
		const won = answers.filter((r) => r.status === 201);
		expect(won).toHaveLength(100);
		// The rest hear "sold out", or "try again" while stock was moving between shards under them.
		const refused = fans.flatMap((f, i) => (answers[i]!.status === 201 ? [] : [{ fan: f, key: keys[i]!, res: answers[i]! }]));
		const codes = await Promise.all(refused.map((r) => errorCode(r.res)));
		for (const [i, r] of refused.entries()) expect(["409 sold_out", "503 try_again"]).toContain(`${r.res.status} ${codes[i]}`);
		// Once nothing moves, every "try again" retried with its key is a final "sold out".
		for (const [i, r] of refused.entries()) {
			if (codes[i] !== "try_again") continue;
			const again = await holdUntilDecided(drop.id, tokens.get(r.fan)!, 1, r.key);
			expect(again.status).toBe(409);
			expect(await errorCode(again)).toBe("sold_out");
		}

		const holds = (await Promise.all(won.map((r) => r.json()))) as HoldJson[];
		expect(new Set(holds.map((h) => h.holdId)).size).toBe(100);
		let a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 100, sold: 0, remaining: 0, inFlight: 0 });

		// Every winner buys, all at once: 100 orders, 100 distinct tickets.
		const winners = fans.filter((_, i) => answers[i]!.status === 201);
		const orders = await Promise.all(winners.map((f, i) => purchase(drop.id, tokens.get(f)!, holds[i]!.holdId)));
		expect(orders.map((r) => r.status)).toEqual(winners.map(() => 201));
		const bodies = (await Promise.all(orders.map((r) => r.json()))) as OrderJson[];
		expect(new Set(bodies.flatMap((o) => o.tickets)).size).toBe(100);
		a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 0, sold: 100, remaining: 0, orders: 100 });

		// Sold out now, for everyone.
		const late = await hold(drop.id, tokens.get(fans.find((_, i) => answers[i]!.status !== 201)!)!, 1);
		expect(late.status).toBe(409);
		expect(await errorCode(late)).toBe("sold_out");
	}, 240_000);

	it("mixed quantities racing never hold more than exists, and the rest is still sold", async () => {
		const drop = await createDrop({ capacity: 100, shards: 4, maxPerFan: 4, admission: WIDE_OPEN });
		const fans = Array.from({ length: 120 }, (_, i) => `mixed-${i}`);
		// Admitted up front with the fans who come later: admission is paced by the stock left.
		const more = Array.from({ length: 100 }, (_, i) => `mixed-late-${i}`);
		const tokens = await admittedFans(drop.id, [...fans, ...more]);
		const wants = fans.map((_, i) => 1 + (i % 4));
		const answers = await Promise.all(fans.map((f, i) => hold(drop.id, tokens.get(f)!, wants[i]!)));
		const granted = fans.reduce((sum, _, i) => sum + (answers[i]!.status === 201 ? wants[i]! : 0), 0);
		expect(granted).toBeLessThanOrEqual(100);
		for (const r of answers.filter((r) => r.status !== 201)) {
			expect([409, 503]).toContain(r.status);
			expect(r.status === 503 ? ["try_again"] : ["sold_out", "not_enough_left"]).toContain(await errorCode(r));
		}
		let a = await expectCleanAudit(drop.id);
		expect(a.totals.held).toBe(granted);
		expect(a.totals.remaining).toBe(100 - granted);

		// Whatever is left goes one ticket at a time to fans who have not held yet.
		const late = await Promise.all(more.slice(0, 100 - granted).map((f) => hold(drop.id, tokens.get(f)!, 1)));
		expect(late.map((r) => r.status)).toEqual(late.map(() => 201));
		a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 100, remaining: 0 });
	});
});

describe("no stranded stock", () => {
	it("fans whose home shard is empty still get the stock of the other shards, to the last ticket", async () => {
		const drop = await createDrop({ capacity: 40, shards: 4, maxPerFan: 1, admission: WIDE_OPEN });
		// Every fan lives on shard 0, which starts with 10: the other 30 must come from shards 1-3.
		const fans = fansHomedOn(0, 4, 41, "home0");
		const tokens = await admittedFans(drop.id, fans);
		for (const f of fans.slice(0, 40)) {
			const r = await hold(drop.id, tokens.get(f)!, 1);
			expect(r.status, `hold for ${f}`).toBe(201);
		}
		const last = await hold(drop.id, tokens.get(fans[40]!)!, 1);
		expect(last.status).toBe(409);
		expect(await errorCode(last)).toBe("sold_out");
		const a = await expectCleanAudit(drop.id);
		expect(a.shards.map((s) => s.remaining)).toEqual([0, 0, 0, 0]);
		expect(a.shards[0]!.held).toBe(40);
		expect(a.shards[0]!.received).toBe(30);
	});

	it("when demand equals supply, every one of the concurrent holds succeeds (no sold_out while stock exists)", async () => {
		const drop = await createDrop({ capacity: 60, shards: 4, maxPerFan: 1, admission: WIDE_OPEN });
		// 60 fans, all homed on shard 2, at once: 45 of the tickets are elsewhere.
		const fans = fansHomedOn(2, 4, 60, "rush");
		const tokens = await admittedFans(drop.id, fans);
		const answers = await Promise.all(fans.map((f) => hold(drop.id, tokens.get(f)!, 1)));
		const refused = await Promise.all(answers.filter((r) => r.status !== 201).map(async (r) => `${r.status} ${await errorCode(r)}`));
		expect(refused).toEqual([]);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 60, remaining: 0 });
	});

	it("stock taken by another hold while a transfer runs is made up from the next shard, not answered as too little", async () => {
		// One ticket per shard. A (homed on shard 0) wants 3: its own, then one each from shards 1 and 2.
		const drop = await createDrop({ capacity: 4, shards: 4, maxPerFan: 3, admission: WIDE_OPEN });
		const [a, b] = fansHomedOn(0, 4, 2, "steal");
		const tokens = await admittedFans(drop.id, [a!, b!]);
		const give = InventoryShard.prototype.give;
		let stalled = 0;
		let release!: () => void;
		const released = new Promise<void>((resolve) => (release = resolve));
		vi.spyOn(InventoryShard.prototype, "give").mockImplementation((async function (this: InventoryShard, input: Parameters<InventoryShard["give"]>[0]) {
			// Shard 2's answer to shard 0 is slow: meanwhile B takes one of the tickets A gathered.
			if (input.transferId.startsWith("t_2_0_")) {
				stalled++;
				await released;
			}
			return give.call(this, input);
		}) as unknown as InventoryShard["give"]);
		try {
			const pending = hold(drop.id, tokens.get(a!)!, 3);
			await waitUntil(() => stalled > 0, 20_000, "shard 2's answer to shard 0 to be held back");
			expect((await hold(drop.id, tokens.get(b!)!, 1)).status).toBe(201);
			release();
			const res = await pending;
			// Three tickets still exist for A (one here, one arriving from shard 2, one in shard 3).
			expect(res.status).toBe(201);
		} finally {
			vi.restoreAllMocks();
		}
		const audit = await expectCleanAudit(drop.id);
		expect(audit.totals).toMatchObject({ held: 4, remaining: 0 });
	});

	it("the last tickets, left in one far shard, are still sold when every other shard is empty", async () => {
		const drop = await createDrop({ capacity: 20, shards: 4, maxPerFan: 5, admission: WIDE_OPEN });
		// Drain shards 0, 1 and 2 with their own fans; shard 3 keeps its 5.
		const locals = [0, 1, 2].map((k) => fansHomedOn(k, 4, 1, `local${k}`)[0]!);
		const [buyer] = fansHomedOn(0, 4, 1, "far-buyer");
		const localTokens = await admittedFans(drop.id, [...locals, buyer!]);
		for (const f of locals) expect((await hold(drop.id, localTokens.get(f)!, 5)).status).toBe(201);
		const before = await Promise.all([0, 1, 2, 3].map((k) => shardStub(drop.id, k).totals()));
		expect(before.map((t) => t.remaining)).toEqual([0, 0, 0, 5]);

		// A fan of shard 0 asks for all five: they come from shard 3, the farthest away.
		const buyerToken = localTokens.get(buyer!)!;
		const h = await hold(drop.id, buyerToken, 5);
		expect(h.status).toBe(201);
		const { holdId } = (await h.json()) as HoldJson;
		expect((await purchase(drop.id, buyerToken, holdId)).status).toBe(201);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ sold: 5, held: 15, remaining: 0 });
		expect(a.shards[3]!.given).toBe(5);
	});
});
