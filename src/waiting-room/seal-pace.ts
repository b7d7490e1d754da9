// How often the pacer seals the lines: every tick while fans join, every few
// seconds while nobody does (SEAL_ACTIVE_MS). Memory only: a fresh pacer seals at
// its first tick.
import { SEAL_ACTIVE_MS, SEAL_QUIET_MS } from "./timing";

export class SealPace {
	private sealedAt: number | null = null;
	private placedAt: number | null = null;
	private wokenSinceSeal = true;
	/** Wakes counted, so a wake that comes while a seal is on its way is not wiped out by that seal's end. */
	private wakes = 0;

	/** A line woke the pacer (its first join after a quiet seal): the next tick seals, asleep or not. */
	woken(): void {
		this.wakes++;
		this.wokenSinceSeal = true;
	}

	/** Taken when a seal is asked: what `sealed` is handed back. */
	asking(): number {
		return this.wakes;
	}

	/** Whether a tick at `now` seals the lines. */
	due(now: number): boolean {
		if (this.wokenSinceSeal || this.sealedAt === null || now - this.sealedAt >= SEAL_QUIET_MS) return true;
		return this.placedAt !== null && now - this.placedAt <= SEAL_ACTIVE_MS;
	}

	/** A seal asked at `now`, with `wakesAtAsk` from `asking()`, placed `placed` fans. */
	sealed(placed: number, now: number, wakesAtAsk: number): void {
		this.sealedAt = now;
		if (placed > 0) this.placedAt = now;
		if (this.wakes === wakesAtAsk) this.wokenSinceSeal = false;
	}
}
