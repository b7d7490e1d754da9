// The waiting room from inside: the pacer (one per drop) and its lines. Time is
// driven through the pacer's own clock and its alarm, never slept.
import { env, runInDurableObject } from "cloudflare:test";
import type { DropConfig } from "../../src/drops/rules";
import * as names from "../../src/shared/names";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { SLOT_MS } from "../../src/waiting-room/timing";

export const roomStub = (dropId: string) => names.roomStub(env, dropId);
export const lineStub = (dropId: string, line: number) => names.lineStub(env, dropId, line);

export type LineRow = { fan_id: string; seq: number; prequeue_seq: number | null; slot: number | null; slot_index: number | null; secret_hash: string | null };

/** Every fan a line holds, in join order, with what it stores of their place and secret. */
export function lineRows(dropId: string, line = 0): Promise<LineRow[]> {
	return runInDurableObject(lineStub(dropId, line), (_line, state) =>
		state.storage.sql.exec<LineRow>(`SELECT fan_id, seq, prequeue_seq, slot, slot_index, secret_hash FROM fans ORDER BY seq`).toArray(),
	);
}

/**
 * Waits (at most a slot) until the pacer's clock has reached the latest slot any
 * line has put a join in. The pacer seals slots up to the present one; a join that
 * reaches its line after the present slot was sealed goes into the next, which the
 * pacer can seal once its clock gets there. Then a tick places every join so far.
 */
export async function untilJoinsSealable(dropId: string): Promise<void> {
	const config = await runInDurableObject(roomStub(dropId), (_room, state) =>
		state.storage.sql.exec<{ json: string }>(`SELECT json FROM config`).toArray()[0]?.json,
	);
	if (config === undefined) return;
	const { lines } = JSON.parse(config) as DropConfig;
	let latest = -Infinity;
	for (let k = 0; k < lines; k++) {
		const slot = await runInDurableObject(lineStub(dropId, k), (_line, state) =>
			state.storage.sql.exec<{ slot: number | null }>(`SELECT MAX(slot) AS slot FROM slots`).one().slot,
		);
		if (slot !== null) latest = Math.max(latest, slot);
	}
	const ahead = await runInDurableObject(roomStub(dropId), (room: WaitingRoom) => room.clock() - Date.now());
	const wait = latest * SLOT_MS - (Date.now() + ahead);
	if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait + 1, 2 * SLOT_MS)));
}

/**
 * Makes the next tick seal the lines, as a line's wake does. Without it, a tick
 * asked for by a test could skip the seal on a loaded machine: background ticks
 * woken by the joins themselves may have sealed before the joins' slot closed,
 * placed nobody, and used the wake up (seal-pace.ts), so the pace waits for its
 * quiet interval. The pace itself is tested in seal-pace.test.ts.
 */
function sealThisTick(room: WaitingRoom): void {
	(room as unknown as { core: { sealPace: { woken(): void } } }).core.sealPace.woken();
}

/** Moves the pacer's clock `ms` further ahead of real time (it is never moved back). */
export function movePacerClock(room: WaitingRoom, ms: number): void {
	const ahead = Math.max(0, room.clock() - Date.now()) + ms;
	room.clock = () => Date.now() + ahead;
}

/**
 * Makes the pacer's calls of `method` on the objects of `binding` slow as its own
 * clock sees them: each answer arrives `delayMs()` later than it was asked for
 * (the clock is moved while the call is awaited), with no real waiting.
 */
export function slowPacerCalls(room: WaitingRoom, binding: "INVENTORY" | "WAITING_LINE", method: string, delayMs: () => number): void {
	const pacer = room as unknown as { env: Env };
	const real = pacer.env;
	const slowStub = (stub: object) =>
		new Proxy(stub, {
			get(target, prop) {
				if (prop !== method) return Reflect.get(target, prop);
				return async (...args: unknown[]) => {
					const delay = delayMs();
					// Called on the stub itself: an RPC method taken off its stub does not work.
					const answer: unknown = await (target as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args);
					movePacerClock(room, delay);
					return answer;
				};
			},
		});
	const namespace = real[binding];
	const slowNamespace = { getByName: (name: string) => slowStub(namespace.getByName(name)) };
	pacer.env = new Proxy(real, { get: (target, prop) => (prop === binding ? slowNamespace : Reflect.get(target, prop)) });
}

/**
 * The opening of a drop scheduled for later, as the pacer's clock sees it: the
 * lines close their pre-queues and the seed is revealed. The pacer's clock stays
 * that far ahead, so no real alarm changes anything while the test runs.
 */
export async function openRoom(dropId: string, opensAtMs: number): Promise<void> {
	await runInDurableObject(roomStub(dropId), async (room: WaitingRoom, state) => {
		movePacerClock(room, Math.max(0, opensAtMs + 1 - room.clock()));
		// Only the opening step of the tick: no slot sealed, no batch admitted yet.
		const config = JSON.parse(state.storage.sql.exec<{ json: string }>(`SELECT json FROM config`).one().json) as DropConfig;
		const opening = (room as unknown as { ticks: { open(drop: DropConfig): Promise<boolean> } }).ticks;
		if (!(await opening.open(config))) throw new Error("the drop did not open");
	});
}

/**
 * Runs the pacer's alarm handler now, past the spacing between batches,
 * and waits for it to finish. (runDurableObjectAlarm would return at once if
 * the real alarm, due now, had just fired in the background and was still running.)
 */
export async function admitBatch(dropId: string): Promise<void> {
	await untilJoinsSealable(dropId);
	await runInDurableObject(roomStub(dropId), async (room: WaitingRoom, state) => {
		// At most one batch per interval: move the last batch back so the next is due now.
		state.storage.sql.exec(`UPDATE pacer SET last_admission_at = last_admission_at - 3600000 WHERE last_admission_at IS NOT NULL`);
		sealThisTick(room);
		await room.alarm();
	});
}

/**
 * Runs the pacer's tick now, as its alarm would within a second: slots sealed,
 * the shards' totals gathered afresh and published (no batch unless one is due).
 */
export async function tickRoom(dropId: string): Promise<void> {
	await untilJoinsSealable(dropId);
	await runInDurableObject(roomStub(dropId), async (room: WaitingRoom, state) => {
		state.storage.sql.exec(`UPDATE pacer SET totals_at = NULL`);
		sealThisTick(room);
		await room.alarm();
	});
}
