// When a shard's alarm comes next. The alarm finishes whatever a crash or a failed
// call left open (holds past their time, endings owed, transfers cut short, charges
// unsettled, sales unsent), so a change that leaves something open asks for it by a
// time. This instance remembers the alarm it set, so asking is cheap; the alarm
// itself sets the next one from stored state, never from what an instance remembers.

/** What a shard's collaborators may ask of its alarm. */
export interface AlarmScheduling {
	/** The alarm comes by `at`, which a change just stored needs. */
	by(at: number): void;
	/** The alarm comes at once. */
	now(): void;
	/** The alarm comes when stored state next needs it. */
	fromStoredState(): void;
}

/** What the schedule needs of its shard: the time, the storage's alarm, and when stored state next needs the alarm. */
export interface AlarmHost {
	clock(): number;
	setAlarm(at: number): void;
	/** The earliest time stored state needs the alarm (null: not at all). */
	nextNeeded(now: number): number | null;
}

export class AlarmSchedule implements AlarmScheduling {
	/** The alarm this instance set, if it knows it. */
	private at: number | null = null;

	constructor(private readonly host: AlarmHost) {}

	/** Cheap: no query once this instance knows its alarm (the alarm itself then reschedules from stored state). */
	by(at: number): void {
		if (this.at === null) return this.fromStoredState();
		// An alarm due by then (or already due: it runs, and reschedules from stored state) will do.
		if (this.at <= at) return;
		this.set(at);
	}

	now(): void {
		const now = this.host.clock();
		if (this.at !== null && this.at <= now) return;
		this.set(now);
	}

	fromStoredState(): void {
		const now = this.host.clock();
		const next = this.host.nextNeeded(now);
		if (next === null) return;
		if (this.at !== null && this.at <= next && this.at > now) return;
		this.set(next);
	}

	/** The alarm is running: it sets the next one when it ends, so none is known until then. */
	running(): void {
		this.at = null;
	}

	private set(at: number): void {
		this.at = at;
		this.host.setAlarm(at);
	}
}
