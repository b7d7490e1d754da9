// How often the pacer seals the lines: every tick while fans join, every few
// seconds while nobody does (SEAL_ACTIVE_MS), and every tick after a line's wake
// until a seal places someone. Memory only: a fresh pacer seals at its first tick.
import { SEAL_ACTIVE_MS, SEAL_QUIET_MS } from "./timing";

export class SealPace {
	private sealedAt: number | null = null;
	private placedAt: number | null = null;
	private wokenSinceSeal = true;
	/** Wakes counted, so a wake that comes while a seal is on its way is not wiped out by that seal's end. */
	private wakes = 0;
	/** When the first seal after the latest wake was asked (null: none yet). */
	private firstSealSinceWake: number | null = null;

	/** A line woke the pacer (its first join after a quiet seal): the next tick seals, asleep or not. */
	woken(): void {
		this.wakes++;
		this.wokenSinceSeal = true;
		this.firstSealSinceWake = null;
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

	/**
	 * A seal asked at `now`, with `wakesAtAsk` from `asking()`, placed `placed` fans. A wake is used up by a seal that
	 * placed someone, or once seals have gone on for SEAL_ACTIVE_MS after it (the woken join's slot has closed by then):
	 * a seal that ran before that slot closed placed nobody, and the join still waits.
	 */
	sealed(placed: number, now: number, wakesAtAsk: number): void {
		this.sealedAt = now;
		if (placed > 0) this.placedAt = now;
		if (!this.wokenSinceSeal || this.wakes !== wakesAtAsk) return;
		this.firstSealSinceWake ??= now;
		if (placed > 0 || now - this.firstSealSinceWake >= SEAL_ACTIVE_MS) {
			this.wokenSinceSeal = false;
			this.firstSealSinceWake = null;
		}
	}
}
