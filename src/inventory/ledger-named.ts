// The ledger's holds of a type's named units, in the steps their home shard takes:
// reserve the hold here (the fan's limits are judged on this shard, with all their
// holds), name the units' shard it asks, confirm what that shard claimed or abandon
// it, and the endings (sold, released) owed to the units' shard until delivered.
// The asking itself is the shard's (named-claims.ts); this part is synchronous SQL.
import { holdId as newHoldId } from "../shared/ids";
import { type Outcome, fail, ok } from "../shared/outcome";
import type { Claimed } from "./unit-ledger";
import type { WindowRule } from "../drops/presales";
import { type HoldRow, type HoldView, LedgerSection, keyConflict, replayed, turnEnded } from "./ledger-store";

/** What a named hold asks its units' shard for, as the home shard writes it down. */
export interface NamedHold {
	fanId: string;
	key: string;
	request: string;
	typeId: string;
	quantity: number;
	now: number;
	notAfter: number;
	/** No section had room a moment ago (best available): a replay or a resumed hold is answered, anything else is sold out, and nothing is written. */
	nowhere?: boolean;
	/** The sale window whose token asks, if any: its rules are judged with the fan's limits. */
	window?: WindowRule | null;
}

/** A claim's ending the home shard owes the units' shard: sold, or released. */
export type Notice = {
	hold_id: string;
	kind: "sold" | "release";
	shard: number;
};

export class NamedHoldLedger extends LedgerSection {
	/**
	 * Step 1 of a named hold, on the fan's home shard: the per-fan limits are judged here,
	 * with every hold of the fan in the drop (general and named, of every type), and the
	 * hold is written as "claiming", so it counts against those limits from this moment on:
	 * a fan's concurrent holds, on whatever types, sections or shards, are judged one after
	 * another here. A repeated key answers its first hold.
	 */
	reserveNamed(
		input: NamedHold,
	): { kind: "answered"; outcome: Outcome<HoldView> } | { kind: "reserved"; holdId: string; expiresAt: number; resumed: { shard: number; pool: string } | null } {
		return this.transaction(() => {
			const meta = this.store.requireMeta();
			const stored = this.sql.first<{ request: string; result: string }>(
				`SELECT request, result FROM idempotency WHERE fan_id = ? AND key = ?`,
				input.fanId, input.key,
			);
			if (stored !== null) {
				if (stored.request !== input.request) return { kind: "answered" as const, outcome: keyConflict() };
				return { kind: "answered" as const, outcome: replayed((JSON.parse(stored.result) as { ok: true; value: HoldView }).value) };
			}
			this.store.returnDue(input.now);
			// A hold of this key still claiming: its request was cut off by a restart (the shard lets one
			// request per key run at a time), and its claim may have been made. It is asked again under its
			// own id (a claim is made once per hold id), rather than a second hold made beside it.
			const orphan = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE fan_id = ? AND state = 'claiming' AND claim_key = ?`, input.fanId, input.key);
			if (orphan !== null) {
				if (orphan.claim_request !== input.request) return { kind: "answered" as const, outcome: keyConflict() };
				const resumed = orphan.unit_shard === null || orphan.pool === null ? null : { shard: orphan.unit_shard, pool: orphan.pool };
				return { kind: "reserved" as const, holdId: orphan.hold_id, expiresAt: orphan.expires_at, resumed };
			}
			if (input.now >= input.notAfter) return { kind: "answered" as const, outcome: turnEnded() };
			if (input.nowhere === true) return { kind: "answered" as const, outcome: fail(409, "sold_out", "None of these are left.") };
			const refused = this.store.limitRefusal(meta, input.fanId, input.typeId, input.quantity);
			if (refused !== null) return { kind: "answered" as const, outcome: refused };
			const outside = this.store.windowRefusal(input.window, input.fanId, input.typeId, input.quantity);
			if (outside !== null) return { kind: "answered" as const, outcome: outside };
			const holdId = newHoldId(meta.shard);
			const expiresAt = Math.min(input.now + meta.hold_seconds * 1000, input.notAfter);
			this.sql.run(
				`INSERT INTO holds (hold_id, fan_id, quantity, created_at, expires_at, state, ticket_type, claim_key, claim_request, sale_window) VALUES (?, ?, ?, ?, ?, 'claiming', ?, ?, ?, ?)`,
				holdId, input.fanId, input.quantity, input.now, expiresAt, input.typeId, input.key, input.request, input.window?.id ?? null,
			);
			return { kind: "reserved" as const, holdId, expiresAt, resumed: null };
		});
	}

	/**
	 * Names the shard and pool a claiming hold is about to ask, before it asks (so an ending always
	 * knows where to go). False: the hold has ended (it ran out while an earlier target was asked,
	 * and its release went there), so it must ask nowhere else.
	 */
	aimNamed(holdId: string, shard: number, pool: string): boolean {
		return this.sql.run(`UPDATE holds SET unit_shard = ?, pool = ? WHERE hold_id = ? AND state = 'claiming'`, shard, pool, holdId) > 0;
	}

	/**
	 * Step 2: the units' shard claimed them: the hold is made, and remembered under its key.
	 * Null when the hold ended meanwhile (it ran out): its release is already owed.
	 */
	confirmNamed(input: { holdId: string; fanId: string; key: string; request: string; claimed: Claimed; now: number }): Outcome<HoldView> | null {
		return this.transaction(() => {
			const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ?`, input.holdId);
			if (hold === null || hold.state !== "claiming") return null;
			this.sql.run(`UPDATE holds SET state = 'active', units = ? WHERE hold_id = ?`, JSON.stringify(input.claimed.seats), input.holdId);
			const outcome = ok(this.namedView({ ...hold, units: JSON.stringify(input.claimed.seats) }, input.claimed.together));
			this.sql.run(
				`INSERT INTO idempotency (fan_id, key, request, result, created_at) VALUES (?, ?, ?, ?, ?)`,
				input.fanId, input.key, input.request, JSON.stringify(outcome), input.now,
			);
			return outcome;
		});
	}

	/**
	 * The claim was refused (nothing was claimed), or its answer is unknown (`owed`: a
	 * release goes to the units' shard, which also refuses a claim that arrives after it).
	 * A refused hold leaves nothing behind.
	 */
	abandonNamed(holdId: string, owed: boolean, now: number): void {
		this.transaction(() => {
			const hold = this.sql.first<HoldRow>(`SELECT * FROM holds WHERE hold_id = ? AND state = 'claiming'`, holdId);
			if (hold === null) return;
			if (!owed) {
				this.sql.run(`DELETE FROM holds WHERE hold_id = ?`, holdId);
				return;
			}
			this.sql.run(`UPDATE holds SET state = 'released' WHERE hold_id = ?`, holdId);
			this.store.owe(hold, "release", now);
		});
	}

	/** Endings owed to units' shards, oldest first. */
	pendingNotices(limit = 500): Notice[] {
		return this.sql.all<Notice>(`SELECT hold_id, kind, shard FROM notices ORDER BY created_at LIMIT ?`, limit);
	}

	/** The units' shard has them: forgotten here. */
	noticesDelivered(notices: Notice[]): void {
		this.transaction(() => {
			for (const n of notices) this.sql.run(`DELETE FROM notices WHERE hold_id = ? AND kind = ?`, n.hold_id, n.kind);
		});
	}

	/** A named hold as the fan is answered it: its type, and the seats or slot it holds. */
	private namedView(hold: HoldRow, together?: boolean): HoldView {
		const seats = hold.units === null ? [] : (JSON.parse(hold.units) as string[]);
		return {
			holdId: hold.hold_id,
			quantity: hold.quantity,
			expiresAt: new Date(hold.expires_at).toISOString(),
			ticketType: hold.ticket_type!,
			...(seats.length > 0 ? { seats } : {}),
			...(hold.pool?.startsWith("t:") ? { slot: hold.pool.slice(2) } : {}),
			...(together === undefined || seats.length === 0 ? {} : { together }),
		};
	}
}
