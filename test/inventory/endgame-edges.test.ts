// The endgame's edges, each found by a review: what a hold answers when the stock it
// lacks exists but not enough of it, when stock keeps coming and other holds keep
// taking it, when the fan's turn ends while the hold waits for stock, and when a
// peer shard does not answer at all.
import { afterEach, describe, expect, it, vi } from "vitest";
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { InventoryShard } from "../../src/inventory/inventory-shard";
import { ACK_AFTER_MS, PEER_ANSWER_MS } from "../../src/inventory/stock-transfers";
import { failureOf } from "../../src/shared/outcome";
import { audit, expectCleanAudit } from "../support/audit";
import { createDrop } from "../support/drops";
import { countGives, giverOf, moveShardClock, recordIncoming, rowCount, shardStub, UNACKED } from "../support/shards";
import { waitUntil } from "../support/wait";

/** Opening in an hour: no pacer tick runs, so each test plays every call itself. */
const later = () => new Date(Date.now() + 3_600_000).toISOString();


/** Settles with the hold's answer, or with "no answer" when it takes longer than `ms`. */
async function within<T>(ms: number, answer: Promise<T>): Promise<T | "no answer"> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const bound = new Promise<"no answer">((resolve) => {
		timer = setTimeout(() => resolve("no answer"), ms);
	});
	try {
		return await Promise.race([answer, bound]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}

/** Holds on one shard, each by a new fan. */
let n = 0;
function holder(dropId: string, shard: number, notAfter = () => Date.now() + 600_000) {
	return (quantity: number) => {
		n++;
		return shardStub(dropId, shard).hold({ fanId: `fan-${shard}-${n}`, quantity, idempotencyKey: `k-${shard}-${n}`, notAfter: notAfter() });
	};
}

/** A peer's `give` that answers later (over RPC every answer is a promise anyway). */
const slowGive = (fn: (this: InventoryShard, input: Parameters<InventoryShard["give"]>[0]) => Promise<ReturnType<InventoryShard["give"]>>) =>
	fn as unknown as InventoryShard["give"];

afterEach(() => vi.restoreAllMocks());

describe("the endgame's edges", () => {
	it("stock on its way between two shards, less than a hold asks: not_enough_left with what exists, not sold_out", async () => {
		const drop = await createDrop({ capacity: 4, shards: 4, maxPerFan: 4, opensAt: later() });
		// Shards 0 to 2 sell their own ticket; shard 3 gave its one to shard 0, which has not credited it yet.
		for (const k of [0, 1, 2]) expect((await holder(drop.id, k)(1)).ok).toBe(true);
		const take = holder(drop.id, 3);
		await recordIncoming(drop.id, 0, "t_3_0_edge", 3, 1);
		expect((await shardStub(drop.id, 3).give({ transferId: "t_3_0_edge", toShard: 0, amount: 1 })).amount).toBe(1);
		expect((await audit(drop.id)).totals).toMatchObject({ inFlight: 1, remaining: 0 });

		const answer = await take(2);
		expect(answer).toMatchObject({ ok: false, code: "not_enough_left", details: { available: 1 } });
		// And the one ticket is there for a hold that asks for one.
		await waitUntil(async () => (await audit(drop.id)).totals.inFlight === 0, 10_000, "shard 0 to credit the transfer");
		expect((await take(1)).ok).toBe(true);
		expect(await take(1)).toMatchObject({ ok: false, code: "sold_out" });
		await expectCleanAudit(drop.id);
	});

	it("a hold whose every round gets stock that another fan's hold takes first is told to try again, not sold_out, while stock is left", async () => {
		const drop = await createDrop({ capacity: 64, shards: 4, maxPerFan: 20, opensAt: later() });
		const take = holder(drop.id, 0);
		expect((await take(16)).ok).toBe(true);
		// Right before each of this shard's hold decisions, a rival fan's hold takes everything free here.
		let rivals = 0;
		let rivalTickets = 0;
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => {
			type Ask = { fanId: string; quantity: number; key: string };
			const { ledger } = instance as unknown as { ledger: { requireMeta(): { remaining: number }; holds: { hold(input: Ask): unknown } } };
			const holds = ledger.holds;
			const decide = holds.hold.bind(holds);
			holds.hold = (input) => {
				const free = ledger.requireMeta().remaining;
				if (free > 0 && input.fanId === "slow") {
					rivals++;
					rivalTickets += free;
					decide({ ...input, fanId: `rival-${rivals}`, quantity: free, key: `r-${rivals}` });
				}
				return decide(input);
			};
		});
		const warned = vi.spyOn(console, "warn");
		const answer = await shardStub(drop.id, 0).hold({ fanId: "slow", quantity: 1, idempotencyKey: "slow", notAfter: Date.now() + 600_000 });
		expect(answer).toMatchObject({ ok: false, code: "try_again" });
		// The operator is told why: the rounds' stock went to other holds.
		expect(warned.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith("hold answered try_again"))).toEqual([expect.stringMatching(/^hold answered try_again: stock came 16 times and other holds took it \(shard 0, /)]);
		// Both sides happened: rivals took stock on many rounds, and stock was left at the peers all along.
		expect(rivals).toBeGreaterThanOrEqual(15);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals.remaining).toBeGreaterThan(0);
		expect(a.totals.held).toBe(16 + rivalTickets);
	});

	it("a hold made on a shard after the fan's turn ended is refused (token_expired), and nothing is held", async () => {
		const drop = await createDrop({ capacity: 8, shards: 2, maxPerFan: 4, opensAt: later() });
		const answer = await holder(drop.id, 0, () => Date.now() - 1)(1);
		expect(answer).toMatchObject({ ok: false, status: 401, code: "token_expired" });
		expect((await audit(drop.id)).totals).toMatchObject({ held: 0, remaining: 8 });
	});

	it("a hold that waits for stock past the end of the fan's turn is refused, not made already expired", async () => {
		const drop = await createDrop({ capacity: 8, shards: 2, maxPerFan: 8, opensAt: later() });
		expect((await holder(drop.id, 0)(4)).ok).toBe(true);
		// Every ask of a peer takes 400 ms; the fan's turn ends 150 ms from now.
		const give = InventoryShard.prototype.give;
		let asked = 0;
		vi.spyOn(InventoryShard.prototype, "give").mockImplementation(slowGive(async function (this: InventoryShard, input: Parameters<InventoryShard["give"]>[0]) {
			asked++;
			await new Promise((resolve) => setTimeout(resolve, 400));
			return give.call(this, input);
		}));
		const end = Date.now() + 150;
		const answer = await holder(drop.id, 0, () => end)(1);
		expect(asked).toBeGreaterThan(0);
		expect(answer).toMatchObject({ ok: false, status: 401, code: "token_expired" });
		// The ticket it took from the peer is free at shard 0, not held by a hold born expired.
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 4, remaining: 4 });
	});

	it("a peer that never answers holds up no hold for long: the sweep goes on to the next peer, later sweeps leave it out, and its transfer is finished once it answers", async () => {
		const drop = await createDrop({ capacity: 6, shards: 3, maxPerFan: 6, opensAt: later() });
		const take = holder(drop.id, 0);
		expect((await take(2)).ok).toBe(true);
		// Shard 1 (shard 0's first peer) hangs on every ask until released.
		const give = InventoryShard.prototype.give;
		let release!: () => void;
		const hung = new Promise<void>((resolve) => (release = resolve));
		let hangs = 0;
		vi.spyOn(InventoryShard.prototype, "give").mockImplementation(slowGive(async function (this: InventoryShard, input: Parameters<InventoryShard["give"]>[0]) {
			if (giverOf(input.transferId) === 1) {
				hangs++;
				await hung;
			}
			return give.call(this, input);
		}));
		// Three holds at once share the sweep that waits on shard 1, then shard 2 gives.
		const warned = vi.spyOn(console, "warn");
		const first = await within(PEER_ANSWER_MS + 5_000, Promise.all([take(1), take(1), take(1)]));
		expect(first).not.toBe("no answer");
		expect(hangs).toBe(1);
		const answers = first as Awaited<ReturnType<ReturnType<typeof holder>>>[];
		expect(answers.filter((a) => a.ok)).toHaveLength(2);
		expect(answers.map((a) => failureOf(a)?.code).filter((c) => c !== undefined)).toEqual(["try_again"]);
		expect(warned.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith("hold answered try_again"))).toEqual([expect.stringMatching(/^hold answered try_again: a peer did not answer \(now or lately\) \(shard 0, /)]);
		// Shard 1 is left out now: this hold does not wait on it (it asks shard 2, which is dry, and is not told sold_out).
		const second = await within(PEER_ANSWER_MS - 500, take(1));
		expect(second).toMatchObject({ ok: false, code: "try_again" });
		expect(hangs).toBe(1);

		// Shard 1 answers at last: the transfer it was asked for is finished once, on both sides.
		release();
		await waitUntil(async () => {
			const a = await audit(drop.id);
			return a.totals.inFlight === 0 && a.shards.every((s) => s.transfersPending === 0);
		}, 30_000, "the hung transfer to be finished", 200);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 4, remaining: 2 });
		expect(a.shards.reduce((n, s) => n + s.received, 0)).toBe(a.shards.reduce((n, s) => n + s.given, 0));
	}, 60_000);

	it("guided by a fresh look, a dry shard asks only the peers that look saw with stock, answers from what they have left, and sends its acks alone only when they are old", async () => {
		const drop = await createDrop({ capacity: 16, shards: 8, maxPerFan: 4, opensAt: later() });
		// Every shard but 3 sells its own two: shard 3 alone has stock.
		for (const k of [0, 1, 2, 4, 5, 6, 7]) expect((await holder(drop.id, k)(2)).ok).toBe(true);
		const asked = countGives();
		// The pacer's look, as its calls bring it: shard 0 counted, then handed the look gathered then.
		const s0 = shardStub(drop.id, 0);
		await s0.totals({});
		await s0.totals({ peerStock: [0, 0, 0, 2, 0, 0, 0, 0], inFlight: 0 });
		const take = holder(drop.id, 0);
		expect((await take(1)).ok).toBe(true);
		// Three more than exist: shard 3's last one comes, and the answer is what exists, without asking the dry peers.
		expect(await take(3)).toMatchObject({ ok: false, code: "not_enough_left", details: { available: 1 } });
		expect([...asked.keys()]).toEqual([3]);
		expect(asked.get(3)).toBeGreaterThanOrEqual(2);

		// The credited transfers' acks: not sent alone by the alarm while young (shard 3 keeps its records)...
		const credited = await rowCount(drop.id, 0, "transfers_in");
		expect(credited).toBeGreaterThan(0);
		await runDurableObjectAlarm(s0);
		expect(await rowCount(drop.id, 0, "transfers_in")).toBe(credited);
		expect(await rowCount(drop.id, 3, UNACKED)).toBeGreaterThan(0);
		// ...and sent once they are ACK_AFTER_MS old: both sides forget them.
		await moveShardClock(drop.id, 0, ACK_AFTER_MS + 1_000);
		expect(await runDurableObjectAlarm(s0)).toBe(true);
		expect(await rowCount(drop.id, 0, "transfers_in")).toBe(0);
		expect(await rowCount(drop.id, 3, UNACKED)).toBe(0);
		await moveShardClock(drop.id, 0, 0);
		await expectCleanAudit(drop.id);
	});

	it("credited transfers' acks go alone at the very alarm set for them, not one alarm later", async () => {
		const drop = await createDrop({ capacity: 4, shards: 2, maxPerFan: 4, opensAt: later() });
		const s0 = shardStub(drop.id, 0);
		await recordIncoming(drop.id, 0, "t_1_0_ack", 1, 1);
		expect((await shardStub(drop.id, 1).give({ transferId: "t_1_0_ack", toShard: 0, amount: 1 })).amount).toBe(1);
		// Shard 0's alarm finishes the transfer (asks again, is answered the same, credits) and sets the next alarm for its ack.
		await runInDurableObject(s0, (instance: InventoryShard) => instance.alarm());
		expect((await audit(drop.id)).totals.inFlight).toBe(0);
		const [createdAt, alarmAt] = await runInDurableObject(s0, async (_s: InventoryShard, state) => [
			state.storage.sql.exec<{ at: number }>(`SELECT created_at AS at FROM transfers_in`).one().at,
			await state.storage.getAlarm(),
		]);
		expect(alarmAt).toBe(createdAt + ACK_AFTER_MS);
		// That alarm, run at exactly its time, sends the ack: both sides are done with the transfer.
		const ran = await runInDurableObject(s0, async (instance: InventoryShard) => {
			instance.clock = () => alarmAt!;
			await instance.alarm();
			instance.clock = () => Date.now();
			return true;
		});
		expect(ran).toBe(true);
		expect(await rowCount(drop.id, 0, "transfers_in")).toBe(0);
		expect(await rowCount(drop.id, 1, UNACKED)).toBe(0);
		await expectCleanAudit(drop.id);
	});

	it("a restarted shard keeps the pacer's look, so its next hold asks only the peer with stock, not every peer", async () => {
		const drop = await createDrop({ capacity: 16, shards: 8, maxPerFan: 4, opensAt: later() });
		for (const k of [0, 1, 2, 4, 5, 6, 7]) expect((await holder(drop.id, k)(2)).ok).toBe(true);
		const s0 = shardStub(drop.id, 0);
		await s0.totals({});
		await s0.totals({ peerStock: [0, 0, 0, 2, 0, 0, 0, 0], inFlight: 0 });
		const asked = countGives();
		// A new instance over the same storage: what the old one kept in memory is gone.
		const answer = await runInDurableObject(s0, (_old: InventoryShard, state) =>
			new InventoryShard(state, env as Env).hold({ fanId: "after-restart", quantity: 1, idempotencyKey: "after-restart", notAfter: Date.now() + 600_000 }),
		);
		expect(answer.ok).toBe(true);
		expect([...asked.keys()]).toEqual([3]);
		await expectCleanAudit(drop.id);
	});
});
