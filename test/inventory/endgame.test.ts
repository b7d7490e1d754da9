// The sell-out endgame of the stock spread over the shards: stock spread thin over
// many shards while holds race for it from a few dry ones. While stock exists
// anywhere a hold finds it (never "try again"), and no transfer is left half done;
// once none exists the answer is a final "sold out", paid for with one sweep of the
// peers however many fans ask at once; a restart mid-transfer is finished once.
import { afterEach, describe, expect, it, vi } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import { InventoryShard } from "../../src/inventory/inventory-shard";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { admittedFans, hold } from "../support/fans";
import { countGives, expireHold, fansHomedOn, recordIncoming, shardStub } from "../support/shards";
import { waitUntil } from "../support/wait";

const SHARDS = 8;

/** Every transfer finished on both sides: nothing in flight, nothing pending, and what was given was received. */
async function expectTransfersSettled(dropId: string): Promise<void> {
	const a = await expectCleanAudit(dropId);
	expect(a.totals.inFlight).toBe(0);
	expect(a.shards.map((s) => s.transfersPending)).toEqual(a.shards.map(() => 0));
	const given = a.shards.reduce((n, s) => n + s.given, 0);
	const received = a.shards.reduce((n, s) => n + s.received, 0);
	expect(received).toBe(given);
}

afterEach(() => vi.restoreAllMocks());

describe("the sell-out endgame", () => {
	it("a dry shard does not take a look gathered before its own give as the last word: the stock it gave a peer is found, not answered sold_out", async () => {
		// Opening in an hour: no pacer tick looks meanwhile, so the test plays the pacer's calls itself.
		const drop = await createDrop({ capacity: 12, shards: 3, maxPerFan: 12, opensAt: new Date(Date.now() + 3_600_000).toISOString() });
		const [s, p] = [shardStub(drop.id, 0), shardStub(drop.id, 1)];
		const notAfter = Date.now() + 600_000;
		let n = 0;
		const take = (stub: typeof s, quantity: number) => stub.hold({ fanId: `fan-${++n}`, quantity, idempotencyKey: `k-${n}`, notAfter });
		// Shard 1 takes its own 4, then shard 2's 4: shards 1 and 2 dry, shard 0 has 4.
		expect((await take(p, 4)).ok).toBe(true);
		expect((await take(p, 4)).ok).toBe(true);
		// The pacer's look: every shard counted now (peers 1 and 2 have nothing free), then passed on to shard 1.
		await Promise.all([s.totals({}), p.totals({})]);
		const look = { peerStock: [4, 0, 0], inFlight: 0 };
		await p.totals(look);
		// A fan of shard 1 asks for 1: it takes 2 from shard 0 (one spare, for the next), so shard 1 has 1 free.
		expect((await take(p, 1)).ok).toBe(true);
		// Shard 0's own fans take what it has left: it is dry (read by the promoter's stats, not a pacer call).
		const left = (await s.stats()).remaining;
		expect(left).toBe(2);
		expect((await take(s, left)).ok).toBe(true);
		// The look gathered before the give reaches shard 0 (peers: nothing free). Shard 1's spare ticket exists.
		await s.totals(look);
		const last = await take(s, 1);
		expect(last).toMatchObject({ ok: true });
		expect((await take(s, 1))).toMatchObject({ ok: false, code: "sold_out" });
	});

	it("rounds of concurrent holds from dry shards take the thin stock of every other shard without one try_again, then a final sold_out", async () => {
		// 2 tickets on each of 8 shards; the fans all live on shards 0 and 1, so 12 of the 16 tickets
		// must move, and by the last rounds every shard has 0 or 1 left.
		const drop = await createDrop({ capacity: 2 * SHARDS, shards: SHARDS, maxPerFan: 1, admission: WIDE_OPEN });
		const fans = [...fansHomedOn(0, SHARDS, 12, "thin-a"), ...fansHomedOn(1, SHARDS, 12, "thin-b")];
		const tokens = await admittedFans(drop.id, fans);
		const rounds = [fans.slice(0, 6).concat(fans.slice(12, 18)), fans.slice(6, 8).concat(fans.slice(18, 20))];
		let sold = 0;
		for (const round of rounds) {
			// Both dry shards ask the same peers at the same moment: transfers interleave in both directions.
			const answers = await Promise.all(round.map((f) => hold(drop.id, tokens.get(f)!, 1)));
			const statuses = answers.map((r) => r.status);
			expect(statuses).toEqual(round.map(() => 201));
			sold += round.length;
			await expectTransfersSettled(drop.id);
			expect((await audit(drop.id)).totals).toMatchObject({ held: sold, remaining: 2 * SHARDS - sold });
		}
		// Both sides of the race happened: shards 0 and 1 each took stock from others.
		const a = await audit(drop.id);
		expect(a.shards[0]!.received).toBeGreaterThan(0);
		expect(a.shards[1]!.received).toBeGreaterThan(0);

		// Every ticket is held: 8 more fans of the dry shards ask at once, and hear a final answer.
		expect(a.totals.remaining).toBe(0);
		const late = [...fans.slice(8, 12), ...fans.slice(20, 24)];
		const refused = await Promise.all(late.map((f) => hold(drop.id, tokens.get(f)!, 1)));
		expect(refused.map((r) => r.status)).toEqual(late.map(() => 409));
		expect(await Promise.all(refused.map(errorCode))).toEqual(late.map(() => "sold_out"));
		// Final: asked again, still sold out, and nothing moved.
		const again = await hold(drop.id, tokens.get(late[0]!)!, 1);
		expect(again.status).toBe(409);
		expect(await errorCode(again)).toBe("sold_out");
		await expectTransfersSettled(drop.id);
		expect((await audit(drop.id)).totals).toMatchObject({ held: 2 * SHARDS, remaining: 0 });
	}, 120_000);

	it("the last tickets, one on each of several shards, go to concurrent holds of one dry shard: every ticket held, no try_again", async () => {
		const drop = await createDrop({ capacity: SHARDS, shards: SHARDS, maxPerFan: 1, admission: WIDE_OPEN });
		// Shard 0's own ticket goes first; then 10 fans of shard 0 race for the 7 tickets on 7 other shards.
		const fans = fansHomedOn(0, SHARDS, 11, "last");
		const tokens = await admittedFans(drop.id, fans);
		expect((await hold(drop.id, tokens.get(fans[0]!)!, 1)).status).toBe(201);
		const answers = await Promise.all(fans.slice(1).map((f) => hold(drop.id, tokens.get(f)!, 1)));
		const codes = await Promise.all(answers.map((r) => (r.status === 201 ? "held" : errorCode(r))));
		expect(codes.filter((c) => c === "held")).toHaveLength(SHARDS - 1);
		expect(codes.filter((c) => c !== "held")).toEqual(["sold_out", "sold_out", "sold_out"]);
		await expectTransfersSettled(drop.id);
		expect((await audit(drop.id)).totals).toMatchObject({ held: SHARDS, remaining: 0 });
	}, 120_000);

	it("a crowd on a dry shard of a sold-out drop costs each peer one ask, and a hold that ends makes it not sold out", async () => {
		const drop = await createDrop({ capacity: SHARDS, shards: SHARDS, maxPerFan: 1, admission: WIDE_OPEN });
		const buyers = Array.from({ length: SHARDS }, (_, k) => fansHomedOn(k, SHARDS, 1, "owner")[0]!);
		const crowd = fansHomedOn(3, SHARDS, 30, "crowd");
		const tokens = await admittedFans(drop.id, [...buyers, ...crowd]);
		const held = await Promise.all(buyers.map((f) => hold(drop.id, tokens.get(f)!, 1)));
		expect(held.map((r) => r.status)).toEqual(buyers.map(() => 201));

		const asked = countGives();
		const answers = await Promise.all(crowd.map((f) => hold(drop.id, tokens.get(f)!, 1)));
		expect(answers.map((r) => r.status)).toEqual(crowd.map(() => 409));
		expect(new Set(await Promise.all(answers.map(errorCode)))).toEqual(new Set(["sold_out"]));
		// One sweep for the whole crowd: each peer asked once (holds that came during it joined it,
		// those after it answered from it), never once per fan.
		for (let k = 0; k < SHARDS; k++) {
			if (k === 3) expect(asked.get(k) ?? 0).toBe(0);
			else expect(asked.get(k)).toBeGreaterThanOrEqual(1);
			// A second sweep only if the crowd's requests outlast the first sweep's answer (a second).
			expect(asked.get(k) ?? 0).toBeLessThanOrEqual(2);
		}
		vi.restoreAllMocks();

		// A hold on another shard ends: its ticket is free again, and the crowd finds it.
		const first = (await held[5]!.json()) as { holdId: string };
		expect(await expireHold(drop.id, first.holdId)).toBe(true);
		// Within the pacer's next look (about a second) or the end of the sweep's memory.
		await waitUntil(async () => (await hold(drop.id, tokens.get(crowd[0]!)!, 1)).status === 201, 10_000, "the returned ticket to be held");
		await expectTransfersSettled(drop.id);
	}, 120_000);

	it("a restart mid-transfer in the endgame: the last ticket, in flight, goes to a racing hold once, and the rest are sold out", async () => {
		const drop = await createDrop({ capacity: 4, shards: 4, maxPerFan: 1, admission: WIDE_OPEN });
		const owners = [0, 1, 2].map((k) => fansHomedOn(k, 4, 1, "keeper")[0]!);
		const racers = fansHomedOn(3, 4, 5, "racer");
		const tokens = await admittedFans(drop.id, [...owners, ...racers]);
		// Shards 0 to 2 sell their own ticket; shard 3 gave its last to shard 0, which restarted
		// before crediting it: every shard reads 0 free, and one ticket is between shards 3 and 0.
		for (const f of owners) expect((await hold(drop.id, tokens.get(f)!, 1)).status).toBe(201);
		await recordIncoming(drop.id, 0, "t_3_0_restart", 3, 1);
		expect((await shardStub(drop.id, 3).give({ transferId: "t_3_0_restart", toShard: 0, amount: 1 })).amount).toBe(1);
		expect((await audit(drop.id)).totals).toMatchObject({ inFlight: 1 });

		// Shard 0's alarm (the restart's recovery) and five holds on shard 3 race for it.
		const [answers] = await Promise.all([
			Promise.all(racers.map((f) => hold(drop.id, tokens.get(f)!, 1))),
			runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm()),
		]);
		const codes = await Promise.all(answers.map((r) => (r.status === 201 ? "held" : errorCode(r))));
		expect(codes.filter((c) => c === "held")).toHaveLength(1);
		expect(codes.filter((c) => c !== "held")).toEqual(["sold_out", "sold_out", "sold_out", "sold_out"]);
		await expectTransfersSettled(drop.id);
		const a = await audit(drop.id);
		// Shard 0 credited the cut transfer once, and gave that ticket on to shard 3 once.
		expect(a.shards[0]).toMatchObject({ received: 1, given: 1 });
		expect(a.shards[3]).toMatchObject({ given: 1, received: 1 });
		expect(a.totals).toMatchObject({ held: 4, remaining: 0, inFlight: 0 });
	}, 120_000);
});
