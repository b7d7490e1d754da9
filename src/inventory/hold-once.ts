// Holds being decided right now, by fan and Idempotency-Key, in the shard's memory:
// a concurrent repeat of the same request waits for the first answer and reads it as
// a replay, and the same key with another body is a conflict. The stored idempotency
// rows (ledger-holds.ts) answer repeats that come after the first has finished.
import { type Outcome, fail } from "../shared/outcome";
import type { HoldView } from "./ledger-store";

export class HoldOnce {
	private readonly running = new Map<string, { request: string; outcome: Promise<Outcome<HoldView>> }>();

	/** One decision per fan and key at a time: a concurrent repeat waits for the first answer (or conflicts when its body differs). */
	async run(fanId: string, idempotencyKey: string, request: string, decide: () => Promise<Outcome<HoldView>>): Promise<Outcome<HoldView>> {
		const key = `${fanId}\n${idempotencyKey}`;
		const running = this.running.get(key);
		if (running) {
			if (running.request !== request) return fail(409, "idempotency_key_conflict", "This Idempotency-Key was used with a different request.");
			const first = await running.outcome;
			return first.ok ? { ...first, replayed: true } : first;
		}
		const attempt = decide();
		this.running.set(key, { request, outcome: attempt });
		try {
			return await attempt;
		} finally {
			this.running.delete(key);
		}
	}
}
