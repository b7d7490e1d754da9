// Sale windows and their codes, through the Worker: a drop with a code presale, a
// list presale and a general sale; fans without a code refused, a unique code bound
// to its first fan, a shared code never past its cap (however many race for its
// last place), a revoked group refused, wrong codes charged to the client's join
// limit, codes kept only as hashes, and a bad window configuration writing nothing.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { postJoin, withFanSecret } from "../support/fans";
import { lineRows } from "../support/room";
import { roomKey } from "../../src/shared/names";
import { type EnvOverrides, adminFetch, callWorker } from "../support/worker";

const MIN = 60_000;
const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
/** Per-line limits off: these tests are about the windows, and the join limiter is counted apart. */
const perDropOff: EnvOverrides = { JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "0" };
const newIp = () => `198.19.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;

const join = (dropId: string, fanId: string, code?: string, ip = newIp()) =>
	postJoin(dropId, withFanSecret(dropId, { fanId, ...(code === undefined ? {} : { code }) }), { ip, env: perDropOff });

/** A drop whose code window is open now, a list window after it and the general sale after that. */
function windowsNow(extra: Record<string, unknown>[] = []) {
	return [
		{ id: "club", name: "Fan club", opensAt: at(-MIN), closesAt: at(10 * MIN), access: "code", capacity: 20, maxPerFan: 2 },
		{ id: "cards", name: "Card holders", opensAt: at(10 * MIN), closesAt: at(20 * MIN), access: "list" },
		...extra,
	];
}

async function presaleDrop(presales: unknown[] = windowsNow()) {
	return createDrop({ opensAt: at(30 * MIN), capacity: 50, maxPerFan: 4, presales });
}

type Group = { id: string; kind: string; used: number; size: number; cap: number | null; revokedAt: string | null; codes: string[] };

async function makeGroup(dropId: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
	return adminFetch(`/api/admin/drops/${dropId}/code-groups`, { method: "POST", body: JSON.stringify(body), headers });
}

async function group(dropId: string, body: Record<string, unknown>): Promise<Group> {
	const res = await makeGroup(dropId, body);
	expect(res.status, await res.clone().text()).toBe(201);
	return (await res.json()) as Group;
}

async function groups(dropId: string): Promise<Group[]> {
	const res = await adminFetch(`/api/admin/drops/${dropId}/code-groups`);
	expect(res.status).toBe(200);
	return ((await res.json()) as { groups: Group[] }).groups;
}

/** Every fan in the drop's line and in each window's own line (a window's fans wait in the window's). */
const fansInLine = async (dropId: string) =>
	(await Promise.all([dropId, roomKey(dropId, "club"), roomKey(dropId, "cards")].map((room) => lineRows(room)))).flat().map((r) => r.fan_id).sort();

const rowCount = async (sql: string, ...params: unknown[]) => (await env.DB.prepare(sql).bind(...params).first<{ n: number }>())!.n;

describe("a drop's sale windows in its configuration", () => {
	it("are answered as given; a drop without them answers no presales field", async () => {
		const drop = await presaleDrop();
		expect(drop.presales?.map((w) => [w.id, w.access, w.capacity, w.maxPerFan, w.ticketTypes])).toEqual([
			["club", "code", 20, 2, null],
			["cards", "list", null, null, null],
		]);
		expect("presales" in (await createDrop())).toBe(false);
	});

	it("the public view names each window, when it opens and closes and who it is for; a drop without them has no presales field", async () => {
		const drop = await presaleDrop();
		const res = await callWorker(`/api/drops/${drop.id}`);
		expect(res.status).toBe(200);
		const view = (await res.json()) as { presales?: { id: string; name: string; opensAt: string; closesAt: string; access: string; capacity: number | null }[] };
		expect(view.presales?.map((w) => [w.id, w.name, w.access, w.capacity])).toEqual([
			["club", "Fan club", "code", 20],
			["cards", "Card holders", "list", null],
		]);
		expect(view.presales?.map((w) => [w.opensAt, w.closesAt])).toEqual(drop.presales?.map((w) => [w.opensAt, w.closesAt]));
		const plain = await callWorker(`/api/drops/${(await createDrop()).id}`);
		expect("presales" in ((await plain.json()) as object)).toBe(false);
	});

	it("a bad window is a clear 422 and writes no drop", async () => {
		const name = `bad-presales-${Date.now()}`;
		const w = { id: "a", name: "A", opensAt: at(MIN), closesAt: at(2 * MIN), access: "code" };
		const cases: [unknown[], string, string][] = [
			[[w, { ...w, id: "b", opensAt: at(90_000), closesAt: at(3 * MIN) }], "invalid_presales", "presales.1.opensAt"],
			[[{ ...w, closesAt: at(40 * MIN) }], "invalid_presales", "presales.0.closesAt"],
			[[{ ...w, closesAt: at(30_000) }], "invalid_presales", "presales.0.closesAt"],
			[[w, { ...w, opensAt: at(3 * MIN), closesAt: at(4 * MIN) }], "invalid_presales", "presales.1.id"],
			[[{ ...w, ticketTypes: ["vip"] }], "invalid_presales", "presales.0.ticketTypes"],
			[[{ ...w, maxPerFan: 5 }], "invalid_presales", "presales.0.maxPerFan"],
			[[{ ...w, capacity: 51 }], "invalid_presales", "presales.0.capacity"],
			[[{ ...w, access: "lottery" }], "invalid_value", "presales.0.access"],
		];
		for (const [presales, code, field] of cases) {
			const res = await adminFetch("/api/admin/drops", {
				method: "POST",
				body: JSON.stringify({ name, capacity: 50, maxPerFan: 4, opensAt: at(30 * MIN), shards: 1, presales }),
			});
			const body = (await res.json()) as { error: { code: string; field: string } };
			expect([res.status, body.error.code, body.error.field]).toEqual([422, code, field]);
		}
		expect(await rowCount(`SELECT COUNT(*) AS n FROM drops WHERE name = ?`, name)).toBe(0);
	});

	it("are fixed once the drop is made", async () => {
		const drop = await presaleDrop();
		const res = await adminFetch(`/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify({ presales: [] }) });
		expect([res.status, await errorCode(res)]).toEqual([422, "immutable_field"]);
	});
});

describe("joining a code window", () => {
	it("without a code: 403 code_required, and nothing is written", async () => {
		const drop = await presaleDrop();
		await group(drop.id, { windowId: "club", kind: "unique", name: "Club", count: 2 });
		const res = await join(drop.id, "no-code");
		expect([res.status, await errorCode(res)]).toEqual([403, "code_required"]);
		expect(await fansInLine(drop.id)).toEqual([]);
	});

	it("a unique code: the first fan keeps it, another fan is refused 409 code_used, the first again is let in", async () => {
		const drop = await presaleDrop();
		const made = await group(drop.id, { windowId: "club", kind: "unique", name: "Club", count: 3 });
		expect(made.codes).toHaveLength(3);
		expect(new Set(made.codes).size).toBe(3);
		for (const c of made.codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
		const [first, second] = made.codes as [string, string];
		expect((await join(drop.id, "ann", first)).status).toBe(201);
		const other = await join(drop.id, "bob", first);
		expect([other.status, await errorCode(other)]).toEqual([409, "code_used"]);
		expect((await join(drop.id, "ann", first)).status).toBe(200);
		// Typed carelessly: case, spaces and dashes do not matter.
		expect((await join(drop.id, "cat", ` ${second.toLowerCase().replace(/-/g, "")} `)).status).toBe(201);
		expect(await fansInLine(drop.id)).toEqual(["ann", "cat"]);
		expect((await groups(drop.id)).map((g) => [g.id, g.used])).toEqual([[made.id, 2]]);
	});

	it("two fans racing for one unique code: exactly one gets it", async () => {
		const drop = await presaleDrop();
		const [code] = (await group(drop.id, { windowId: "club", kind: "unique", name: "Club", count: 1 })).codes as [string];
		const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => join(drop.id, `racer-${i}`, code)));
		expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
		expect(answers.filter((r) => r.status === 409)).toHaveLength(19);
		expect(await fansInLine(drop.id)).toHaveLength(1);
	});

	it("a shared code admits up to its cap; past it 409 code_exhausted; a fan already in is let in again", async () => {
		const drop = await presaleDrop();
		const made = await group(drop.id, { windowId: "club", kind: "shared", name: "AMEX", cap: 3 });
		expect([made.codes.length, made.cap, made.size]).toEqual([1, 3, 1]);
		const code = made.codes[0]!;
		for (const fan of ["s1", "s2", "s3"]) expect((await join(drop.id, fan, code)).status).toBe(201);
		const past = await join(drop.id, "s4", code);
		expect([past.status, await errorCode(past)]).toEqual([409, "code_exhausted"]);
		expect((await join(drop.id, "s2", code)).status).toBe(200);
		expect((await groups(drop.id))[0]!.used).toBe(3);
	});

	it("concurrent joins on a shared code's last places: exactly the cap admitted", async () => {
		const drop = await presaleDrop();
		const code = (await group(drop.id, { windowId: "club", kind: "shared", name: "AMEX", cap: 5 })).codes[0]!;
		for (const fan of ["early-1", "early-2", "early-3", "early-4"]) expect((await join(drop.id, fan, code)).status).toBe(201);
		const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => join(drop.id, `late-${i}`, code)));
		const statuses = answers.map((r) => r.status);
		// Both sides of the race happened: one took the last place, the rest found it taken.
		expect(statuses.filter((s) => s === 201)).toHaveLength(1);
		expect(statuses.filter((s) => s === 409)).toHaveLength(29);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM code_uses u JOIN code_groups g ON g.id = u.group_id WHERE g.drop_id = ?`, drop.id)).toBe(5);
		expect(await fansInLine(drop.id)).toHaveLength(5);
	});

	it("a revoked group's codes are refused from then on, and the change is logged", async () => {
		const drop = await presaleDrop();
		const made = await group(drop.id, { windowId: "club", kind: "unique", name: "Club", count: 2 });
		expect((await join(drop.id, "before", made.codes[0])).status).toBe(201);
		const res = await adminFetch(`/api/admin/drops/${drop.id}/code-groups/${made.id}/revoke`, { method: "POST" });
		expect(res.status).toBe(200);
		expect(((await res.json()) as Group).revokedAt).not.toBeNull();
		for (const [fan, code] of [["after", made.codes[1]], ["before", made.codes[0]]] as const) {
			const refused = await join(drop.id, fan, code);
			expect([refused.status, await errorCode(refused)]).toEqual([403, "code_revoked"]);
		}
		// Revoking again changes and logs nothing.
		expect((await adminFetch(`/api/admin/drops/${drop.id}/code-groups/${made.id}/revoke`, { method: "POST" })).status).toBe(200);
		const { results } = await env.DB.prepare(`SELECT action FROM activity WHERE drop_id = ? AND action LIKE 'codes.%' ORDER BY at, rowid`).bind(drop.id).all<{ action: string }>();
		expect(results.map((r) => r.action)).toEqual(["codes.created", "codes.revoked"]);
	});

	it("codes are stored only as hashes under the drop's own key", async () => {
		const drop = await presaleDrop();
		const made = await group(drop.id, { windowId: "club", kind: "unique", name: "Club", count: 5 });
		const { results } = await env.DB.prepare(`SELECT hash FROM access_codes WHERE group_id = ?`).bind(made.id).all<{ hash: string }>();
		expect(results).toHaveLength(5);
		const stored = JSON.stringify(await env.DB.prepare(`SELECT * FROM access_codes WHERE group_id = ?`).bind(made.id).all());
		for (const code of made.codes) {
			expect(stored).not.toContain(code);
			expect(stored).not.toContain(code.replace(/-/g, ""));
		}
		for (const r of results) expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
	});

	it("unique codes as a CSV download: the one answer that carries them", async () => {
		const drop = await presaleDrop();
		const res = await makeGroup(drop.id, { windowId: "club", kind: "unique", name: "Club", count: 4 }, { accept: "text/csv" });
		expect(res.status).toBe(201);
		expect(res.headers.get("content-type")).toContain("text/csv");
		const lines = (await res.text()).trim().split("\r\n");
		expect(lines[0]).toBe("code");
		expect(lines.slice(1)).toHaveLength(4);
		expect((await join(drop.id, "csv-fan", lines[1])).status).toBe(201);
		// Listed afterwards, the group shows its use but never its codes.
		const listed = (await groups(drop.id))[0]!;
		expect([listed.size, listed.used, "codes" in listed]).toEqual([4, 1, false]);
	});

	it("wrong codes are charged to the client's join limit: a dozen guesses a minute, then 429 even with a right code", async () => {
		const drop = await presaleDrop();
		const right = (await group(drop.id, { windowId: "club", kind: "unique", name: "Club", count: 1 })).codes[0]!;
		const left = MIN - (Date.now() % MIN);
		if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
		const ip = newIp();
		const statuses: number[] = [];
		for (let i = 0; i < 14; i++) {
			const res = await join(drop.id, `guesser-${i}`, `WRONG-CODE0-${String(i).padStart(5, "0")}`, ip);
			statuses.push(res.status);
			if (res.status === 403) expect(await errorCode(res)).toBe("code_invalid");
		}
		// 120 joins a minute, each wrong code costing 10: twelve guesses, then the limiter.
		expect(statuses).toEqual([...Array(12).fill(403), 429, 429]);
		expect((await join(drop.id, "guesser-right", right, ip)).status).toBe(429);
		// Another client with the right code is not held back.
		expect((await join(drop.id, "holder", right)).status).toBe(201);
		expect(await fansInLine(drop.id)).toEqual(["holder"]);
	});
});

describe("a list window, and the general sale after the windows", () => {
	it("lets in the listed fans only", async () => {
		const drop = await presaleDrop([
			{ id: "cards", name: "Card holders", opensAt: at(-MIN), closesAt: at(10 * MIN), access: "list" },
			{ id: "club", name: "Fan club", opensAt: at(10 * MIN), closesAt: at(20 * MIN), access: "code" },
		]);
		const made = await group(drop.id, { windowId: "cards", kind: "list", name: "Card holders", fans: ["alice", "carol", "alice"] });
		expect([made.size, made.codes]).toEqual([2, []]);
		expect((await join(drop.id, "alice")).status).toBe(201);
		const refused = await join(drop.id, "bob");
		expect([refused.status, await errorCode(refused)]).toEqual([403, "code_required"]);
		expect((await groups(drop.id))[0]!.used).toBe(1);
		expect(await fansInLine(drop.id)).toEqual(["alice"]);
	});

	it("before it opens, a listed fan waits in its pre-queue without a code; anyone else in the general sale's", async () => {
		const drop = await presaleDrop([{ id: "cards", name: "Card holders", opensAt: at(10 * MIN), closesAt: at(20 * MIN), access: "list" }]);
		await group(drop.id, { windowId: "cards", kind: "list", name: "Card holders", fans: ["alice", "dave"] });
		const alice = await join(drop.id, "alice");
		expect(alice.status).toBe(201);
		expect(await alice.json()).toMatchObject({ window: "cards", status: "waiting", position: null, prequeuePlace: expect.any(Number) });
		const bob = await join(drop.id, "bob");
		expect(bob.status).toBe(201);
		const bobView = (await bob.json()) as Record<string, unknown>;
		expect(bobView.prequeuePlace).toEqual(expect.any(Number));
		expect("window" in bobView).toBe(false);
		const lines = async (room: string) => (await lineRows(room)).map((r) => r.fan_id).sort();
		expect(await lines(roomKey(drop.id, "cards"))).toEqual(["alice"]);
		expect(await lines(drop.id)).toEqual(["bob"]);
		// Revoked, the list lets nobody into the window's pre-queue: a listed fan joins the general sale's.
		const [cards] = await groups(drop.id);
		expect((await adminFetch(`/api/admin/drops/${drop.id}/code-groups/${cards!.id}/revoke`, { method: "POST" })).status).toBe(200);
		const dave = await join(drop.id, "dave");
		expect("window" in ((await dave.json()) as object)).toBe(false);
		expect(await lines(drop.id)).toEqual(["bob", "dave"]);
		expect(await lines(roomKey(drop.id, "cards"))).toEqual(["alice"]);
	});

	it("once the windows have closed, the general sale takes every fan as before", async () => {
		const drop = await createDrop({
			opensAt: at(-1000),
			presales: [{ id: "club", name: "Fan club", opensAt: at(-2 * MIN), closesAt: at(-MIN), access: "code" }],
		});
		expect((await join(drop.id, "general-fan")).status).toBe(201);
	});
});

describe("code groups for promoters", () => {
	it("refuse a group that does not fit its window, writing nothing", async () => {
		const drop = await presaleDrop([...windowsNow(), { id: "drawn", name: "Verified", opensAt: at(20 * MIN), closesAt: at(25 * MIN), access: "registered", registration: { opensAt: at(-MIN), closesAt: at(20 * MIN), invites: 5 } }]);
		const cases: [Record<string, unknown>, number, string][] = [
			[{ windowId: "nope", kind: "unique", name: "X", count: 1 }, 422, "unknown_window"],
			[{ windowId: "drawn", kind: "unique", name: "X", count: 1 }, 422, "codes_issued_by_engine"],
			[{ windowId: "club", kind: "list", name: "X", fans: ["a"] }, 422, "kind_mismatch"],
			[{ windowId: "cards", kind: "shared", name: "X", cap: 3 }, 422, "kind_mismatch"],
			[{ windowId: "club", kind: "unique", name: "X" }, 400, "missing_field"],
			[{ windowId: "club", kind: "shared", name: "X", cap: 3, count: 2 }, 422, "invalid_value"],
			[{ windowId: "club", kind: "unique", name: "X", count: 10_001 }, 422, "out_of_range"],
		];
		for (const [body, status, code] of cases) {
			const res = await makeGroup(drop.id, body);
			expect([res.status, await errorCode(res)]).toEqual([status, code]);
		}
		expect(await rowCount(`SELECT COUNT(*) AS n FROM code_groups WHERE drop_id = ?`, drop.id)).toBe(0);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM access_codes WHERE drop_id = ?`, drop.id)).toBe(0);
	});
});
