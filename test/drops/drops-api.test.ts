// The promoter drops API through the Worker: auth, every validation rule,
// persistence in D1, live stats, and the fan's public view of a drop.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DropConfig } from "../../src/drops/rules";
import { createDropRefusals, patchDropRefusals, validDropBody } from "../support/drop-rules";
import { createDrop, dropsInD1, getDrop, patchDropRequest } from "../support/drops";
import { errorCode, expectError } from "../support/errors";
import { admittedFan, hold, join, purchase, status } from "../support/fans";
import { roomStub, tickRoom } from "../support/room";
import { DAY, inHours } from "../support/time";
import { waitUntil } from "../support/wait";
import { type EnvOverrides, adminFetch, callWorker, fanFetch } from "../support/worker";

async function dropRow(id: string): Promise<Record<string, unknown> | null> {
	return env.DB.prepare(`SELECT * FROM drops WHERE id = ?`).bind(id).first();
}

function post(body: unknown): Promise<Response> {
	return adminFetch("/api/admin/drops", { method: "POST", body: JSON.stringify(body) });
}

/** A small drop opening in an hour. */
const apiDrop = (over: Record<string, unknown> = {}) => validDropBody(Date.now(), { name: "API drop", capacity: 50, maxPerFan: 2, opensAt: inHours(1), ...over });

describe("admin auth", () => {
	const routes: [string, string, unknown?][] = [
		["POST", "/api/admin/drops", apiDrop()],
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
			const before = await dropsInD1();
			for (const [method, path, body] of routes) {
				const headers = new Headers({ "content-type": "application/json" });
				if (authorization !== null) headers.set("authorization", authorization);
				const res = await callWorker(`${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
				expect(res.status, `${method} ${path}`).toBe(401);
				expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
				expect(await errorCode(res)).toBe("unauthorized");
			}
			expect(await dropsInD1()).toBe(before);
		});
	}

	it("accepts the scheme in any case", async () => {
		const res = await callWorker(`/api/admin/drops?limit=1`, { headers: { authorization: `bearer ${env.ADMIN_TOKEN}` } });
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
		const res = await post(apiDrop({ opensAt }));
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
			admission: { batchSize: 100, intervalMs: 2_000, activeMultiple: 2, offerSeconds: 1_800 },
			holdSeconds: 300,
			paused: false,
			cancelledAt: null,
			// Made without a time zone: its times are shown in UTC.
			timeZone: "UTC",
			createdAt: drop.createdAt,
			updatedAt: drop.createdAt,
			// Made with the operator's token: the drop belongs to no promoter.
			promoterId: null,
			seedCommitment: expect.stringMatching(/^[0-9a-f]{64}$/),
			// Made without ticketTypes: its one general-admission type.
			ticketTypes: [{ id: "general", name: "General admission", kind: "general", priceCents: 0, maxPerFan: 2, capacity: 50 }],
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
			offer_seconds: 1_800,
			hold_seconds: 300,
			paused: 0,
			created_at: drop.createdAt,
			updated_at: drop.createdAt,
			promoter_id: null,
			ticket_types: null,
			cancelled_at: null,
			time_zone: "UTC",
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
		const { stats, status, moves, ...read } = (await getDrop(drop.id)) as Awaited<ReturnType<typeof getDrop>> & { status: string; moves: string[] };
		expect(read).toEqual(drop);
		// Before its opening: scheduled, with the moves that state allows.
		expect({ status, moves }).toEqual({ status: "scheduled", moves: ["pause", "reschedule", "close", "cancel"] });
		// The inventory is split over all seven shards, and adds up to the capacity.
		expect(stats.remaining).toBe(12_345);
	});

	it("keeps the drop's time zone by its canonical name, answers it to the promoter and to fans, and a patch moves it", async () => {
		const created = await post(apiDrop({ timeZone: "europe/berlin" }));
		expect(created.status).toBe(201);
		const drop = (await created.json()) as DropConfig;
		expect(drop.timeZone).toBe("Europe/Berlin");
		expect((await dropRow(drop.id))!.time_zone).toBe("Europe/Berlin");
		expect((await getDrop(drop.id)).timeZone).toBe("Europe/Berlin");
		const fan = (await (await callWorker(`/api/drops/${drop.id}`)).json()) as { timeZone: string };
		expect(fan.timeZone).toBe("Europe/Berlin");

		const moved = await patchDropRequest(drop.id, { timeZone: "Asia/Tokyo" });
		expect(moved.status).toBe(200);
		expect(((await moved.json()) as DropConfig).timeZone).toBe("Asia/Tokyo");
		expect((await dropRow(drop.id))!.time_zone).toBe("Asia/Tokyo");
		const roomConfig = await runInDurableObject(roomStub(drop.id), (_room, state) =>
			JSON.parse(state.storage.sql.exec<{ json: string }>(`SELECT json FROM config WHERE id = 1`).one().json) as DropConfig,
		);
		expect(roomConfig.timeZone).toBe("Asia/Tokyo");
		// The activity log says what moved.
		const logged = await env.DB.prepare(`SELECT detail FROM activity WHERE drop_id = ? AND action = 'drop.updated'`).bind(drop.id).all<{ detail: string }>();
		expect(logged.results.map((r) => JSON.parse(r.detail))).toEqual([{ changes: { timeZone: { from: "Europe/Berlin", to: "Asia/Tokyo" } } }]);
		// The fans' view follows once the pacer publishes again (it is cached for a second or so).
		await waitUntil(async () => ((await (await callWorker(`/api/drops/${drop.id}`)).json()) as { timeZone: string }).timeZone === "Asia/Tokyo", 10_000, "the fans' view in Tokyo time", 200);
	});

	it("gives every drop its own random id", async () => {
		const ids = await Promise.all(Array.from({ length: 10 }, async () => ((await (await post(apiDrop())).json()) as DropConfig).id));
		expect(new Set(ids).size).toBe(10);
	});

	// Every rule of the create table (support/drop-rules.ts), through HTTP: the contract's error, naming the field, and no drop stored.
	const now = Date.now();
	for (const [what, over, status, code, field] of createDropRefusals(now)) {
		it(`${what}: ${status} ${code}, nothing stored`, async () => {
			const before = await dropsInD1();
			const error = await expectError(await post(validDropBody(now, over)), status, code);
			expect(error.field).toBe(field);
			expect(await dropsInD1()).toBe(before);
		});
	}

	it("non-object bodies are 400 invalid_type", async () => {
		for (const body of [[], null, "drop", 42]) {
			const res = await post(body);
			expect(res.status).toBe(400);
			expect(await errorCode(res)).toBe("invalid_type");
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
		// Bounded: a cursor that never ends fails here rather than at the test's timeout.
		const pagesAtMost = Math.ceil((await dropsInD1()) / 2) + 1;
		let pages = 0;
		do {
			expect(++pages, "pages for the drops in D1").toBeLessThanOrEqual(pagesAtMost);
			const res = await adminFetch(`/api/admin/drops?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
			expect(res.status).toBe(200);
			const page = (await res.json()) as { drops: DropConfig[]; nextCursor: string | null };
			expect(page.drops.length).toBeLessThanOrEqual(2);
			seen.push(...page.drops.map((d) => d.id));
			cursor = page.nextCursor;
		} while (cursor !== null);
		expect(new Set(seen).size).toBe(seen.length);
		expect(seen.length).toBe(await dropsInD1());
		for (const id of mine) expect(seen).toContain(id);
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
		expect((await patchDropRequest(drop.id, { paused: true })).status).toBe(200);
		const buyerJoin = await join(drop.id, "fan-stats-buyer");
		await join(drop.id, "fan-stats-waiter");
		let { stats } = await getDrop(drop.id);
		expect(stats).toEqual({ joined: 2, waiting: 2, admitted: 0, held: 0, sold: 0, remaining: 10, recorded: 0, recordedTickets: 0 });

		expect((await patchDropRequest(drop.id, { paused: false })).status).toBe(200);
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
		await waitUntil(
			async () => {
				({ stats } = await getDrop(drop.id));
				return (stats.recorded ?? 0) > 0;
			},
			20_000,
			"the sale to reach D1",
			100,
		);
		expect(stats).toMatchObject({ recorded: 1, recordedTickets: 3, sold: 3 });
	});

	it("404 not_found for an unknown or malformed id", async () => {
		for (const id of ["d_AAAAAAAAAAAAAAAA", "nope", "x".repeat(65), "%2e%2e", "d_a%20b"]) {
			const res = await adminFetch(`/api/admin/drops/${id}`);
			expect(res.status, id).toBe(404);
			expect(await errorCode(res)).toBe("not_found");
		}
	});
});

describe("patch", () => {
	it("reschedules, renames, changes admission and pauses; D1, the answer and the waiting room agree", async () => {
		const drop = await createDrop({ opensAt: inHours(1) });
		const opensAt = inHours(5);
		const res = await patchDropRequest(drop.id, { name: "Moved", opensAt, admission: { batchSize: 7 }, holdSeconds: 45, paused: true });
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

		const resumed = await patchDropRequest(drop.id, { paused: false });
		expect(resumed.status).toBe(200);
		expect(((await resumed.json()) as DropConfig).paused).toBe(false);
		expect((await dropRow(drop.id))!.paused).toBe(0);
	});

	it("a changed hold time reaches the inventory: new holds expire on the new schedule", async () => {
		const drop = await createDrop({ holdSeconds: 300 });
		expect((await patchDropRequest(drop.id, { holdSeconds: 30 })).status).toBe(200);
		const token = await admittedFan(drop.id, "fan-hold-time");
		const res = await hold(drop.id, token, 1);
		expect(res.status).toBe(201);
		const { expiresAt } = (await res.json()) as { expiresAt: string };
		expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(30_000);
	});

	// Every refusal of the patch table (support/drop-rules.ts), through HTTP, on a drop that opens in an hour.
	patchDropRefusals(inHours(1), Date.now()).forEach(([what, , status, code, field], i) => {
		it(`refuses ${what} with ${status} ${code} and changes nothing`, async () => {
			const drop = await createDrop({ opensAt: inHours(1) });
			const [, patch] = patchDropRefusals(drop.opensAt, Date.now())[i]!;
			const before = await dropRow(drop.id);
			expect((await expectError(await patchDropRequest(drop.id, patch), status, code)).field).toBe(field);
			expect(await dropRow(drop.id)).toEqual(before);
		});
	});

	it("refuses to reschedule a drop that has opened, and changes nothing", async () => {
		const drop = await createDrop({ opensAt: inHours(-1) });
		const before = await dropRow(drop.id);
		const res = await patchDropRequest(drop.id, { opensAt: inHours(3) });
		expect(res.status).toBe(422);
		expect(await errorCode(res)).toBe("already_open");
		expect(await dropRow(drop.id)).toEqual(before);
	});

	it("404 for an unknown drop, and creates nothing", async () => {
		const before = await dropsInD1();
		const res = await patchDropRequest("d_AAAAAAAAAAAAAAAA", { paused: true });
		expect(res.status).toBe(404);
		expect(await dropsInD1()).toBe(before);
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
		const res = await callWorker(`/api/drops/${id}`);
		expect(res.status).toBe(200);
		return (await res.json()) as PublicDrop;
	}

	it("needs no credentials and shows what fans need, nothing of the promoter's", async () => {
		const drop = await createDrop({ name: "Public", capacity: 40, opensAt: inHours(2), priceCents: 2_500, currency: "GBP" });
		const res = await callWorker(`/api/drops/${drop.id}`);
		expect(res.status).toBe(200);
		expect(res.headers.get("cache-control")).toBe("public, max-age=1");
		const body = (await res.json()) as PublicDrop;
		expect(body).toMatchObject({ id: drop.id, name: "Public", opensAt: drop.opensAt, status: "scheduled", remaining: 40, capacity: 40, priceCents: 2_500, currency: "GBP" });
		for (const secret of ["stats", "admission", "shards", "createdAt", "updatedAt", "joined", "sold"]) expect(body).not.toHaveProperty(secret);
	});

	it("says how fans pay here: the methods taken, and Stripe's publishable key only where Stripe is on", async () => {
		const drop = await createDrop({ priceCents: 1_000 });
		const payments = async (overrides: EnvOverrides) => ((await (await callWorker(`/api/drops/${drop.id}`, {}, { env: overrides })).json()) as { payments: unknown }).payments;
		// The tests' deployment: test payments on, Stripe (the stand-in) on, no publishable key.
		expect((await view(drop.id)).payments).toEqual({ methods: ["test", "stripe"], stripePublishableKey: null });
		expect(await payments({ STRIPE_PUBLISHABLE_KEY: "pk_test_51Fan" })).toEqual({ methods: ["test", "stripe"], stripePublishableKey: "pk_test_51Fan" });
		expect(await payments({ STRIPE_PUBLISHABLE_KEY: "pk_test_51Fan", TEST_PAYMENTS: "off" })).toEqual({ methods: ["stripe"], stripePublishableKey: "pk_test_51Fan" });
		expect(await payments({ STRIPE_PUBLISHABLE_KEY: "pk_test_51Fan", STRIPE_SECRET_KEY: "" })).toEqual({ methods: ["test"], stripePublishableKey: null });
		expect(await payments({ STRIPE_PUBLISHABLE_KEY: "sk_test_secret" })).toEqual({ methods: ["test", "stripe"], stripePublishableKey: null });
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
		expect((await patchDropRequest(drop.id, { paused: true, opensAt, name: "Later" })).status).toBe(200);
		expect(await view(drop.id)).toMatchObject({ paused: true, opensAt, name: "Later", status: "scheduled" });
	});

	it("404 not_found for unknown and malformed ids", async () => {
		for (const id of ["d_AAAAAAAAAAAAAAAA", "nope", "x".repeat(65), "a.b"]) {
			const res = await callWorker(`/api/drops/${id}`);
			expect(res.status, id).toBe(404);
			expect(await errorCode(res)).toBe("not_found");
		}
	});
});

describe("health", () => {
	it("answers 200", async () => {
		const res = await callWorker(`/api/health`);
		expect(res.status).toBe(200);
		expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
	});
});
