// Invariant 3: a fan never holds or buys more than maxPerFan in a drop, whatever
// they send concurrently, replay, or whichever shard the stock comes from.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { type HoldJson, admittedFans, hold, newHold, newKey, purchase, releaseHold } from "../support/fans";
import { expireHold, fansHomedOn, shardStub } from "../support/shards";

/** Tickets the fan holds or has bought, from the shards' own storage. */
async function ticketsOf(dropId: string, shards: number, fanId: string): Promise<number> {
	let total = 0;
	for (let k = 0; k < shards; k++) {
		total += await runInDurableObject(shardStub(dropId, k), (_s, state) =>
			state.storage.sql
				.exec<{ n: number }>(`SELECT COALESCE(SUM(quantity), 0) AS n FROM holds WHERE fan_id = ? AND state IN ('active', 'purchased')`, fanId)
				.one().n,
		);
	}
	return total;
}

describe("per-fan limit", () => {
	it("20 concurrent holds of one ticket under different keys: exactly maxPerFan succeed", async () => {
		const drop = await createDrop({ capacity: 100, shards: 4, maxPerFan: 4, admission: WIDE_OPEN });
		const tokens = await admittedFans(drop.id, ["hammer"]);
		const token = tokens.get("hammer")!;
		const answers = await Promise.all(Array.from({ length: 20 }, () => hold(drop.id, token, 1)));
		expect(answers.filter((r) => r.status === 201)).toHaveLength(4);
		const refused = answers.filter((r) => r.status !== 201);
		expect(refused.map((r) => r.status)).toEqual(refused.map(() => 422));
		expect(new Set(await Promise.all(refused.map(errorCode)))).toEqual(new Set(["limit_exceeded"]));
		expect(await ticketsOf(drop.id, 4, "hammer")).toBe(4);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 4, remaining: 96 });
	});

	it("mixed quantities at once never add up past the limit", async () => {
		const drop = await createDrop({ capacity: 100, shards: 2, maxPerFan: 5, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["mixer"])).get("mixer")!;
		const wants = [3, 2, 4, 1, 5, 2, 3, 1, 1, 4, 2, 5];
		const answers = await Promise.all(wants.map((q) => hold(drop.id, token, q)));
		const granted = wants.reduce((sum, q, i) => sum + (answers[i]!.status === 201 ? q : 0), 0);
		expect(granted).toBeLessThanOrEqual(5);
		// Whatever order they ran in, the first request always fits, so something was granted.
		expect(granted).toBeGreaterThan(0);
		for (const r of answers.filter((r) => r.status !== 201)) expect(await errorCode(r)).toBe("limit_exceeded");
		expect(await ticketsOf(drop.id, 2, "mixer")).toBe(granted);
	});

	it("many fans hammering at once each end with exactly maxPerFan, also when their home shard has no stock", async () => {
		const drop = await createDrop({ capacity: 200, shards: 4, maxPerFan: 3, admission: WIDE_OPEN });
		// Half the fans live on shard 1; its 50 tickets run out, so their later holds pull stock from elsewhere.
		const fans = [...fansHomedOn(1, 4, 20, "greedy"), ...Array.from({ length: 20 }, (_, i) => `anyone-${i}`)];
		const tokens = await admittedFans(drop.id, fans);
		const attempts = fans.flatMap((f) => Array.from({ length: 6 }, () => ({ f, q: 1 })));
		const answers = await Promise.all(attempts.map(({ f, q }) => hold(drop.id, tokens.get(f)!, q)));
		const perFan = new Map<string, number>();
		attempts.forEach(({ f, q }, i) => {
			if (answers[i]!.status === 201) perFan.set(f, (perFan.get(f) ?? 0) + q);
		});
		for (const f of fans) expect(perFan.get(f), f).toBe(3);
		for (const r of answers.filter((r) => r.status !== 201)) expect(r.status).toBe(422);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals.held).toBe(120);
	}, 180_000);

	it("bought tickets count; released and expired ones free the fan's allowance again", async () => {
		const drop = await createDrop({ capacity: 50, shards: 2, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["ledger"])).get("ledger")!;
		const bought = await newHold(drop.id, token, 2);
		expect((await purchase(drop.id, token, bought.holdId)).status).toBe(201);
		const held = await newHold(drop.id, token, 2);
		const over = await hold(drop.id, token, 1);
		expect(over.status).toBe(422);
		expect(await errorCode(over)).toBe("limit_exceeded");

		expect((await releaseHold(drop.id, token, held.holdId)).status).toBe(204);
		const again = await hold(drop.id, token, 2);
		expect(again.status).toBe(201);
		const { holdId } = (await again.json()) as HoldJson;
		expect((await hold(drop.id, token, 1)).status).toBe(422);

		expect(await expireHold(drop.id, holdId)).toBe(true);
		expect((await hold(drop.id, token, 2)).status).toBe(201);
		expect(await ticketsOf(drop.id, 2, "ledger")).toBe(4);
		// Two bought, two held: the limit still stands.
		expect((await hold(drop.id, token, 1)).status).toBe(422);
		await expectCleanAudit(drop.id);
	});

	it("replaying one key many times at once holds once and uses the allowance once", async () => {
		const drop = await createDrop({ capacity: 50, shards: 4, maxPerFan: 2, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["replayer"])).get("replayer")!;
		const key = newKey();
		const answers = await Promise.all(Array.from({ length: 15 }, () => hold(drop.id, token, 2, key)));
		expect(answers.map((r) => r.status)).toEqual(answers.map(() => 201));
		const ids = new Set(((await Promise.all(answers.map((r) => r.json()))) as HoldJson[]).map((h) => h.holdId));
		expect(ids.size).toBe(1);
		expect(await ticketsOf(drop.id, 4, "replayer")).toBe(2);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 2, remaining: 48 });
	});
});
