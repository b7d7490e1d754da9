// A drop that does not exist costs nothing but a look in D1: joins, polls,
// views and fairness reads for made-up drop ids answer 404 without creating
// or waking any Durable Object (an object called by name is created), from a
// per-isolate cache of D1's answers that random ids cannot grow without bound.
import { env, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newDropId } from "../../src/drops/rules";
import { getDrop, insertDrop } from "../../src/drops/store";
import { UNKNOWN_FOR_MS, isKnownDrop, knownDropCacheSize } from "../../src/drops/known-drops";
import { createDrop } from "../support/drops";
import { join } from "../support/fans";
import { waitUntil } from "../support/wait";
import { callWorker } from "../support/worker";

/** Every object of every kind, by namespace. */
async function allObjects(): Promise<Record<string, string[]>> {
	const ids = async <T extends Rpc.DurableObjectBranded | undefined>(ns: DurableObjectNamespace<T>) =>
		(await listDurableObjectIds(ns)).map((id) => id.toString()).sort();
	return { room: await ids(env.WAITING_ROOM), line: await ids(env.WAITING_LINE), shard: await ids(env.INVENTORY) };
}

/** The four fan routes that name a drop, as a stranger would call them. */
function strangerRequests(dropId: string, queueToken: string): [string, () => Promise<Response>][] {
	const joinInit = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ fanId: "stranger" }) };
	return [
		["join", () => callWorker(`/api/drops/${dropId}/join`, joinInit)],
		["status", () => callWorker(`/api/drops/${dropId}/status`, { headers: { authorization: `Bearer ${queueToken}` } })],
		["status without a token", () => callWorker(`/api/drops/${dropId}/status`)],
		["view", () => callWorker(`/api/drops/${dropId}`)],
		["fairness", () => callWorker(`/api/drops/${dropId}/fairness`)],
	];
}

describe("unknown drop ids", () => {
	it("a flood of joins, polls, views and fairness reads for made-up ids answers 404 each and creates or wakes no object", async () => {
		// A real drop and a real queue token (for another drop) to poll with.
		const real = await createDrop();
		const { queueToken } = await join(real.id, "real-fan");
		const before = await allObjects();
		const ids = Array.from({ length: 60 }, () => newDropId());
		const answers = await Promise.all(ids.flatMap((id) => strangerRequests(id, queueToken).map(async ([what, send]) => [what, await send()] as const)));
		for (const [what, res] of answers) {
			expect(res.status, what).toBe(404);
			expect(await res.json(), what).toEqual({ error: { code: "not_found", message: "No such drop." } });
		}
		// Asked again (now from this isolate's memory), the same.
		for (const [what, send] of strangerRequests(ids[0]!, queueToken)) expect((await send()).status, what).toBe(404);
		expect(await allObjects()).toEqual(before);

		// The real drop answers as ever.
		expect((await callWorker(`/api/drops/${real.id}`)).status).toBe(200);
		expect((await callWorker(`/api/drops/${real.id}/fairness`)).status).toBe(200);
		expect((await callWorker(`/api/drops/${real.id}/status`, { headers: { authorization: `Bearer ${queueToken}` } })).status).toBe(200);
		expect((await join(real.id, "real-fan-2")).status).toBe("waiting");
	});

	it(`a drop whose id was asked for before it existed is reachable within ${UNKNOWN_FOR_MS / 1000} s`, async () => {
		// A drop that "does not exist yet": its D1 row is taken out, as before its creation.
		const drop = await createDrop();
		const row = (await getDrop(env.DB, drop.id))!;
		await env.DB.prepare(`DELETE FROM drops WHERE id = ?`).bind(drop.id).run();
		const t0 = Date.now();
		expect(await isKnownDrop(env, drop.id, t0)).toBe(false);
		expect((await callWorker(`/api/drops/${drop.id}`)).status).toBe(404);
		// Created: this isolate still remembers "unknown" for a moment, never longer than UNKNOWN_FOR_MS.
		await insertDrop(env.DB, row);
		expect(await isKnownDrop(env, drop.id, t0 + 1)).toBe(false);
		expect(await isKnownDrop(env, drop.id, t0 + UNKNOWN_FOR_MS + 1)).toBe(true);
		// Through the Worker, on the real clock.
		const other = await createDrop();
		const otherRow = (await getDrop(env.DB, other.id))!;
		await env.DB.prepare(`DELETE FROM drops WHERE id = ?`).bind(other.id).run();
		expect((await callWorker(`/api/drops/${other.id}`)).status).toBe(404);
		await insertDrop(env.DB, otherRow);
		// Looked at every 100 ms: it must answer before the bound (with a second of slack) runs out.
		await waitUntil(async () => (await callWorker(`/api/drops/${other.id}`)).status === 200, UNKNOWN_FOR_MS + 1_000, "the new drop to be reachable", 100);
	});

	it("the isolate's memory of unknown ids stays bounded, and a flood of them never pushes out a real drop", async () => {
		const real = await createDrop();
		expect(await isKnownDrop(env, real.id)).toBe(true);
		for (let i = 0; i < 1_100; i++) await isKnownDrop(env, newDropId());
		const size = knownDropCacheSize();
		expect(size.unknown).toBeLessThanOrEqual(1_000);
		expect(size.known).toBeGreaterThanOrEqual(1);
		// Still known without asking D1: a database that fails would show it.
		const failingDb = { prepare: () => { throw new Error("D1 is down"); } } as unknown as D1Database;
		expect(await isKnownDrop({ DB: failingDb }, real.id)).toBe(true);
	});

	it("without D1 an id the isolate does not know answers 503 try_again with Retry-After, and no object is called", async () => {
		const failingDb = { prepare: () => { throw new Error("D1_ERROR: secret-detail"); } };
		const before = await allObjects();
		const res = await callWorker(`/api/drops/${newDropId()}`, {}, { env: { DB: failingDb } });
		expect(res.status).toBe(503);
		expect(res.headers.get("retry-after")).toBe("1");
		const text = await res.text();
		expect(JSON.parse(text)).toMatchObject({ error: { code: "try_again", retryAfter: 1 } });
		expect(text).not.toContain("secret-detail");
		expect(await allObjects()).toEqual(before);
	});
});
