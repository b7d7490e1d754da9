// A sale window's own line and pacer. Each window is a room like the general sale's:
// a WaitingRoom and its WaitingLines, named by the room key `<drop>~<window>`, told
// the drop's settings with the window's opening and close in place of the drop's,
// so it draws and commits its own seed, shuffles its own pre-queue at the window's
// opening, admits until the window closes, and publishes its own watermark. Its
// look at the shards reads the window's holds and sales beside the drop's stock
// (a read only: the drop's pacer alone brings the shards their looks and states).
import type { DropConfig } from "../drops/rules";
import type { Presale } from "../drops/presales";
import { sumShardTotals } from "../inventory/drop-shards";
import type { ShardTotals } from "../inventory/ledger";
import { roomKey, roomStub, shardStub } from "../shared/names";
import { unwrap } from "../shared/outcome";

/** A pacer's settings: the drop's, and for a window's room the window it paces. */
export type RoomConfig = DropConfig & { saleWindow?: string };

/** The settings a window's room is told: the drop's, opening and closing with the window, capped at the window's capacity. */
export function windowRoomConfig(drop: DropConfig, window: Presale): RoomConfig {
	return { ...drop, opensAt: window.opensAt, closesAt: window.closesAt, capacity: window.capacity ?? drop.capacity, saleWindow: window.id };
}

/** The room key of a pacer's settings: its lines and its wake go by it. */
export const roomKeyOf = (room: RoomConfig) => roomKey(room.id, room.saleWindow);

/**
 * A window's totals, all shards together: its holds and sales, its buyers, and what it
 * may still sell (the least of the drop's free stock and the window's capacity left).
 */
export async function windowTotals(env: Env, room: RoomConfig & { saleWindow: string }): Promise<ShardTotals> {
	const parts = await Promise.all(Array.from({ length: room.shards }, (_, k) => shardStub(env, room.id, k).windowTotals({ window: room.saleWindow })));
	const drop = sumShardTotals(parts);
	const held = parts.reduce((a, p) => a + p.window.held, 0);
	const sold = parts.reduce((a, p) => a + p.window.sold, 0);
	const buyers = parts.reduce((a, p) => a + p.window.buyers, 0);
	return { remaining: Math.max(0, Math.min(drop.remaining, room.capacity - held - sold)), held, sold, buyers };
}

/**
 * Tells the general sale's room and every window's room the drop's settings (at creation,
 * and after each change: a pause, a cancel, a reschedule reach the windows too). Answers
 * the general sale's seed commitment (a window's is public at its fairness). A room's
 * refusal (a cancelled drop's) is thrown as its API error.
 */
export async function configureRooms(env: Env, drop: DropConfig): Promise<{ seedCommitment: string }> {
	// The windows first: a window whose lines hold fans refuses a new line count (lines_in_use) before the
	// general sale's room has changed, and a window that took it was empty (its count is its own business).
	for (const window of drop.presales ?? []) unwrap(await roomStub(env, roomKey(drop.id, window.id)).configure(windowRoomConfig(drop, window)));
	return unwrap(await roomStub(env, drop.id).configure(drop));
}
