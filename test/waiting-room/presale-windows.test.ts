// A sale window's own line, pacer and rules, through the Worker: a drop with a code
// presale before its general sale. The window's fans wait in the window's own
// pre-queue, are shuffled from its own committed seed and admitted at the window's
// opening (the general sale's fans still wait); they hold only the window's types,
// at most its per-fan cap, and however many hold at once the window never sells
// past its capacity nor the drop past its own; the general sale sells what the
// window left; the window's shuffle is re-derived from what it publishes.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { checkFairness } from "../../loadtest/lib/fairness.js";
import { homeShard } from "../../src/inventory/drop-shards";
import { sha256Hex } from "../../src/shared/crypto";
import * as names from "../../src/shared/names";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { hold, newKey, postJoin, purchase, status, withFanSecret } from "../support/fans";
import { waitForOrders } from "../support/sales";
import { admitBatch, lineRows, movePacerClock, openRoom, roomStub, tickRoom } from "../support/room";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { type EnvOverrides, adminFetch, callWorker } from "../support/worker";

const MIN = 60_000;
const perDropOff: EnvOverrides = { JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "0" };
const newIp = () => `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;

type Joined = { queueToken: string; line: number; prequeuePlace: number | null; status: string };

async function joinAs(dropId: string, fanId: string, code?: string): Promise<Joined> {
	const res = await postJoin(dropId, withFanSecret(dropId, { fanId, ...(code === undefined ? {} : { code }) }), { ip: newIp(), env: perDropOff });
	expect(res.status, await res.clone().text()).toBe(201);
	return (await res.json()) as Joined;
}

const claimsOf = (token: string) => JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;

async function fairness(dropId: string, window?: string) {
	const res = await callWorker(`/api/drops/${dropId}/fairness${window === undefined ? "" : `?window=${window}`}`);
	expect(res.status).toBe(200);
	return (await res.json()) as { window?: string; seedCommitment: string; seed: string | null; prequeue: number[] | null };
}

/** Every fan the room's lines hold. */
async function fansIn(room: string, lines: number): Promise<string[]> {
	const rows = await Promise.all(Array.from({ length: lines }, (_, k) => lineRows(room, k)));
	return rows.flat().map((r) => r.fan_id).sort();
}

/** The window's holds and sales, every shard together, as its shards count them. */
async function windowCounts(dropId: string, shards: number) {
	const parts = await Promise.all(Array.from({ length: shards }, (_, k) => names.shardStub(env, dropId, k).windowTotals({ window: "club" })));
	return { perShard: parts.map((p) => p.window.held + p.window.sold), sold: parts.reduce((a, p) => a + p.window.sold, 0), held: parts.reduce((a, p) => a + p.window.held, 0), drop: parts };
}

/** A shared code of the window "club", capped at `cap` fans (the group is made: 201). */
async function sharedCode(dropId: string, cap: number): Promise<string> {
	const made = await adminFetch(`/api/admin/drops/${dropId}/code-groups`, { method: "POST", body: JSON.stringify({ windowId: "club", kind: "shared", name: "Club", cap }) });
	expect(made.status).toBe(201);
	return ((await made.json()) as { codes: string[] }).codes[0]!;
}

/** The fan's status once the window's room has admitted them (a few batches at most). */
async function admittedIn(dropId: string, room: string, queueToken: string): Promise<Record<string, unknown>> {
	let s = await status(dropId, queueToken);
	for (let round = 0; round < 5 && s.status !== "admitted"; round++) {
		await admitBatch(room);
		s = await status(dropId, queueToken);
	}
	expect(s.status).toBe("admitted");
	return s;
}

describe("a code presale before the general sale", () => {
	it("has its own line and shuffle, admits at its opening, keeps its rules and capacity under concurrent holds, and leaves the rest to the general sale", async () => {
		const now = Date.now();
		const windowOpens = now + 5 * MIN;
		const generalOpens = now + 30 * MIN;
		const shards = 2;
		const drop = await createDrop({
			capacity: undefined,
			opensAt: new Date(generalOpens).toISOString(),
			maxPerFan: 4,
			shards,
			lines: 2,
			admission: WIDE_OPEN,
			ticketTypes: [
				{ id: "floor", name: "Floor", kind: "general", priceCents: 5_000, capacity: 24 },
				{ id: "vip", name: "VIP", kind: "general", priceCents: 20_000, capacity: 6 },
			],
			presales: [
				{ id: "club", name: "Fan club", opensAt: new Date(windowOpens).toISOString(), closesAt: new Date(now + 20 * MIN).toISOString(), access: "code", ticketTypes: ["floor"], maxPerFan: 2, capacity: 8 },
			],
		});
		const room = names.roomKey(drop.id, "club");
		const code = await sharedCode(drop.id, 100);

		// The window's commitment is public before its opening, its own (not the general sale's), its seed not yet.
		const before = await fairness(drop.id, "club");
		expect(before.window).toBe("club");
		expect(before.seedCommitment).toMatch(/^[0-9a-f]{64}$/);
		expect(before.seedCommitment).not.toBe(drop.seedCommitment);
		expect(before.seed).toBeNull();
		expect((await callWorker(`/api/drops/${drop.id}/fairness?window=nope`)).status).toBe(404);

		// Before the window: fans with its code wait in its pre-queue; a fan without one in the general sale's.
		const clubIds = Array.from({ length: 16 }, (_, i) => `club-${i}`);
		const club = await Promise.all(clubIds.map((id) => joinAs(drop.id, id, code)));
		const generalIds = Array.from({ length: 12 }, (_, i) => `gen-${i}`);
		const general = await Promise.all(generalIds.map((id) => joinAs(drop.id, id)));
		expect(await fansIn(room, 2)).toEqual([...clubIds].sort());
		expect(await fansIn(drop.id, 2)).toEqual([...generalIds].sort());
		for (const j of club) expect(j.prequeuePlace).not.toBeNull();

		// The window opens: its pre-queue is shuffled from its seed and its fans are let in. The general sale has not opened.
		await openRoom(room, windowOpens);
		for (let round = 0; round < 3; round++) await admitBatch(room);
		const clubStatus = await Promise.all(club.map((j) => status(drop.id, j.queueToken)));
		expect(clubStatus.map((s) => s.status)).toEqual(clubIds.map(() => "admitted"));
		const stillWaiting = await Promise.all(general.map((j) => status(drop.id, j.queueToken)));
		expect(stillWaiting.map((s) => s.status)).toEqual(generalIds.map(() => "waiting"));
		expect(stillWaiting.every((s) => s.position === null)).toBe(true);
		const tokens = clubStatus.map((s) => s.accessToken as string);
		// The token carries the window, and its turn ends with the window at the latest.
		expect(claimsOf(tokens[0]!).win).toBe("club");
		for (const t of tokens) expect((claimsOf(t).exp as number) * 1000).toBeLessThanOrEqual(now + 20 * MIN);

		// The window's shuffle, re-derived from what it published (the code `npm run verify-fairness --window` runs).
		const published = await fairness(drop.id, "club");
		expect(published.seedCommitment).toBe(before.seedCommitment);
		expect(await sha256Hex(published.seed!)).toBe(before.seedCommitment);
		expect(published.prequeue!.reduce((a, b) => a + b, 0)).toBe(16);
		const told = club.map((j, i) => ({ fanId: clubIds[i]!, line: j.line, prequeuePlace: j.prequeuePlace!, position: clubStatus[i]!.position as number }));
		const hex = await sha256Hex(published.seed!);
		const verdict = checkFairness(published, told, { sha256Hex: () => hex, publishedCommitment: before.seedCommitment });
		expect(verdict.failures).toEqual([]);
		expect(verdict.stats).toMatchObject({ prequeueChecked: 16, commitmentOk: true });
		// A position that is not the derived one is caught.
		const swapped = told.map((t, i) => (i === 0 ? { ...t, position: told[1]!.position } : t));
		expect(checkFairness(published, swapped, { sha256Hex: () => hex }).failures.length).toBeGreaterThan(0);
		// The general sale's line has its own seed, still sealed.
		expect((await fairness(drop.id)).seed).toBeNull();

		// Only the window's types, at most its per-fan cap; refusals write nothing.
		const first = tokens[0]!;
		const vip = await callWorker(`/api/drops/${drop.id}/holds`, { method: "POST", headers: { authorization: `Bearer ${first}`, "idempotency-key": newKey(), "content-type": "application/json" }, body: JSON.stringify({ quantity: 1, ticketType: "vip" }) });
		expect([vip.status, await errorCode(vip)]).toEqual([422, "window_type"]);
		const three = await hold(drop.id, first, 3);
		expect([three.status, await errorCode(three)]).toEqual([422, "limit_exceeded"]);
		expect(await windowCounts(drop.id, shards)).toMatchObject({ sold: 0, held: 0 });

		// Every window fan asks for 2 at once: the window's capacity (4 + 4 over two shards) is met exactly, never passed.
		const answers = await Promise.all(tokens.map((t) => hold(drop.id, t, 2)));
		const held = answers.filter((r) => r.status === 201).length * 2;
		const refused = await Promise.all(answers.filter((r) => r.status !== 201).map(async (r) => [r.status, await errorCode(r)]));
		const onShard = [0, 1].map((k) => clubIds.filter((id) => homeShard(id, shards) === k).length);
		expect(onShard.every((n) => n >= 2)).toBe(true);
		expect(held).toBe(8);
		expect(refused).toEqual(Array.from({ length: 12 }, () => [409, "window_sold_out"]));
		const counted = await windowCounts(drop.id, shards);
		expect(counted.held).toBe(8);
		expect(counted.perShard).toEqual([4, 4]);

		// The window's fans buy: its sales are 8; a fan who bought 2 may not come back for more in the window.
		const bought = await Promise.all(
			answers.map(async (r, i) => {
				if (r.status !== 201) return null;
				const h = (await r.json()) as { holdId: string };
				const p = await purchase(drop.id, tokens[i]!, h.holdId);
				expect(p.status).toBe(201);
				return i;
			}),
		);
		const buyer = bought.find((i) => i !== null)!;
		const again = await hold(drop.id, tokens[buyer]!, 1);
		expect([again.status, await errorCode(again)]).toEqual([422, "limit_exceeded"]);
		expect(await windowCounts(drop.id, shards)).toMatchObject({ sold: 8, held: 0 });

		// Sold out, the window has no line for returns (what it left is the general sale's): a late code fan gets no place, nothing stored.
		await tickRoom(room);
		const windowPacer = await runInDurableObject(roomStub(room), (_r: WaitingRoom, state) => state.storage.sql.exec<{ sold_out: number; returns_from: number | null }>(`SELECT sold_out, returns_from FROM pacer`).one());
		expect(windowPacer).toEqual({ sold_out: 1, returns_from: null });
		const late = await postJoin(drop.id, withFanSecret(drop.id, { fanId: "club-late", code }), { ip: newIp(), env: perDropOff });
		expect(late.status).toBe(200);
		expect(await late.json()).toMatchObject({ status: "sold_out", queueToken: null, position: null });
		expect(await fansIn(room, 2)).toEqual([...clubIds].sort());
		// The general sale cannot be moved into the window: two rooms never admit at once.
		const early = await adminFetch(`/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify({ opensAt: new Date(now + 15 * MIN).toISOString() }) });
		expect([early.status, await errorCode(early)]).toEqual([422, "invalid_time"]);
		expect(((await (await adminFetch(`/api/admin/drops/${drop.id}`)).json()) as { opensAt: string }).opensAt).toBe(new Date(generalOpens).toISOString());

		// The general sale opens at its own opening and sells what the window left: 16 floor, 6 vip, and not one more.
		await openRoom(drop.id, generalOpens);
		for (let round = 0; round < 3; round++) await admitBatch(drop.id);
		const generalStatus = await Promise.all(general.map((j) => status(drop.id, j.queueToken)));
		expect(generalStatus.map((s) => s.status)).toEqual(generalIds.map(() => "admitted"));
		const generalTokens = generalStatus.map((s) => s.accessToken as string);
		expect(claimsOf(generalTokens[0]!).win).toBeUndefined();
		const floor = await Promise.all(generalTokens.map((t) => hold(drop.id, t, 2)));
		expect(floor.filter((r) => r.status === 201).length * 2).toBe(16);
		for (const r of floor.filter((x) => x.status !== 201)) expect([r.status, await errorCode(r)]).toEqual([409, "sold_out"]);
		// The general sale's fans may hold the types the window did not sell.
		const vipHold = await callWorker(`/api/drops/${drop.id}/holds`, { method: "POST", headers: { authorization: `Bearer ${generalTokens[0]}`, "idempotency-key": newKey(), "content-type": "application/json" }, body: JSON.stringify({ quantity: 2, ticketType: "vip" }) });
		expect(vipHold.status).toBe(201);
		const after = await windowCounts(drop.id, shards);
		expect(after).toMatchObject({ sold: 8, held: 0 });
		const floorTaken = after.drop.reduce((a, p) => a + p.sold + p.held, 0);
		expect(floorTaken).toBe(24);
		expect(after.drop.reduce((a, p) => a + p.remaining, 0)).toBe(0);

		// The audit vouches for the window: its shuffle and order re-checked in its own room, its capacity kept.
		const audit = (await (await adminFetch(`/api/admin/drops/${drop.id}/audit`)).json()) as { oversold: number; windows: unknown[] };
		expect(audit.oversold).toBe(0);
		expect(audit.windows).toEqual([
			expect.objectContaining({ id: "club", capacity: 8, sold: 8, held: 0, oversold: 0, seedCommitment: before.seedCommitment, commitmentVerified: true, shuffleVerified: true, admittedThrough: 16, admittedInOrder: true, ok: true }),
		]);
		// A drop without windows answers its audit as before: no windows field.
		const plain = await createDrop();
		expect("windows" in ((await (await adminFetch(`/api/admin/drops/${plain.id}/audit`)).json()) as object)).toBe(false);
	});

	it("one window fan's concurrent holds and replays never pass the window's per-fan cap; a window open now admits its fans in post-opening slots", async () => {
		const now = Date.now();
		const drop = await createDrop({
			capacity: 20,
			opensAt: new Date(now + 30 * MIN).toISOString(),
			maxPerFan: 4,
			shards: 2,
			admission: WIDE_OPEN,
			presales: [{ id: "club", name: "Fan club", opensAt: new Date(now - MIN).toISOString(), closesAt: new Date(now + 10 * MIN).toISOString(), access: "code", maxPerFan: 2, capacity: 10 }],
		});
		const room = names.roomKey(drop.id, "club");
		const code = await sharedCode(drop.id, 10);
		// The window is open: a join is the window's, placed after its opening (no pre-queue place).
		const joined = await joinAs(drop.id, "eager", code);
		expect(joined.prequeuePlace).toBeNull();
		expect(await fansIn(room, 1)).toEqual(["eager"]);
		const s = await admittedIn(drop.id, room, joined.queueToken);
		const token = s.accessToken as string;
		// Six holds of one at once, each under its own key: exactly the window's cap of 2 made.
		const keys = Array.from({ length: 6 }, () => newKey());
		const answers = await Promise.all(keys.map((k) => hold(drop.id, token, 1, k)));
		const madeKeys = keys.filter((_, i) => answers[i]!.status === 201);
		expect(madeKeys).toHaveLength(2);
		for (const r of answers.filter((x) => x.status !== 201)) expect([r.status, await errorCode(r)]).toEqual([422, "limit_exceeded"]);
		// Replays of the made keys answer their first holds and take nothing more.
		const replays = await Promise.all(madeKeys.map((k) => hold(drop.id, token, 1, k)));
		expect(replays.map((r) => [r.status, r.headers.get("idempotent-replayed")])).toEqual([[201, "true"], [201, "true"]]);
		expect(await windowCounts(drop.id, 2)).toMatchObject({ held: 2, sold: 0 });
	});

	it("a turn the window's close cuts short still dates its purchase from the admission (the token carries it)", async () => {
		const now = Date.now();
		// The window closes 3 minutes on, well inside the 10-minute access time: the token ends at the close.
		const drop = await createDrop({
			capacity: 10,
			opensAt: new Date(now + 30 * MIN).toISOString(),
			maxPerFan: 2,
			shards: 1,
			admission: WIDE_OPEN,
			presales: [{ id: "club", name: "Fan club", opensAt: new Date(now - MIN).toISOString(), closesAt: new Date(now + 3 * MIN).toISOString(), access: "code", capacity: 5 }],
		});
		const room = names.roomKey(drop.id, "club");
		const code = await sharedCode(drop.id, 5);
		const joined = await joinAs(drop.id, "dated", code);
		const s = await admittedIn(drop.id, room, joined.queueToken);
		const admitted = Date.parse(s.admittedAt as string);
		const token = s.accessToken as string;
		expect(claimsOf(token)).toMatchObject({ adm: admitted, exp: Math.floor((now + 3 * MIN) / 1000) });
		const h = await hold(drop.id, token, 1, newKey());
		expect(h.status).toBe(201);
		const held = (await h.json()) as { holdId: string };
		expect((await purchase(drop.id, token, held.holdId)).status).toBe(201);
		const orders = await waitForOrders(drop.id, 1);
		expect(orders).toHaveLength(1);
		// exp less the access time would date it seven minutes before the fan was let in.
		const row = await env.DB.prepare("SELECT admitted_at FROM orders WHERE drop_id = ?").bind(drop.id).first<{ admitted_at: string }>();
		expect(Date.parse(row!.admitted_at)).toBe(admitted);
	});

	it("a window admits nobody once it has closed, though the fans it took are placed", async () => {
		const now = Date.now();
		const drop = await createDrop({
			capacity: 20,
			opensAt: new Date(now + 30 * MIN).toISOString(),
			maxPerFan: 4,
			admission: WIDE_OPEN,
			presales: [{ id: "club", name: "Fan club", opensAt: new Date(now - MIN).toISOString(), closesAt: new Date(now + 10 * MIN).toISOString(), access: "code" }],
		});
		const room = names.roomKey(drop.id, "club");
		const code = await sharedCode(drop.id, 10);
		await Promise.all(["late-0", "late-1", "late-2"].map((id) => joinAs(drop.id, id, code)));
		// The window's pacer reaches the window's close before its next batch.
		await runInDurableObject(names.roomStub(env, room), (r: WaitingRoom) => movePacerClock(r, 10 * MIN));
		await admitBatch(room);
		const closed = await names.roomStub(env, room).audit();
		expect([closed.placed, closed.admittedThrough]).toEqual([3, 0]);
		// The control: the same joins in a window still open are let in by the same batch.
		const open = await createDrop({
			capacity: 20,
			opensAt: new Date(now + 30 * MIN).toISOString(),
			maxPerFan: 4,
			admission: WIDE_OPEN,
			presales: [{ id: "club", name: "Fan club", opensAt: new Date(now - MIN).toISOString(), closesAt: new Date(now + 10 * MIN).toISOString(), access: "code" }],
		});
		const openCode = await sharedCode(open.id, 10);
		await Promise.all(["on-0", "on-1", "on-2"].map((id) => joinAs(open.id, id, openCode)));
		await admitBatch(names.roomKey(open.id, "club"));
		const admitted = await names.roomStub(env, names.roomKey(open.id, "club")).audit();
		expect([admitted.placed, admitted.admittedThrough]).toEqual([3, 3]);
	});

	it("a pause and a cancel of the drop reach the window's own room", async () => {
		const now = Date.now();
		const drop = await createDrop({
			capacity: 20,
			opensAt: new Date(now + 30 * MIN).toISOString(),
			maxPerFan: 4,
			admission: WIDE_OPEN,
			presales: [{ id: "club", name: "Fan club", opensAt: new Date(now - MIN).toISOString(), closesAt: new Date(now + 10 * MIN).toISOString(), access: "code" }],
		});
		const room = names.roomKey(drop.id, "club");
		const code = await sharedCode(drop.id, 10);
		const first = await joinAs(drop.id, "before-pause", code);
		const paused = await adminFetch(`/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify({ paused: true }) });
		expect(paused.status).toBe(200);
		await admitBatch(room);
		expect((await names.roomStub(env, room).audit()).admittedThrough).toBe(0);
		expect((await status(drop.id, first.queueToken)).paused).toBe(true);
		const cancelled = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST", body: "{}" });
		expect(cancelled.status).toBe(200);
		const late = await postJoin(drop.id, withFanSecret(drop.id, { fanId: "after-cancel", code }), { ip: newIp(), env: perDropOff });
		expect([late.status, await errorCode(late)]).toEqual([409, "drop_cancelled"]);
		expect(await fansIn(room, 1)).toEqual(["before-pause"]);
	});
});
