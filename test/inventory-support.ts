// Shared by the inventory and fault tests: many admitted fans at once, fans
// homed on a chosen shard, forced expiry, and the audit.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import type { Audit } from "../src/audit";
import { homeShard } from "../src/inventory";
import type { InventoryShard } from "../src/inventory-shard";
import { shardName } from "../src/names";
import { type TestPayment, testPayments } from "../src/payments";
import { adminFetch, admitBatch, fanFetch, hold, join, status } from "./helpers";

export const shardStub = (dropId: string, shard: number) => env.INVENTORY.getByName(shardName(dropId, shard));

/** Joins every fan, admits them in as few batches as it takes, and returns their access tokens by fan id. */
export async function admittedFans(dropId: string, fanIds: string[]): Promise<Map<string, string>> {
	const queueTokens = new Map<string, string>();
	for (let i = 0; i < fanIds.length; i += 100) {
		const chunk = fanIds.slice(i, i + 100);
		const joined = await Promise.all(chunk.map((fanId) => join(dropId, fanId)));
		chunk.forEach((fanId, k) => queueTokens.set(fanId, joined[k]!.queueToken));
	}
	const tokens = new Map<string, string>();
	for (let round = 0; round < 20 && tokens.size < fanIds.length; round++) {
		const before = tokens.size;
		await admitBatch(dropId);
		const pending = fanIds.filter((id) => !tokens.has(id));
		for (let i = 0; i < pending.length; i += 100) {
			const chunk = pending.slice(i, i + 100);
			const answers = await Promise.all(chunk.map((fanId) => status(dropId, queueTokens.get(fanId)!)));
			chunk.forEach((fanId, k) => {
				const s = answers[k]!;
				if (s.status === "admitted") tokens.set(fanId, s.accessToken as string);
			});
		}
		// Admission is paced by the stock left: a round that admits nobody will not be followed by one that does.
		if (tokens.size === before && round > 0) break;
	}
	if (tokens.size !== fanIds.length) throw new Error(`only ${tokens.size} of ${fanIds.length} fans were admitted`);
	return tokens;
}

/** `count` fan ids whose home shard (where their ledger and holds live) is `shard`. */
export function fansHomedOn(shard: number, shards: number, count: number, prefix = "fan"): string[] {
	const out: string[] = [];
	for (let i = 0; out.length < count; i++) {
		const id = `${prefix}-${shard}-${i}`;
		if (homeShard(id, shards) === shard) out.push(id);
	}
	return out;
}

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

/**
 * Restarts Durable Objects as the platform may (memory gone, requests inside them cut off,
 * storage kept) and waits until each answers again from a fresh instance.
 *
 * Why not abortAllDurableObjects() here: with requests in flight it leaves the test runner
 * unable to exit, and it also restarts the local Queue simulation, which (unlike the real
 * Queue) keeps its messages in memory. Tests use it only between requests. The abort is
 * deferred until the helper's own call has returned: aborting inside that call crashes workerd.
 */
export async function restartObjects(stubs: (() => DurableObjectStub)[], afterAbort?: () => void): Promise<void> {
	for (const stub of stubs) {
		await runInDurableObject(stub(), (_instance, state) => {
			setTimeout(() => {
				try {
					state.abort("restart (test)");
				} catch {
					// abort() throws into the aborted context by design.
				}
			}, 0);
		});
	}
	afterAbort?.();
	// A fresh stub each time: the first calls may still meet the instance being aborted.
	for (const stub of stubs) {
		for (let attempt = 0; ; attempt++) {
			try {
				await runInDurableObject(stub(), () => undefined);
				break;
			} catch (err) {
				if (attempt >= 20) throw err;
			}
		}
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

/** The audit; `graceSeconds` 0 counts every sale missing from D1 as lost, however recent. */
export async function audit(dropId: string, graceSeconds?: number): Promise<Audit> {
	const res = await adminFetch(`/api/admin/drops/${dropId}/audit${graceSeconds === undefined ? "" : `?graceSeconds=${graceSeconds}`}`);
	if (res.status !== 200) throw new Error(`audit: ${res.status} ${await res.text()}`);
	return (await res.json()) as Audit;
}

/** The audit finds nothing oversold, lost or unaccounted for, and the totals add up to capacity. */
export async function expectCleanAudit(dropId: string, graceSeconds?: number): Promise<Audit> {
	const a = await audit(dropId, graceSeconds);
	expect(a.oversold).toBe(0);
	expect(a.lost).toBe(0);
	expect(a.phantom).toBe(0);
	expect(a.balanced).toBe(true);
	expect(a.totals.sold + a.totals.held + a.totals.remaining + a.totals.inFlight).toBe(a.capacity);
	expect(a.totals.sold).toBeLessThanOrEqual(a.capacity);
	for (const s of a.shards) {
		expect(s.sold + s.held + s.remaining).toBe(s.accountable);
		expect(s.remaining).toBeGreaterThanOrEqual(0);
	}
	return a;
}

export async function releaseHold(dropId: string, token: string, holdId: string): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/holds/${holdId}`, token, { method: "DELETE" });
}

export interface HoldJson {
	holdId: string;
	quantity: number;
	expiresAt: string;
}

export interface OrderJson {
	orderId: string;
	holdId: string;
	quantity: number;
	tickets: string[];
	totalCents: number;
}

/** The test provider's charges for a hold, one per attempt that was approved. */
export function paymentsFor(holdId: string): TestPayment[] {
	return [...testPayments.values()].filter((p) => p.idempotencyKey.split(":")[1] === holdId);
}

/** The test provider's (only) charge for a hold, if any. */
export function paymentFor(holdId: string): TestPayment | undefined {
	const found = paymentsFor(holdId);
	if (found.length > 1) throw new Error(`hold ${holdId} was charged ${found.length} times`);
	return found[0];
}

/** Rows in one of a shard's tables. */
export async function rowCount(dropId: string, shard: number, table: string): Promise<number> {
	return runInDurableObject(shardStub(dropId, shard), (_s, state) =>
		state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n,
	);
}

/**
 * A hold retried with its key the way a client does after 503 try_again: again after
 * a short pause while the answer is "try again", for at most `ms`. The first other answer.
 */
export async function holdUntilDecided(dropId: string, token: string, quantity: number, key: string, ms = 5_000): Promise<Response> {
	const until = Date.now() + ms;
	for (;;) {
		const res = await hold(dropId, token, quantity, key);
		if (res.status !== 503) return res;
		if (Date.now() > until) throw new Error(`hold still answered try_again after ${ms} ms`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}
