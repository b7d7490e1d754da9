// Faults from the platform: the waiting room restarted in the middle of joins,
// every object restarted between holds and their expiry, alarms delivered twice
// and late. After each, the audit is clean and the stock still adds up, all of
// it still sellable. (Restarts in the middle of holds and purchases are in the
// property test between steps; mid-request ones are still open, see issue 8.)
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InventoryShard } from "../src/inventory-shard";
import { testPayments, testProvider } from "../src/payments";
import { admitBatch, createDrop, errorCode, fanFetch, hold, purchase, roomStub } from "./helpers";
import {
	type HoldJson,
	type OrderJson,
	admittedFans,
	afterSettled,
	audit,
	backdateHold,
	expectCleanAudit,
	fansHomedOn,
	holdState,
	restartObjects,
	runShardAlarms,
	shardStub,
} from "./inventory-support";
import { setShardSales, waitForOrders } from "./sales-helpers";

const wideOpen = { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 };

/** A request cut off by a restart: a 5xx, or the call itself failing. */
type Answer = { status: number; body?: unknown; code?: string };

async function settle(p: Promise<Response>): Promise<Answer> {
	try {
		const res = await p;
		if (res.status === 201 || res.status === 200) return { status: res.status, body: await res.json() };
		const text = await res.text();
		let code: string | undefined;
		try {
			code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
		} catch {
			code = undefined;
		}
		return { status: res.status, code };
	} catch {
		return { status: 0 };
	}
}

const cutOff = (a: Answer) => a.status === 0 || a.status >= 500;

afterEach(() => {
	vi.restoreAllMocks();
});

describe("objects restarted mid-flight", () => {
	it("in the middle of joins: every fan ends with one place, admitted in order", async () => {
		const drop = await createDrop({ capacity: 30, shards: 2, admission: wideOpen });
		const fans = Array.from({ length: 60 }, (_, i) => `joiner-${i}`);
		const join = (fanId: string) =>
			settle(fanFetch(`/api/drops/${drop.id}/join`, null, { method: "POST", body: JSON.stringify({ fanId }) }));
		const first = fans.map(join);
		await afterSettled(first, 15);
		await restartObjects([() => roomStub(drop.id)]);
		const answers = await Promise.all(first);
		for (const a of answers) expect(cutOff(a) || a.status === 201, JSON.stringify(a)).toBe(true);

		// Everyone asks again: a fan who got in before the restart keeps their place.
		const again = await Promise.all(fans.map(join));
		const positions = new Map<string, number>();
		again.forEach((a, i) => {
			expect([200, 201]).toContain(a.status);
			const body = a.body as { position: number; rejoined: boolean };
			if (answers[i]!.status === 201) {
				expect(body.rejoined).toBe(true);
				expect(body.position).toBe((answers[i]!.body as { position: number }).position);
			}
			positions.set(fans[i]!, body.position);
		});
		expect([...positions.values()].sort((a, b) => a - b)).toEqual(fans.map((_, i) => i + 1));

		await admitBatch(drop.id);
		const a = await expectCleanAudit(drop.id);
		expect(a.admission.admittedInOrder).toBe(true);
		expect(a.admission.admittedThrough).toBe(60);
		expect(a.totals).toMatchObject({ remaining: 30, held: 0, sold: 0 });
	});

	it("a restart between holds and expiry: expired stock comes back once, and sells again", async () => {
		const drop = await createDrop({ capacity: 8, shards: 2, maxPerFan: 4, admission: wideOpen });
		const tokens = await admittedFans(drop.id, ["a", "b", "c"]);
		const h1 = (await (await hold(drop.id, tokens.get("a")!, 4)).json()) as HoldJson;
		const h2 = (await (await hold(drop.id, tokens.get("b")!, 4)).json()) as HoldJson;
		await backdateHold(drop.id, h1.holdId);
		await abortAllDurableObjects();
		await runShardAlarms(drop.id, 2);
		await runShardAlarms(drop.id, 2);
		expect(await holdState(drop.id, h1.holdId)).toBe("expired");
		expect(await holdState(drop.id, h2.holdId)).toBe("active");
		const res = await hold(drop.id, tokens.get("c")!, 4);
		expect(res.status).toBe(201);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 8, remaining: 0 });
	});
});

describe("alarms delivered twice and late", () => {
	it("many holds run out on several shards; alarms fired late, twice and at once return each one exactly once", async () => {
		const drop = await createDrop({ capacity: 40, shards: 4, maxPerFan: 1, admission: wideOpen });
		const fans = Array.from({ length: 40 }, (_, i) => `sleepy-${i}`);
		const tokens = await admittedFans(drop.id, fans);
		const holds = await Promise.all(fans.map(async (f) => (await (await hold(drop.id, tokens.get(f)!, 1)).json()) as HoldJson));
		// Half of them ran out an hour ago: the alarm is very late.
		const expired = holds.filter((_, i) => i % 2 === 0);
		for (const h of expired) await backdateHold(drop.id, h.holdId, 3_600_000);

		// The scheduled alarm, plus two more deliveries of it, all at the same time, on every shard.
		await Promise.all(
			[0, 1, 2, 3].flatMap((k) => [
				runDurableObjectAlarm(shardStub(drop.id, k)),
				runInDurableObject(shardStub(drop.id, k), (shard: InventoryShard) => shard.alarm()),
				runInDurableObject(shardStub(drop.id, k), (shard: InventoryShard) => shard.alarm()),
			]),
		);
		let a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 20, remaining: 20 });
		for (const h of expired) expect(await holdState(drop.id, h.holdId)).toBe("expired");

		// And once more, much later: nothing changes.
		await runShardAlarms(drop.id, 4);
		a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 20, remaining: 20 });
		// The fans who lost their holds can hold again; purchases of the expired ones are refused.
		for (const [i, f] of fans.entries()) {
			if (i % 2 !== 0) continue;
			const late = await purchase(drop.id, tokens.get(f)!, holds[i]!.holdId);
			expect(late.status).toBe(410);
			expect(await errorCode(late)).toBe("hold_expired");
			expect((await hold(drop.id, tokens.get(f)!, 1)).status).toBe(201);
		}
		a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 40, remaining: 0 });
		expect((await audit(drop.id)).oversold).toBe(0);
	}, 120_000);
});
