// The waiting room's clock: how long a slot of joins is, when the pacer looks, and how long it waits.
// One home, so the lines and the pacer agree.

/** The length of one slot of joins after the opening (by each line's clock): the bound on first come, first served across lines. */
export const SLOT_MS = 500;

/** How often the alarm looks while fans are joining or waiting. */
export const BUSY_TICK_MS = SLOT_MS;
/**
 * With nobody joining or waiting the pacer sleeps: no alarm at all. A line wakes
 * it on the next join (at most once per this long per line), and so does a read
 * of the watermark whose totals have gone stale, so `remaining` stays fresh for
 * anyone looking and a quiet drop costs nothing.
 */
export const WAKE_AFTER_MS = 3 * SLOT_MS;
/**
 * Sealing while nobody joins: a tick seals the lines while joins were placed within
 * SEAL_ACTIVE_MS (longer than a line's WAKE_AFTER_MS, so a join a line does not wake the
 * pacer for is still sealed on the next tick), after a line's wake, and otherwise every
 * SEAL_QUIET_MS. A drop that sells out slowly, fans waiting and nobody joining, costs each
 * line a call every few seconds, not two a second.
 */
export const SEAL_ACTIVE_MS = 2 * WAKE_AFTER_MS;
export const SEAL_QUIET_MS = 5_000;
/** How old the shard totals in the watermark may get (the public view's `remaining`). */
export const TOTALS_MAX_AGE_MS = 1_000;
/** How long a tick waits for the lines or the shards: one that does not answer costs a tick, never the pacer. */
export const CALL_TIMEOUT_MS = 5_000;
/** How long the lines stay closed to joins while the pacer changes their count, at most (a pacer that dies meanwhile costs no more). */
export const LINE_CHANGE_MS = 10_000;
/** The span over which the published pace counts the fans admitted. */
export const PACE_WINDOW_MS = 60_000;

/** The answer, or a rejection after CALL_TIMEOUT_MS: every step of a tick is retried on the next. */
export function bounded<T>(call: Promise<T>, what: string): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | null = null;
	const late = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} took over ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
	});
	return Promise.race([call, late]).finally(() => {
		if (timer !== null) clearTimeout(timer);
	});
}
