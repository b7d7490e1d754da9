// The published lastPosition covers every position a fan was told, after a cancel
// and while paused too: the joins a line took before it heard of the cancel, and
// those it takes during a pause, were told theirs (one line tells the position at
// once), and the pacer places them, admitting nobody.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { expectError } from "../support/errors";
import { join, joinRequest } from "../support/fans";
import { roomStub, untilJoinsSealable } from "../support/room";
import { waitUntil } from "../support/wait";
import { adminFetch } from "../support/worker";

/** The watermark the pacer publishes now (lastPosition, admittedThrough), read from the pacer itself. */
async function published(dropId: string): Promise<{ lastPosition: number; admittedThrough: number }> {
	return runInDurableObject(roomStub(dropId), async (room: WaitingRoom) => {
		const w = (await room.watermark()) as { ok: true; value: { lastPosition: number; admittedThrough: number } };
		return { lastPosition: w.value.lastPosition, admittedThrough: w.value.admittedThrough };
	});
}

/** The pacer's alarm, or null when none is set (asleep). */
const alarmOf = (dropId: string) => runInDurableObject(roomStub(dropId), (_room: WaitingRoom, state) => state.storage.getAlarm());

/** Rings the pacer's alarm until it has none set, at most `rounds` times, once the joins so far can be sealed. */
async function drivePacer(dropId: string, rounds = 8): Promise<void> {
	await untilJoinsSealable(dropId);
	for (let k = 0; k < rounds; k++) if (!(await runDurableObjectAlarm(roomStub(dropId)))) return;
}

/** A one-line drop, open since a moment ago, with `fans` joined, placed and admitted. */
async function openDrop(tag: string, fans: number) {
	const drop = await createDrop({ admission: WIDE_OPEN, lines: 1, opensAt: new Date(Date.now() - 1_000).toISOString() });
	for (let k = 0; k < fans; k++) await join(drop.id, `${tag}-before-${k}`);
	await drivePacer(drop.id);
	expect(await published(drop.id)).toEqual({ lastPosition: fans, admittedThrough: fans });
	return drop;
}

describe("lastPosition covers every position a fan was told", () => {
	it("after a cancel: the joins the line took before it are placed, and none after it", async () => {
		const drop = await openDrop("cancel", 1);
		// Told their positions; the pacer has not placed them yet when the cancel comes.
		const told = [];
		for (let k = 0; k < 3; k++) told.push((await join(drop.id, `cancel-late-${k}`)).position);
		expect(told).toEqual([2, 3, 4]);
		expect((await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" })).status).toBe(200);
		await drivePacer(drop.id);
		expect(await published(drop.id)).toEqual({ lastPosition: 4, admittedThrough: 1 });
		await expectError(await joinRequest(drop.id, "cancel-after"), 409, "drop_cancelled");
		await drivePacer(drop.id);
		expect((await published(drop.id)).lastPosition).toBe(4);
	});

	it("while paused: the joins the line takes are placed and admit nobody; the pacer sleeps with no alarm until woken", async () => {
		const drop = await openDrop("pause", 1);
		expect((await adminFetch(`/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify({ paused: true }) })).status).toBe(200);
		const placedThrough = async (position: number) => {
			await waitUntil(async () => {
				await drivePacer(drop.id);
				return (await published(drop.id)).lastPosition >= position;
			}, 10_000, `lastPosition to reach ${position} while paused`, 50);
		};
		// Told their positions while paused: the pacer places them, and lets none of them in.
		const told = [];
		for (let k = 0; k < 3; k++) told.push((await join(drop.id, `pause-late-${k}`)).position);
		expect(told).toEqual([2, 3, 4]);
		await placedThrough(4);
		expect(await published(drop.id)).toEqual({ lastPosition: 4, admittedThrough: 1 });
		// Nothing happening: no alarm, asleep; a join (or a fan reading the watermark) wakes it.
		await drivePacer(drop.id);
		expect(await alarmOf(drop.id)).toBeNull();
		expect((await join(drop.id, "pause-later")).position).toBe(5);
		await placedThrough(5);
		await drivePacer(drop.id);
		expect(await published(drop.id)).toEqual({ lastPosition: 5, admittedThrough: 1 });
		expect(await alarmOf(drop.id)).toBeNull();
	});
});
