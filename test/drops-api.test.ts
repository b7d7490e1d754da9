// The promoter drops API through the Worker: auth, every validation rule,
// persistence in D1, live stats, and the fan's public view of a drop.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DropConfig } from "../src/drops";
import type { WaitingRoom } from "../src/waiting-room";
import {
	BASE,
	type DropJson,
	adminFetch,
	admitBatch,
	admittedFan,
	callWorker,
	createDrop,
	fanFetch,
	hold,
	join,
	purchase,
	roomStub,
	status,
	tickRoom,
} from "./helpers";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const inHours = (h: number) => new Date(Date.now() + h * HOUR).toISOString();

interface ErrorJson {
	error: { code: string; message: string; field?: string };
}

async function dropRow(id: string): Promise<Record<string, unknown> | null> {
	return env.DB.prepare(`SELECT * FROM drops WHERE id = ?`).bind(id).first();
}

async function dropCount(): Promise<number> {
	return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM drops`).first<number>("n")) ?? 0;
}

async function getDrop(id: string): Promise<DropJson & { stats: Record<string, number> }> {
	const res = await adminFetch(`/api/admin/drops/${id}`);
	expect(res.status).toBe(200);
	return (await res.json()) as DropJson & { stats: Record<string, number> };
}

function post(body: unknown): Promise<Response> {
	return adminFetch("/api/admin/drops", { method: "POST", body: JSON.stringify(body) });
}

function patch(id: string, body: unknown): Promise<Response> {
	return adminFetch(`/api/admin/drops/${id}`, { method: "PATCH", body: JSON.stringify(body) });
}

const validBody = (over: Record<string, unknown> = {}) => ({ name: "API drop", capacity: 50, maxPerFan: 2, opensAt: inHours(1), ...over });

describe("admin auth", () => {
	const routes: [string, string, unknown?][] = [
		["POST", "/api/admin/drops", validBody()],
		["GET", "/api/admin/drops"],
		["GET", "/api/admin/drops/d_doesNotExist"],
		["PATCH", "/api/admin/drops/d_doesNotExist", { paused: true }],
		["GET", "/api/admin/drops/d_doesNotExist/sales"],
		["GET", "/api/admin/drops/d_doesNotExist/audit"],
		["GET", "/api/admin/no-such-route"],
		["DELETE", "/api/admin/drops"],
	];

	const badCredentials: [string, string | null][] = [
		["no header", null],
		["wrong token", "Bearer not-the-token"],
		["the token with a suffix", `Bearer ${env.ADMIN_TOKEN}x`],
		["a prefix of the token", `Bearer ${env.ADMIN_TOKEN.slice(0, -1)}`],
		["Basic scheme", `Basic ${btoa(`admin:${env.ADMIN_TOKEN}`)}`],
		["the bare token", env.ADMIN_TOKEN],
		["empty bearer", "Bearer "],
		["two tokens", `Bearer ${env.ADMIN_TOKEN} ${env.ADMIN_TOKEN}`],
	];

	for (const [what, authorization] of badCredentials) {
		it(`401 on every admin route with ${what}, before anything else is looked at`, async () => {
			const before = await dropCount();
			for (const [method, path, body] of routes) {
				const headers = new Headers({ "content-type": "application/json" });
				if (authorization !== null) headers.set("authorization", authorization);
				const res = await callWorker(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
				expect(res.status, `${method} ${path}`).toBe(401);
				expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
				expect(((await res.json()) as ErrorJson).error.code).toBe("unauthorized");
			}
			expect(await dropCount()).toBe(before);
		});
	}

	it("accepts the scheme in any case", async () => {
		const res = await callWorker(`${BASE}/api/admin/drops?limit=1`, { headers: { authorization: `bearer ${env.ADMIN_TOKEN}` } });
		expect(res.status).toBe(200);
	});

	it("401 on a fan access token used as the admin token", async () => {
		const drop = await createDrop();
		const accessToken = await admittedFan(drop.id, "fan-admin-try");
		const res = await fanFetch(`/api/admin/drops/${drop.id}`, accessToken);
		expect(res.status).toBe(401);
	});
});

describe("create", () => {
	it("201 with the drop, its Location and the defaults; the row is in D1", async () => {
		const opensAt = inHours(2);
		const res = await post(validBody({ opensAt }));
		expect(res.status).toBe(201);
		const drop = (await res.json()) as DropConfig;
		expect(res.headers.get("location")).toBe(`/api/admin/drops/${drop.id}`);
		expect(drop.id).toMatch(/^d_[A-Za-z0-9_-]{16}$/);
		expect(drop).toEqual({
			id: drop.id,
			name: "API drop",
			capacity: 50,
			maxPerFan: 2,
			opensAt,
			closesAt: null,
			priceCents: 0,
			currency: "USD",
			shards: 1,
			lines: 1,
			admission: { batchSize: 100, intervalMs: 2_000, activeMultiple: 2 },
			holdSeconds: 300,
			paused: false,
			createdAt: drop.createdAt,
			updatedAt: drop.createdAt,
			seedCommitment: expect.stringMatching(/^[0-9a-f]{64}$/),
		});
		expect(Math.abs(Date.parse(drop.createdAt) - Date.now())).toBeLessThan(DAY);

		expect(await dropRow(drop.id)).toEqual({
			id: drop.id,
			name: "API drop",
			capacity: 50,
			max_per_fan: 2,
			opens_at: opensAt,
			closes_at: null,
			price_cents: 0,
			currency: "USD",
			shards: 1,
			lines: 1,
			batch_size: 100,
			interval_ms: 2_000,
			active_multiple: 2,
			hold_seconds: 300,
			paused: 0,
			created_at: drop.createdAt,
			updated_at: drop.createdAt,
		});
	});

	it("stores every field it is given, normalising times to UTC, and reads them back the same", async () => {
		const created = await post({
			name: "  Arena night 🎟  ",
			capacity: 12_345,
			maxPerFan: 6,
			opensAt: "2030-03-01T19:00:00+02:00",
			closesAt: "2030-03-02T19:00:00Z",
			priceCents: 7_550,
			currency: "EUR",
			shards: 7,
			admission: { batchSize: 250, intervalMs: 1_000, activeMultiple: 3 },
			holdSeconds: 90,
		});
		expect(created.status).toBe(201);
		const drop = (await created.json()) as DropConfig;
		expect(drop).toMatchObject({
			name: "Arena night 🎟",
			opensAt: "2030-03-01T17:00:00.000Z",
			closesAt: "2030-03-02T19:00:00.000Z",
			priceCents: 7_550,
			currency: "EUR",
			shards: 7,
			admission: { batchSize: 250, intervalMs: 1_000, activeMultiple: 3 },
			holdSeconds: 90,
		});
		const row = await dropRow(drop.id);
		expect(row).toMatchObject({
			name: "Arena night 🎟",
			capacity: 12_345,
			max_per_fan: 6,
			opens_at: "2030-03-01T17:00:00.000Z",
			closes_at: "2030-03-02T19:00:00.000Z",
			price_cents: 7_550,
			currency: "EUR",
			shards: 7,
			lines: 25,
			batch_size: 250,
			interval_ms: 1_000,
			active_multiple: 3,
			hold_seconds: 90,
		});
		const { stats, ...read } = await getDrop(drop.id);
		expect(read).toEqual(drop);
		// The inventory is split over all seven shards, and adds up to the capacity.
		expect(stats.remaining).toBe(12_345);
	});

	it("gives every drop its own random id", async () => {
		const ids = await Promise.all(Array.from({ length: 10 }, async () => ((await (await post(validBody())).json()) as DropConfig).id));
		expect(new Set(ids).size).toBe(10);
	});

	// Each rule, through HTTP: [what, body overrides, status, code, field]
	const rules: [string, Record<string, unknown>, number, string, string][] = [
		["name missing", { name: undefined }, 400, "missing_field", "name"],
		["name not a string", { name: ["a"] }, 400, "invalid_type", "name"],
		["name empty", { name: "" }, 422, "empty", "name"],
		["name only spaces", { name: "    " }, 422, "empty", "name"],
		["name 121 characters", { name: "n".repeat(121) }, 422, "too_long", "name"],
		["name with a control character", { name: "bad\u0000name" }, 422, "invalid_format", "name"],
		["capacity missing", { capacity: undefined }, 400, "missing_field", "capacity"],
		["capacity 0", { capacity: 0 }, 422, "out_of_range", "capacity"],
		["capacity 10,000,001", { capacity: 10_000_001 }, 422, "out_of_range", "capacity"],
		["capacity a float", { capacity: 99.5 }, 400, "invalid_type", "capacity"],
		["capacity a string", { capacity: "50" }, 400, "invalid_type", "capacity"],
		["maxPerFan missing", { maxPerFan: undefined }, 400, "missing_field", "maxPerFan"],
		["maxPerFan 0", { maxPerFan: 0 }, 422, "out_of_range", "maxPerFan"],
		["maxPerFan 21", { maxPerFan: 21 }, 422, "out_of_range", "maxPerFan"],
		["maxPerFan a float", { maxPerFan: 1.1 }, 400, "invalid_type", "maxPerFan"],
		["opensAt missing", { opensAt: undefined }, 400, "missing_field", "opensAt"],
		["opensAt not ISO", { opensAt: "01/12/2030 18:00" }, 422, "invalid_time", "opensAt"],
		["opensAt 30 February", { opensAt: "2030-02-30T18:00:00Z" }, 422, "invalid_time", "opensAt"],
		["opensAt without a zone", { opensAt: "2030-02-01T18:00:00" }, 422, "invalid_time", "opensAt"],
		["opensAt a number", { opensAt: Date.now() + DAY }, 400, "invalid_type", "opensAt"],
		["opensAt years ago", { opensAt: "2001-01-01T00:00:00Z" }, 422, "invalid_time", "opensAt"],
		["opensAt far away", { opensAt: "2999-01-01T00:00:00Z" }, 422, "invalid_time", "opensAt"],
		["closesAt before opensAt", { closesAt: inHours(0.5) }, 422, "invalid_time", "closesAt"],
		["closesAt a boolean", { closesAt: false }, 400, "invalid_type", "closesAt"],
		["priceCents -1", { priceCents: -1 }, 422, "out_of_range", "priceCents"],
		["priceCents too large", { priceCents: 100_000_001 }, 422, "out_of_range", "priceCents"],
		["priceCents a float", { priceCents: 10.25 }, 400, "invalid_type", "priceCents"],
		["currency lower case", { currency: "eur" }, 422, "invalid_format", "currency"],
		["currency too long", { currency: "EURO" }, 422, "too_long", "currency"],
		["shards 0", { shards: 0 }, 422, "out_of_range", "shards"],
		["shards 65", { shards: 65 }, 422, "out_of_range", "shards"],
		["shards over capacity", { capacity: 2, shards: 3 }, 422, "out_of_range", "shards"],
		["admission a string", { admission: "fast" }, 400, "invalid_type", "admission"],
		["admission unknown field", { admission: { rate: 5 } }, 400, "unknown_field", "admission.rate"],
		["admission.batchSize 0", { admission: { batchSize: 0 } }, 422, "out_of_range", "admission.batchSize"],
		["admission.intervalMs 100", { admission: { intervalMs: 100 } }, 422, "out_of_range", "admission.intervalMs"],
		["admission.activeMultiple 50", { admission: { activeMultiple: 50 } }, 422, "out_of_range", "admission.activeMultiple"],
		["holdSeconds 1", { holdSeconds: 1 }, 422, "out_of_range", "holdSeconds"],
		["holdSeconds 7200", { holdSeconds: 7_200 }, 422, "out_of_range", "holdSeconds"],
		["unknown field", { colour: "blue" }, 400, "unknown_field", "colour"],
		["an id of its own", { id: "d_chosen" }, 400, "unknown_field", "id"],
	];

	for (const [what, over, status, code, field] of rules) {
		it(`${what}: ${status} ${code}, nothing stored`, async () => {
			const marker = `rule ${what}`;
			const body: Record<string, unknown> = validBody({ name: marker, ...over });
			for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
			const before = await dropCount();
			const res = await post(body);
			expect(res.status).toBe(status);
			const json = (await res.json()) as ErrorJson;
			expect(json.error.code).toBe(code);
			expect(json.error.field).toBe(field);
			expect(json.error.message).toEqual(expect.any(String));
			expect(await dropCount()).toBe(before);
		});
	}

	it("non-object bodies are 400 invalid_type", async () => {
		for (const body of [[], null, "drop", 42]) {
			const res = await post(body);
			expect(res.status).toBe(400);
			expect(((await res.json()) as ErrorJson).error.code).toBe("invalid_type");
		}
	});
});

describe("list", () => {
	it("lists drops newest first and pages through all of them with the cursor", async () => {
		const mine = new Set<string>();
		for (let i = 0; i < 5; i++) mine.add((await createDrop({ name: `list ${i}` })).id);

		const first = (await (await adminFetch("/api/admin/drops")).json()) as { drops: DropConfig[]; nextCursor: string | null };
		const created = first.drops.map((d) => d.createdAt);
		expect([...created].sort().reverse()).toEqual(created);
		for (const id of mine) expect(first.drops.some((d) => d.id === id)).toBe(true);

		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const res = await adminFetch(`/api/admin/drops?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
			expect(res.status).toBe(200);
			const page = (await res.json()) as { drops: DropConfig[]; nextCursor: string | null };
			expect(page.drops.length).toBeLessThanOrEqual(2);
			seen.push(...page.drops.map((d) => d.id));
			cursor = page.nextCursor;
		} while (cursor !== null);
		expect(new Set(seen).size).toBe(seen.length);
		expect(seen.length).toBe(await dropCount());
		for (const id of mine) expect(seen).toContain(id);
	});

	it("refuses bad paging parameters", async () => {
		const cases: [string, number, string][] = [
			["limit=0", 422, "out_of_range"],
			["limit=201", 422, "out_of_range"],
			["limit=-1", 400, "invalid_type"],
			["limit=1.5", 400, "invalid_type"],
			["limit=ten", 400, "invalid_type"],
			["limit=99999999999", 400, "invalid_type"],
			["cursor=%%%", 400, "invalid_cursor"],
			[`cursor=${btoa("[1,2]")}`, 400, "invalid_cursor"],
			[`cursor=${btoa('["a"]')}`, 400, "invalid_cursor"],
			[`cursor=${btoa("not json")}`, 400, "invalid_cursor"],
		];
		for (const [query, status, code] of cases) {
			const res = await adminFetch(`/api/admin/drops?${query}`);
			expect(res.status, query).toBe(status);
			expect(((await res.json()) as ErrorJson).error.code, query).toBe(code);
		}
	});
});

describe("get with live stats", () => {
	const STATS_KEYS = ["admitted", "held", "joined", "recorded", "recordedTickets", "remaining", "sold", "waiting"];

	it("a new drop: all zeros except remaining, which is the capacity", async () => {
		const drop = await createDrop({ capacity: 30, shards: 3, opensAt: inHours(1) });
		const { stats } = await getDrop(drop.id);
		expect(Object.keys(stats).sort()).toEqual(STATS_KEYS);
		expect(stats).toEqual({ joined: 0, waiting: 0, admitted: 0, held: 0, sold: 0, remaining: 30, recorded: 0, recordedTickets: 0 });
	});

	it("follows joins, admission, holds and sales, and counts what reaches D1", async () => {
		// One fan per batch and batches ten minutes apart: after the resume below, exactly
		// one batch (the first fan) is admitted while the test runs.
		const drop = await createDrop({ capacity: 10, maxPerFan: 4, shards: 2, admission: { batchSize: 1, intervalMs: 600_000, activeMultiple: 20 } });
		expect((await patch(drop.id, { paused: true })).status).toBe(200);
		const buyerJoin = await join(drop.id, "fan-stats-buyer");
		await join(drop.id, "fan-stats-waiter");
		let { stats } = await getDrop(drop.id);
		expect(stats).toEqual({ joined: 2, waiting: 2, admitted: 0, held: 0, sold: 0, remaining: 10, recorded: 0, recordedTickets: 0 });

		expect((await patch(drop.id, { paused: false })).status).toBe(200);
		// The resumed pacer's alarm is due now; run a tick to the end (the real one, if it fires
		// meanwhile, admits nobody more inside the interval).
		await tickRoom(drop.id);
		({ stats } = await getDrop(drop.id));
		expect(stats).toMatchObject({ joined: 2, waiting: 1, admitted: 1, held: 0, sold: 0, remaining: 10 });
		const admitted = await status(drop.id, buyerJoin.queueToken);
		expect(admitted.status).toBe("admitted");
		const buyer = admitted.accessToken as string;

		const h = await hold(drop.id, buyer, 3);
		expect(h.status).toBe(201);
		({ stats } = await getDrop(drop.id));
		expect(stats).toMatchObject({ held: 3, sold: 0, remaining: 7 });

		const { holdId } = (await h.json()) as { holdId: string };
		expect((await purchase(drop.id, buyer, holdId)).status).toBe(201);
		({ stats } = await getDrop(drop.id));
		expect(stats).toMatchObject({ held: 0, sold: 3, remaining: 7 });

		// The sale travels through the real queue into D1; wait for it, bounded.
		for (let i = 0; i < 200 && stats.recorded === 0; i++) {
			await new Promise((resolve) => setTimeout(resolve, 100));
			({ stats } = await getDrop(drop.id));
		}
		expect(stats).toMatchObject({ recorded: 1, recordedTickets: 3, sold: 3 });
	});

	it("404 not_found for an unknown or malformed id", async () => {
		for (const id of ["d_AAAAAAAAAAAAAAAA", "nope", "x".repeat(65), "%2e%2e", "d_a%20b"]) {
			const res = await adminFetch(`/api/admin/drops/${id}`);
			expect(res.status, id).toBe(404);
			expect(((await res.json()) as ErrorJson).error.code).toBe("not_found");
		}
	});
});

describe("patch", () => {
	it("reschedules, renames, changes admission and pauses; D1, the answer and the waiting room agree", async () => {
		const drop = await createDrop({ opensAt: inHours(1) });
		const opensAt = inHours(5);
		const res = await patch(drop.id, { name: "Moved", opensAt, admission: { batchSize: 7 }, holdSeconds: 45, paused: true });
		expect(res.status).toBe(200);
		const after = (await res.json()) as DropConfig & { stats: Record<string, number> };
		expect(after).toMatchObject({ name: "Moved", opensAt, paused: true, holdSeconds: 45, capacity: drop.capacity });
		expect(after.admission).toEqual({ ...drop.admission, batchSize: 7 });
		expect(after.stats.remaining).toBe(drop.capacity);
		expect(Date.parse(after.updatedAt)).toBeGreaterThanOrEqual(Date.parse((await dropRow(drop.id))!.created_at as string));

		expect(await dropRow(drop.id)).toMatchObject({ name: "Moved", opens_at: opensAt, paused: 1, hold_seconds: 45, batch_size: 7, updated_at: after.updatedAt });
		const { stats: _stats, ...read } = await getDrop(drop.id);
		const { stats: _s, ...answered } = after;
		expect(read).toEqual(answered);
		const roomConfig = await runInDurableObject(roomStub(drop.id), (_room, state) =>
			JSON.parse(state.storage.sql.exec<{ json: string }>(`SELECT json FROM config WHERE id = 1`).one().json) as DropConfig,
		);
		expect(roomConfig).toMatchObject({ name: "Moved", opensAt, paused: true, holdSeconds: 45 });

		const resumed = await patch(drop.id, { paused: false });
		expect(resumed.status).toBe(200);
		expect(((await resumed.json()) as DropConfig).paused).toBe(false);
		expect((await dropRow(drop.id))!.paused).toBe(0);
	});

	it("a changed hold time reaches the inventory: new holds expire on the new schedule", async () => {
		const drop = await createDrop({ holdSeconds: 300 });
		expect((await patch(drop.id, { holdSeconds: 30 })).status).toBe(200);
		const token = await admittedFan(drop.id, "fan-hold-time");
		const res = await hold(drop.id, token, 1);
		expect(res.status).toBe(201);
		const { expiresAt } = (await res.json()) as { expiresAt: string };
		expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(30_000);
	});

	const refusals: [string, (d: DropJson) => unknown, number, string, string][] = [
		["an empty patch", () => ({}), 400, "empty_patch", "body"],
		["an unknown field", () => ({ venue: "x" }), 400, "unknown_field", "venue"],
		["capacity", () => ({ capacity: 5 }), 422, "immutable_field", "capacity"],
		["maxPerFan", () => ({ maxPerFan: 1 }), 422, "immutable_field", "maxPerFan"],
		["shards", () => ({ shards: 2 }), 422, "immutable_field", "shards"],
		["priceCents", () => ({ priceCents: 1 }), 422, "immutable_field", "priceCents"],
		["currency", () => ({ currency: "EUR" }), 422, "immutable_field", "currency"],
		["id", () => ({ id: "d_other" }), 422, "immutable_field", "id"],
		["paused a string", () => ({ paused: "true" }), 400, "invalid_type", "paused"],
		["name empty", () => ({ name: " " }), 422, "empty", "name"],
		["opensAt in the past", () => ({ opensAt: inHours(-1) }), 422, "invalid_time", "opensAt"],
		["opensAt too far away", () => ({ opensAt: "2999-01-01T00:00:00Z" }), 422, "invalid_time", "opensAt"],
		["opensAt not a time", () => ({ opensAt: "later" }), 422, "invalid_time", "opensAt"],
		["closesAt before opensAt", (d) => ({ closesAt: new Date(Date.parse(d.opensAt) - 1_000).toISOString() }), 422, "invalid_time", "closesAt"],
		["admission.intervalMs 1", () => ({ admission: { intervalMs: 1 } }), 422, "out_of_range", "admission.intervalMs"],
		["holdSeconds a float", () => ({ holdSeconds: 30.5 }), 400, "invalid_type", "holdSeconds"],
	];

	for (const [what, body, status, code, field] of refusals) {
		it(`refuses ${what} with ${status} ${code} and changes nothing`, async () => {
			const drop = await createDrop({ opensAt: inHours(1) });
			const before = await dropRow(drop.id);
			const res = await patch(drop.id, body(drop));
			expect(res.status).toBe(status);
			const json = (await res.json()) as ErrorJson;
			expect(json.error.code).toBe(code);
			expect(json.error.field).toBe(field);
			expect(await dropRow(drop.id)).toEqual(before);
		});
	}

	it("refuses to reschedule a drop that has opened, and changes nothing", async () => {
		const drop = await createDrop({ opensAt: inHours(-1) });
		const before = await dropRow(drop.id);
		const res = await patch(drop.id, { opensAt: inHours(3) });
		expect(res.status).toBe(422);
		expect(((await res.json()) as ErrorJson).error.code).toBe("already_open");
		expect(await dropRow(drop.id)).toEqual(before);
	});

	it("404 for an unknown drop, and creates nothing", async () => {
		const before = await dropCount();
		const res = await patch("d_AAAAAAAAAAAAAAAA", { paused: true });
		expect(res.status).toBe(404);
		expect(await dropCount()).toBe(before);
	});
});

describe("the public view, GET /api/drops/:id", () => {
	interface PublicDrop {
		id: string;
		name: string;
		opensAt: string;
		status: string;
		remaining: number;
		[key: string]: unknown;
	}

	async function view(id: string): Promise<PublicDrop> {
		const res = await callWorker(`${BASE}/api/drops/${id}`);
		expect(res.status).toBe(200);
		return (await res.json()) as PublicDrop;
	}

	it("needs no credentials and shows what fans need, nothing of the promoter's", async () => {
		const drop = await createDrop({ name: "Public", capacity: 40, opensAt: inHours(2), priceCents: 2_500, currency: "GBP" });
		const res = await callWorker(`${BASE}/api/drops/${drop.id}`);
		expect(res.status).toBe(200);
		expect(res.headers.get("cache-control")).toBe("public, max-age=1");
		const body = (await res.json()) as PublicDrop;
		expect(body).toMatchObject({ id: drop.id, name: "Public", opensAt: drop.opensAt, status: "scheduled", remaining: 40, capacity: 40, priceCents: 2_500, currency: "GBP" });
		for (const secret of ["stats", "admission", "shards", "createdAt", "updatedAt", "joined", "sold"]) expect(body).not.toHaveProperty(secret);
	});

	it("scheduled, then open, sold_out and closed", async () => {
		expect((await view((await createDrop({ opensAt: inHours(1) })).id)).status).toBe("scheduled");
		const open = await createDrop({ opensAt: inHours(-1), capacity: 2, maxPerFan: 2 });
		expect((await view(open.id)).status).toBe("open");

		const token = await admittedFan(open.id, "fan-buys-all");
		const h = await hold(open.id, token, 2);
		expect(h.status).toBe(201);
		// The public view is the pacer's published document: a tick (within a second) brings it up to date.
		await tickRoom(open.id);
		let v = await view(open.id);
		// Held stock may come back, so the drop is not sold out yet.
		expect(v).toMatchObject({ status: "open", remaining: 0 });
		expect((await purchase(open.id, token, ((await h.json()) as { holdId: string }).holdId)).status).toBe(201);
		await tickRoom(open.id);
		v = await view(open.id);
		expect(v).toMatchObject({ status: "sold_out", remaining: 0 });

		const closed = await createDrop({ opensAt: inHours(-2), closesAt: inHours(-1) });
		expect((await view(closed.id)).status).toBe("closed");
	});

	it("shows a pause and a reschedule", async () => {
		const drop = await createDrop({ opensAt: inHours(1) });
		const opensAt = inHours(4);
		expect((await patch(drop.id, { paused: true, opensAt, name: "Later" })).status).toBe(200);
		expect(await view(drop.id)).toMatchObject({ paused: true, opensAt, name: "Later", status: "scheduled" });
	});

	it("404 not_found for unknown and malformed ids", async () => {
		for (const id of ["d_AAAAAAAAAAAAAAAA", "nope", "x".repeat(65), "a.b"]) {
			const res = await callWorker(`${BASE}/api/drops/${id}`);
			expect(res.status, id).toBe(404);
			expect(((await res.json()) as ErrorJson).error.code).toBe("not_found");
		}
	});
});

describe("health", () => {
	it("answers 200", async () => {
		const res = await callWorker(`${BASE}/api/health`);
		expect(res.status).toBe(200);
		expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
	});
});
