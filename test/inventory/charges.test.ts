// Invariant 8: every charge ends as an order or a refund (or a decline, or void
// when the provider never had it), even when the purchase dies between the
// charge and the order; a retried purchase never charges twice. And the test
// payment method works only where the deployment turns it on. Every drop here costs
// money: a hold that costs nothing is no provider's (see test/payments/stripe.test.ts).
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { paymentProvider } from "../../src/payments/providers";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { type HoldJson, type OrderJson, admittedFans, newHold, purchase } from "../support/fans";
import { paymentFor, paymentsFor } from "../support/payments";
import { backdateHold, moveShardClock, shardOfHold, shardStub } from "../support/shards";
import { waitUntil } from "../support/wait";
import { testProvider } from "../../src/payments/test-provider";
import { CHARGE_SETTLE_MS } from "../../src/inventory/charges";

afterEach(() => {
	vi.restoreAllMocks();
});

async function boughtHold(dropId: string, fan: string, quantity = 2): Promise<{ token: string; h: HoldJson }> {
	const token = (await admittedFans(dropId, [fan])).get(fan)!;
	return { token, h: await newHold(dropId, token, quantity) };
}

/** The next purchase on this shard dies right after the provider answered, before anything is recorded. */
async function crashAfterCharge(dropId: string, shard: number): Promise<void> {
	await runInDurableObject(shardStub(dropId, shard), (instance: InventoryShard) => {
		instance.afterCharge = () => {
			instance.afterCharge = null;
			throw new Error("crashed after the charge (test)");
		};
	});
}

async function chargeState(dropId: string, holdId: string): Promise<string | null> {
	return runInDurableObject(shardStub(dropId, shardOfHold(holdId)), (_s, state) => {
		const rows = state.storage.sql.exec<{ state: string }>(`SELECT state FROM charges WHERE hold_id = ?`, holdId).toArray();
		return rows[0]?.state ?? null;
	});
}

describe("a purchase that dies between the charge and the order", () => {
	it("is found by the audit, and the fan's retry gets the order from the same charge", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "crash-retry");
		await crashAfterCharge(drop.id, 0);
		const crashed = await purchase(drop.id, token, h.holdId);
		expect(crashed.status).toBe(500);
		expect(JSON.stringify(await crashed.json())).not.toContain("crashed");
		// Money was taken and nothing says what became of it yet: the audit says so.
		expect(paymentFor(h.holdId)).toMatchObject({ refunded: false });
		expect(await chargeState(drop.id, h.holdId)).toBe("pending");
		const open = await audit(drop.id, 0);
		expect(open.unreconciledCharges).toBe(1);
		expect(open.ok).toBe(false);

		const retry = await purchase(drop.id, token, h.holdId);
		expect(retry.status).toBe(201);
		const order = (await retry.json()) as OrderJson;
		expect(order.tickets).toHaveLength(2);
		// The provider answered the retry with the first charge: one payment, kept.
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		expect(paymentFor(h.holdId)).toMatchObject({ refunded: false, amountCents: order.totalCents });
		expect(await chargeState(drop.id, h.holdId)).toBe("ordered");
		expect((await audit(drop.id, 0)).unreconciledCharges).toBe(0);
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ sold: 2, held: 0 });
	});

	it("when the hold runs out before anyone comes back, the shard's alarm refunds the charge", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "crash-expire");
		await crashAfterCharge(drop.id, 0);
		expect((await purchase(drop.id, token, h.holdId)).status).toBe(500);
		await backdateHold(drop.id, h.holdId);
		// Not yet: a charge is left alone while its request may still be running.
		expect(await runDurableObjectAlarm(shardStub(drop.id, 0))).toBe(true);
		expect(await chargeState(drop.id, h.holdId)).toBe("pending");
		await moveShardClock(drop.id, 0, 31_000);
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());

		expect(await chargeState(drop.id, h.holdId)).toBe("refunded");
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		expect(paymentFor(h.holdId)).toMatchObject({ refunded: true });
		// The fan coming back now hears that the hold is gone, and is not charged again.
		const late = await purchase(drop.id, token, h.holdId);
		expect(late.status).toBe(410);
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		const a = await expectCleanAudit(drop.id, 0);
		expect(a.totals).toMatchObject({ sold: 0, held: 0, remaining: 4 });
	});

	it("when the hold is still there, the alarm turns the charge into the order", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "crash-complete");
		await crashAfterCharge(drop.id, 0);
		expect((await purchase(drop.id, token, h.holdId)).status).toBe(500);
		await moveShardClock(drop.id, 0, 31_000);
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
		expect(await chargeState(drop.id, h.holdId)).toBe("ordered");
		// The fan's retry answers the order the alarm made.
		const retry = await purchase(drop.id, token, h.holdId);
		expect(retry.status).toBe(201);
		expect(retry.headers.get("idempotent-replayed")).toBe("true");
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		await moveShardClock(drop.id, 0, 0);
		expect((await audit(drop.id, 0)).unreconciledCharges).toBe(0);
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ sold: 2 });
	});

	it("a charge the provider never received is void after a while, and the fan can pay again", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, holdSeconds: 600, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "never-sent");
		// The call to the provider fails on the way: the provider has no such charge.
		vi.spyOn(testProvider, "charge").mockRejectedValueOnce(new Error("network down (test)"));
		expect((await purchase(drop.id, token, h.holdId)).status).toBe(500);
		expect(await chargeState(drop.id, h.holdId)).toBe("pending");
		await moveShardClock(drop.id, 0, 31_000);
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
		// Looked up, not found, but a request could still be on its way: it stays open for now.
		expect(await chargeState(drop.id, h.holdId)).toBe("pending");
		await moveShardClock(drop.id, 0, 121_000);
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
		expect(await chargeState(drop.id, h.holdId)).toBe("void");
		expect(paymentsFor(h.holdId)).toHaveLength(0);
		await moveShardClock(drop.id, 0, 0);
		// The hold is still the fan's (its time is not up), and a new attempt pays for it once.
		const paid = await purchase(drop.id, token, h.holdId);
		expect(paid.status).toBe(201);
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		expect((await audit(drop.id, 0)).unreconciledCharges).toBe(0);
		await expectCleanAudit(drop.id);
	});

	it("a decline ends the attempt; the next attempt is a new charge, and concurrent purchases charge once", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "declined-then-paid");
		expect((await purchase(drop.id, token, h.holdId, "decline")).status).toBe(402);
		expect(await chargeState(drop.id, h.holdId)).toBe("declined");
		const answers = await Promise.all(Array.from({ length: 8 }, () => purchase(drop.id, token, h.holdId)));
		expect(answers.map((r) => r.status)).toEqual(answers.map(() => 201));
		const orders = (await Promise.all(answers.map((r) => r.json()))) as OrderJson[];
		expect(new Set(orders.map((o) => o.orderId)).size).toBe(1);
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		expect((await audit(drop.id, 0)).unreconciledCharges).toBe(0);
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ sold: 2 });
	});
});

describe("a provider that never answers", () => {
	/** The next charge on this shard's provider goes through at the provider and is never answered. */
	function chargeNeverAnswered(): { calls: () => number } {
		const charge = testProvider.charge.bind(testProvider);
		let calls = 0;
		vi.spyOn(testProvider, "charge").mockImplementation(async (request) => {
			calls++;
			if (calls === 1) {
				await charge(request);
				return new Promise(() => {});
			}
			return charge(request);
		});
		return { calls: () => calls };
	}

	async function shortDeadline(dropId: string, ms: number): Promise<void> {
		await runInDurableObject(shardStub(dropId, 0), (instance: InventoryShard) => {
			instance.providerAnswerMs = ms;
		});
	}

	it("is given up: the fan is told to try again with the hold kept, and the retry gets the order from the one charge", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "silent-retry");
		const provider = chargeNeverAnswered();
		await shortDeadline(drop.id, 300);
		const first = await purchase(drop.id, token, h.holdId);
		expect(first.status).toBe(503);
		expect(await first.json()).toMatchObject({ error: { code: "try_again", holdKept: true, retryAfter: 5 } });
		// Both sides: the provider took the money, and the engine has the charge open, not ended.
		expect(paymentFor(h.holdId)).toMatchObject({ refunded: false });
		expect(await chargeState(drop.id, h.holdId)).toBe("pending");
		const retry = await purchase(drop.id, token, h.holdId);
		expect(retry.status).toBe(201);
		expect(provider.calls()).toBe(2);
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		expect(await chargeState(drop.id, h.holdId)).toBe("ordered");
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ sold: 2, held: 0 });
	});

	it("with nobody coming back, the shard's alarm settles the charge: the order is made, once", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "silent-alarm");
		chargeNeverAnswered();
		await shortDeadline(drop.id, 300);
		expect((await purchase(drop.id, token, h.holdId)).status).toBe(503);
		// The purchase is over: the alarm, once the charge has settled long enough, asks the provider by its key.
		await moveShardClock(drop.id, 0, CHARGE_SETTLE_MS + 1_000);
		expect(await runDurableObjectAlarm(shardStub(drop.id, 0))).toBe(true);
		await moveShardClock(drop.id, 0, 0);
		expect(await chargeState(drop.id, h.holdId)).toBe("ordered");
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ sold: 2, held: 0 });
	});
});

describe("an answer about an earlier attempt", () => {
	it("never ends a later attempt's charge: a slow reconcile of a declined attempt leaves the next, approved one to become the order (found by review)", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, holdSeconds: 600, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["stale-reconcile"])).get("stale-reconcile")!;
		const h = await newHold(drop.id, token, 2);
		// Attempt 1 (a declining card) dies right after the provider answered.
		await crashAfterCharge(drop.id, 0);
		expect((await purchase(drop.id, token, h.holdId, "decline")).status).toBe(500);
		const fanId = await runInDurableObject(shardStub(drop.id, 0), (_s, state) =>
			state.storage.sql.exec<{ fan_id: string }>(`SELECT fan_id FROM holds WHERE hold_id = ?`, h.holdId).one().fan_id,
		);
		let release!: () => void;
		const gate = new Promise<void>((resolve) => (release = resolve));
		let looked = 0;
		const lookup = testProvider.lookup.bind(testProvider);
		vi.spyOn(testProvider, "lookup").mockImplementation(async (key, repeat) => {
			looked++;
			await gate;
			return lookup(key, repeat);
		});
		await runInDurableObject(shardStub(drop.id, 0), async (instance: InventoryShard) => {
			instance.clock = () => Date.now() + 31_000;
			const alarm = instance.alarm(); // looks attempt 1 up, slowly
			await waitUntil(() => looked > 0, 5_000, "the reconcile to look attempt 1 up");
			// Meanwhile: the retry hears the decline; attempt 2 is approved and dies before the order.
			expect(await instance.purchase({ holdId: h.holdId, fanId, payment: { method: "test", token: "decline" } })).toMatchObject({ ok: false, status: 402 });
			instance.afterCharge = () => {
				instance.afterCharge = null;
				throw new Error("crashed after the charge (test)");
			};
			await expect(instance.purchase({ holdId: h.holdId, fanId, payment: { method: "test", token: "ok" } })).rejects.toThrow();
			release();
			await alarm;
		});
		vi.restoreAllMocks();
		expect(await chargeState(drop.id, h.holdId)).toBe("pending");
		// Attempt 2 was opened on the clock above (31 s ahead): its reconcile is due 30 s after that.
		await moveShardClock(drop.id, 0, 65_000);
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
		await moveShardClock(drop.id, 0, 0);
		// Attempt 2's payment became the order: one payment, kept.
		expect(await chargeState(drop.id, h.holdId)).toBe("ordered");
		expect(paymentsFor(h.holdId)).toHaveLength(1);
		expect(paymentFor(h.holdId)).toMatchObject({ refunded: false });
		expect((await audit(drop.id, 0)).unreconciledCharges).toBe(0);
		expect((await expectCleanAudit(drop.id)).totals).toMatchObject({ sold: 2 });
	});
});

describe("the audit's count of payments", () => {
	it("counts each hold's approved payments and flags a hold paid more than once", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "paid-once");
		expect((await purchase(drop.id, token, h.holdId)).status).toBe(201);
		expect(await expectCleanAudit(drop.id)).toMatchObject({ payments: 1, holdsChargedTwice: 0, ok: true });
		// A second payment approved for the same hold under another attempt's key (refunded or not, the fan saw two charges).
		await runInDurableObject(shardStub(drop.id, 0), (_s, state) => {
			state.storage.sql.exec(`INSERT INTO charge_payments (idempotency_key, hold_id, payment_id, refunded, created_at) VALUES (?, ?, 'pay_test_second', 1, ?)`, `${drop.id}:${h.holdId}:2`, h.holdId, Date.now());
		});
		const flagged = await audit(drop.id);
		expect(flagged).toMatchObject({ payments: 2, holdsChargedTwice: 1, ok: false });
		expect(flagged.shards[0]).toMatchObject({ payments: 2, holdsChargedTwice: 1 });
	});
});

describe("the test payment method", () => {
	it("is refused where the deployment has not turned it on, and nothing is held or charged", async () => {
		const drop = await createDrop({ capacity: 4, priceCents: 500, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const { token, h } = await boughtHold(drop.id, "deployed");
		const res = await purchase(drop.id, token, h.holdId, "ok", { env: { TEST_PAYMENTS: "off" } });
		expect(res.status).toBe(422);
		expect(await res.json()).toMatchObject({ error: { code: "payment_method_unavailable", field: "payment.method" } });
		expect(paymentsFor(h.holdId)).toHaveLength(0);
		expect(await chargeState(drop.id, h.holdId)).toBeNull();
		expect((await audit(drop.id)).totals).toMatchObject({ held: 2, sold: 0 });
		// The shard refuses it too, whoever calls it.
		expect(paymentProvider({ TEST_PAYMENTS: "off" }, "test")).toMatchObject({ ok: false, code: "payment_method_unavailable" });
		expect(paymentProvider({}, "test")).toMatchObject({ ok: false });
		expect(paymentProvider({ TEST_PAYMENTS: "on" }, "test")).toMatchObject({ ok: true });
		// Where it is on (as in these tests and `npm start`), the same purchase goes through.
		expect((await purchase(drop.id, token, h.holdId)).status).toBe(201);
		expect(await errorCode(await purchase(drop.id, token, "h_0_AAAAAAAAAAAAAAAA"))).toBe("not_found");
	});
});
