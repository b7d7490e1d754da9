// A charge that waits on the fan's bank (3-D Secure), as the shard keeps it: its
// state, its client secret and its deadline are stored, so a restart of the shard
// during the wait, or an answer from Stripe that was lost, leaves it waiting with
// the same PaymentIntent; the hold is not ended by the alarm before the deadline,
// and the audit does not count the charge as unreconciled meanwhile.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PaymentAction } from "../../src/contract/fan-answers";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { fakeStripe, purchaseWith } from "../support/after-sale";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { admittedFan, hold } from "../support/fans";
import { restartObjects } from "../support/objects";
import { holdState, shardOfHold, shardStub } from "../support/shards";
import { callWorker } from "../support/worker";

const THREE_DS = { payment: { method: "stripe", token: "pm_card_threeDSecure2Required" } };

async function finishAndDeliver(paymentIntent: string): Promise<void> {
	const res = await fetch("https://stripe.test/_fake/complete-action", { method: "POST", body: JSON.stringify({ paymentIntent, outcome: "succeed" }) });
	const { payload, signature } = (await res.json()) as { payload: string; signature: string };
	const delivered = await callWorker(`/api/payments/stripe/webhook`, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body: payload });
	expect(delivered.status).toBe(200);
}

const chargeState = (dropId: string, holdId: string) =>
	runInDurableObject(shardStub(dropId, shardOfHold(holdId)), (_s: InventoryShard, state) => state.storage.sql.exec<{ state: string }>(`SELECT state FROM charges WHERE hold_id = ?`, holdId).one().state);

async function heldFan(fanId: string) {
	const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 1500, shards: 2 });
	const token = await admittedFan(drop.id, fanId);
	const { holdId } = (await (await hold(drop.id, token, 2)).json()) as { holdId: string };
	return { drop, token, holdId };
}

describe("a charge waiting on the fan's bank", () => {
	it("survives a restart of its shard: the same 202 after it, then the webhook's order", async () => {
		const { drop, token, holdId } = await heldFan("fan-awaiting-restart");
		const first = await purchaseWith(drop.id, token, holdId, THREE_DS);
		expect(first.status).toBe(202);
		const action = (await first.json()) as PaymentAction;
		await restartObjects([() => shardStub(drop.id, shardOfHold(holdId))]);
		const created = (await fakeStripe("state")).created;
		const after = await purchaseWith(drop.id, token, holdId, THREE_DS);
		expect(after.status).toBe(202);
		expect(await after.json()).toEqual(action);
		expect((await fakeStripe("state")).created).toBe(created);
		// The alarm before the deadline neither ends the hold nor the charge.
		await runDurableObjectAlarm(shardStub(drop.id, shardOfHold(holdId)));
		expect(await holdState(drop.id, holdId)).toBe("active");
		expect(await chargeState(drop.id, holdId)).toBe("awaiting_action");
		expect((await audit(drop.id, 0)).unreconciledCharges).toBe(0);
		await finishAndDeliver(action.paymentId);
		expect(await holdState(drop.id, holdId)).toBe("purchased");
		expect(await chargeState(drop.id, holdId)).toBe("ordered");
		const bought = await purchaseWith(drop.id, token, holdId, THREE_DS);
		expect(bought.status).toBe(201);
		expect(((await bought.json()) as { totalCents: number }).totalCents).toBe(3000);
		await expectCleanAudit(drop.id);
	});

	it("waits with the same PaymentIntent when Stripe's answer asking for the bank was lost", async () => {
		const { drop, token, holdId } = await heldFan("fan-awaiting-lost");
		await fakeStripe("drop-next");
		const lost = await purchaseWith(drop.id, token, holdId, THREE_DS);
		expect(lost.status).toBe(500);
		expect(await chargeState(drop.id, holdId)).toBe("pending");
		const retried = await purchaseWith(drop.id, token, holdId, THREE_DS);
		expect(retried.status).toBe(202);
		const action = (await retried.json()) as PaymentAction;
		const intents = (await fakeStripe("state")).paymentIntents.filter((i) => i.metadata.idempotency_key?.startsWith(`${drop.id}:${holdId}:`));
		expect(intents.map((i) => i.id)).toEqual([action.paymentId]);
		await finishAndDeliver(action.paymentId);
		expect(await chargeState(drop.id, holdId)).toBe("ordered");
	});
});
