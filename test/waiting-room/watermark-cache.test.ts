// The Worker's per-isolate watermark cache: polls are answered from it, and
// what it answers is never more than a second old. (The rest of the suite runs
// with WATERMARK_CACHE_MS=0; here the cache is driven with its own clock.)
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DropConfig } from "../../src/drops/rules";
import { unwrap } from "../../src/shared/outcome";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { parseConfig } from "../../src/shared/config";
import { cachedWatermark, forgetIsolateWatermarks } from "../../src/waiting-room/watermark-cache";
import { createDrop } from "../support/drops";
import { admittedFan, hold, join, purchase } from "../support/fans";
import { admitBatch, openRoom, roomStub } from "../support/room";
import { adminFetch } from "../support/worker";

const withCache = (ms: string) => ({ ...env, WATERMARK_CACHE_MS: ms }) as Env;

describe("WATERMARK_CACHE_MS (src/shared/config.ts)", () => {
	it("is at most one second, never negative, and one second when unset or unreadable", () => {
		expect(parseConfig({ WATERMARK_CACHE_MS: "250" }).watermarkCacheMs).toBe(250);
		expect(parseConfig({ WATERMARK_CACHE_MS: "0" }).watermarkCacheMs).toBe(0);
		expect(parseConfig({ WATERMARK_CACHE_MS: "5000" }).watermarkCacheMs).toBe(1000);
		expect(parseConfig({ WATERMARK_CACHE_MS: "-20" }).watermarkCacheMs).toBe(0);
		expect(parseConfig({ WATERMARK_CACHE_MS: "soon" }).watermarkCacheMs).toBe(1000);
		expect(parseConfig({}).watermarkCacheMs).toBe(1000);
	});
});

describe("cachedWatermark", () => {
	/**
	 * A queue that moves only when the test says so: fans join the pre-queue of a
	 * drop that opens in an hour, then the pacer opens it at that moment of its
	 * clock, so no alarm comes due while the test runs.
	 */
	async function dropWithQueue(fans: number) {
		const opensAt = new Date(Date.now() + 3600_000).toISOString();
		const drop = await createDrop({ capacity: 100, opensAt, admission: { batchSize: 2, intervalMs: 600_000, activeMultiple: 20 } });
		for (let i = 0; i < fans; i++) await join(drop.id, `wm-fan-${i}`);
		await openRoom(drop.id, Date.parse(opensAt));
		return drop;
	}

	it("answers from memory within the max age and asks the pacer again after it", async () => {
		const drop = await dropWithQueue(6);
		const cached = withCache("1000");
		const t0 = Date.now();
		const first = unwrap(await cachedWatermark(cached, drop.id, t0));
		await admitBatch(drop.id);
		const fresh = unwrap(await cachedWatermark(withCache("0"), drop.id));
		expect(fresh.admittedThrough).toBe(first.admittedThrough + 2);

		// Half a second later the cached answer still stands: no call to the pacer.
		expect(unwrap(await cachedWatermark(cached, drop.id, t0 + 500)).admittedThrough).toBe(first.admittedThrough);
		expect(unwrap(await cachedWatermark(cached, drop.id, t0 + 1000)).admittedThrough).toBe(first.admittedThrough);
		// Past one second it is asked again.
		expect(unwrap(await cachedWatermark(cached, drop.id, t0 + 1001)).admittedThrough).toBe(fresh.admittedThrough);
	});

	it("never keeps an answer longer than one second, whatever the setting", async () => {
		const drop = await dropWithQueue(6);
		const tooLong = withCache("60000");
		const t0 = Date.now();
		const first = unwrap(await cachedWatermark(tooLong, drop.id, t0));
		await admitBatch(drop.id);
		expect(unwrap(await cachedWatermark(tooLong, drop.id, t0 + 1001)).admittedThrough).toBe(first.admittedThrough + 2);
	});

	it("with a max age of 0 asks the pacer every time", async () => {
		const drop = await dropWithQueue(4);
		const off = withCache("0");
		const now = Date.now();
		const before = unwrap(await cachedWatermark(off, drop.id, now)).admittedThrough;
		await admitBatch(drop.id);
		expect(unwrap(await cachedWatermark(off, drop.id, now)).admittedThrough).toBe(before + 2);
	});

	it("keeps drops apart", async () => {
		const a = await dropWithQueue(3);
		const b = await dropWithQueue(5);
		const cached = withCache("1000");
		const now = Date.now();
		expect(unwrap(await cachedWatermark(cached, a.id, now)).lastPosition).toBe(3);
		expect(unwrap(await cachedWatermark(cached, b.id, now)).lastPosition).toBe(5);
		expect(unwrap(await cachedWatermark(cached, a.id, now + 10)).lastPosition).toBe(3);
	});

	it("does not keep a failure: a pacer that was not ready is asked again at once", async () => {
		const drop = await createDrop({ capacity: 10 });
		const id = `${drop.id}x`;
		const cached = withCache("1000");
		const now = Date.now();
		const missing = await cachedWatermark(cached, id, now);
		expect(missing.ok).toBe(false);
		// The pacer gets its settings (as the admin route does before the drop is listed).
		const config: DropConfig = { ...(drop as unknown as DropConfig), id, closesAt: null };
		await runInDurableObject(roomStub(id), (room: WaitingRoom) => room.configure(config));
		const found = await cachedWatermark(cached, id, now + 1);
		expect(found.ok).toBe(true);
	});

	it("asks the pacer once when a crowd finds its copy expired: the others answer from the copy in hand meanwhile", async () => {
		const drop = await dropWithQueue(3);
		const cached = withCache("1000");
		const t0 = Date.now();
		unwrap(await cachedWatermark(cached, drop.id, t0));
		const before = await roomStub(drop.id).load();
		// 1.2 s later the copy has expired, for fifty polls at once, with nothing in the data center's cache.
		await caches.default.delete(`https://watermark.ticket-drop.internal/${encodeURIComponent(drop.id)}`);
		const answers = await Promise.all(Array.from({ length: 50 }, () => cachedWatermark(cached, drop.id, t0 + 1200)));
		expect(answers.every((a) => a.ok)).toBe(true);
		expect((await roomStub(drop.id).load()) - before).toBe(1);
	});

	it("shares a copy through the data center's cache: a fresh isolate reads it there, not from the pacer", async () => {
		const drop = await dropWithQueue(3);
		const cached = withCache("1000");
		const t0 = Date.now();
		const first = unwrap(await cachedWatermark(cached, drop.id, t0));
		const before = await roomStub(drop.id).load();
		await admitBatch(drop.id);
		const afterBatch = await roomStub(drop.id).load();
		// Another isolate of the same data center, within the second: the shared copy, one batch behind.
		forgetIsolateWatermarks();
		const shared = unwrap(await cachedWatermark(cached, drop.id, t0 + 300));
		expect(shared.admittedThrough).toBe(first.admittedThrough);
		expect(await roomStub(drop.id).load()).toBe(afterBatch);
		expect(afterBatch).toBeGreaterThanOrEqual(before);
		// Past the second, neither copy will do.
		forgetIsolateWatermarks();
		expect(unwrap(await cachedWatermark(cached, drop.id, Date.now() + 1100)).admittedThrough).toBeGreaterThan(first.admittedThrough);
	});

	it("a promoter's change is seen at once where it was made: the copies of that isolate and data center are dropped", async () => {
		const drop = await createDrop({ capacity: 10 });
		const cached = withCache("1000");
		expect(unwrap(await cachedWatermark(cached, drop.id)).paused).toBe(false);
		const res = await adminFetch(`/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify({ paused: true }) });
		expect(res.status).toBe(200);
		expect(unwrap(await cachedWatermark(cached, drop.id)).paused).toBe(true);
	});

	it("a pacer asleep gathers fresh totals for the reader who finds them old: a sale shows at the next look", async () => {
		const drop = await createDrop({ capacity: 2, maxPerFan: 2 });
		const token = await admittedFan(drop.id, "the-only-buyer");
		const h = await hold(drop.id, token, 2);
		expect((await purchase(drop.id, token, ((await h.json()) as { holdId: string }).holdId)).status).toBe(201);
		// Nobody waits, so the pacer sleeps; its totals are made a second old.
		await runInDurableObject(roomStub(drop.id), (_room: WaitingRoom, state) => {
			expect(state.storage.sql.exec<{ sleeping: number }>(`SELECT sleeping FROM pacer`).one().sleeping).toBe(1);
			state.storage.sql.exec(`UPDATE pacer SET totals_at = totals_at - 1000`);
		});
		const view = unwrap(await cachedWatermark(withCache("0"), drop.id));
		expect(view).toMatchObject({ soldOut: true, remaining: 0, sold: 2 });
	});

	it("answers many concurrent polls alike, and each answer is a plain value", async () => {
		const drop = await dropWithQueue(3);
		const cached = withCache("1000");
		const now = Date.now();
		const answers = await Promise.all(Array.from({ length: 50 }, () => cachedWatermark(cached, drop.id, now)));
		const values = answers.map((a) => unwrap(a));
		// Alike but for when the pacer wrote each and the pace measured then (concurrent first misses each ask it).
		expect(new Set(values.map(({ at: _at, pacePerSecond: _pace, ...v }) => JSON.stringify(v))).size).toBe(1);
		expect(values[0]!.lastPosition).toBe(3);
		expect(() => structuredClone(values[0])).not.toThrow();
	});
});
