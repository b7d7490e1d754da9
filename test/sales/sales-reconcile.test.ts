// The reconcile under the dead-letter path: a sale sent long ago that D1 still
// lacks (its dead letter gone, say) is sent again by its shard, on the cron and
// on demand; a sale still on its way, and rows no shard sold, are left alone.
import { createScheduledController, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { RESEND_AFTER_MS } from "../../src/sales/reconcile";
import { audit } from "../support/audit";
import { createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { buy, deleteFromD1, ordersInD1, outbox, ticketsInD1, waitForOrders } from "../support/sales";
import { shardStub } from "../support/shards";
import { adminFetch, fanFetch } from "../support/worker";

/** As if the sale had been sent `ms` earlier than it was. */
function sentEarlier(dropId: string, orderId: string, ms: number): Promise<void> {
	return runInDurableObject(shardStub(dropId, 0), (_s: InventoryShard, state) => {
		state.storage.sql.exec(`UPDATE outbox SET sent_at = sent_at - ? WHERE order_id = ?`, ms, orderId);
	});
}

const reconcile = (dropId: string) => adminFetch(`/api/admin/drops/${dropId}/reconcile`, { method: "POST" });

describe("reconcile", () => {
	it("the cron sends again a sale sent long ago that D1 lacks, and D1 ends with it once", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1, opensAt: new Date().toISOString() });
		const kept = await buy(drop.id, "fan-rec-1", 1);
		const lost = await buy(drop.id, "fan-rec-2", 2);
		await waitForOrders(drop.id, 2);
		// Its dead letter is gone (the dead-letter consumer gave up): nothing else would send it again.
		await deleteFromD1(lost.orderId);
		await sentEarlier(drop.id, lost.orderId, RESEND_AFTER_MS + 60_000);
		expect(await audit(drop.id, 0)).toMatchObject({ lost: 1, ok: false });

		await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/30 * * * *" }), env);
		const rows = await waitForOrders(drop.id, 2);
		expect(rows.map((r) => r.order_id).sort()).toEqual([kept.orderId, lost.orderId].sort());
		expect(await ticketsInD1(lost.orderId)).toEqual(lost.tickets);
		expect(await audit(drop.id, 0)).toMatchObject({ ok: true, lost: 0, phantom: 0 });
	});

	it("on demand: re-sends what is missing past ten minutes, leaves what is on its way, and a repeat does nothing", async () => {
		const drop = await createDrop({ capacity: 10, shards: 1 });
		const old = await buy(drop.id, "fan-rec-3", 1);
		const recent = await buy(drop.id, "fan-rec-4", 1);
		await waitForOrders(drop.id, 2);
		await deleteFromD1(old.orderId);
		await deleteFromD1(recent.orderId);
		await sentEarlier(drop.id, old.orderId, RESEND_AFTER_MS + 60_000);
		const recentRow = (await outbox(drop.id)).find((r) => r.order_id === recent.orderId)!;

		const res = await reconcile(drop.id);
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ dropId: drop.id, resent: 1, missingInD1: 1, inTransit: 1, unknownInD1: 0 });
		expect((await waitForOrders(drop.id, 1)).map((r) => r.order_id)).toEqual([old.orderId]);
		// Sent moments ago: left to the pipeline, not sent twice.
		expect((await outbox(drop.id)).find((r) => r.order_id === recent.orderId)).toEqual(recentRow);

		const again = await reconcile(drop.id);
		expect(await again.json()).toEqual({ dropId: drop.id, resent: 0, missingInD1: 0, inTransit: 1, unknownInD1: 0 });
		expect(await ordersInD1(drop.id)).toHaveLength(1);
	});

	it("answers 404 for an unknown drop and 401 without the admin token", async () => {
		const missing = await reconcile("d_AAAAAAAAAAAAAAAA");
		expect(missing.status).toBe(404);
		expect(await errorCode(missing)).toBe("not_found");
		const anonymous = await fanFetch(`/api/admin/drops/d_AAAAAAAAAAAAAAAA/reconcile`, null, { method: "POST" });
		expect(anonymous.status).toBe(401);
	});
});
