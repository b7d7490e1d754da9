// The published lastPosition covers every position a fan was told, after a cancel
// too: the joins a line took before it heard of the cancel were told theirs (one
// line tells the position at once), and the pacer places them, admitting nobody.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { expectError } from "../support/errors";
import { join, joinRequest } from "../support/fans";
import { roomStub, untilJoinsSealable } from "../support/room";
import { adminFetch } from "../support/worker";

/** The watermark the pacer publishes now (lastPosition, admittedThrough), read from the pacer itself. */
async function published(dropId: string): Promise<{ lastPosition: number; admittedThrough: number }> {
	return runInDurableObject(roomStub(dropId), async (room: WaitingRoom) => {
		const w = (await room.watermark()) as { ok: true; value: { lastPosition: number; admittedThrough: number } };
		return { lastPosition: w.value.lastPosition, admittedThrough: w.value.admittedThrough };
	});
}

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
});
