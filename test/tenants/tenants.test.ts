// Promoters as tenants: keys with roles, every admin route scoped
// to the key's promoter, the activity log, keys never stored in clear, and the
// operator's token still good for everything.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { accessOf, authorizeGateKey } from "../../src/tenants/auth";
import { adminRouter } from "../../src/http/admin-routes";
import { keyHash } from "../../src/tenants/api-keys";
import { LIMIT_FOR_MS, knownDrop } from "../../src/drops/known-drops";
import { type DropJson, createDrop, getDrop } from "../support/drops";
import { expectError } from "../support/errors";
import { type PromoterJson, createDropAs, createPromoter, keyFetch, mintKey } from "../support/tenants";
import { adminFetch } from "../support/worker";

interface Side {
	promoter: PromoterJson;
	owner: string;
	staff: string;
	gate: string;
	drop: DropJson;
}

let a: Side;
let b: Side;
let operatorDrop: DropJson;

async function side(name: string): Promise<Side> {
	const promoter = await createPromoter(name);
	const owner = promoter.apiKey;
	const staff = (await mintKey(owner, "staff")).apiKey;
	const gate = (await mintKey(owner, "gate")).apiKey;
	const drop = await createDropAs(owner, { name: `${name} drop` });
	return { promoter, owner, staff, gate, drop };
}

beforeAll(async () => {
	a = await side("Promoter A");
	b = await side("Promoter B");
	operatorDrop = await createDrop({ name: "The operator's own drop" });
});

/** Every admin route the router knows, as [METHOD, path under /api/admin]: a route added later is in this list by itself. */
const adminRoutes = (): [string, string][] =>
	adminRouter.routes.filter(([method]) => method !== "ALL").map(([method, , , path]) => [method, path!.replace(/^\/api\/admin/, "")]);

/** Routes not under /drops/:id, and how each is scoped (checked by its own test below). */
const UNSCOPED_BY_PATH = new Map([
	["PATCH /promoters/:promoterId", "the operator's"],
	["DELETE /keys/:keyId", "another promoter's key is not found"],
	["POST /drops", "the new drop belongs to the key's promoter"],
	["GET /drops", "lists only the key's promoter's drops"],
	["POST /promoters", "the operator's"],
	["GET /promoters", "the operator's"],
	["GET /me", "the caller itself"],
	["POST /keys", "mints for the key's own promoter"],
	["GET /keys", "lists the key's own promoter's keys"],
	["GET /activity", "the key's own promoter's log"],
	["GET /dev/mail", "the operator's (every drop's receipts)"],
	["POST /dev/draw-cron", "the operator's (every drop's draws and emails)"],
	// Webhooks: owner keys only; another promoter's endpoint is not found (test/after-sale/webhooks.test.ts).
	["POST /webhooks", "registers for the key's own promoter (a dropId of another's is not found)"],
	["GET /webhooks", "lists the key's own promoter's endpoints"],
	["POST /webhooks/:webhookId/pause", "another promoter's endpoint is not found"],
	["POST /webhooks/:webhookId/resume", "another promoter's endpoint is not found"],
	["GET /webhooks/:webhookId/deliveries", "another promoter's endpoint is not found"],
	["POST /webhooks/:webhookId/deliveries/:deliveryId/resend", "another promoter's endpoint is not found"],
]);

function fill(path: string, values: Record<string, string>): string {
	return path.replace(/:(\w+)/g, (_, name: string) => values[name] ?? "x");
}

async function call(token: string, method: string, path: string): Promise<Response> {
	const init: RequestInit = { method };
	if (method !== "GET" && method !== "HEAD" && method !== "DELETE") init.body = "{}";
	return keyFetch(token, `/api/admin${path}`, init);
}

describe("scoping: two promoters cannot see or touch each other's drops", () => {
	const underDrop = (path: string) => /^\/drops\/:id(\/|$)/.test(path);

	it("every admin route is under /drops/:id (scoped by the middleware) or classified here: a new route elsewhere fails until it is", () => {
		const elsewhere = adminRoutes().filter(([, path]) => !underDrop(path)).map(([m, p]) => `${m} ${p}`);
		expect(elsewhere.sort()).toEqual([...UNSCOPED_BY_PATH.keys()].sort());
	});

	it("every route under /drops/:id answers 404 for another promoter's drop and the operator's, both directions, and changes nothing", async () => {
		const routes = adminRoutes().filter(([, path]) => underDrop(path));
		expect(routes.length).toBeGreaterThanOrEqual(5);
		const before = { a: await getDrop(a.drop.id), b: await getDrop(b.drop.id), op: await getDrop(operatorDrop.id) };
		const activityBefore = await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity`).first<number>("n");
		for (const [me, them] of [
			[a, b],
			[b, a],
		] as const) {
			for (const target of [them.drop.id, operatorDrop.id]) {
				for (const [method, path] of routes) {
					const url = fill(path, { id: target });
					const what = `${method} ${url} with ${me.promoter.name}'s owner key`;
					// The scan has its own guard (gate-auth.ts), which answers the same 404 for another promoter's drop.
					await expectError(await call(me.owner, method, url), 404, "not_found", what);
					if (accessOf(method, path) === "read") await expectError(await call(me.staff, method, url), 404, "not_found", `${what} (staff)`);
				}
				// The CSV export too.
				await expectError(await call(me.owner, "GET", `/drops/${target}/sales?format=csv`), 404, "not_found");
			}
		}
		expect({ a: await getDrop(a.drop.id), b: await getDrop(b.drop.id), op: await getDrop(operatorDrop.id) }).toEqual(before);
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity`).first<number>("n")).toBe(activityBefore);
	});

	it("each promoter reaches its own drop through the same routes", async () => {
		for (const s of [a, b]) {
			expect((await call(s.owner, "GET", `/drops/${s.drop.id}`)).status).toBe(200);
			expect((await call(s.staff, "GET", `/drops/${s.drop.id}/sales`)).status).toBe(200);
			expect((await call(s.staff, "GET", `/drops/${s.drop.id}/audit`)).status).toBe(200);
			const csv = await call(s.staff, "GET", `/drops/${s.drop.id}/sales?format=csv`);
			expect(csv.status).toBe(200);
			expect(await csv.text()).toMatch(/^order_id,/);
		}
	});

	it("lists only the promoter's own drops; the operator sees every drop", async () => {
		const ids = async (token: string) => ((await (await call(token, "GET", "/drops?limit=200")).json()) as { drops: { id: string }[] }).drops.map((d) => d.id);
		expect(await ids(a.staff)).toEqual([a.drop.id]);
		expect(await ids(b.owner)).toEqual([b.drop.id]);
		const all = await ids(env.ADMIN_TOKEN);
		expect(all).toEqual(expect.arrayContaining([a.drop.id, b.drop.id, operatorDrop.id]));
		const mine = (await (await call(a.owner, "GET", `/drops/${a.drop.id}`)).json()) as { promoterId: string };
		expect(mine.promoterId).toBe(a.promoter.id);
		expect((await getDrop(operatorDrop.id)).promoterId).toBeNull();
	});

	it("keys and the activity log of another promoter are not found", async () => {
		const bKeys = (await (await call(b.owner, "GET", "/keys")).json()) as { keys: { id: string; promoterId: string }[] };
		expect(bKeys.keys.every((k) => k.promoterId === b.promoter.id)).toBe(true);
		await expectError(await call(a.owner, "DELETE", `/keys/${bKeys.keys[0]!.id}`), 404, "not_found");
		await expectError(await call(a.owner, "GET", `/keys?promoterId=${b.promoter.id}`), 404, "not_found");
		await expectError(await call(a.owner, "GET", `/activity?promoterId=${b.promoter.id}`), 404, "not_found");
		const aLog = (await (await call(a.staff, "GET", "/activity?limit=200")).json()) as { entries: { promoterId: string }[] };
		expect(aLog.entries.length).toBeGreaterThan(0);
		expect(aLog.entries.every((e) => e.promoterId === a.promoter.id)).toBe(true);
		// B's key is still good: A's attempt revoked nothing.
		expect((await call(b.owner, "GET", "/keys")).status).toBe(200);
	});
});

describe("roles", () => {
	it("staff is refused every change, on every route that changes, before anything is looked at", async () => {
		const changes = adminRoutes().filter(([method, path]) => accessOf(method, path) !== "read" && accessOf(method, path) !== "any" && accessOf(method, path) !== "gate");
		expect(changes.length).toBeGreaterThanOrEqual(6);
		const before = await getDrop(a.drop.id);
		for (const [method, path] of changes) {
			const url = fill(path, { id: a.drop.id, keyId: a.promoter.key.id, promoterId: a.promoter.id });
			await expectError(await call(a.staff, method, url), 403, "forbidden", `${method} ${url} (staff)`);
		}
		expect(await getDrop(a.drop.id)).toEqual(before);
		expect((await call(a.owner, "GET", "/me")).status).toBe(200);
	});

	it("a gate key is refused every admin route but the scan; an owner key is refused the operator's routes", async () => {
		for (const [method, path] of adminRoutes()) {
			const access = accessOf(method, path);
			if (access === "gate" || access === "any") continue;
			const url = fill(path, { id: a.drop.id, keyId: a.promoter.key.id, promoterId: a.promoter.id });
			await expectError(await call(a.gate, method, url), 403, "forbidden", `${method} ${url} (gate)`);
			if (access === "operator") await expectError(await call(a.owner, method, url), 403, "forbidden", `${method} ${url} (owner)`);
		}
		const me = (await (await call(a.gate, "GET", "/me")).json()) as { key: { role: string } };
		expect(me.key.role).toBe("gate");
	});
});

describe("a path the router takes in more than one spelling", () => {
	it("a trailing slash on the operator's routes is still the operator's: keys get 403 and nothing changes", async () => {
		const promotersBefore = (await env.DB.prepare(`SELECT COUNT(*) AS n FROM promoters`).first<{ n: number }>())!.n;
		const limitsBefore = (await env.DB.prepare(`SELECT * FROM promoters WHERE id = ?`).bind(a.promoter.id).first())!;
		for (const key of [a.owner, a.staff]) {
			for (const slash of ["/", "//"]) {
				await expectError(await call(key, "GET", `/promoters${slash}`), 403, "forbidden", `GET /promoters${slash}`);
				await expectError(await call(key, "GET", `/dev/mail${slash}`), 403, "forbidden", `GET /dev/mail${slash}`);
				await expectError(await keyFetch(key, `/api/admin/promoters${slash}`, { method: "POST", body: JSON.stringify({ name: "Escaped" }) }), 403, "forbidden", `POST /promoters${slash}`);
				await expectError(
					await keyFetch(key, `/api/admin/promoters/${a.promoter.id}${slash}`, { method: "PATCH", body: JSON.stringify({ limits: { openDrops: 100000 } }) }),
					403,
					"forbidden",
					`PATCH /promoters/:id${slash}`,
				);
			}
		}
		expect((await env.DB.prepare(`SELECT COUNT(*) AS n FROM promoters`).first<{ n: number }>())!.n).toBe(promotersBefore);
		expect(await env.DB.prepare(`SELECT * FROM promoters WHERE id = ?`).bind(a.promoter.id).first()).toEqual(limitsBefore);
		// The operator still reaches them with the slash.
		expect((await adminFetch("/api/admin/promoters/")).status).toBe(200);
	});
});

describe("authorizeGateKey, for the ticket scan's guard", () => {
	const scanRequest = (token: string | null) =>
		new Request(`https://engine.test/api/admin/drops/x/scan`, { method: "POST", headers: token === null ? {} : { authorization: `Bearer ${token}` } });

	it("accepts the operator and the drop's promoter's gate and owner keys; refuses staff, other promoters and revoked keys", async () => {
		expect(await authorizeGateKey(scanRequest(env.ADMIN_TOKEN), env, b.drop.id)).toEqual({ kind: "operator" });
		expect(await authorizeGateKey(scanRequest(a.gate), env, a.drop.id)).toMatchObject({ kind: "key", role: "gate", promoterId: a.promoter.id });
		expect(await authorizeGateKey(scanRequest(a.owner), env, a.drop.id)).toMatchObject({ kind: "key", role: "owner" });
		const refusal = async (token: string, dropId: string) => {
			try {
				await authorizeGateKey(scanRequest(token), env, dropId);
			} catch (err) {
				return [(err as { status: number }).status, (err as { code: string }).code];
			}
			return "accepted";
		};
		expect(await refusal(a.staff, a.drop.id)).toEqual([403, "forbidden"]);
		expect(await refusal(a.gate, b.drop.id)).toEqual([404, "not_found"]);
		expect(await refusal(a.gate, operatorDrop.id)).toEqual([404, "not_found"]);
		expect(await refusal(a.gate, "d_AAAAAAAAAAAAAAAA")).toEqual([404, "not_found"]);
		const revoked = await mintKey(a.owner, "gate", "lost badge");
		expect((await call(a.owner, "DELETE", `/keys/${revoked.id}`)).status).toBe(200);
		expect(await refusal(revoked.apiKey, a.drop.id)).toEqual([401, "unauthorized"]);
		// Neither kind of credential: the guard may check its own (a GATE_TOKEN).
		expect(await authorizeGateKey(scanRequest("some-gate-token"), env, a.drop.id)).toBeNull();
		expect(await authorizeGateKey(scanRequest(null), env, a.drop.id)).toBeNull();
	});
});

describe("keys", () => {
	it("a revoked key stops working on the very next request; unknown, malformed and wrong keys get 401", async () => {
		const key = await mintKey(a.owner, "staff", "door team");
		expect((await call(key.apiKey, "GET", "/drops")).status).toBe(200);
		const revoked = await call(a.owner, "DELETE", `/keys/${key.id}`);
		expect(revoked.status).toBe(200);
		expect(((await revoked.json()) as { revokedAt: string | null }).revokedAt).not.toBeNull();
		await expectError(await call(key.apiKey, "GET", "/drops"), 401, "unauthorized");
		const [prefix, idPart] = [key.apiKey.slice(0, 4), key.apiKey.slice(4, 20)];
		const wrongSecret = `${prefix}${idPart}_${"A".repeat(43)}`;
		const ownWrongSecret = `${a.owner.slice(0, 21)}${"B".repeat(43)}`;
		for (const bad of [wrongSecret, ownWrongSecret, "tdk_short", `tdk_${"A".repeat(16)}_${"A".repeat(43)}`, a.owner + "x", "not-a-token"]) {
			const res = await call(bad, "GET", "/drops");
			await expectError(res, 401, "unauthorized", bad);
		}
		// Revoking again changes nothing.
		expect((await call(a.owner, "DELETE", `/keys/${key.id}`)).status).toBe(200);
	});

	it("are long, random, prefixed, shown once, and never stored in clear anywhere in D1", async () => {
		const minted = await mintKey(a.owner, "staff", "scan check");
		expect(minted.apiKey).toMatch(/^tdk_[A-Za-z0-9_-]{16}_[A-Za-z0-9_-]{43}$/);
		const listed = (await (await call(a.owner, "GET", "/keys")).json()) as { keys: Record<string, unknown>[] };
		expect(JSON.stringify(listed)).not.toContain(minted.apiKey.slice(21));
		expect(listed.keys.every((k) => !("apiKey" in k) && !("keyHash" in k))).toBe(true);
		const secrets = [minted.apiKey, a.owner, b.owner, a.staff, a.gate].map((k) => k.slice(21));
		const tables = (await env.DB.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`).all<{ name: string }>()).results;
		expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(["api_keys", "promoters", "activity", "drops"]));
		let cells = 0;
		for (const { name } of tables) {
			const rows = (await env.DB.prepare(`SELECT * FROM "${name}"`).all<Record<string, unknown>>()).results;
			for (const row of rows) {
				for (const value of Object.values(row)) {
					cells++;
					for (const secret of secrets) expect(String(value), `${name}`).not.toContain(secret);
				}
			}
		}
		expect(cells).toBeGreaterThan(0);
		const stored = await env.DB.prepare(`SELECT key_hash FROM api_keys WHERE id = ?`).bind(minted.id).first<string>("key_hash");
		expect(stored).toBe(await keyHash(minted.apiKey));
	});

	it("the operator mints for a named promoter; a promoter cannot mint for another", async () => {
		const unnamed = await adminFetch("/api/admin/keys", { method: "POST", body: JSON.stringify({ label: "x", role: "owner" }) });
		expect((await expectError(unnamed, 400, "missing_field")).field).toBe("promoterId");
		const res = await adminFetch("/api/admin/keys", { method: "POST", body: JSON.stringify({ label: "rescue", role: "owner", promoterId: a.promoter.id }) });
		expect(res.status).toBe(201);
		const rescue = (await res.json()) as { apiKey: string };
		expect((await call(rescue.apiKey, "GET", `/drops/${a.drop.id}`)).status).toBe(200);
		const other = await keyFetch(a.owner, "/api/admin/keys", { method: "POST", body: JSON.stringify({ label: "x", role: "owner", promoterId: b.promoter.id }) });
		await expectError(other, 404, "not_found");
	});
});

describe("the activity log", () => {
	it("records each change with its key's id and label, newest first, paged", async () => {
		const p = await createPromoter("Logged");
		const staffKey = await mintKey(p.apiKey, "staff", "box office");
		const drop = await createDropAs(p.apiKey, { opensAt: new Date(Date.now() + 3_600_000).toISOString() });
		const patch = (body: unknown) => keyFetch(p.apiKey, `/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify(body) });
		const later = new Date(Date.now() + 7_200_000).toISOString();
		expect((await patch({ opensAt: later })).status).toBe(200);
		expect((await patch({ paused: true })).status).toBe(200);
		expect((await patch({ paused: false, name: "Renamed" })).status).toBe(200);
		// The operator's change to the promoter's drop goes in the promoter's log, as the operator's.
		expect((await adminFetch(`/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify({ holdSeconds: 60 }) })).status).toBe(200);
		expect((await call(p.apiKey, "DELETE", `/keys/${staffKey.id}`)).status).toBe(200);

		const all: { action: string; actor: string; keyId: string | null; keyLabel: string | null; dropId: string | null; detail: Record<string, unknown> }[] = [];
		let cursor: string | null = null;
		do {
			const res = await call(p.apiKey, "GET", `/activity?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
			expect(res.status).toBe(200);
			const page = (await res.json()) as { entries: typeof all; nextCursor: string | null };
			all.push(...page.entries);
			cursor = page.nextCursor;
		} while (cursor !== null);
		expect(all.map((e) => e.action)).toEqual([
			"key.revoked",
			"drop.updated",
			"drop.updated",
			"drop.resumed",
			"drop.paused",
			"drop.rescheduled",
			"drop.created",
			"key.minted",
			"key.minted",
			"promoter.created",
		]);
		const byOwner = all.filter((e) => e.actor === "key");
		expect(byOwner.every((e) => e.keyId === p.key.id && e.keyLabel === "owner")).toBe(true);
		expect(all.find((e) => e.detail.changes && (e.detail.changes as Record<string, unknown>).holdSeconds)).toMatchObject({ actor: "operator", keyId: null, dropId: drop.id });
		expect(all.find((e) => e.action === "drop.rescheduled")!.detail).toEqual({ changes: { opensAt: { from: drop.opensAt, to: later } } });
		expect(all.find((e) => e.action === "drop.updated" && e.actor === "key")!.detail).toEqual({ changes: { name: { from: drop.name, to: "Renamed" } } });
		expect(all[0]!.detail).toMatchObject({ keyId: staffKey.id, label: "box office", role: "staff" });
		// The operator reads any promoter's log.
		const op = (await (await adminFetch(`/api/admin/activity?promoterId=${p.id}&limit=200`)).json()) as { entries: unknown[] };
		expect(op.entries).toHaveLength(all.length);
	});
});

describe("limits per promoter", () => {
	it("the operator sets them; a promoter at its open-drops limit gets 409 open_drops_limit and no drop", async () => {
		const p = await createPromoter("Limited");
		const res = await adminFetch(`/api/admin/promoters/${p.id}`, { method: "PATCH", body: JSON.stringify({ limits: { openDrops: 1 } }) });
		expect(res.status).toBe(200);
		expect(((await res.json()) as { limits: Record<string, unknown> }).limits).toEqual({ joinsPerMinute: null, adminRequestsPerMinute: null, openDrops: 1 });
		const first = await createDropAs(p.apiKey);
		const count = () => env.DB.prepare(`SELECT COUNT(*) AS n FROM drops WHERE promoter_id = ?`).bind(p.id).first<number>("n");
		const second = await keyFetch(p.apiKey, "/api/admin/drops", { method: "POST", body: JSON.stringify({ name: "x", capacity: 5, maxPerFan: 1, opensAt: first.opensAt }) });
		const err = await expectError(second, 409, "open_drops_limit");
		expect(err.openDrops).toBe(1);
		expect(await count()).toBe(1);
		// Closing the first frees its place.
		expect((await keyFetch(p.apiKey, `/api/admin/drops/${first.id}`, { method: "PATCH", body: JSON.stringify({ closesAt: new Date(Date.now() + 50).toISOString() }) })).status).toBe(200);
		await new Promise((r) => setTimeout(r, 100));
		await createDropAs(p.apiKey);
		expect(await count()).toBe(2);
		// Reopening the closed one would make two open.
		await expectError(await keyFetch(p.apiKey, `/api/admin/drops/${first.id}`, { method: "PATCH", body: JSON.stringify({ closesAt: null }) }), 409, "open_drops_limit");
	});

	it("two creations at once cannot both take the last place", async () => {
		const p = await createPromoter("Racing", { openDrops: 1 });
		const body = JSON.stringify({ name: "race", capacity: 5, maxPerFan: 1, opensAt: new Date(Date.now() + 60_000).toISOString() });
		const answers = await Promise.all(Array.from({ length: 6 }, () => keyFetch(p.apiKey, "/api/admin/drops", { method: "POST", body })));
		expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM drops WHERE promoter_id = ?`).bind(p.id).first<number>("n")).toBe(1);
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE promoter_id = ? AND action = 'drop.created'`).bind(p.id).first<number>("n")).toBe(1);
	});

	it("two closed drops reopened at once cannot both take the last place, and the refused one changes nothing", async () => {
		const p = await createPromoter("Reopening", { openDrops: 4 });
		const drops = await Promise.all(Array.from({ length: 4 }, (_, i) => createDropAs(p.apiKey, { name: `reopen ${i}` })));
		const past = new Date(Date.now() - 1000).toISOString();
		const patch = (id: string, closesAt: string | null) => keyFetch(p.apiKey, `/api/admin/drops/${id}`, { method: "PATCH", body: JSON.stringify({ closesAt }) });
		for (const d of drops) expect((await patch(d.id, past)).status).toBe(200);
		expect((await adminFetch(`/api/admin/promoters/${p.id}`, { method: "PATCH", body: JSON.stringify({ limits: { openDrops: 1 } }) })).status).toBe(200);
		const answers = await Promise.all(drops.map((d) => patch(d.id, null)));
		expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM drops WHERE promoter_id = ? AND closes_at IS NULL`).bind(p.id).first<number>("n")).toBe(1);
		// Each refused reopening left no entry, and its drop stays closed for fans too.
		expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE promoter_id = ? AND action = 'drop.updated' AND detail LIKE '%"to":null%'`).bind(p.id).first<number>("n")).toBe(1);
		for (const [i, d] of drops.entries()) {
			if (answers[i]!.status !== 409) continue;
			expect((await getDrop(d.id)).closesAt).toBe(past);
		}
	});

	it("admin requests past the promoter's limit get 429 with Retry-After; the operator and other promoters are not held", async () => {
		const p = await createPromoter("Chatty", { adminRequestsPerMinute: 3 });
		for (let i = 0; i < 3; i++) expect((await call(p.apiKey, "GET", "/drops")).status).toBe(200);
		const refused = await call(p.apiKey, "GET", "/drops");
		await expectError(refused.clone(), 429, "rate_limited");
		expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
		expect((await call(a.owner, "GET", "/drops")).status).toBe(200);
		expect((await call(env.ADMIN_TOKEN, "GET", "/drops")).status).toBe(200);
	});

	it("a drop takes at most its promoter's joins a minute, all fans together", async () => {
		const p = await createPromoter("Busy", { joinsPerMinute: 3 });
		const drop = await createDropAs(p.apiKey, { lines: 1 });
		const statuses: number[] = [];
		for (let i = 0; i < 5; i++) {
			const res = await adminFetch(`/api/drops/${drop.id}/join`, { method: "POST", body: JSON.stringify({ fanId: `busy-${i}` }), headers: { authorization: "" } });
			statuses.push(res.status);
			if (res.status === 429) await expectError(res, 429, "rate_limited");
		}
		expect(statuses).toEqual([201, 201, 201, 429, 429]);
		// Another promoter's drop is not held by it.
		const other = await createDropAs(b.owner, { lines: 1 });
		const res = await adminFetch(`/api/drops/${other.id}/join`, { method: "POST", body: JSON.stringify({ fanId: "busy-0" }), headers: { authorization: "" } });
		expect(res.status).toBe(201);
	});
});

describe("a promoter's join limit on the join path", () => {
	it("comes with the drop's cached existence: joins ask D1 nothing, and a change is seen within LIMIT_FOR_MS", async () => {
		const p = await createPromoter("Cached", { joinsPerMinute: 100 });
		const drop = await createDropAs(p.apiKey);
		let asked = 0;
		const counting = { DB: { prepare: (sql: string) => (asked++, env.DB.prepare(sql)) } as unknown as D1Database };
		const t0 = Date.now();
		expect(await knownDrop(counting, drop.id, t0)).toEqual({ joinsPerMinute: 100 });
		expect(asked).toBe(1);
		await adminFetch(`/api/admin/promoters/${p.id}`, { method: "PATCH", body: JSON.stringify({ limits: { joinsPerMinute: 5 } }) });
		// Within LIMIT_FOR_MS: the limit known, and no D1 read.
		expect(await knownDrop(counting, drop.id, t0 + LIMIT_FOR_MS)).toEqual({ joinsPerMinute: 100 });
		expect(asked).toBe(1);
		// Past it: read again, once.
		expect(await knownDrop(counting, drop.id, t0 + LIMIT_FOR_MS + 1)).toEqual({ joinsPerMinute: 5 });
		expect(await knownDrop(counting, drop.id, t0 + LIMIT_FOR_MS + 2)).toEqual({ joinsPerMinute: 5 });
		expect(asked).toBe(2);
		// D1 down when it is due: the limit known stays, and the drop is still known.
		const down = { DB: { prepare: () => { throw new Error("D1 is down"); } } as unknown as D1Database };
		expect(await knownDrop(down, drop.id, t0 + 3 * LIMIT_FOR_MS)).toEqual({ joinsPerMinute: 5 });
	});
});

describe("the operator", () => {
	it("still reaches everything with ADMIN_TOKEN: promoters' drops, their keys and logs", async () => {
		expect((await adminFetch(`/api/admin/drops/${a.drop.id}`)).status).toBe(200);
		expect((await adminFetch(`/api/admin/drops/${b.drop.id}/audit`)).status).toBe(200);
		expect((await adminFetch(`/api/admin/keys?promoterId=${a.promoter.id}`)).status).toBe(200);
		const list = (await (await adminFetch("/api/admin/promoters?limit=200")).json()) as { promoters: { id: string }[] };
		expect(list.promoters.map((p) => p.id)).toEqual(expect.arrayContaining([a.promoter.id, b.promoter.id]));
		const me = (await (await adminFetch("/api/admin/me")).json()) as { kind: string };
		expect(me.kind).toBe("operator");
	});
});
