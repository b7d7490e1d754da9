// The ledger's stock moving in and out: transfers between shards, as a two-step
// exchange each side writes down (the taker what it asks for, the giver what it
// gave, until the taker's ack), and refunded tickets put back on sale. The asking
// is the shard's (stock-transfers.ts); this part is synchronous SQL.
import { randomId } from "../shared/ids";
import { EACH, LedgerSection } from "./ledger-store";

export class TransferLedger extends LedgerSection {
	/** Step 1 (taker): writes the transfer it is about to ask `from` for; answers its id. */
	openTransfer(from: number, requested: number, now: number): string {
		const meta = this.store.requireMeta();
		const transferId = randomId(`t_${from}_${meta.shard}_`);
		this.sql.run(`INSERT INTO transfers_in (transfer_id, from_shard, requested, created_at) VALUES (?, ?, ?, ?)`, transferId, from, requested, now);
		return transferId;
	}

	/**
	 * Step 2 (giver): takes up to `amount` of free stock for a transfer, once per id: a
	 * repeated id answers the first amount, 0 included (a late copy of an ask answered 0
	 * must not take stock that came back since). Acks name transfers the taker has
	 * credited: their records are marked so and kept a day (the ledger's prune), because
	 * a taker that gave up on an ask asks again under the same id, and the first ask may
	 * reach the giver after the retry was answered, credited and acknowledged: kept, it
	 * answers the first amount again; forgotten, it would take stock nobody credits. An
	 * ack-only call has no transfer id.
	 */
	give(input: { transferId: string; toShard: number; amount: number; acks: string[]; now: number }): number {
		return this.transaction(() => {
			if (input.acks.length > 0) {
				this.sql.run(
					`UPDATE transfers_out SET acked_at = ? WHERE to_shard = ? AND acked_at IS NULL AND transfer_id IN ${EACH}`,
					input.now, input.toShard, JSON.stringify(input.acks),
				);
			}
			if (input.transferId === "") return 0;
			const done = this.sql.first<{ amount: number }>(`SELECT amount FROM transfers_out WHERE transfer_id = ?`, input.transferId);
			if (done !== null) return done.amount;
			this.store.returnDue(input.now);
			const amount = Math.max(0, Math.min(input.amount, this.store.requireMeta().remaining));
			this.sql.run(`UPDATE meta SET remaining = remaining - ?, given = given + ? WHERE id = 1`, amount, amount);
			this.sql.run(
				`INSERT INTO transfers_out (transfer_id, to_shard, amount, created_at) VALUES (?, ?, ?, ?)`,
				input.transferId, input.toShard, amount, input.now,
			);
			return amount;
		});
	}

	/**
	 * Step 3 (taker): credits what the giver answered, once (0 too: it is kept, like any
	 * credited transfer, until the giver has heard the ack, so neither side takes it twice).
	 */
	credit(transferId: string, amount: number): void {
		this.transaction(() => {
			const credited = this.sql.run(`UPDATE transfers_in SET amount = ? WHERE transfer_id = ? AND amount IS NULL`, amount, transferId);
			if (credited > 0) this.sql.run(`UPDATE meta SET remaining = remaining + ?, received = received + ? WHERE id = 1`, amount, amount);
		});
	}

	/** Keeps the pacer's last look (one row, replaced at each of the pacer's calls that brings one). */
	saveLook(look: string): void {
		this.sql.run(`INSERT INTO pacer_look (id, look) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET look = excluded.look`, look);
	}

	savedLook(): string | null {
		return this.sql.first<{ look: string }>(`SELECT look FROM pacer_look WHERE id = 1`)?.look ?? null;
	}

	/** When this shard last gave stock that its taker has not acknowledged (null: none it knows of). */
	lastGiveAt(): number | null {
		return this.sql.first<{ at: number | null }>(`SELECT MAX(created_at) AS at FROM transfers_out WHERE amount > 0 AND acked_at IS NULL`)?.at ?? null;
	}

	/** Whether a transfer is still waiting for the giver's answer. */
	isPending(transferId: string): boolean {
		return this.sql.first(`SELECT 1 AS pending FROM transfers_in WHERE transfer_id = ? AND amount IS NULL`, transferId) !== null;
	}

	/** Transfers asked for and never answered (a restart or a failed call cut them short). */
	pendingTransfers(): { transfer_id: string; from_shard: number; requested: number }[] {
		return this.sql.all(`SELECT transfer_id, from_shard, requested FROM transfers_in WHERE amount IS NULL`);
	}

	/** Credited transfers from `from` whose giver has not been told yet. */
	unackedFrom(from: number, limit = 200): string[] {
		return this.sql
			.all<{ id: string }>(`SELECT transfer_id AS id FROM transfers_in WHERE amount IS NOT NULL AND from_shard = ? LIMIT ?`, from, limit)
			.map((r) => r.id);
	}

	/** Peers that have credited transfers waiting to be acknowledged, asked for at `before` or earlier (the alarm set for an ack comes at exactly its time). */
	peersToAck(before = Infinity): number[] {
		return this.sql
			.all<{ from_shard: number }>(`SELECT DISTINCT from_shard FROM transfers_in WHERE amount IS NOT NULL AND created_at <= ?`, before)
			.map((r) => r.from_shard);
	}

	/** The giver has heard the acks: the taker's records of them go too. */
	acked(ids: string[]): void {
		this.transaction(() => {
			this.sql.run(`DELETE FROM transfers_in WHERE amount IS NOT NULL AND transfer_id IN ${EACH}`, JSON.stringify(ids));
		});
	}

	/**
	 * Puts a refund's tickets back on sale here, once per refund id (a repeat changes
	 * nothing): they join the free stock, and `sold` counts them no more, so
	 * sold + held + remaining still adds up to what this shard answers for.
	 */
	restock(refundId: string, quantity: number, now: number): boolean {
		return this.transaction(() => {
			const added = this.sql.run(`INSERT INTO restocks (refund_id, quantity, created_at) VALUES (?, ?, ?) ON CONFLICT (refund_id) DO NOTHING`, refundId, quantity, now);
			if (added > 0) this.sql.run(`UPDATE meta SET remaining = remaining + ? WHERE id = 1`, quantity);
			return added > 0;
		});
	}

	/**
	 * Takes one free unit back out of the stock here, once per key (a repeat answers what the first did): a resale
	 * listing withdrawn or returned at the close. Only a unit no hold and no sale has: false when none is free here.
	 */
	unstock(key: string, now: number): boolean {
		return this.transaction(() => {
			if (this.sql.first(`SELECT 1 AS done FROM restocks WHERE refund_id = ?`, key) !== null) return true;
			if (this.sql.number(`SELECT remaining FROM meta WHERE id = 1`) < 1) return false;
			this.sql.run(`INSERT INTO restocks (refund_id, quantity, created_at) VALUES (?, -1, ?)`, key, now);
			this.sql.run(`UPDATE meta SET remaining = remaining - 1 WHERE id = 1`);
			return true;
		});
	}

	/** Refunded tickets put back on sale here. */
	restocked(): number {
		return this.sql.number(`SELECT COALESCE(SUM(quantity), 0) FROM restocks`);
	}
}
