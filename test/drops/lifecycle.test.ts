// A drop's life is one state machine, and a cancel is its end: after it nothing
// is held, bought, admitted, joined or put back on sale, no setting reopens it,
// a charge that raced it is refunded, an order that reached D1 after its last
// page is refunded by the cron, and both views say "cancelled".
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DropConfig } from "../../src/drops/rules";
import { MOVES, changeRefusal, dropState } from "../../src/drops/lifecycle";
import { CANCELLED_DROPS_PER_RUN, markCancelled, refundCancelledOrders } from "../../src/after-sale/drop-cancel";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { shardOfId } from "../../src/shared/ids";
import { shardStub } from "../../src/shared/names";
import { testPayments } from "../../src/payments/test-provider";
import { forgetWatermark } from "../../src/waiting-room/watermark-cache";
import { buyWith } from "../support/after-sale";
import { expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop, getDrop, patchDropRequest } from "../support/drops";
import { expectError } from "../support/errors";
import { admittedFan, hold, join, joinRequest, newHold, purchase } from "../support/fans";
import { paymentsFor } from "../support/payments";
import { roomStub, tickRoom } from "../support/room";
import { waitForOrders } from "../support/sales";
import { adminFetch, callWorker, fanFetch } from "../support/worker";

const cancel = (dropId: string, body?: unknown) =>
	adminFetch(`/api/admin/drops/${dropId}/cancel`, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

const shardState = (dropId: string, shard: number) =>
	runInDurableObject(shardStub(env, dropId, shard), (_s, state) => state.storage.sql.exec<{ drop_state: string | null }>(`SELECT drop_state FROM meta`).one().drop_state);

const unrefunded = async (dropId: string) =>
	(await env.DB.prepare(`SELECT COUNT(*) AS n FROM orders WHERE drop_id = ? AND status <> 'refunded'`).bind(dropId).first<{ n: number }>())!.n;

describe("the state machine", () => {
	const facts = { opensAt: "2030-01-01T00:00:00.000Z", closesAt: "2030-01-02T00:00:00.000Z", paused: false, cancelledAt: null };
	const at = (iso: string) => Date.parse(iso);

	it("names each state, cancelled above all, and allows no move out of a cancel", () => {
		expect(dropState(facts, false, at("2029-12-31T00:00:00Z"))).toBe("scheduled");
		expect(dropState(facts, false, at("2030-01-01T01:00:00Z"))).toBe("open");
		expect(dropState({ ...facts, paused: true }, false, at("2030-01-01T01:00:00Z"))).toBe("paused");
		expect(dropState(facts, true, at("2030-01-01T01:00:00Z"))).toBe("sold_out");
		expect(dropState(facts, true, at("2030-01-03T00:00:00Z"))).toBe("closed");
		expect(dropState({ ...facts, cancelledAt: "2030-01-01T02:00:00Z" }, false, at("2030-01-01T01:00:00Z"))).toBe("cancelled");
		expect(MOVES.cancelled).toEqual([]);
		expect(MOVES.paused).toContain("resume");
		expect(MOVES.open).not.toContain("resume");
		const cancelled = { ...facts, paused: true, cancelledAt: "2030-01-01T02:00:00Z" };
		expect(changeRefusal(cancelled, { ...cancelled, paused: false })).toMatchObject({ status: 409, code: "drop_cancelled" });
		expect(changeRefusal(cancelled, { ...cancelled, cancelledAt: null })).toMatchObject({ status: 409, code: "drop_cancelled" });
		expect(changeRefusal(cancelled, { ...cancelled, closesAt: null })).toMatchObject({ status: 409, code: "drop_cancelled" });
		expect(changeRefusal(cancelled, cancelled)).toBeNull();
		expect(changeRefusal(facts, { ...facts, paused: true })).toBeNull();
	});
});

describe("a cancelled drop", () => {
	it("refuses, before any charge, the purchase of a hold made before the cancel and a new hold by a fan admitted before it", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 900, shards: 2 });
		const token = await admittedFan(drop.id, "fan-cancel-race-a");
		const held = await newHold(drop.id, token, 1);
		expect((await cancel(drop.id)).status).toBe(200);

		await expectError(await purchase(drop.id, token, held.holdId), 409, "drop_cancelled");
		expect(paymentsFor(held.holdId)).toEqual([]);
		await expectError(await hold(drop.id, token, 1), 409, "drop_cancelled");
		expect(await unrefunded(drop.id)).toBe(0);
		// Every shard was told by the cancel itself.
		expect([await shardState(drop.id, 0), await shardState(drop.id, 1)]).toEqual(["cancelled", "cancelled"]);
		const a = await expectCleanAudit(drop.id);
		expect(a.oversold).toBe(0);
	});

	it("is never resumed, rescheduled or reopened (409 drop_cancelled, nothing changed), admits nobody and takes no join", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 100 });
		const waiting = await join(drop.id, "fan-cancel-waiting");
		expect((await cancel(drop.id)).status).toBe(200);
		const before = await getDrop(drop.id);
		for (const body of [{ paused: false }, { closesAt: new Date(Date.now() + 3_600_000).toISOString() }, { opensAt: new Date(Date.now() + 3_600_000).toISOString() }]) {
			await expectError(await patchDropRequest(drop.id, body), 409, "drop_cancelled", JSON.stringify(body));
		}
		const after = await getDrop(drop.id);
		expect({ ...after, stats: null }).toEqual({ ...before, stats: null });
		expect(after).toMatchObject({ status: "cancelled", moves: [], paused: true, cancelledAt: expect.any(String) });

		await forgetWatermark(drop.id);
		await tickRoom(drop.id);
		await expectError(await fanFetch(`/api/drops/${drop.id}/status`, waiting.queueToken, {}), 409, "drop_cancelled");
		await expectError(await joinRequest(drop.id, "fan-cancel-late"), 409, "drop_cancelled");
		const stats = await runInDurableObject(roomStub(drop.id), (room) => room.stats());
		expect(stats.admitted).toBe(0);
		const view = (await (await callWorker(`/api/drops/${drop.id}`)).json()) as { status: string };
		expect(view.status).toBe("cancelled");
	});

	it("puts nothing back on sale when an order is refunded with restock", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 100, capacity: 5 });
		const bought = await buyWith(drop.id, "fan-cancel-restock", { quantity: 2 });
		await waitForOrders(drop.id, 1);
		expect((await cancel(drop.id, { restock: true })).status).toBe(200);
		const view = await getDrop(drop.id);
		expect(view.stats).toMatchObject({ sold: 2, remaining: 3 });
		const again = await adminFetch(`/api/admin/drops/${drop.id}/orders/${bought.orderId}/refund`, { method: "POST", body: JSON.stringify({ restock: true }) });
		expect(again.status).toBe(200);
		expect((await getDrop(drop.id)).stats).toMatchObject({ sold: 2, remaining: 3 });
		expect((await expectCleanAudit(drop.id)).refunds).toMatchObject({ refunds: 1, restocked: 0 });
	});

	it("refunds a charge that raced the cancel (the shard was told after the charge began): no order, the payment refunded", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 500 });
		const token = await admittedFan(drop.id, "fan-cancel-midcharge");
		const held = await newHold(drop.id, token, 1);
		const shard = shardStub(env, drop.id, shardOfId(held.holdId, "h", drop.shards)!);
		// Between the provider's answer and its recording, the cancel reaches this shard.
		await runInDurableObject(shard, (s: InventoryShard) => {
			s.afterCharge = () => {
				s.afterCharge = null;
				s.tellState({ state: "cancelled" });
			};
		});
		await expectError(await purchase(drop.id, token, held.holdId), 409, "drop_cancelled");
		const [payment] = paymentsFor(held.holdId);
		expect(payment).toBeDefined();
		expect(testPayments.get(payment!.paymentId)!.refunded).toBe(true);
		const charge = await runInDurableObject(shard, (_s, state) => state.storage.sql.exec<{ state: string }>(`SELECT state FROM charges WHERE hold_id = ?`, held.holdId).one());
		expect(charge.state).toBe("refunded");
		const orders = await runInDurableObject(shard, (_s, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM orders`).one().n);
		expect(orders).toBe(0);
	});

	it("a shard the cancel's own call missed learns of it from the pacer's look at the totals", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 100 });
		const token = await admittedFan(drop.id, "fan-cancel-missed");
		const config = (await env.DB.prepare(`SELECT * FROM drops WHERE id = ?`).bind(drop.id).first())!;
		expect(config).toBeTruthy();
		// The pacer hears of the cancel, the shard does not (its call was lost).
		const { cancelledAt } = await markCancelled(env, drop.id);
		await runInDurableObject(roomStub(drop.id), async (room) => {
			const current = (await room.watermark()) as { ok: true };
			expect(current.ok).toBe(true);
		});
		const { stats: _stats, seedCommitment: _seed, status: _status, moves: _moves, ...settings } = (await getDrop(drop.id)) as unknown as Record<string, unknown>;
		const configured = await roomStub(drop.id).configure({ ...(settings as unknown as DropConfig), paused: true, cancelledAt });
		expect(configured.ok).toBe(true);
		expect(await shardState(drop.id, 0)).not.toBe("cancelled");
		await tickRoom(drop.id);
		expect(await shardState(drop.id, 0)).toBe("cancelled");
		await expectError(await hold(drop.id, token, 1), 409, "drop_cancelled");
	});

	it("an order that reached D1 after the cancel's last page is refunded by the cron's pass", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 300 });
		await buyWith(drop.id, "fan-cancel-late-order", { quantity: 1 });
		await waitForOrders(drop.id, 1);
		// The cancel's mark without its pages: as if the order landed after the last one.
		await markCancelled(env, drop.id);
		expect(await unrefunded(drop.id)).toBe(1);
		const swept = await refundCancelledOrders(env);
		expect(swept.refundedOrders).toBeGreaterThanOrEqual(1);
		expect(await unrefunded(drop.id)).toBe(0);
		// Idempotent: a second pass refunds nothing more.
		const payments = [...testPayments.values()].filter((p) => p.idempotencyKey.startsWith(`${drop.id}:`));
		await refundCancelledOrders(env);
		const refundedCents = (p: (typeof payments)[number]) => (p.refunded ? p.amountCents : [...p.refunds.values()].reduce((a, b) => a + b, 0));
		expect(payments.length).toBe(1);
		expect(payments.map(refundedCents)).toEqual([300]);
		expect((await expectCleanAudit(drop.id)).refunds).toMatchObject({ refunds: 1 });
	});

	it("the cron's pass goes round the cancelled drops: older ones whose orders cannot be refunded keep no newer one out", async () => {
		// A run's worth of older cancelled drops, each with an order paid through Stripe, which this
		// deployment no longer takes: they stay on the list run after run.
		const older = await createDrop({ admission: WIDE_OPEN, priceCents: 150 });
		const template = await buyWith(older.id, "fan-cancel-crowd", { quantity: 1 });
		await waitForOrders(older.id, 1);
		const stuck = [older.id];
		for (let k = 1; k < CANCELLED_DROPS_PER_RUN; k++) stuck.push((await createDrop({ admission: WIDE_OPEN, priceCents: 150 })).id);
		for (const [k, dropId] of stuck.entries()) {
			const orderId = `${template.orderId}-crowd-${k}`;
			await env.DB.prepare(
				`INSERT INTO orders (order_id, drop_id, shard, fan_id, hold_id, quantity, unit_price_cents, total_cents, currency, payment_id, created_at, recorded_at, status)
				 SELECT ?, ?, shard, fan_id, hold_id || ?, quantity, unit_price_cents, total_cents, currency, ?, created_at, recorded_at, status FROM orders WHERE order_id = ?`,
			)
				.bind(orderId, dropId, `-crowd-${k}`, `pi_gone_${k}`, template.orderId)
				.run();
			await markCancelled(env, dropId);
		}
		// The newest cancelled drop's order reached D1 after its cancel's pages, and can be refunded.
		const newest = await createDrop({ admission: WIDE_OPEN, priceCents: 300 });
		await buyWith(newest.id, "fan-cancel-newest", { quantity: 1 });
		await waitForOrders(newest.id, 1);
		await markCancelled(env, newest.id);
		const without = { ...env, STRIPE_SECRET_KEY: undefined } as unknown as Env;
		const listed = (await env.DB.prepare(
			`SELECT COUNT(*) AS n FROM drop_cancellations c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.drop_id = c.drop_id AND o.status <> 'refunded')`,
		).first<{ n: number }>())!.n;
		expect(listed).toBeGreaterThan(CANCELLED_DROPS_PER_RUN);
		// Going round, every listed drop has its turn within this many runs.
		const runs = Math.ceil(listed / CANCELLED_DROPS_PER_RUN);
		for (let run = 0; run < runs && (await unrefunded(newest.id)) > 0; run++) await refundCancelledOrders(without);
		expect(await unrefunded(newest.id)).toBe(0);
		// The stuck ones are still on the list, and still taken in their turn: nothing refunded, nothing thrown.
		for (const dropId of stuck) expect(await unrefunded(dropId)).toBe(1);
		expect(await refundCancelledOrders(without)).toMatchObject({ drops: CANCELLED_DROPS_PER_RUN, refundedOrders: 0 });
	});
});
