// The edges of a hold: a hold never outlives the fan's turn, stock
// moving between shards is "try again" and never a remembered "sold out", a
// hold that runs out during the sweep is stock for the same call, and a refused
// or repeated request leaves nothing behind while what grows is pruned.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InventoryShard } from "../../src/inventory/inventory-shard";
import { KEEP_MS } from "../../src/inventory/ledger-store";
import { ACK_AFTER_MS } from "../../src/inventory/stock-transfers";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { type HoldJson, admittedFans, hold, holdUntilDecided, newHold, newKey, purchase } from "../support/fans";
import { fansHomedOn, moveShardClock, rowCount, runShardAlarmsLater, shardStub, UNACKED } from "../support/shards";
import { waitUntil } from "../support/wait";
import { fanFetch } from "../support/worker";

afterEach(() => {
	vi.restoreAllMocks();
});

/** Every row a shard keeps, table by table (the giver's answers waiting for an ack apart from all it keeps). */
async function rows(dropId: string, shard: number): Promise<Record<string, number>> {
	const tables = { holds: "holds", idempotency: "idempotency", transfers_in: "transfers_in", transfers_out: UNACKED, kept_out: "transfers_out", charges: "charges", orders: "orders", outbox: "outbox" };
	return Object.fromEntries(await Promise.all(Object.entries(tables).map(async ([name, t]) => [name, await rowCount(dropId, shard, t)] as const)));
}

describe("a hold and the fan's turn", () => {
	it("never lasts longer than the access token that made it", async () => {
		// An hour's hold, a ten-minute turn (ACCESS_TOKEN_SECONDS is 600).
		const drop = await createDrop({ capacity: 4, shards: 1, maxPerFan: 2, holdSeconds: 3_600, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["short-turn"])).get("short-turn")!;
		const res = await hold(drop.id, token, 1);
		expect(res.status).toBe(201);
		const h = (await res.json()) as HoldJson;
		const turnEnds = decodeJwt(token).exp! * 1000;
		expect(Date.parse(h.expiresAt)).toBeLessThanOrEqual(turnEnds);
		expect(Date.parse(h.expiresAt)).toBeGreaterThan(Date.now() + 500_000);
		// And the shard's alarm is set for then: the tickets come back when the turn ends.
		const alarm = await runInDurableObject(shardStub(drop.id, 0), (_s, state) => state.storage.getAlarm());
		expect(alarm).toBeLessThanOrEqual(turnEnds);
	});
});

describe("the shard's alarm", () => {
	it("is never pushed back by a change while it is already due (found by review)", async () => {
		const drop = await createDrop({ capacity: 4, shards: 1, maxPerFan: 2, holdSeconds: 60, admission: WIDE_OPEN });
		const tokens = await admittedFans(drop.id, ["due-a", "due-b"]);
		const first = (await (await hold(drop.id, tokens.get("due-a")!, 1)).json()) as HoldJson;
		// The shard's clock passes the first hold's end before its alarm is delivered; then another hold.
		await moveShardClock(drop.id, 0, 61_000);
		expect((await hold(drop.id, tokens.get("due-b")!, 1)).status).toBe(201);
		await moveShardClock(drop.id, 0, 0);
		const alarm = await runInDurableObject(shardStub(drop.id, 0), (_s, state) => state.storage.getAlarm());
		expect(alarm).toBeLessThanOrEqual(Date.parse(first.expiresAt));
	});
});

describe("stock on its way between shards", () => {
	it("is answered 503 try_again with Retry-After, and not remembered: the retry is decided again", async () => {
		// One ticket per shard. D takes shard 2's own; A (also homed on 2) then gets shard 0's, but
		// the answer is slow after shard 0 has given it: the ticket is between shards 0 and 2 when C asks.
		const drop = await createDrop({ capacity: 3, shards: 3, maxPerFan: 1, admission: WIDE_OPEN });
		const [a, d] = fansHomedOn(2, 3, 2, "mover");
		const [b, c] = fansHomedOn(1, 3, 2, "bystander");
		const tokens = await admittedFans(drop.id, [a!, b!, c!, d!]);
		expect((await hold(drop.id, tokens.get(d!)!, 1)).status).toBe(201);
		const give = InventoryShard.prototype.give;
		let given = 0;
		let release!: () => void;
		const released = new Promise<void>((resolve) => (release = resolve));
		vi.spyOn(InventoryShard.prototype, "give").mockImplementation((async function (this: InventoryShard, input: Parameters<InventoryShard["give"]>[0]) {
			const answer = give.call(this, input);
			if (input.transferId.startsWith("t_0_2_") && answer.amount > 0) {
				given++;
				await released;
			}
			return answer;
		}) as unknown as InventoryShard["give"]);

		const moving = hold(drop.id, tokens.get(a!)!, 1);
		await waitUntil(() => given > 0, 5_000, "shard 0 to give its ticket to shard 2");
		// B takes shard 1's own ticket; C's home is then dry, and the only ticket left is in flight.
		expect((await hold(drop.id, tokens.get(b!)!, 1)).status).toBe(201);
		const key = newKey();
		const warned = vi.spyOn(console, "warn");
		const inTransit = await hold(drop.id, tokens.get(c!)!, 1, key);
		expect(inTransit.status).toBe(503);
		expect(await errorCode(inTransit)).toBe("try_again");
		// The operator's log says why: the one ticket left was on its way for every wait.
		expect(warned.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith("hold answered try_again"))).toEqual([expect.stringMatching(/^hold answered try_again: 1 ticket\(s\) elsewhere did not come \(on their way between shards, or taken at a peer\) \(shard \d+, after \d+ ms\)$/)]);
		expect(inTransit.headers.get("retry-after")).toBe("1");
		expect((await audit(drop.id)).totals).toMatchObject({ inFlight: 1, held: 2 });

		release();
		expect((await moving).status).toBe(201);
		// Now every ticket is held: C's retry with the same key is decided again, and it is sold out.
		const retry = await holdUntilDecided(drop.id, tokens.get(c!)!, 1, key);
		expect(retry.status).toBe(409);
		expect(await errorCode(retry)).toBe("sold_out");
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ held: 3, remaining: 0, inFlight: 0 });
	});
});

describe("a hold that runs out while the shard asks its peers", () => {
	it("is stock for the same call, not 'not_enough_left'", async () => {
		// Allocation [2, 1]. X holds one of shard 0's; W holds shard 1's. Y (shard 0) asks for 2.
		const drop = await createDrop({ capacity: 3, shards: 2, maxPerFan: 2, holdSeconds: 60, admission: WIDE_OPEN });
		const [x, y] = fansHomedOn(0, 2, 2, "sweep");
		const [w] = fansHomedOn(1, 2, 1, "other");
		const tokens = await admittedFans(drop.id, [x!, y!, w!]);
		expect((await hold(drop.id, tokens.get(x!)!, 1)).status).toBe(201);
		expect((await hold(drop.id, tokens.get(w!)!, 1)).status).toBe(201);
		// Shard 0 has no look from the pacer at its peers, so it asks shard 1; while it does,
		// X's hold runs out (shard 0's clock jumps past it).
		let ahead = 0;
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => {
			instance.clock = () => Date.now() + ahead;
			instance["transfers"]["look"]["look"] = { stock: [], inFlight: 0, at: -Infinity, freshMs: 2_000 };
		});
		const give = InventoryShard.prototype.give;
		let asked = 0;
		vi.spyOn(InventoryShard.prototype, "give").mockImplementation(function (this: InventoryShard, input: Parameters<InventoryShard["give"]>[0]) {
			if (input.transferId.startsWith("t_1_0_")) {
				asked++;
				ahead = 61_000;
			}
			return give.call(this, input);
		});
		const res = await hold(drop.id, tokens.get(y!)!, 2);
		expect(asked).toBeGreaterThan(0);
		expect(res.status).toBe(201);
		const a = await audit(drop.id);
		expect(a.totals).toMatchObject({ held: 3, remaining: 0 });
	});
});

describe("what a request may write", () => {
	it("refused holds leave nothing behind, on the fan's shard or its peers, once the shards' alarms have acknowledged their transfers", async () => {
		const drop = await createDrop({ capacity: 4, shards: 4, maxPerFan: 2, holdSeconds: 3_600, admission: WIDE_OPEN });
		const fans = fansHomedOn(0, 4, 3, "refused");
		const tokens = await admittedFans(drop.id, fans);
		// Two fans take the four tickets (shard 0's, then three moved from its peers).
		expect((await hold(drop.id, tokens.get(fans[0]!)!, 2)).status).toBe(201);
		expect((await hold(drop.id, tokens.get(fans[1]!)!, 2)).status).toBe(201);
		// The shards' alarms run once the acks are old enough to go alone: transfers credited on shard 0 are acknowledged to their givers.
		await runShardAlarmsLater(drop.id, 4, ACK_AFTER_MS + 1_000);
		const before = await Promise.all([0, 1, 2, 3].map((k) => rows(drop.id, k)));
		expect(before.map((r) => (r.transfers_out ?? -1) + (r.transfers_in ?? -1))).toEqual([0, 0, 0, 0]);
		// Sold out, over the limit, and too many: each asked many times, with new keys.
		const refusals = await Promise.all([
			...Array.from({ length: 10 }, () => hold(drop.id, tokens.get(fans[2]!)!, 1)),
			...Array.from({ length: 10 }, () => hold(drop.id, tokens.get(fans[0]!)!, 1)),
		]);
		expect(new Set(await Promise.all(refusals.map(errorCode)))).toEqual(new Set(["sold_out", "limit_exceeded"]));
		// The sweeps' answers (all 0) wait for their acks; acked, they are kept a day, so a late copy of an ask takes nothing...
		await runShardAlarmsLater(drop.id, 4, ACK_AFTER_MS + 1_000);
		const after = await Promise.all([0, 1, 2, 3].map((k) => rows(drop.id, k)));
		const withoutKept = (r: Record<string, number>) => ({ ...r, kept_out: 0 });
		expect(after.map(withoutKept)).toEqual(before.map(withoutKept));
		expect(after.some((r, k) => r.kept_out! > before[k]!.kept_out!)).toBe(true);
		// ...and then forgotten like remembered keys: nothing of the refusals is left.
		await runShardAlarmsLater(drop.id, 4, KEEP_MS + 1_000);
		expect((await Promise.all([0, 1, 2, 3].map((k) => rows(drop.id, k)))).map((r) => r.kept_out)).toEqual([0, 0, 0, 0]);
	});

	it("remembered keys and finished holds are pruned after a day; orders and charges stay", async () => {
		const drop = await createDrop({ capacity: 4, shards: 1, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["pruned"])).get("pruned")!;
		const kept = await newHold(drop.id, token, 1);
		const gone = await newHold(drop.id, token, 1);
		expect((await purchase(drop.id, token, kept.holdId)).status).toBe(201);
		expect((await fanFetch(`/api/drops/${drop.id}/holds/${gone.holdId}`, token, { method: "DELETE" })).status).toBe(204);
		expect(await rows(drop.id, 0)).toMatchObject({ holds: 2, idempotency: 2, orders: 1, charges: 1 });
		await runInDurableObject(shardStub(drop.id, 0), async (instance: InventoryShard) => {
			instance.clock = () => Date.now() + 25 * 60 * 60 * 1000;
			await instance.alarm();
			instance.clock = () => Date.now();
		});
		expect(await rows(drop.id, 0)).toMatchObject({ holds: 1, idempotency: 0, orders: 1, charges: 1 });
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ sold: 1, held: 0, remaining: 3 });
	});
});
