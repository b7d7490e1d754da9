// The inventory shards from inside: which fans live on which shard, a hold's
// state and expiry, and the alarms that expire holds and finish transfers.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { vi } from "vitest";
import { homeShard } from "../../src/inventory/drop-shards";
import { InventoryShard } from "../../src/inventory/inventory-shard";
import * as names from "../../src/shared/names";

export const shardStub = (dropId: string, shard: number) => names.shardStub(env, dropId, shard);

/** `count` fan ids whose home shard (where their ledger and holds live) is `shard`. */
export function fansHomedOn(shard: number, shards: number, count: number, prefix = "fan"): string[] {
	const out: string[] = [];
	for (let i = 0; out.length < count; i++) {
		const id = `${prefix}-${shard}-${i}`;
		if (homeShard(id, shards) === shard) out.push(id);
	}
	return out;
}

/** The shard a hold lives on, from its id (`h_<shard>_...`). */
export const shardOfHold = (holdId: string) => Number(/^h_(\d+)_/.exec(holdId)![1]);

/** Moves a hold's expiry into the past, as if its time had run out. */
export async function backdateHold(dropId: string, holdId: string, by = 1_000): Promise<void> {
	await runInDurableObject(shardStub(dropId, shardOfHold(holdId)), (_shard: InventoryShard, state) => {
		state.storage.sql.exec(`UPDATE holds SET expires_at = ? WHERE hold_id = ?`, Date.now() - by, holdId);
	});
}

/** Runs every shard's alarm now, when one is set: expiry, outbox re-sends, transfers cut short. */
export async function runShardAlarms(dropId: string, shards: number): Promise<void> {
	for (let k = 0; k < shards; k++) await runDurableObjectAlarm(shardStub(dropId, k));
}

/** Runs every shard's alarm as if `ms` had passed (each shard's clock moved, then put back): acks sent alone only when old, say. */
export async function runShardAlarmsLater(dropId: string, shards: number, ms: number): Promise<void> {
	for (let k = 0; k < shards; k++) {
		await moveShardClock(dropId, k, ms);
		await runDurableObjectAlarm(shardStub(dropId, k));
		await moveShardClock(dropId, k, 0);
	}
}

/** Lets a hold run out and fires its shard's alarm; answers whether an alarm ran. */
export async function expireHold(dropId: string, holdId: string): Promise<boolean> {
	await backdateHold(dropId, holdId);
	return runDurableObjectAlarm(shardStub(dropId, shardOfHold(holdId)));
}

export async function holdState(dropId: string, holdId: string): Promise<string | null> {
	return runInDurableObject(shardStub(dropId, shardOfHold(holdId)), (_shard: InventoryShard, state) => {
		const rows = state.storage.sql.exec<{ state: string }>(`SELECT state FROM holds WHERE hold_id = ?`, holdId).toArray();
		return rows[0]?.state ?? null;
	});
}

/** What the taker writes before asking a peer: the transfer it is about to receive. */
export async function recordIncoming(dropId: string, taker: number, transferId: string, from: number, requested: number): Promise<void> {
	await runInDurableObject(shardStub(dropId, taker), (_s, state) => {
		state.storage.sql.exec(
			`INSERT INTO transfers_in (transfer_id, from_shard, requested, created_at) VALUES (?, ?, ?, ?)`,
			transferId, from, requested, Date.now(),
		);
	});
}

/** A giver's answers waiting for their taker's ack (acked ones are kept a while for late copies of an ask). */
export const UNACKED = "transfers_out WHERE acked_at IS NULL";

/** Rows in one of a shard's tables (`table` may carry a WHERE, as UNACKED does). */
export async function rowCount(dropId: string, shard: number, table: string): Promise<number> {
	return runInDurableObject(shardStub(dropId, shard), (_s, state) =>
		state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n,
	);
}

/** Sets a shard's clock `ms` ahead of real time (0 puts it back), as if that much had passed. */
export async function moveShardClock(dropId: string, shard: number, ms: number): Promise<void> {
	await runInDurableObject(shardStub(dropId, shard), (instance: InventoryShard) => {
		instance.clock = () => Date.now() + ms;
	});
}

/** The giver of a transfer, from its id (`t_<from>_<to>_...`); -1 for an ack-only call. */
export const giverOf = (transferId: string) => Number(/^t_(\d+)_/.exec(transferId)?.[1] ?? -1);

/** Counts the asks each shard answers (its `give`), by the shard asked; `vi.restoreAllMocks()` ends it. */
export function countGives(): Map<number, number> {
	const asked = new Map<number, number>();
	const give = InventoryShard.prototype.give;
	vi.spyOn(InventoryShard.prototype, "give").mockImplementation(function (this: InventoryShard, input: Parameters<InventoryShard["give"]>[0]) {
		const from = giverOf(input.transferId);
		if (from >= 0) asked.set(from, (asked.get(from) ?? 0) + 1);
		return give.call(this, input);
	});
	return asked;
}
