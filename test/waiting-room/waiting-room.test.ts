// The waiting room end to end: joins over lines, the open-time shuffle and its
// public check, batch admission by the pacer, pause and resume, pacing by the
// inventory and sold out. Requests go through the Worker; the objects' state
// is then read inside them, and time is driven through the pacer's clock and
// its alarm, never slept (but for the FIFO test, which needs joins apart in
// real time, and the sold-out test, which waits on the real alarm, bounded).
//
// Most drops here open an hour from now. `openRoom` opens them at that moment
// of the pacer's clock, which then stays an hour ahead: no real alarm comes due
// while a test runs, so every tick is one the test asked for.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { STALL_MS, shuffle } from "../../src/waiting-room/admission";
import { lineOf, prequeuePosition } from "../../src/waiting-room/placement";
import { config } from "../../src/shared/config";
import { type WaitingRoom } from "../../src/waiting-room/waiting-room";
import type { PacerCore } from "../../src/waiting-room/pacer-core";
import { audit } from "../support/audit";
import { type DropJson, createDrop, getDrop, patchDrop, patchDropRequest } from "../support/drops";
import { errorCode } from "../support/errors";
import { type JoinJson, hold, join, joinRequest, purchase, status } from "../support/fans";
import { admitBatch, lineRows, lineStub, movePacerClock, openRoom as openRoomAt, roomStub, slowPacerCalls, tickRoom, untilJoinsSealable } from "../support/room";
import { shardOfHold, shardStub } from "../support/shards";
import { HOUR } from "../support/time";
import { waitUntil } from "../support/wait";
import { callWorker, fanFetch } from "../support/worker";
import { SLOT_MS } from "../../src/waiting-room/timing";
import { sha256Hex } from "../../src/shared/crypto";

const SLOW = { intervalMs: 600_000 };

interface Drop extends DropJson {
	opensAtMs: number;
}

async function futureDrop(overrides: Record<string, unknown> = {}): Promise<Drop> {
	const opensAt = new Date(Date.now() + HOUR).toISOString();
	const drop = (await createDrop({ opensAt, ...overrides })) as Drop;
	return { ...drop, opensAtMs: Date.parse(opensAt) };
}

const openRoom = (drop: Drop) => openRoomAt(drop.id, drop.opensAtMs);

type PacerState = { admitted_through: number; next_position: number; last_admission_at: number | null; sold_out: number; alarm: number | null };

async function pacerState(dropId: string): Promise<PacerState> {
	return runInDurableObject(roomStub(dropId), async (_room: WaitingRoom, state) => {
		const row = state.storage.sql.exec(`SELECT admitted_through, next_position, last_admission_at, sold_out FROM pacer`).one();
		return { ...(row as Omit<PacerState, "alarm">), alarm: await state.storage.getAlarm() };
	});
}

/** Moves the last batch back by `ms` (default: an hour), so the next one is due now. */
/** A one-line drop of one ticket, opened, bought by `<prefix>-buyer`, and marked sold out by the pacer. */
async function soldOutOneLineDrop(prefix: string): Promise<Drop> {
	const drop = await futureDrop({ capacity: 1, maxPerFan: 1, admission: { batchSize: 1, activeMultiple: 1, ...SLOW } });
	const [buyer] = await joinAll(drop.id, [`${prefix}-buyer`]);
	await openRoom(drop);
	expect(await admitNow(drop.id)).toBe(1);
	const access = (await status(drop.id, buyer!.queueToken)).accessToken as string;
	const h = await hold(drop.id, access, 1);
	expect((await purchase(drop.id, access, ((await h.json()) as { holdId: string }).holdId)).status).toBe(201);
	await tickRoom(drop.id);
	expect((await pacerState(drop.id)).sold_out).toBe(1);
	return drop;
}

/** A new fan's join straight at line 0, as from a Worker whose copy of the watermark does not know of the sell-out yet. */
const lateJoin = (dropId: string, fanId: string) =>
	lineStub(dropId, 0).join({ fanId, ip: null, limits: { perIp: 0, perFan: 0, loopbackExempt: false }, acceptNew: true, proof: { kind: "secret", offered: null, fresh: "f".repeat(64) } });

async function rewindLastAdmission(dropId: string, ms = HOUR): Promise<void> {
	await runInDurableObject(roomStub(dropId), (_room: WaitingRoom, state) => {
		state.storage.sql.exec(`UPDATE pacer SET last_admission_at = last_admission_at - ? WHERE last_admission_at IS NOT NULL`, ms);
	});
}

/** The pacer's alarm handler, run to completion whether or not an alarm is scheduled. */
async function fireAlarm(dropId: string): Promise<void> {
	await runInDurableObject(roomStub(dropId), (room: WaitingRoom) => room.alarm());
}

/** The next batch, due now: returns how far admission has got. */
async function admitNow(dropId: string): Promise<number> {
	await admitBatch(dropId);
	return (await pacerState(dropId)).admitted_through;
}

async function joinAll(dropId: string, fanIds: string[]) {
	const out: JoinJson[] = [];
	for (const fanId of fanIds) out.push(await join(dropId, fanId));
	return out;
}

const fanIds = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

/** Each fan's status, polled through the Worker with their queue token. */
async function pollAll(dropId: string, tokens: Map<string, string>, withEnv?: Env) {
	const out = new Map<string, Record<string, unknown>>();
	await Promise.all(
		[...tokens].map(async ([fanId, token]) => {
			out.set(fanId, await status(dropId, token, { env: withEnv }));
		}),
	);
	return out;
}

const tokensOf = (ids: string[], joined: JoinJson[]) => new Map(joined.map((j, i) => [ids[i]!, j.queueToken]));
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Requests each object of the drop has served so far, by "kind:index". */
async function loads(drop: Drop): Promise<Map<string, number>> {
	const out = new Map<string, number>();
	out.set("room:0", await roomStub(drop.id).load());
	for (let k = 0; k < drop.lines; k++) out.set(`line:${k}`, await lineStub(drop.id, k).load());
	for (let k = 0; k < drop.shards; k++) out.set(`shard:${k}`, await shardStub(drop.id, k).load());
	return out;
}

describe("joining", () => {
	it("1,000 concurrent joins to a one-line drop get positions 1..1,000 at once, each exactly once", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } });
		expect(drop.lines).toBe(1);
		await openRoom(drop);
		const ids = fanIds("crowd", 1000);
		// All at once; a hundred of them through SELF, the rest straight into the handler.
		const responses = await Promise.all(ids.map((fanId, i) => joinRequest(drop.id, fanId, { via: i % 10 === 0 ? "self" : "handler" })));
		expect(responses.map((r) => r.status).every((s) => s === 201)).toBe(true);
		const joined = (await Promise.all(responses.map((r) => r.json()))) as JoinJson[];
		expect(joined.map((j) => j.position).sort((a, b) => a! - b!)).toEqual(oneToN(1000));
		expect(new Set(joined.map((j) => j.fanId)).size).toBe(1000);
		expect(joined.every((j) => j.status === "waiting" && j.rejoined === false && j.line === 0)).toBe(true);

		// All of them again, at once: the same places, and nobody new.
		const byFan = new Map(joined.map((j) => [j.fanId, j.position]));
		const again = await Promise.all(ids.map((fanId) => join(drop.id, fanId)));
		expect(again.every((j, i) => j.rejoined && j.position === byFan.get(ids[i]!))).toBe(true);
		expect(await lineStub(drop.id, 0).joined()).toBe(1000);

		// The pacer seals them in one tick and agrees with every place the line gave.
		await tickRoom(drop.id);
		expect((await pacerState(drop.id)).next_position).toBe(1001);
		expect((await getDrop(drop.id)).stats).toMatchObject({ joined: 1000, admitted: 10, waiting: 990 });
		const polled = await pollAll(drop.id, tokensOf(ids, joined));
		expect(ids.every((id) => polled.get(id)!.position === byFan.get(id))).toBe(true);
		expect((await audit(drop.id)).admission.admittedInOrder).toBe(true);
	}, 120_000); // a thousand joins twice over, then a poll of each: longer than one test on a loaded machine

	it("joins over four lines at once: one place each, and positions 1..N in slot, line and join order once sealed", async () => {
		// Open now, in real time: the lines stamp each join with the slot of their own clock.
		const drop = (await createDrop({ capacity: 1000, lines: 4, admission: { batchSize: 1000, activeMultiple: 20, ...SLOW } })) as Drop;
		await admitBatch(drop.id);
		// Three waves, a slot and more apart in real time; each wave all at once.
		const waves = [fanIds("w1", 150), fanIds("w2", 150), fanIds("w3", 100)];
		const joined = new Map<string, JoinJson>();
		for (const [w, wave] of waves.entries()) {
			if (w > 0) await new Promise((resolve) => setTimeout(resolve, SLOT_MS + 100));
			const answers = await Promise.all(wave.map((fanId) => join(drop.id, fanId)));
			answers.forEach((a, i) => joined.set(wave[i]!, a));
		}
		const all = waves.flat();
		// Before the seal a fan of a multi-line drop has a line, a slot and an index, not yet a position.
		for (const id of all) {
			const j = joined.get(id)!;
			expect(j).toMatchObject({ status: "waiting", position: null, line: lineOf(id, 4), prequeuePlace: null });
			expect(j.slot).toEqual(expect.any(Number));
		}
		expect(new Set(all.map((id) => lineOf(id, 4))).size).toBe(4);

		// One tick seals them; the first batch may already have gone in before they all joined.
		await admitBatch(drop.id);
		await rewindLastAdmission(drop.id);
		await admitBatch(drop.id);
		const polled = await pollAll(drop.id, new Map(all.map((id) => [id, joined.get(id)!.queueToken])));
		const position = (id: string) => polled.get(id)!.position as number;
		expect(all.map(position).sort((a, b) => a - b)).toEqual(oneToN(all.length));
		// The order is (slot, line, place in the slot): exactly what the join answers said.
		const expected = [...all].sort((a, b) => {
			const x = joined.get(a)!;
			const y = joined.get(b)!;
			return x.slot! - y.slot! || x.line - y.line || x.slotIndex! - y.slotIndex!;
		});
		expect(expected.map(position)).toEqual(oneToN(all.length));
		// First come, first served across lines: every fan of a later wave is behind every fan of an earlier one.
		for (let w = 1; w < waves.length; w++) {
			expect(Math.max(...waves[w - 1]!.map(position))).toBeLessThan(Math.min(...waves[w]!.map(position)));
		}
		// Everyone is admitted, exactly positions 1..400, and the audit agrees line by line.
		expect([...polled.values()].every((s) => s.status === "admitted")).toBe(true);
		const a = await audit(drop.id);
		expect(a.admission).toMatchObject({ admittedThrough: 400, placed: 400, admittedInOrder: true });
	});

	it("1,000 concurrent joins before the open, over four lines of unequal size, hold 1..1,000 in the shuffled order anyone can re-derive", async () => {
		const drop = await futureDrop({ capacity: 100, lines: 4, admission: { batchSize: 10, ...SLOW } });
		const ids = fanIds("early", 1000);
		const joined = await Promise.all(ids.map((fanId) => join(drop.id, fanId)));
		expect(joined.every((j) => j.position === null && j.status === "waiting" && j.prequeuePlace !== null && j.slot === null)).toBe(true);

		await openRoom(drop);
		const polled = await pollAll(drop.id, tokensOf(ids, joined));
		expect([...polled.values()].map((s) => s.position as number).sort((a, b) => a - b)).toEqual(oneToN(1000));

		// From public data alone: the revealed seed, its commitment, the per-line counts, and
		// each fan's line and place in it, as their join answer told them.
		const fairness = (await (await callWorker(`/api/drops/${drop.id}/fairness`)).json()) as {
			seed: string;
			seedCommitment: string;
			prequeue: number[];
			prequeueSize: number;
			algorithm: string;
		};
		expect(fairness.prequeueSize).toBe(1000);
		expect(fairness.prequeue.reduce((a, b) => a + b, 0)).toBe(1000);
		expect(await sha256Hex(fairness.seed)).toBe(fairness.seedCommitment);
		ids.forEach((id, i) => {
			const j = joined[i]!;
			expect(prequeuePosition(fairness.seed, fairness.prequeue, j.line, j.prequeuePlace!)).toBe(polled.get(id)!.position);
		});
		// The same as the plain shuffle of the join order laid out line by line.
		const laidOut = [...ids].sort((a, b) => {
			const x = joined[ids.indexOf(a)]!;
			const y = joined[ids.indexOf(b)]!;
			return x.line - y.line || x.prequeuePlace! - y.prequeuePlace!;
		});
		expect(shuffle(laidOut, fairness.seed).map((id) => polled.get(id)!.position)).toEqual(oneToN(1000));
		const { admission } = await audit(drop.id);
		expect(admission).toMatchObject({ prequeueSize: 1000, shuffleVerified: true, commitmentVerified: true, prequeue: fairness.prequeue });
	});

	it("a fan who joins again keeps their place, before and after the open", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } });
		await joinAll(drop.id, fanIds("before", 5));
		const first = await joinRequest(drop.id, "repeat", { via: "self" });
		expect(first.status).toBe(201);
		const second = await joinRequest(drop.id, "repeat", { via: "self" });
		expect(second.status).toBe(200);
		expect(await second.json()).toMatchObject({ rejoined: true, position: null, prequeuePlace: 6 });

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
		expect(await lineStub(drop.id, 0).joined()).toBe(7);
	});
});

describe("the open-time shuffle", () => {
	it("commits to the seed at creation, reveals it at the opening, and queues later joiners FIFO behind the pre-queue", async () => {
		const drop = (await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } })) as Drop & { seedCommitment: string };
		expect(drop.seedCommitment).toMatch(/^[0-9a-f]{64}$/);
		const publicView = (await (await callWorker(`/api/drops/${drop.id}`)).json()) as { seedCommitment: string };
		expect(publicView.seedCommitment).toBe(drop.seedCommitment);

		const early = fanIds("pre", 40);
		const joined = await joinAll(drop.id, early);
		// Sequential joins: this is the join order, and the place in line says so.
		expect(joined.map((j) => j.prequeuePlace)).toEqual(oneToN(40));
		const tokens = tokensOf(early, joined);

		// Before the open: no order yet, and the seed stays secret.
		expect(await status(drop.id, tokens.get("pre-1")!)).toMatchObject({ status: "waiting", position: null, ahead: null });
		const before = (await (await callWorker(`/api/drops/${drop.id}/fairness`)).json()) as Record<string, unknown>;
		expect(before).toMatchObject({ seed: null, prequeue: null, seedCommitment: drop.seedCommitment });
		expect((await audit(drop.id)).admission).toMatchObject({ seed: null, shuffleVerified: null, commitmentVerified: null });

		await openRoom(drop);
		const polled = await pollAll(drop.id, tokens);
		const { admission, ok } = await audit(drop.id);
		expect(admission.seed).toMatch(/^[0-9a-f]{32}$/);
		expect(await sha256Hex(admission.seed!)).toBe(drop.seedCommitment);
		expect(admission).toMatchObject({ shuffleVerified: true, commitmentVerified: true, prequeueSize: 40, seedCommitment: drop.seedCommitment });
		expect(ok).toBe(true);

		// Anyone with the seed and the join order gets the same queue, and it is not the join order.
		const derived = shuffle(early, admission.seed!);
		expect(derived.map((fanId) => polled.get(fanId)!.position)).toEqual(oneToN(40));
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
		await tickRoom(drop.id);
		expect((await audit(drop.id)).admission).toMatchObject({ shuffleVerified: true, admittedInOrder: true, placed: 43 });
	});

	it("the audit notices a pre-queue that no longer matches the join order, and a seed that does not match its commitment", async () => {
		const drop = await futureDrop({ capacity: 100, lines: 2, admission: { batchSize: 10, ...SLOW } });
		const ids = fanIds("t", 12);
		const joined = await joinAll(drop.id, ids);
		await openRoom(drop);
		expect((await audit(drop.id)).admission.shuffleVerified).toBe(true);
		// Two fans of one line trade places in it behind the audit's back.
		const line = joined[0]!.line;
		await runInDurableObject(lineStub(drop.id, line), (_line, state) => {
			const sql = state.storage.sql;
			sql.exec(`UPDATE fans SET prequeue_seq = -1 WHERE prequeue_seq = 1`);
			sql.exec(`UPDATE fans SET prequeue_seq = 1 WHERE prequeue_seq = 2`);
			sql.exec(`UPDATE fans SET prequeue_seq = 2 WHERE prequeue_seq = -1`);
		});
		const swapped = await audit(drop.id);
		expect(swapped.admission.shuffleVerified).toBe(false);
		expect(swapped.ok).toBe(false);

		const other = await futureDrop({ capacity: 100, admission: { batchSize: 10, ...SLOW } });
		await joinAll(other.id, fanIds("c", 3));
		await openRoom(other);
		await runInDurableObject(roomStub(other.id), (_room: WaitingRoom, state) => {
			state.storage.sql.exec(`UPDATE pacer SET seed = '00000000000000000000000000000001'`);
		});
		const forged = await audit(other.id);
		expect(forged.admission.commitmentVerified).toBe(false);
		expect(forged.ok).toBe(false);
	});
});

describe("admission by the pacer", () => {
	it("admits exactly one batch per interval, in position order, and nothing extra when the alarm fires again too soon", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 3, ...SLOW } });
		const ids = fanIds("batch", 10);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		expect((await pacerState(drop.id)).admitted_through).toBe(0);

		// The alarm set for the opening admits the first batch: positions 1..3.
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		let state = await pacerState(drop.id);
		expect(state.admitted_through).toBe(3);
		// The pacer ticks on (it seals the slots of later joins), well before the next batch is due.
		expect(state.alarm).not.toBeNull();
		expect(state.alarm!).toBeLessThan(state.last_admission_at! + SLOW.intervalMs);
		let polled = await pollAll(drop.id, tokens);
		expect([...polled.values()].filter((s) => s.status === "admitted").map((s) => s.position).sort()).toEqual([1, 2, 3]);

		// Fired again before the interval has passed (twice, and concurrently): nobody more.
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		await Promise.all([fireAlarm(drop.id), fireAlarm(drop.id), fireAlarm(drop.id)]);
		expect((await pacerState(drop.id)).admitted_through).toBe(3);

		// Each due tick: one more batch, the next positions.
		for (const expected of [6, 9, 10]) {
			await rewindLastAdmission(drop.id);
			expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
			state = await pacerState(drop.id);
			expect(state.admitted_through).toBe(expected);
			polled = await pollAll(drop.id, tokens);
			const admitted = [...polled.values()].filter((s) => s.status === "admitted").map((s) => s.position as number);
			expect(admitted.sort((a, b) => a - b)).toEqual(oneToN(expected));
		}
		// Everyone is in: a stray tick admits nobody.
		expect(await admitNow(drop.id)).toBe(10);
		// Fans see it: admitted with an access token each.
		expect([...polled.values()].every((s) => s.status === "admitted" && typeof s.accessToken === "string")).toBe(true);

		const { admission } = await audit(drop.id);
		expect(admission).toMatchObject({ admittedThrough: 10, admittedInOrder: true, batches: 4, largestBatch: 3 });
	});

	it("gives the same grant on every poll: the jti and expiry of the batch that admitted the fan", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 2, ...SLOW } });
		const ids = fanIds("grant", 3);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		await admitNow(drop.id);
		const first = await pollAll(drop.id, tokens);
		const admitted = ids.filter((id) => first.get(id)!.status === "admitted");
		expect(admitted).toHaveLength(2);
		const claims = (t: string) => JSON.parse(atob(t.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { jti: string; exp: number };
		for (const id of admitted) {
			const again = await status(drop.id, tokens.get(id)!);
			expect(again.accessExpiresAt).toBe(first.get(id)!.accessExpiresAt);
			// The jti and exp name the batch; iat is when this poll signed it, so it may differ by a second.
			const { jti, exp } = claims(first.get(id)!.accessToken as string);
			expect(claims(again.accessToken as string)).toMatchObject({ jti, exp });
		}
		expect(claims(first.get(admitted[0]!)!.accessToken as string).jti).not.toBe(claims(first.get(admitted[1]!)!.accessToken as string).jti);
		// The turn ends with the batch's time, not with the poll: past it, the fan is told it has ended.
		await runInDurableObject(roomStub(drop.id), (_room: WaitingRoom, state) => {
			state.storage.sql.exec(`UPDATE batches SET at = at - ?`, config(env).accessTokenSeconds * 1000 + 1000);
		});
		expect(await status(drop.id, tokens.get(admitted[0]!)!)).toMatchObject({ status: "expired", pollAfterMs: null });
	});

	it("admits concurrent ticks and joins over three lines without losing or doubling anyone", async () => {
		const drop = await futureDrop({ capacity: 1000, lines: 3, admission: { batchSize: 25, ...SLOW } });
		await openRoom(drop);
		const ids = fanIds("mix", 200);
		// Joins and due ticks interleaved.
		const [joined] = await Promise.all([
			Promise.all(ids.map((fanId) => join(drop.id, fanId))),
			Promise.all(Array.from({ length: 5 }, () => admitBatch(drop.id))),
		]);
		await admitBatch(drop.id);
		const { admission } = await audit(drop.id);
		expect(admission.admittedInOrder).toBe(true);
		expect(admission.largestBatch).toBeLessThanOrEqual(25);
		expect(admission.placed).toBe(200);
		const polled = await pollAll(drop.id, tokensOf(ids, joined));
		expect([...polled.values()].map((s) => s.position as number).sort((a, b) => a - b)).toEqual(oneToN(200));
		const admitted = [...polled.values()].filter((s) => s.status === "admitted").map((s) => s.position as number);
		expect(admitted.sort((a, b) => a - b)).toEqual(oneToN(admission.admittedThrough));
	});

	it("a late or lost publish never admits beyond the pacer: a stale copy admits fewer, a missing one admits nobody", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 2, ...SLOW } });
		const ids = fanIds("late", 6);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		await admitNow(drop.id);
		const cached = { ...env, WATERMARK_CACHE_MS: "1000" } as Env;
		// A copy is published with 2 admitted; then the pacer admits 2 more.
		const stale = await pollAll(drop.id, tokens, cached);
		expect([...stale.values()].filter((s) => s.status === "admitted")).toHaveLength(2);
		expect(await admitNow(drop.id)).toBe(4);
		// Within the copy's second: still 2 admitted, never more than the pacer has.
		const fromCopy = await pollAll(drop.id, tokens, cached);
		expect([...fromCopy.values()].filter((s) => s.status === "admitted")).toHaveLength(2);
		// Fresh: exactly the pacer's 4.
		const fresh = await pollAll(drop.id, tokens);
		expect([...fresh.values()].filter((s) => s.status === "admitted").map((s) => s.position as number).sort()).toEqual([1, 2, 3, 4]);
		// The pacer unreachable and nothing cached: no poll answers "admitted" for anyone.
		const broken = { ...env, WATERMARK_CACHE_MS: "0", WAITING_ROOM: { getByName: () => ({ watermark: () => Promise.reject(new Error("pacer down (test)")) }) } } as unknown as Env;
		for (const token of tokens.values()) {
			const res = await fanFetch(`/api/drops/${drop.id}/status`, token, {}, { env: broken });
			expect(res.status).toBe(500);
			expect(JSON.stringify(await res.json())).not.toContain("pacer down");
		}
	});
});

describe("the pacer's clock across slow calls", () => {
	const INTERVAL_MS = 5_000;
	const SLOW_TOTALS_MS = 4_000;

	const batchesOf = (state: DurableObjectState) =>
		state.storage.sql.exec<{ at: number; through: number }>(`SELECT at, through FROM batches ORDER BY through`).toArray();

	it("stamps a batch with the time the shards' totals arrived: the turn is whole and the next batch waits a full interval from then", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 2, intervalMs: INTERVAL_MS, activeMultiple: 20 } });
		const ids = fanIds("slowtotals", 6);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		const seen = await runInDurableObject(roomStub(drop.id), async (room: WaitingRoom, state) => {
			let delay = SLOW_TOTALS_MS;
			slowPacerCalls(room, "INVENTORY", "totals", () => delay);
			// A tick whose totals take 4 s: the first batch goes in when they arrive.
			const asked = room.clock();
			await room.alarm();
			const answered = room.clock();
			const first = batchesOf(state);
			// The shards answer at once now. An interval after the tick began, but not after the
			// batch went in: nobody more (a batch stamped when the tick began would let two in here).
			delay = 0;
			movePacerClock(room, asked + INTERVAL_MS - room.clock());
			await room.alarm();
			const early = batchesOf(state);
			// A full interval after the first batch went in: the next one.
			movePacerClock(room, first[0]!.at + INTERVAL_MS - room.clock());
			await room.alarm();
			return { asked, answered, first, early, second: batchesOf(state) };
		});
		expect(seen.first).toHaveLength(1);
		expect(seen.first[0]!.through).toBe(2);
		expect(seen.first[0]!.at).toBeGreaterThanOrEqual(seen.asked + SLOW_TOTALS_MS);
		expect(seen.first[0]!.at).toBeLessThanOrEqual(seen.answered);
		expect(seen.early).toEqual(seen.first);
		expect(seen.second).toHaveLength(2);
		expect(seen.second[1]!.through).toBe(4);
		expect(seen.second[1]!.at - seen.second[0]!.at).toBeGreaterThanOrEqual(INTERVAL_MS);

		// The admitted fans' turn runs a whole access window from when they were let in.
		const polled = await pollAll(drop.id, tokens);
		const admitted = [...polled.values()].filter((p) => p.status === "admitted");
		expect(admitted.map((p) => p.position).sort()).toEqual([1, 2, 3, 4]);
		const firstTurn = admitted.filter((p) => (p.position as number) <= 2).map((p) => Date.parse(p.accessExpiresAt as string));
		const whole = Math.floor((seen.asked + SLOW_TOTALS_MS + config(env).accessTokenSeconds * 1000) / 1000) * 1000;
		for (const expiresAt of firstTurn) expect(expiresAt).toBeGreaterThanOrEqual(whole);
		expect((await audit(drop.id)).admission).toMatchObject({ batches: 2, admittedInOrder: true });
		const admission = (await audit(drop.id)).admission;
		expect(admission.closestBatchesMs).toBeGreaterThanOrEqual(INTERVAL_MS);
		// Two batches, one gap: the median is that gap.
		expect(admission.medianBatchGapMs).toBe(admission.closestBatchesMs);
	});

	it("stamps the opening with the time the lines answered it", async () => {
		const drop = await futureDrop({ capacity: 10, admission: { batchSize: 2, ...SLOW } });
		await joinAll(drop.id, fanIds("slowopen", 3));
		const seen = await runInDurableObject(roomStub(drop.id), async (room: WaitingRoom, state) => {
			slowPacerCalls(room, "WAITING_LINE", "open", () => SLOW_TOTALS_MS);
			movePacerClock(room, drop.opensAtMs + 1 - room.clock());
			const asked = room.clock();
			await room.alarm();
			return { asked, answered: room.clock(), openedAt: state.storage.sql.exec<{ opened_at: number }>(`SELECT opened_at FROM pacer`).one().opened_at };
		});
		expect(seen.openedAt).toBeGreaterThanOrEqual(seen.asked + SLOW_TOTALS_MS);
		expect(seen.openedAt).toBeLessThanOrEqual(seen.answered);
		expect((await audit(drop.id)).admission.openedAt).toBe(new Date(seen.openedAt).toISOString());
	});

	it("admits nobody once the drop has closed while the tick waited for the shards", async () => {
		const closesAtMs = Date.now() + HOUR + 10 * 60_000;
		const drop = await futureDrop({
			closesAt: new Date(closesAtMs).toISOString(),
			capacity: 100,
			admission: { batchSize: 2, intervalMs: 250, activeMultiple: 20 },
		});
		const ids = fanIds("closing", 6);
		await joinAll(drop.id, ids);
		await openRoom(drop);
		const seen = await runInDurableObject(roomStub(drop.id), async (room: WaitingRoom, state) => {
			let delay = 0;
			slowPacerCalls(room, "INVENTORY", "totals", () => delay);
			// Open a while: a tick admits a batch.
			movePacerClock(room, closesAtMs - 60_000 - room.clock());
			await room.alarm();
			const open = batchesOf(state);
			// Two seconds before the close, a tick whose totals take four: they arrive after it.
			delay = SLOW_TOTALS_MS;
			movePacerClock(room, closesAtMs - 2_000 - room.clock());
			await room.alarm();
			return { open, after: batchesOf(state), answered: room.clock() };
		});
		expect(seen.answered).toBeGreaterThan(closesAtMs);
		expect(seen.open.map((b) => b.through)).toEqual([2]);
		expect(seen.after).toEqual(seen.open);
		expect((await pacerState(drop.id)).admitted_through).toBe(2);
	});
});

describe("what each fan costs each object", () => {
	it("polls, access grants and the public view call no object once the watermark is published; a hold and a purchase one shard call each", async () => {
		const drop = await futureDrop({ capacity: 20, shards: 2, lines: 2, maxPerFan: 2, admission: { batchSize: 10, ...SLOW } });
		const ids = fanIds("cost", 12);
		const joined = await joinAll(drop.id, ids);
		await openRoom(drop);
		await admitNow(drop.id);
		const cached = { ...env, WATERMARK_CACHE_MS: "1000" } as Env;
		await pollAll(drop.id, tokensOf(ids, joined), cached);
		const placed = await pollAll(drop.id, tokensOf(ids, joined), cached);
		const tokens = new Map(ids.map((id) => [id, (placed.get(id)!.queueToken as string | undefined) ?? joined[ids.indexOf(id)]!.queueToken]));
		const before = await loads(drop);
		// Within one second: every fan polls three times (admitted ones get their grant each time),
		// and a hundred views of the drop.
		for (let i = 0; i < 3; i++) await pollAll(drop.id, tokens, cached);
		await Promise.all(Array.from({ length: 100 }, () => callWorker(`/api/drops/${drop.id}`, {}, { env: cached })));
		const after = await loads(drop);
		// At most one fresh copy from the pacer (the cache's second may turn), nothing else anywhere.
		expect(after.get("room:0")! - before.get("room:0")!).toBeLessThanOrEqual(1);
		for (const [key, n] of before) if (key !== "room:0") expect(after.get(key), key).toBe(n);

		// A buyer: one call to their home shard for the hold, one for the purchase; the pacer hears nothing.
		const buyer = ids.find((id) => placed.get(id)!.status === "admitted")!;
		const access = (await status(drop.id, tokens.get(buyer)!, { env: cached })).accessToken as string;
		const mid = await loads(drop);
		const h = await hold(drop.id, access, 1);
		expect(h.status).toBe(201);
		const { holdId } = (await h.json()) as { holdId: string };
		expect((await purchase(drop.id, access, holdId)).status).toBe(201);
		const end = await loads(drop);
		const home = shardOfHold(holdId);
		expect(end.get(`shard:${home}`)! - mid.get(`shard:${home}`)!).toBe(2);
		expect(end.get("room:0")! - mid.get("room:0")!).toBeLessThanOrEqual(1);
		for (let k = 0; k < drop.lines; k++) expect(end.get(`line:${k}`)).toBe(mid.get(`line:${k}`));

		// The audit reports it: per object, and the hottest per fan who joined.
		const { load } = await audit(drop.id);
		expect(load.fans).toBe(12);
		expect(load.objects.map((o) => `${o.kind}:${o.index}`).sort()).toEqual([...end.keys()].sort());
		expect(load.hottest!.requests).toBe(Math.max(...load.objects.map((o) => o.requests)));
		expect(load.hottest!.perFan).toBeCloseTo(load.hottest!.requests / 12, 3);
		// A shard's requests by method add up to its count (each names its method), the hold and the purchase at home.
		for (const o of load.objects.filter((x) => x.kind === "shard")) {
			expect(Object.values(o.methods!).reduce((a, b) => a + b, 0)).toBe(o.requests);
			expect(o.starts).toBeGreaterThanOrEqual(1);
		}
		expect(load.objects.find((o) => o.kind === "shard" && o.index === home)!.methods).toMatchObject({ hold: 1, purchase: 1 });
		// So do the pacer's: the fans' watermark reads apart from the promoter's calls (the drop's making, this audit).
		const pacer = load.objects.find((o) => o.kind === "room")!;
		expect(Object.values(pacer.methods!).reduce((a, b) => a + b, 0)).toBe(pacer.requests);
		expect(pacer.methods!.watermark).toBeGreaterThanOrEqual(1);
		expect(pacer.methods).toMatchObject({ audit: 1 });
		expect(pacer.methods!.configure).toBeGreaterThanOrEqual(1);
		expect(pacer.starts).toBeGreaterThanOrEqual(1);
	});
});

describe("pause and resume", () => {
	it("a pause stops admission: the pacer places the joins, then sleeps with no alarm until a join wakes it; resuming sets it again and admission goes on", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 3, ...SLOW } });
		const ids = fanIds("p", 9);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		expect(await admitNow(drop.id)).toBe(3);
		/** Rings the pacer's alarm until none is set (bounded): the ticks a pause owes, then asleep. */
		const untilAsleep = async () => {
			for (let k = 0; k < 8; k++) if (!(await runDurableObjectAlarm(roomStub(drop.id)))) return;
			throw new Error("the paused pacer still had an alarm after 8 ticks");
		};

		const paused = await patchDrop(drop.id, { paused: true });
		expect(paused.paused).toBe(true);
		await untilAsleep();
		expect((await pacerState(drop.id)).alarm).toBeNull();
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(false);

		// Even a tick that runs anyway, with a batch due, admits nobody while paused.
		const last = (await pacerState(drop.id)).last_admission_at!;
		await admitBatch(drop.id);
		expect((await pacerState(drop.id)).admitted_through).toBe(3);
		await rewindLastAdmission(drop.id, -HOUR); // put the last batch back where it was

		// Fans are told, and polling slows down; joins still queue, and are placed (nobody admitted).
		const polled = await pollAll(drop.id, tokens);
		const waitingFan = [...polled.values()].find((s) => s.status === "waiting")!;
		expect(waitingFan).toMatchObject({ paused: true, estimatedWaitMs: null, pollAfterMs: 5000 });
		expect((await join(drop.id, "during-pause")).position).toBe(10);
		await untilJoinsSealable(drop.id);
		await untilAsleep();
		expect(await pacerState(drop.id)).toMatchObject({ next_position: 11, admitted_through: 3, last_admission_at: last, alarm: null });

		// Resume: ticking again, and batches go on one interval after the last.
		const resumed = await patchDrop(drop.id, { paused: false });
		expect(resumed.paused).toBe(false);
		const state = await pacerState(drop.id);
		expect(state.last_admission_at).toBe(last);
		expect(state.alarm).not.toBeNull();
		expect(await admitNow(drop.id)).toBe(6);
		expect(await admitNow(drop.id)).toBe(9);
		expect(await admitNow(drop.id)).toBe(10);
		expect((await audit(drop.id)).admission.admittedInOrder).toBe(true);
	});

	it("a drop paused before it opens gets its opening alarm back when resumed, and admits from it", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 4, ...SLOW } });
		expect((await pacerState(drop.id)).alarm).toBe(drop.opensAtMs);
		await patchDrop(drop.id, { paused: true });
		expect((await pacerState(drop.id)).alarm).toBeNull();
		await joinAll(drop.id, fanIds("q", 6));
		expect((await pacerState(drop.id)).alarm).toBeNull();

		await patchDrop(drop.id, { paused: false });
		expect((await pacerState(drop.id)).alarm).toBe(drop.opensAtMs);
		await openRoom(drop);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		expect((await pacerState(drop.id)).admitted_through).toBe(4);
	});

	it("a drop paused through its opening admits nobody until resumed", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 4, ...SLOW } });
		await patchDrop(drop.id, { paused: true });
		await joinAll(drop.id, fanIds("r", 6));
		await openRoom(drop);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(false);
		await fireAlarm(drop.id);
		expect((await pacerState(drop.id)).admitted_through).toBe(0);

		// Resumed with no batch yet: the first one is due at once.
		await patchDrop(drop.id, { paused: false });
		await fireAlarm(drop.id);
		expect((await pacerState(drop.id)).admitted_through).toBe(4);
	});

	it("the line count changes before the opening only while nobody has joined", async () => {
		const drop = await futureDrop({ capacity: 100, admission: { batchSize: 4, ...SLOW } });
		expect((await patchDrop(drop.id, { lines: 3 })).lines).toBe(3);
		await join(drop.id, "first-in-line");
		const res = await patchDropRequest(drop.id, { lines: 5 });
		expect(res.status).toBe(422);
		expect(await errorCode(res)).toBe("lines_in_use");
		expect(await getDrop(drop.id)).toMatchObject({ lines: 3, stats: { joined: 1 } });
	});

	it("a change of the line count racing joins: the change wins and every join lands on its line by the new count, or a join wins and the change is refused; both happen", async () => {
		const won = { change: 0, joins: 0 };
		for (let round = 0; round < 12 && (won.change === 0 || won.joins === 0); round++) {
			const drop = await futureDrop({ capacity: 100, lines: 2, admission: { batchSize: 4, ...SLOW } });
			const ids = fanIds(`race-${round}`, 6);
			// Even rounds: the joins and the change sent at once (the joins reach the lines first).
			// Odd rounds: the change a moment ahead, so the joins arrive while the lines change.
			const changing = patchDropRequest(drop.id, { lines: 3 });
			if (round % 2 === 1) await new Promise((resolve) => setTimeout(resolve, round));
			const joins = await Promise.all(ids.map((id) => joinRequest(drop.id, id)));
			const res = await changing;
			const lines = (await getDrop(drop.id)).lines;
			if (res.status === 200) {
				won.change++;
				expect(lines).toBe(3);
			} else {
				expect(res.status).toBe(422);
				expect(await errorCode(res)).toBe("lines_in_use");
				won.joins++;
				expect(lines).toBe(2);
			}
			// Every fan answered 201 has one place, on their line by the count that stands; a refused join stored nothing.
			const placed = new Map<string, number>();
			for (let k = 0; k < 3; k++) {
				for (const row of await lineRows(drop.id, k)) {
					expect(placed.has(row.fan_id), row.fan_id).toBe(false);
					placed.set(row.fan_id, k);
				}
			}
			joins.forEach((answer, i) => {
				const id = ids[i]!;
				expect([201, 503], id).toContain(answer.status);
				expect(placed.get(id), id).toBe(answer.status === 201 ? lineOf(id, lines) : undefined);
			});
		}
		expect(won.change).toBeGreaterThan(0);
		expect(won.joins).toBeGreaterThan(0);
	});

	it("a join routed by the line count from before a change is refused where it lands and stores nothing: the fan has one place, on their line", async () => {
		const proof = { kind: "secret", offered: null, fresh: "b".repeat(64) } as const;
		const limits = { perIp: 0, perFan: 0, loopbackExempt: false };
		for (const [from, to] of [
			[2, 3],
			[3, 2],
		] as const) {
			const drop = await futureDrop({ capacity: 100, lines: from, admission: { batchSize: 4, ...SLOW } });
			expect((await patchDrop(drop.id, { lines: to })).lines).toBe(to);
			// A fan whose line is another one under the old count (under 3 lines it may be line 2, which 2 lines no longer have).
			const fanId = fanIds(`moved-${from}-${to}`, 100).find((id) => lineOf(id, from) !== lineOf(id, to) && (from < to || lineOf(id, from) >= to))!;
			const stale = await lineStub(drop.id, lineOf(fanId, from)).join({ fanId, ip: null, limits, acceptNew: true, proof, lines: from });
			expect(stale, `${from} -> ${to}`).toMatchObject({ ok: false, status: 503, code: "lines_changed" });
			expect(await lineRows(drop.id, lineOf(fanId, from))).toEqual([]);
			// Through the Worker it lands on its line once; the same id without its secret gets no second place.
			expect((await joinRequest(drop.id, fanId)).status).toBe(201);
			const again = await joinRequest(drop.id, fanId, { fanSecret: null });
			expect(again.status).toBe(409);
			expect(await errorCode(again)).toBe("fan_id_taken");
			expect((await lineRows(drop.id, lineOf(fanId, to))).map((r) => r.fan_id)).toEqual([fanId]);
			expect(await getDrop(drop.id)).toMatchObject({ lines: to, stats: { joined: 1 } });
		}
	});
});

describe("admission and the inventory", () => {
	it("keeps fans still shopping within activeMultiple x remaining, counting buyers from the shards, and admits nobody while no stock is free", async () => {
		const drop = await futureDrop({ capacity: 4, maxPerFan: 4, admission: { batchSize: 100, activeMultiple: 2, ...SLOW } });
		const ids = fanIds("stock", 30);
		const joined = await joinAll(drop.id, ids);
		const tokens = tokensOf(ids, joined);
		await openRoom(drop);
		const positionOf = new Map<string, number>();
		for (const [id, s] of await pollAll(drop.id, tokens)) positionOf.set(id, s.position as number);
		const at = (position: number) => [...positionOf].find(([, p]) => p === position)![0];
		const access = async (position: number) => (await status(drop.id, tokens.get(at(position))!)).accessToken as string;

		// 4 tickets, multiple 2: 8 fans shopping at most, whatever the batch size.
		expect(await admitNow(drop.id)).toBe(8);
		expect(await admitNow(drop.id)).toBe(8);

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

		// Their turns run out: they no longer count, and 2 x 4 come in.
		await runInDurableObject(roomStub(drop.id), (_room: WaitingRoom, state) => {
			state.storage.sql.exec(`UPDATE batches SET at = at - ?`, config(env).accessTokenSeconds * 1000 + 1000);
		});
		expect((await status(drop.id, tokens.get(at(2))!)).status).toBe("expired");
		expect(await admitNow(drop.id)).toBe(16);

		// A fan who has bought no longer counts: the shards say so, no note to the pacer needed.
		const buyer = await access(9);
		const bought = await hold(drop.id, buyer, 1);
		const p = await purchase(drop.id, buyer, ((await bought.json()) as { holdId: string }).holdId);
		expect(p.status).toBe(201);
		// 3 left, x2 = 6 places, 7 fans still shopping (positions 10..16): nobody yet.
		expect(await admitNow(drop.id)).toBe(16);
		// A second buyer: 2 left, x2 = 4 places, 6 shopping: still nobody.
		const second = await access(10);
		const bought2 = await hold(drop.id, second, 1);
		expect((await purchase(drop.id, second, ((await bought2.json()) as { holdId: string }).holdId)).status).toBe(201);
		expect(await admitNow(drop.id)).toBe(16);
		expect((await audit(drop.id)).admission.admittedInOrder).toBe(true);
	});

	it("lets the next fans in when tickets lie free and nobody has held one for a while, though admitted fans still count as shopping", async () => {
		const drop = await futureDrop({ capacity: 4, maxPerFan: 1, admission: { batchSize: 4, activeMultiple: 1, ...SLOW } });
		const ids = fanIds("idle", 5);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		expect(await admitNow(drop.id)).toBe(4);
		const polled = await pollAll(drop.id, tokens);
		// The four admitted fans each hold a ticket and give it back: all 4 are free again.
		for (const [, s] of [...polled].filter(([, s]) => s.status === "admitted")) {
			const access = s.accessToken as string;
			const held = await hold(drop.id, access, 1);
			expect(held.status).toBe(201);
			const { holdId } = (await held.json()) as { holdId: string };
			expect((await fanFetch(`/api/drops/${drop.id}/holds/${holdId}`, access, { method: "DELETE" })).status).toBe(204);
		}
		// Just now someone was holding: the four still count as shopping, 1 x 4 places are full.
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => {
			(room as unknown as { core: PacerCore }).core.admission.lastBusyAt = room.clock();
		});
		expect(await admitNow(drop.id)).toBe(4);
		// Nobody has held a ticket for longer than STALL_MS: they are taken as gone, and the fifth fan comes in.
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => {
			(room as unknown as { core: PacerCore }).core.admission.lastBusyAt = room.clock() - STALL_MS - 1;
		});
		expect(await admitNow(drop.id)).toBe(5);
		const fifth = [...polled].find(([, s]) => s.status === "waiting")![0];
		expect((await status(drop.id, tokens.get(fifth)!)).status).toBe("admitted");
	});

	it("sold out reaches every waiting fan within a few seconds of the last sale, on the real alarm", async () => {
		// Opened a moment ago in real time: the pacer ticks by itself every half second.
		const drop = (await createDrop({ capacity: 2, maxPerFan: 3, lines: 2, admission: { batchSize: 1, activeMultiple: 1, ...SLOW } })) as Drop;
		const ids = fanIds("so", 6);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		// The first batch (one fan), whether the real alarm or this tick admits it; the next is ten minutes off.
		await tickRoom(drop.id);
		let polled = await pollAll(drop.id, tokens);
		const [buyer] = [...polled].find(([, s]) => s.status === "admitted")!;
		const waiting = ids.filter((id) => id !== buyer);
		const access = polled.get(buyer)!.accessToken as string;
		const h = await hold(drop.id, access, 2);
		expect(h.status).toBe(201);

		// Everything is held: nobody more is admitted, and it is not sold out yet.
		await tickRoom(drop.id);
		expect((await pacerState(drop.id)).admitted_through).toBe(1);
		polled = await pollAll(drop.id, new Map(waiting.map((id) => [id, tokens.get(id)!])));
		expect([...polled.values()].every((s) => s.status === "waiting")).toBe(true);

		const p = await purchase(drop.id, access, ((await h.json()) as { holdId: string }).holdId);
		expect(p.status).toBe(201);
		const soldAt = Date.now();
		// The next batch is ten minutes away; the pacer's own tick tells them all the same.
		await waitUntil(
			async () => [...(await pollAll(drop.id, new Map(waiting.map((id) => [id, tokens.get(id)!])))).values()].every((s) => s.status === "sold_out"),
			5_000,
			"every waiting fan to hear sold out",
		);
		expect(Date.now() - soldAt).toBeLessThan(5_000);
		// They keep their places and poll on, for tickets that may come back (none has yet).
		for (const id of waiting) {
			const s = await status(drop.id, tokens.get(id)!);
			expect(s).toMatchObject({ status: "sold_out", returns: { ticketsBack: 0, offered: 0 } });
			expect(typeof s.pollAfterMs).toBe("number");
		}
		// Everyone else learns it too: the public view, a newcomer (who gets a place behind them), the stats.
		const view = (await (await fanFetch(`/api/drops/${drop.id}`, null)).json()) as { status: string; remaining: number };
		expect(view).toMatchObject({ status: "sold_out", remaining: 0 });
		const late = await joinRequest(drop.id, "too-late");
		expect(late.status).toBe(201);
		const lateJson = (await late.json()) as JoinJson;
		expect(lateJson).toMatchObject({ status: "sold_out", rejoined: false });
		expect(typeof lateJson.queueToken).toBe("string");
		expect(await lineStub(drop.id, lineOf("too-late", 2)).locate({ fanId: "too-late" })).toMatchObject({ ok: true });
		expect((await getDrop(drop.id)).stats).toMatchObject({ sold: 2, waiting: waiting.length + 1, admitted: 1 });
		// The buyer is still admitted, and sold out is final: no more batches, and after its
		// last looks for joins still on their way (none here) no more ticks.
		expect((await status(drop.id, tokens.get(buyer)!)).status).toBe("admitted");
		expect(await admitNow(drop.id)).toBe(1);
		while (await runDurableObjectAlarm(roomStub(drop.id))) expect((await pacerState(drop.id)).admitted_through).toBe(1);
		expect((await pacerState(drop.id)).alarm).toBeNull();
		// A turn from before the sell-out holds nothing while fans wait for returned tickets.
		expect(await errorCode(await hold(drop.id, access, 1))).toBe("returns_in_line");
	});

	it("after sell-out, on one line: a newcomer hears sold_out and gets a place, a fan with a place rejoins to a token /status accepts", async () => {
		// One line, a pre-queue of two, one ticket.
		const drop = await futureDrop({ capacity: 1, maxPerFan: 1, admission: { batchSize: 1, activeMultiple: 1, ...SLOW } });
		expect(drop.lines).toBe(1);
		const [buyer, waiter] = await joinAll(drop.id, ["pq-buyer", "pq-waiter"]);
		await openRoom(drop);
		expect(await admitNow(drop.id)).toBe(1);
		const polled = await pollAll(drop.id, new Map([["pq-buyer", buyer!.queueToken], ["pq-waiter", waiter!.queueToken]]));
		const [first] = [...polled].find(([, s]) => s.status === "admitted")!;
		const second = first === "pq-buyer" ? "pq-waiter" : "pq-buyer";
		const h = await hold(drop.id, polled.get(first)!.accessToken as string, 1);
		expect(h.status).toBe(201);
		expect((await purchase(drop.id, polled.get(first)!.accessToken as string, ((await h.json()) as { holdId: string }).holdId)).status).toBe(201);
		await tickRoom(drop.id);
		expect((await pacerState(drop.id)).sold_out).toBe(1);

		// A newcomer: the news, and a place in line behind the fans already there (for tickets that come back).
		const late = await joinRequest(drop.id, "one-line-late");
		expect(late.status).toBe(201);
		const lateJson = (await late.json()) as JoinJson;
		expect(lateJson).toMatchObject({ status: "sold_out", rejoined: false, position: 3 });
		expect(typeof lateJson.queueToken).toBe("string");
		expect(typeof lateJson.fanSecret).toBe("string");
		expect(await lineStub(drop.id, 0).joined()).toBe(3);
		// The pre-queue fan who never got in rejoins (with their secret): sold out, and a token /status answers.
		const again = await join(drop.id, second);
		expect(again).toMatchObject({ status: "sold_out", rejoined: true });
		expect(typeof again.queueToken).toBe("string");
		expect(await status(drop.id, again.queueToken)).toMatchObject({ status: "sold_out", returns: { ticketsBack: 0, offered: 0 } });
		// The buyer's place still says admitted.
		const bought = await join(drop.id, first);
		expect(bought).toMatchObject({ status: "admitted", rejoined: true, position: 1 });
		expect(await status(drop.id, bought.queueToken)).toMatchObject({ status: "admitted" });
	});

	it("places a join that reached its line in the moment after sell-out: every position a line told is within the published lastPosition", async () => {
		// One line tells a later joiner its position at once (its number in the line); the
		// pacer must still place it, or the fairness record ends before a position a fan was told.
		const drop = await soldOutOneLineDrop("edge");
		// A join whose Worker had not yet heard of the sell-out (its cached watermark is up to a second old).
		const late = await lateJoin(drop.id, "edge-late");
		expect(late).toMatchObject({ ok: true, value: { status: "joined", entry: { position: 2 } } });
		await tickRoom(drop.id);
		// lastPosition is the pacer's next_position - 1.
		expect(await pacerState(drop.id)).toMatchObject({ sold_out: 1, next_position: 3 });
		// Placed, and nothing more to do: its next alarms (the last look included) find nothing to seal, and it sleeps with none set.
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		while (await runDurableObjectAlarm(roomStub(drop.id))) {
			// The last look.
		}
		expect(await pacerState(drop.id)).toMatchObject({ alarm: null, next_position: 3 });
	});

	it("after sell-out, a second late join whose line does not wake the pacer again (it woke it a moment ago) is still placed", async () => {
		const drop = await soldOutOneLineDrop("late2");
		// The first late join wakes the sleeping pacer, which places it and, finding nothing more, would sleep.
		expect(await lateJoin(drop.id, "late2-first")).toMatchObject({ ok: true, value: { entry: { position: 2 } } });
		await waitUntil(async () => (await pacerState(drop.id)).alarm !== null, 2_000, "the first late join to wake the pacer");
		await untilJoinsSealable(drop.id);
		while (await runDurableObjectAlarm(roomStub(drop.id))) {
			if ((await pacerState(drop.id)).next_position === 3) break;
		}
		expect((await pacerState(drop.id)).next_position).toBe(3);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		// The second comes within WAKE_AFTER_MS of the line's last wake: the line does not wake the pacer again.
		expect(await lateJoin(drop.id, "late2-second")).toMatchObject({ ok: true, value: { entry: { position: 3 } } });
		// The pacer took one more look a moment after the last: it places it, then sleeps for good.
		expect((await pacerState(drop.id)).alarm).not.toBeNull();
		await untilJoinsSealable(drop.id);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		expect((await pacerState(drop.id)).next_position).toBe(4);
		while (await runDurableObjectAlarm(roomStub(drop.id))) {
			// Its last looks find nothing more.
		}
		expect(await pacerState(drop.id)).toMatchObject({ alarm: null, next_position: 4, sold_out: 1 });
	});

	it("does not call a drop sold out while its last tickets are moving between shards", async () => {
		const drop = await futureDrop({ capacity: 2, shards: 2, maxPerFan: 2, admission: { batchSize: 1, activeMultiple: 1, ...SLOW } });
		const ids = fanIds("mv", 3);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);

		// Each shard has given its ticket to the other, and neither has credited it yet:
		// for a moment no shard counts them as stock, held or sold.
		for (const k of [0, 1]) {
			const given = await shardStub(drop.id, k).give({ transferId: `t_move_${k}`, toShard: 1 - k, amount: 1 });
			expect(given.amount).toBe(1);
		}
		// A batch is due: the tickets on their way still count as stock (so the next fan
		// comes in, activeMultiple 1 x 2 left - 1 shopping), and the drop is not sold out.
		expect(await admitNow(drop.id)).toBe(2);
		expect((await pacerState(drop.id)).sold_out).toBe(0);
		const polled = await pollAll(drop.id, tokens);
		expect([...polled.values()].map((s) => s.status).sort()).toEqual(["admitted", "admitted", "waiting"]);
	});
});

describe("polling advice", () => {
	it("reports position, place, fans ahead and a wait from the batches let in lately, and polls less often further back", async () => {
		// One fan every 10 s: the configured pace guides polling until one is measured, but no wait is told from it.
		// One ticket a fan: before anyone buys, the 100 tickets surely reach all 30 places (see the tickets' bound below).
		const drop = await futureDrop({ capacity: 100, maxPerFan: 1, admission: { batchSize: 1, intervalMs: 10_000 } });
		const ids = fanIds("far", 30);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		const byFan = await pollAll(drop.id, tokens);
		const polled = [...byFan.values()].sort((a, b) => (a.position as number) - (b.position as number));
		expect(polled.map((s) => s.position)).toEqual(oneToN(30));
		for (const s of polled) {
			const position = s.position as number;
			expect(s.status).toBe("waiting");
			expect(s.ahead).toBe(position - 1);
			expect(s.place).toBe(position);
			expect(s.admittedPerMinute).toBeNull();
			expect(s.estimatedWaitMs).toBeNull();
			expect(s.pollAfterMs as number).toBeGreaterThanOrEqual(1000);
			expect(s.pollAfterMs as number).toBeLessThanOrEqual(20_000);
		}
		// Jitter is ±10%, so compare places whose waits differ by more than that.
		const poll = (position: number) => polled[position - 1]!.pollAfterMs as number;
		expect(poll(1)).toBeLessThan(poll(2));
		expect(poll(2)).toBeLessThan(poll(4));
		expect(poll(4)).toBeLessThan(poll(8));
		expect(poll(8)).toBeLessThan(poll(30));
		expect(poll(30)).toBeGreaterThanOrEqual(18_000);

		// The front fan is admitted: nothing left to poll for; the next one moves up.
		const fanAt = (position: number) => [...byFan].find(([, s]) => s.position === position)![0];
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		const first = await status(drop.id, tokens.get(fanAt(1))!);
		expect(first).toMatchObject({ status: "admitted", ahead: 0, place: null, pollAfterMs: null });
		// When the batch went in (by the pacer's clock): the turn runs from it.
		const turnMs = Date.parse(first.accessExpiresAt as string) - Date.parse(first.admittedAt as string);
		expect(Math.abs(turnMs - config(env).accessTokenSeconds * 1000)).toBeLessThan(1_000);
		expect(await status(drop.id, tokens.get(fanAt(2))!)).toMatchObject({ status: "waiting", position: 2, place: 1, ahead: 0 });
		// The place moves while the position stays; one batch shows no rhythm yet, so no wait is told from it.
		const afterOne = await status(drop.id, tokens.get(fanAt(30))!);
		expect(afterOne).toMatchObject({ status: "waiting", position: 30, place: 29, ahead: 28, estimatedWaitMs: null, waitUnknown: "no_pace" });
		const perMinute = afterOne.admittedPerMinute as number;
		expect(perMinute).toBeGreaterThan(5);
		expect(perMinute).toBeLessThanOrEqual(6);
		// A second batch: 28 batches to come, the first 10 s after the last (the configured interval; the two went in
		// closer than that only because the test moved the pacer's clock), the rest 10 s apart.
		expect(await admitNow(drop.id)).toBe(2);
		const second = await status(drop.id, tokens.get(fanAt(2))!);
		expect(second.status).toBe("admitted");
		const last = await status(drop.id, tokens.get(fanAt(30))!);
		expect(last).toMatchObject({ status: "waiting", position: 30, place: 28, ahead: 27, waitUnknown: null });
		const batchAt = Date.parse(second.admittedAt as string);
		const now = Date.parse(last.serverTime as string);
		expect(last.estimatedWaitMs).toBe(Math.round(Math.max(0, batchAt + 10_000 - now) + 27 * 10_000));
	});

	it("before anyone has bought, tells a wait only to the places every fan ahead could be served at the drop's cap each", async () => {
		// 12 tickets, up to 4 a fan: 3 fans are sure to be served; 2 let in, so place 1 is, place 2 may not be.
		const drop = await futureDrop({ capacity: 12, maxPerFan: 4, shards: 1, admission: { batchSize: 1, intervalMs: 10_000 } });
		const ids = fanIds("sure", 6);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		expect(await admitNow(drop.id)).toBe(2);
		const waiting = [...(await pollAll(drop.id, tokens)).values()].filter((s) => s.status === "waiting").sort((a, b) => (a.place as number) - (b.place as number));
		expect(waiting.map((s) => [s.place, s.waitUnknown])).toEqual([[1, null], [2, "no_pace"], [3, "no_pace"], [4, "no_pace"]]);
		expect(waiting[0]!.estimatedWaitMs as number).toBeGreaterThan(0);
		// Told no wait yet, such a fan still polls at the line's pace, not the slowest.
		expect(waiting[1]!.pollAfterMs as number).toBeLessThan(18_000);
	});

	it("tells no wait to a place past the room the shoppers' cap leaves, says why, and has it poll at the slowest pace", async () => {
		// Two tickets, at most one shopper per ticket left: two fans fill the room.
		const drop = await futureDrop({ capacity: 2, shards: 1, admission: { batchSize: 2, intervalMs: 1_000, activeMultiple: 1 } });
		const ids = fanIds("capped", 5);
		const tokens = tokensOf(ids, await joinAll(drop.id, ids));
		await openRoom(drop);
		const byPlace = async () => [...(await pollAll(drop.id, tokens)).values()].filter((s) => s.status === "waiting").sort((a, b) => (a.place as number) - (b.place as number));
		// Before any batch: the first two places have room (no pace yet), the others wait for tickets.
		const before = await byPlace();
		expect(before.map((s) => [s.place, s.waitUnknown])).toEqual([[1, "no_pace"], [2, "no_pace"], [3, "waiting_for_tickets"], [4, "waiting_for_tickets"], [5, "waiting_for_tickets"]]);
		// The first batch lets two in: the room is full, and every fan still waiting is told why there is no wait.
		expect(await runDurableObjectAlarm(roomStub(drop.id))).toBe(true);
		const after = await byPlace();
		expect(after.map((s) => s.place)).toEqual([1, 2, 3]);
		for (const s of after) {
			expect(s).toMatchObject({ estimatedWaitMs: null, waitUnknown: "waiting_for_tickets" });
			expect(s.admittedPerMinute as number).toBeGreaterThan(0);
			expect(s.pollAfterMs as number).toBeGreaterThanOrEqual(18_000);
		}
	});
});
