// The waiting room end to end: joins, the open-time shuffle and its audit,
// batch admission on the alarm, pause and resume, pacing by the inventory and
// sold out. Requests go through the Worker (SELF); the room's state is then
// read inside the object, and time is driven through the alarm, never slept.
//
// Most drops here open an hour from now and the room is opened at that moment
// of its own clock (`openRoom`), with a 10-minute admission interval: no alarm
// comes due by itself while a test runs, so every batch is one the test asked for.
//
// Crowds go through the Worker's fetch handler called directly (`workerFetch`) as
// well as through SELF: under vitest-pool-workers each SELF.fetch costs more than
// the one before it in the same file (cloudflare/workers-sdk#15446), so a
// thousand of them take minutes. The handler, the router and the objects are the
// same either way.
import { SELF, createExecutionContext, env, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { STALL_MS, shuffle } from "../src/admission";
import worker from "../src/index";
import { shardName } from "../src/inventory-shard";
import { type WaitingRoom, accessSeconds } from "../src/waiting-room";
import { BASE, type DropJson, type JoinJson, adminFetch, admitBatch, createDrop, errorCode, fanFetch, hold, purchase, roomStub } from "./helpers";

/** A request to the Worker's own fetch handler, as SELF.fetch makes it, without the harness in between. */
async function workerFetch(path: string, init: RequestInit = {}, via: "handler" | "self" = "handler"): Promise<Response> {
	const request = new Request(`${BASE}${path}`, init);
	if (via === "self") return SELF.fetch(request);
	const ctx = createExecutionContext();
	const response = await worker.fetch(request as Parameters<typeof worker.fetch>[0], env, ctx);
	await waitOnExecutionContext(ctx);
	return response;
}

function joinRequest(dropId: string, fanId: string, via: "handler" | "self" = "handler"): Promise<Response> {
	return workerFetch(`/api/drops/${dropId}/join`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ fanId }) }, via);
}

async function join(dropId: string, fanId: string): Promise<JoinJson> {
	const res = await joinRequest(dropId, fanId);
	if (res.status !== 201 && res.status !== 200) throw new Error(`join: ${res.status} ${await res.text()}`);
	return (await res.json()) as JoinJson;
}

async function status(dropId: string, queueToken: string): Promise<Record<string, unknown>> {
	const res = await workerFetch(`/api/drops/${dropId}/status`, { headers: { authorization: `Bearer ${queueToken}` } });
	if (res.status !== 200) throw new Error(`status: ${res.status} ${await res.text()}`);
	return (await res.json()) as Record<string, unknown>;
}

const HOUR = 3600_000;
const SLOW = { intervalMs: 600_000 };

interface Drop extends DropJson {
	opensAtMs: number;
}

async function futureDrop(overrides: Record<string, unknown> = {}): Promise<Drop> {
	const opensAt = new Date(Date.now() + HOUR).toISOString();
	const drop = await createDrop({ opensAt, ...overrides });
	return { ...drop, opensAtMs: Date.parse(opensAt) };
}

/** The opening moment, as the room's clock sees it: the pre-queue is shuffled now. */
async function openRoom(drop: Drop): Promise<void> {
	await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => {
		const w = room.watermark(drop.opensAtMs + 1);
		if (!w.ok || !w.value.opened) throw new Error("room did not open");
	});
}

type RoomState = { admitted_through: number; next_position: number; last_admission_at: number | null; sold_out: number; alarm: number | null };

async function roomState(dropId: string): Promise<RoomState> {
	return runInDurableObject(roomStub(dropId), async (_room: WaitingRoom, state) => {
		const row = state.storage.sql.exec(`SELECT admitted_through, next_position, last_admission_at, sold_out FROM state`).one();
		return { ...(row as Omit<RoomState, "alarm">), alarm: await state.storage.getAlarm() };
	});
}

async function fansByPosition(dropId: string): Promise<{ fan_id: string; position: number | null; admitted: number; seq: number }[]> {
	return runInDurableObject(roomStub(dropId), (_room: WaitingRoom, state) =>
		state.storage.sql
			.exec<{ fan_id: string; position: number | null; admitted: number; seq: number }>(
				`SELECT fan_id, position, admitted_at IS NOT NULL AS admitted, seq FROM fans ORDER BY position, seq`,
			)
			.toArray(),
	);
}

/** Moves the last batch back by `ms` (default: an hour), so the next one is due now. */
async function rewindLastAdmission(dropId: string, ms = HOUR): Promise<void> {
	await runInDurableObject(roomStub(dropId), (_room: WaitingRoom, state) => {
		state.storage.sql.exec(`UPDATE state SET last_admission_at = last_admission_at - ? WHERE last_admission_at IS NOT NULL`, ms);
	});
}

/** The alarm handler, run to completion whether or not an alarm is scheduled. */
async function fireAlarm(dropId: string): Promise<void> {
	await runInDurableObject(roomStub(dropId), (room: WaitingRoom) => room.alarm());
}

/** The next batch, due now: rewinds the last admission and runs the alarm handler to completion. */
async function admitNow(dropId: string): Promise<number> {
	await admitBatch(dropId);
	return (await roomState(dropId)).admitted_through;
}

async function joinAll(dropId: string, fanIds: string[]) {
	const out = [];
	for (const fanId of fanIds) out.push(await join(dropId, fanId));
	return out;
}

const fanIds = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

async function audit(dropId: string) {
	const res = await adminFetch(`/api/admin/drops/${dropId}/audit`);
	expect(res.status).toBe(200);
	return (await res.json()) as {
		ok: boolean;
		admission: { seed: string | null; shuffleVerified: boolean | null; prequeueSize: number; admittedThrough: number; admittedInOrder: boolean; batches: number; largestBatch: number };
	};
}

async function patchDrop(dropId: string, body: Record<string, unknown>) {
	const res = await adminFetch(`/api/admin/drops/${dropId}`, { method: "PATCH", body: JSON.stringify(body) });
	expect(res.status).toBe(200);
	return (await res.json()) as DropJson & { stats: Record<string, number> };
}

/** Each fan's status, polled through the Worker with their queue token. */
async function pollAll(dropId: string, tokens: Map<string, string>) {
	const out = new Map<string, Record<string, unknown>>();
	await Promise.all(
		[...tokens].map(async ([fanId, token]) => {
			out.set(fanId, await status(dropId, token));
		}),
	);
	return out;
}

describe("joining", () => {
	it("1,000 concurrent joins get positions 1..1,000, each exactly once", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } });
		await openRoom(drop);
		const ids = fanIds("crowd", 1000);
		// All at once; a hundred of them through SELF, the rest straight into the handler.
		const responses = await Promise.all(ids.map((fanId, i) => joinRequest(drop.id, fanId, i % 10 === 0 ? "self" : "handler")));
		expect(responses.map((r) => r.status).every((s) => s === 201)).toBe(true);
		const joined = (await Promise.all(responses.map((r) => r.json()))) as { fanId: string; position: number; status: string; rejoined: boolean }[];
		const positions = joined.map((j) => j.position).sort((a, b) => a - b);
		expect(positions).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
		expect(new Set(joined.map((j) => j.fanId)).size).toBe(1000);
		expect(joined.every((j) => j.status === "waiting" && j.rejoined === false)).toBe(true);

		// The room agrees: 1,000 fans, 1,000 positions, none shared, none skipped.
		const fans = await fansByPosition(drop.id);
		expect(fans.map((f) => f.position)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
		const byFan = new Map(joined.map((j) => [j.fanId, j.position]));
		expect(fans.every((f) => byFan.get(f.fan_id) === f.position)).toBe(true);
		expect((await roomState(drop.id)).next_position).toBe(1001);

		// All of them again, at once: the same places, and nobody new.
		const again = await Promise.all(ids.map((fanId) => join(drop.id, fanId)));
		expect(again.every((j, i) => j.rejoined && j.position === byFan.get(ids[i]!))).toBe(true);
		const view = (await (await adminFetch(`/api/admin/drops/${drop.id}`)).json()) as { stats: Record<string, number> };
		expect(view.stats.joined).toBe(1000);
		expect(view.stats.waiting).toBe(1000);
	});

	it("1,000 concurrent joins before the open all wait in the pre-queue, then hold 1..1,000 in the shuffled order", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } });
		const ids = fanIds("early", 1000);
		const joined = await Promise.all(ids.map((fanId) => join(drop.id, fanId)));
		expect(joined.every((j) => j.position === null && j.status === "waiting")).toBe(true);

		await openRoom(drop);
		const polled = await pollAll(drop.id, new Map(ids.map((id, i) => [id, joined[i]!.queueToken])));
		const positions = [...polled.values()].map((s) => s.position as number).sort((a, b) => a - b);
		expect(positions).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));

		// The published seed and the join order give back exactly this queue.
		const { admission } = await audit(drop.id);
		expect(admission.prequeueSize).toBe(1000);
		expect(admission.shuffleVerified).toBe(true);
		const joinOrder = (await fansByPosition(drop.id)).sort((a, b) => a.seq - b.seq).map((f) => f.fan_id);
		const derived = shuffle(joinOrder, admission.seed!);
		expect(derived.every((fanId, i) => polled.get(fanId)!.position === i + 1)).toBe(true);
	});

	it("a fan who joins again keeps their place, before and after the open", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } });
		await joinAll(drop.id, fanIds("before", 5));
		const first = await joinRequest(drop.id, "repeat", "self");
		expect(first.status).toBe(201);
		const second = await joinRequest(drop.id, "repeat", "self");
		expect(second.status).toBe(200);
		expect(((await second.json()) as { rejoined: boolean; position: null }).rejoined).toBe(true);

		await openRoom(drop);
		const placed = await join(drop.id, "repeat");
		expect(placed.rejoined).toBe(true);
		expect(placed.position).toBeGreaterThanOrEqual(1);
		expect(placed.position).toBeLessThanOrEqual(6);
		const repeats = await Promise.all(Array.from({ length: 10 }, () => join(drop.id, "repeat")));
		expect(repeats.every((r) => r.rejoined && r.position === placed.position)).toBe(true);

		// A newcomer goes behind everyone, once.
		const late = await join(drop.id, "late");
		expect(late.position).toBe(7);
		expect((await join(drop.id, "late")).position).toBe(7);
		const fans = await fansByPosition(drop.id);
		expect(fans).toHaveLength(7);
		expect(fans.map((f) => f.position)).toEqual([1, 2, 3, 4, 5, 6, 7]);
	});
});

describe("the open-time shuffle", () => {
	it("shuffles the pre-queue at open with a seed the audit shows, and queues later joiners FIFO behind it", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } });
		const early = fanIds("pre", 40);
		const tokens = new Map<string, string>();
		for (const j of await joinAll(drop.id, early)) expect(j.position).toBeNull();
		// Sequential joins: this is the join order.
		const joinOrder = (await fansByPosition(drop.id)).sort((a, b) => a.seq - b.seq).map((f) => f.fan_id);
		expect(joinOrder).toEqual(early);
		for (const fanId of early) tokens.set(fanId, (await join(drop.id, fanId)).queueToken);

		// Before the open: no order yet, and nothing to audit.
		const waiting = await status(drop.id, tokens.get("pre-1")!);
		expect(waiting).toMatchObject({ status: "waiting", position: null, ahead: null });
		const before = await audit(drop.id);
		expect(before.admission.seed).toBeNull();
		expect(before.admission.shuffleVerified).toBeNull();

		await openRoom(drop);
		const polled = await pollAll(drop.id, tokens);
		const { admission, ok } = await audit(drop.id);
		expect(admission.seed).toMatch(/^[0-9a-f]{32}$/);
		expect(admission.shuffleVerified).toBe(true);
		expect(admission.prequeueSize).toBe(40);
		expect(ok).toBe(true);

		// Anyone with the seed and the join order gets the same queue.
		const derived = shuffle(early, admission.seed!);
		expect(derived.map((fanId) => polled.get(fanId)!.position)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
		// And it is not the join order.
		expect(derived).not.toEqual(early);

		// The first poll after the open hands out a token that carries the position.
		const s = polled.get("pre-1")!;
		expect(typeof s.queueToken).toBe("string");
		const again = await status(drop.id, s.queueToken as string);
		expect(again.position).toBe(s.position);
		expect(again.queueToken).toBeUndefined();

		// Joiners after the open: FIFO, behind the whole pre-queue.
		const late = await joinAll(drop.id, ["late-1", "late-2", "late-3"]);
		expect(late.map((j) => j.position)).toEqual([41, 42, 43]);
		expect((await audit(drop.id)).admission.shuffleVerified).toBe(true);
	});

	it("the audit notices a queue that no longer matches its seed", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } });
		await joinAll(drop.id, fanIds("t", 8));
		await openRoom(drop);
		expect((await audit(drop.id)).admission.shuffleVerified).toBe(true);
		// Two fans trade places behind the audit's back.
		await runInDurableObject(roomStub(drop.id), (_room: WaitingRoom, state) => {
			const sql = state.storage.sql;
			sql.exec(`UPDATE fans SET position = -1 WHERE position = 1`);
			sql.exec(`UPDATE fans SET position = 1 WHERE position = 2`);
			sql.exec(`UPDATE fans SET position = 2 WHERE position = -1`);
		});
		const after = await audit(drop.id);
		expect(after.admission.shuffleVerified).toBe(false);
		expect(after.ok).toBe(false);
	});
});

describe("admission on the alarm", () => {
	it("admits exactly one batch per alarm, in position order, and nothing extra when the alarm fires again too soon", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 3, ...SLOW } });
		const ids = fanIds("batch", 10);
		const tokens = new Map((await joinAll(drop.id, ids)).map((j, i) => [ids[i]!, j.queueToken]));
		await openRoom(drop);
		expect((await roomState(drop.id)).admitted_through).toBe(0);

		// The alarm set for the opening admits the first batch: positions 1..3.
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		let state = await roomState(drop.id);
		expect(state.admitted_through).toBe(3);
		expect(state.alarm).toBe(state.last_admission_at! + SLOW.intervalMs);
		let fans = await fansByPosition(drop.id);
		expect(fans.filter((f) => f.admitted).map((f) => f.position)).toEqual([1, 2, 3]);

		// Fired again before the interval has passed (twice, and concurrently): nobody more.
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		await Promise.all([fireAlarm(drop.id), fireAlarm(drop.id), fireAlarm(drop.id)]);
		state = await roomState(drop.id);
		expect(state.admitted_through).toBe(3);
		// ...and the next batch is still scheduled for when it is due.
		expect(state.alarm).toBe(state.last_admission_at! + SLOW.intervalMs);

		// Each due alarm: one more batch, the next positions.
		for (const expected of [6, 9, 10]) {
			await rewindLastAdmission(drop.id);
			expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
			state = await roomState(drop.id);
			expect(state.admitted_through).toBe(expected);
			fans = await fansByPosition(drop.id);
			expect(fans.filter((f) => f.admitted).map((f) => f.position)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
		}
		// Everyone is in: no alarm is left, and a stray one admits nobody.
		expect((await roomState(drop.id)).alarm).toBeNull();
		expect(await admitNow(drop.id)).toBe(10);

		// Fans see it: admitted with an access token, in the order of their positions.
		const polled = await pollAll(drop.id, tokens);
		expect([...polled.values()].every((s) => s.status === "admitted" && typeof s.accessToken === "string")).toBe(true);

		const { admission } = await audit(drop.id);
		expect(admission).toMatchObject({ admittedThrough: 10, admittedInOrder: true, batches: 4, largestBatch: 3 });
	});

	it("admits concurrent alarms and joins without losing or doubling anyone", async () => {
		const drop = await futureDrop({ capacity: 1000, admission: { batchSize: 25, ...SLOW } });
		await openRoom(drop);
		const ids = fanIds("mix", 200);
		// Joins and due alarms interleaved.
		await Promise.all([
			...ids.map((fanId) => join(drop.id, fanId)),
			...Array.from({ length: 5 }, async () => {
				await admitBatch(drop.id);
			}),
		]);
		const { admission } = await audit(drop.id);
		expect(admission.admittedInOrder).toBe(true);
		expect(admission.largestBatch).toBeLessThanOrEqual(25);
		const fans = await fansByPosition(drop.id);
		expect(fans.map((f) => f.position)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
		expect(fans.filter((f) => f.admitted).length).toBe(admission.admittedThrough);
	});
});

describe("pause and resume", () => {
	it("a pause deletes the alarm and stops admission; resuming sets it again and admission goes on", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 3, ...SLOW } });
		const ids = fanIds("p", 9);
		const tokens = new Map((await joinAll(drop.id, ids)).map((j, i) => [ids[i]!, j.queueToken]));
		await openRoom(drop);
		expect(await admitNow(drop.id)).toBe(3);

		const paused = await patchDrop(drop.id, { paused: true });
		expect(paused.paused).toBe(true);
		let state = await roomState(drop.id);
		expect(state.alarm).toBeNull();
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(false);

		// Even an alarm that runs anyway, with a batch due, admits nobody while paused.
		const last = state.last_admission_at!;
		await admitBatch(drop.id);
		expect((await roomState(drop.id)).admitted_through).toBe(3);
		await rewindLastAdmission(drop.id, -HOUR); // put the last batch back where it was

		// Fans are told, and polling slows down; joins still queue.
		const polled = await pollAll(drop.id, tokens);
		const waitingFan = [...polled.values()].find((s) => s.status === "waiting")!;
		expect(waitingFan).toMatchObject({ paused: true, estimatedWaitMs: null, pollAfterMs: 5000 });
		expect((await join(drop.id, "during-pause")).position).toBe(10);
		expect((await roomState(drop.id)).alarm).toBeNull();

		// Resume: the alarm is back, due one interval after the last batch.
		const resumed = await patchDrop(drop.id, { paused: false });
		expect(resumed.paused).toBe(false);
		state = await roomState(drop.id);
		expect(state.last_admission_at).toBe(last);
		expect(state.alarm).toBe(last + SLOW.intervalMs);
		expect(await admitNow(drop.id)).toBe(6);
		expect(await admitNow(drop.id)).toBe(9);
		expect(await admitNow(drop.id)).toBe(10);
		expect((await audit(drop.id)).admission.admittedInOrder).toBe(true);
	});

	it("a drop paused before it opens gets its opening alarm back when resumed, and admits from it", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 4, ...SLOW } });
		expect((await roomState(drop.id)).alarm).toBe(drop.opensAtMs);
		await patchDrop(drop.id, { paused: true });
		expect((await roomState(drop.id)).alarm).toBeNull();
		await joinAll(drop.id, fanIds("q", 6));
		expect((await roomState(drop.id)).alarm).toBeNull();

		await patchDrop(drop.id, { paused: false });
		expect((await roomState(drop.id)).alarm).toBe(drop.opensAtMs);
		await openRoom(drop);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		expect((await roomState(drop.id)).admitted_through).toBe(4);
	});

	it("a drop paused through its opening admits nobody until resumed", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 4, ...SLOW } });
		await patchDrop(drop.id, { paused: true });
		await joinAll(drop.id, fanIds("r", 6));
		await openRoom(drop);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(false);
		await fireAlarm(drop.id);
		expect((await roomState(drop.id)).admitted_through).toBe(0);

		// Resumed with no batch yet: the first one is due at once (its alarm may
		// already be running, so the handler is run to completion here).
		await patchDrop(drop.id, { paused: false });
		await fireAlarm(drop.id);
		const state = await roomState(drop.id);
		expect(state.admitted_through).toBe(4);
		expect(state.alarm).toBe(state.last_admission_at! + SLOW.intervalMs);
	});
});

describe("admission and the inventory", () => {
	it("keeps fans still shopping within activeMultiple x remaining, and admits nobody while no stock is free", async () => {
		const drop = await futureDrop({ capacity: 4, maxPerFan: 4, admission: { batchSize: 100, activeMultiple: 2, ...SLOW } });
		const ids = fanIds("stock", 20);
		const tokens = new Map((await joinAll(drop.id, ids)).map((j, i) => [ids[i]!, j.queueToken]));
		await openRoom(drop);

		// 4 tickets, multiple 2: 8 fans shopping at most, whatever the batch size.
		expect(await admitNow(drop.id)).toBe(8);
		expect(await admitNow(drop.id)).toBe(8);

		const fans = await fansByPosition(drop.id);
		const at = (position: number) => fans.find((f) => f.position === position)!.fan_id;
		const access = async (position: number) => (await status(drop.id, tokens.get(at(position))!)).accessToken as string;

		// The first fan holds everything: no stock is free, so nobody is let in to find nothing.
		const first = await access(1);
		const held = await hold(drop.id, first, 4);
		expect(held.status).toBe(201);
		const { holdId } = (await held.json()) as { holdId: string };
		expect(await admitNow(drop.id)).toBe(8);
		// Not sold out either: the hold may yet come back.
		expect((await status(drop.id, tokens.get(at(9))!)).status).toBe("waiting");

		// The hold comes back; the 8 admitted fans still fill 2 x 4.
		expect((await fanFetch(`/api/drops/${drop.id}/holds/${holdId}`, first, { method: "DELETE" })).status).toBe(204);
		expect(await admitNow(drop.id)).toBe(8);

		// Seven of them run out of time: they no longer count, and exactly 2 x 4 - 1 come in.
		await runInDurableObject(roomStub(drop.id), (_room: WaitingRoom, state) => {
			state.storage.sql.exec(
				`UPDATE fans SET admitted_at = admitted_at - ? WHERE position BETWEEN 2 AND 8`,
				accessSeconds(env) * 1000 + 1000,
			);
		});
		expect((await status(drop.id, tokens.get(at(2))!)).status).toBe("expired");
		expect(await admitNow(drop.id)).toBe(15);

		// A fan who has bought no longer counts either.
		const bought = await hold(drop.id, first, 1);
		const p = await purchase(drop.id, first, ((await bought.json()) as { holdId: string }).holdId);
		expect(p.status).toBe(201);
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => room.fanCompleted({ fanId: at(1) }));
		// 3 left, x2 = 6 places, 7 fans (positions 9..15) still shopping: nobody yet.
		expect(await admitNow(drop.id)).toBe(15);
		await runInDurableObject(roomStub(drop.id), (_room: WaitingRoom, state) => {
			state.storage.sql.exec(`UPDATE fans SET admitted_at = admitted_at - ? WHERE position BETWEEN 9 AND 10`, accessSeconds(env) * 1000 + 1000);
		});
		// Now 5 shopping: one place.
		expect(await admitNow(drop.id)).toBe(16);
		expect((await audit(drop.id)).admission.admittedInOrder).toBe(true);
	});

	it("lets the next fans in when tickets lie free and nobody has held one for a while, though admitted fans still count as shopping", async () => {
		const drop = await futureDrop({ capacity: 4, maxPerFan: 1, admission: { batchSize: 4, activeMultiple: 1, ...SLOW } });
		const ids = fanIds("idle", 5);
		const tokens = new Map((await joinAll(drop.id, ids)).map((j, i) => [ids[i]!, j.queueToken]));
		await openRoom(drop);
		expect(await admitNow(drop.id)).toBe(4);
		const fans = await fansByPosition(drop.id);
		// The four admitted fans each hold a ticket and give it back: all 4 are free again.
		for (const position of [1, 2, 3, 4]) {
			const access = (await status(drop.id, tokens.get(fans.find((f) => f.position === position)!.fan_id)!)).accessToken as string;
			const held = await hold(drop.id, access, 1);
			expect(held.status).toBe(201);
			const { holdId } = (await held.json()) as { holdId: string };
			expect((await fanFetch(`/api/drops/${drop.id}/holds/${holdId}`, access, { method: "DELETE" })).status).toBe(204);
		}
		// Just now someone was holding: the four still count as shopping, 1 x 4 places are full.
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => {
			(room as unknown as { lastBusyAt: number }).lastBusyAt = Date.now();
		});
		expect(await admitNow(drop.id)).toBe(4);
		// Nobody has held a ticket for longer than STALL_MS: they are taken as gone, and the fifth fan comes in.
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => {
			(room as unknown as { lastBusyAt: number }).lastBusyAt = Date.now() - STALL_MS - 1;
		});
		expect(await admitNow(drop.id)).toBe(5);
		const fifth = fans.find((f) => f.position === 5)!.fan_id;
		expect((await status(drop.id, tokens.get(fifth)!)).status).toBe("admitted");
	});

	it("tells waiting fans sold out on their next poll once no stock and no holds remain, without waiting for the next batch", async () => {
		const drop = await futureDrop({ capacity: 2, maxPerFan: 2, admission: { batchSize: 1, activeMultiple: 1, ...SLOW } });
		const ids = fanIds("so", 3);
		const tokens = new Map((await joinAll(drop.id, ids)).map((j, i) => [ids[i]!, j.queueToken]));
		await openRoom(drop);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		expect((await roomState(drop.id)).admitted_through).toBe(1);

		const polled = await pollAll(drop.id, tokens);
		const [buyer] = [...polled].find(([, s]) => s.status === "admitted")!;
		const waiting = ids.filter((id) => id !== buyer);
		const access = polled.get(buyer)!.accessToken as string;
		const h = await hold(drop.id, access, 2);
		expect(h.status).toBe(201);

		// Everything is held: nobody more is admitted, and it is not sold out yet.
		await fireAlarm(drop.id);
		expect((await roomState(drop.id)).admitted_through).toBe(1);
		for (const fanId of waiting) expect((await status(drop.id, tokens.get(fanId)!)).status).toBe("waiting");

		const p = await purchase(drop.id, access, ((await h.json()) as { holdId: string }).holdId);
		expect(p.status).toBe(201);

		// The next alarm tells them, although the next batch is ten minutes away.
		const state = await roomState(drop.id);
		expect(state.last_admission_at! + SLOW.intervalMs).toBeGreaterThan(Date.now());
		await fireAlarm(drop.id);
		expect((await roomState(drop.id)).sold_out).toBe(1);
		for (const fanId of waiting) {
			const s = await status(drop.id, tokens.get(fanId)!);
			expect(s).toMatchObject({ status: "sold_out", pollAfterMs: null });
		}
		// Everyone else learns it too: the public view, a newcomer, the stats.
		const view = (await (await fanFetch(`/api/drops/${drop.id}`, null)).json()) as { status: string; remaining: number };
		expect(view).toMatchObject({ status: "sold_out", remaining: 0 });
		expect((await join(drop.id, "too-late")).status).toBe("sold_out");
		const stats = ((await (await adminFetch(`/api/admin/drops/${drop.id}`)).json()) as { stats: Record<string, number> }).stats;
		expect(stats).toMatchObject({ sold: 2, waiting: 0, admitted: 1 });
		// The buyer is still admitted, and sold out is final: no more alarms, no more batches.
		expect((await status(drop.id, tokens.get(buyer)!)).status).toBe("admitted");
		expect(await admitNow(drop.id)).toBe(1);
		expect((await roomState(drop.id)).alarm).toBeNull();
		expect(await errorCode(await hold(drop.id, access, 1))).toBe("sold_out");
	});

	it("does not call a drop sold out while its last tickets are moving between shards", async () => {
		const drop = await futureDrop({ capacity: 2, shards: 2, maxPerFan: 2, admission: { batchSize: 1, activeMultiple: 1, ...SLOW } });
		const ids = fanIds("mv", 3);
		const tokens = new Map((await joinAll(drop.id, ids)).map((j, i) => [ids[i]!, j.queueToken]));
		await openRoom(drop);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);

		// Each shard has given its ticket to the other, and neither has credited it yet:
		// for a moment no shard counts them as stock, held or sold.
		for (const k of [0, 1]) {
			const given = await env.INVENTORY.getByName(shardName(drop.id, k)).give({ transferId: `t_move_${k}`, toShard: 1 - k, amount: 1 });
			expect(given).toBe(1);
		}
		// A batch is due: the tickets on their way still count as stock (so the next fan
		// comes in, activeMultiple 1 x 2 left - 1 shopping), and the drop is not sold out.
		expect(await admitNow(drop.id)).toBe(2);
		expect((await roomState(drop.id)).sold_out).toBe(0);
		const polled = await pollAll(drop.id, tokens);
		expect([...polled.values()].map((s) => s.status).sort()).toEqual(["admitted", "admitted", "waiting"]);
		expect([...polled.values()].some((s) => s.status === "sold_out")).toBe(false);
	});
});

describe("polling advice", () => {
	it("reports position, fans ahead and a wait from the pace, and polls less often further back", async () => {
		// One fan every 10 s: the configured pace until one is measured.
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 1, intervalMs: 10_000 } });
		const ids = fanIds("far", 30);
		const tokens = new Map((await joinAll(drop.id, ids)).map((j, i) => [ids[i]!, j.queueToken]));
		await openRoom(drop);
		const byFan = await pollAll(drop.id, tokens);
		const polled = [...byFan.values()].sort((a, b) => (a.position as number) - (b.position as number));
		expect(polled.map((s) => s.position)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
		for (const s of polled) {
			const position = s.position as number;
			expect(s.status).toBe("waiting");
			expect(s.ahead).toBe(position - 1);
			expect(s.estimatedWaitMs).toBe(position * 10_000);
			expect(s.pollAfterMs as number).toBeGreaterThanOrEqual(1000);
			expect(s.pollAfterMs as number).toBeLessThanOrEqual(30_000);
		}
		// Jitter is ±10%, so compare places whose waits differ by more than that.
		const poll = (position: number) => polled[position - 1]!.pollAfterMs as number;
		expect(poll(1)).toBeLessThan(poll(2));
		expect(poll(2)).toBeLessThan(poll(4));
		expect(poll(4)).toBeLessThan(poll(8));
		expect(poll(8)).toBeLessThan(poll(30));
		expect(poll(30)).toBeGreaterThanOrEqual(27_000);

		// The front fan is admitted: nothing left to poll for; the next one moves up.
		const fanAt = (position: number) => [...byFan].find(([, s]) => s.position === position)![0];
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		expect(await status(drop.id, tokens.get(fanAt(1))!)).toMatchObject({ status: "admitted", ahead: 0, pollAfterMs: null });
		expect(await status(drop.id, tokens.get(fanAt(2))!)).toMatchObject({ status: "waiting", position: 2, ahead: 0 });
		expect(await status(drop.id, tokens.get(fanAt(30))!)).toMatchObject({ status: "waiting", position: 30, ahead: 28 });
	});
});
