// The ledger's holds: a hold of the stock spread over the shards decided here (or
// "this shard lacks some": the shard then asks its peers), any hold released, and
// holds past their time ended. Synchronous SQL, one transaction each, answers as
// values. A named hold is made in two steps instead (ledger-named.ts).
import { holdId as newHoldId } from "../shared/ids";
import { type Outcome, fail, ok } from "../shared/outcome";
import { type HoldView, LedgerSection, type LedgerStore, keyConflict, replayed, turnEnded } from "./ledger-store";
import { type ReturnsLedger, returnsRefusal } from "./returns-line";
import type { WindowRule } from "../drops/presales";

/** What a hold request decided: an answer, or "this shard lacks `missing` tickets" (stock may be elsewhere). */
export type HoldDecision =
	| { kind: "answered"; outcome: Outcome<HoldView> }
	| { kind: "short"; missing: number; remaining: number };

export class HoldLedger extends LedgerSection {
	constructor(
		store: LedgerStore,
		private readonly returns: ReturnsLedger,
	) {
		super(store);
	}

	/**
	 * Decides a hold here, after returning every hold past its time to stock. A made
	 * hold is remembered under its key; a refusal is not (a retry decides again).
	 * The hold lasts `holdSeconds`, and never past `notAfter` (the end of the fan's turn). After a sell-out a turn from
	 * before it (`position` at most the line's `from`) takes nothing while anyone waits: every free ticket then is one
	 * that came back, and it is the line's (returns-line.ts). Judged here, in the transaction that takes the stock.
	 */
	hold(input: { fanId: string; quantity: number; key: string; request: string; now: number; notAfter: number; position: number; window?: WindowRule | null }): HoldDecision {
		return this.transaction((): HoldDecision => {
			const meta = this.store.requireMeta();
			const stored = this.sql.first<{ request: string; result: string }>(
				`SELECT request, result FROM idempotency WHERE fan_id = ? AND key = ?`,
				input.fanId, input.key,
			);
			if (stored !== null) {
				if (stored.request !== input.request) return { kind: "answered", outcome: keyConflict() };
				const first = JSON.parse(stored.result) as Outcome<HoldView>;
				// Refusals are not remembered: one stored by an earlier version of this code is decided again.
				if (first.ok) return { kind: "answered", outcome: replayed(first.value) };
				this.sql.run(`DELETE FROM idempotency WHERE fan_id = ? AND key = ?`, input.fanId, input.key);
			}
			this.store.returnDue(input.now);
			// The fan's turn ended while the request waited (for stock on its way, say): a hold would be born expired.
			if (input.now >= input.notAfter) return { kind: "answered", outcome: turnEnded() };
			const refused = this.store.limitRefusal(meta, input.fanId, null, input.quantity) ?? returnsRefusal(this.returns.line(), input.position);
			if (refused !== null) return { kind: "answered", outcome: refused };
			const outside = this.store.windowRefusal(input.window, input.fanId, null, input.quantity);
			if (outside !== null) return { kind: "answered", outcome: outside };
			const remaining = this.store.requireMeta().remaining;
			if (remaining < input.quantity) return { kind: "short", missing: input.quantity - remaining, remaining };
			const expiresAt = Math.min(input.now + meta.hold_seconds * 1000, input.notAfter);
			const hold: HoldView = { holdId: newHoldId(meta.shard), quantity: input.quantity, expiresAt: new Date(expiresAt).toISOString() };
			this.sql.run(`UPDATE meta SET remaining = remaining - ? WHERE id = 1`, input.quantity);
			this.sql.run(
				`INSERT INTO holds (hold_id, fan_id, quantity, created_at, expires_at, state, sale_window) VALUES (?, ?, ?, ?, ?, 'active', ?)`,
				hold.holdId, input.fanId, input.quantity, input.now, expiresAt, input.window?.id ?? null,
			);
			const outcome = ok(hold);
			this.sql.run(
				`INSERT INTO idempotency (fan_id, key, request, result, created_at) VALUES (?, ?, ?, ?, ?)`,
				input.fanId, input.key, input.request, JSON.stringify(outcome), input.now,
			);
			return { kind: "answered", outcome };
		});
	}

	/** Gives a hold's tickets back. Releasing twice, or a hold already gone, changes nothing. */
	release(input: { holdId: string; fanId: string; now: number }): Outcome<{ released: boolean }> {
		return this.transaction(() => {
			const hold = this.store.holdFor(input.holdId, input.fanId);
			if (hold === null) return fail(404, "not_found", "No such hold.");
			if (hold.state === "purchased") return fail(409, "already_purchased", "This hold has been bought; it cannot be released.");
			if (hold.state !== "active") return ok({ released: false });
			this.store.returnHold(hold, "released", input.now);
			// A payment still waiting on the fan's bank has nothing left to buy: the alarm cancels it now.
			this.sql.run(`UPDATE charges SET deadline = ? WHERE hold_id = ? AND state = 'awaiting_action'`, input.now, hold.hold_id);
			return ok({ released: true });
		});
	}

	/** Returns the stock of every hold past its time (a named hold's units are owed a release); answers how many. */
	expireDue(now: number): number {
		return this.transaction(() => this.store.returnDue(now));
	}
}
