// A Workflow per order: started by the sales consumer once the order
// is in D1, one per order id; its steps confirm the payment, issue signed
// tickets, send the receipt and record the outcome, each retried; a step that
// keeps failing ends the order failed, which the promoter sees and retries.
import { createMessageBatch, env, getQueueResult, introspectWorkflow, introspectWorkflowInstance, createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MISSED_WORKFLOW_MS, startMissedWorkflows } from "../../src/after-sale/order-workflow";
import { retryOrder } from "../../src/after-sale/retry";
import { consumeSales } from "../../src/sales/consumer";
import { verifyTicketToken } from "../../src/shared/tokens";
import { buyWith, orderReaches, statusInD1 } from "../support/after-sale";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { recordSales, saleMessage, storeSales, ticketsInD1 } from "../support/sales";
import { waitUntil } from "../support/wait";
import { adminFetch } from "../support/worker";

async function devMailFor(orderId: string): Promise<{ to: string; subject: string; body: string }[]> {
	const res = await adminFetch(`/api/admin/dev/mail?orderId=${orderId}`);
	expect(res.status).toBe(200);
	return ((await res.json()) as { mail: { to: string; subject: string; body: string }[] }).mail;
}

describe("the Workflow per order", () => {
	it("takes an order bought through the API through every step: paid, ticketed, receipt sent, every ticket signed", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 2500 });
		const bought = await buyWith(drop.id, "fan-wf-whole", { quantity: 2, email: "fan@example.test" });
		const order = await orderReaches(bought.orderId, bought.orderToken, ["receipt_sent"]);
		expect(order.passes.map((p) => p.code)).toEqual(bought.tickets);
		for (const pass of order.passes) {
			expect(pass.state).toBe("valid");
			const claims = await verifyTicketToken(env, pass.token!, drop.id);
			expect(claims).toEqual({ dropId: drop.id, orderId: bought.orderId, code: pass.code });
		}
		const mail = await devMailFor(bought.orderId);
		expect(mail).toHaveLength(1);
		expect(mail[0]!.to).toBe("fan@example.test");
		for (const code of bought.tickets) expect(mail[0]!.body).toContain(code);
		expect(await (await env.ORDER_WORKFLOW.get(bought.orderId)).status()).toMatchObject({ status: "complete" });
	});

	it("retries a step that fails twice, and the order still ends with every step done", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_wf_twice", email: "twice@example.test" });
		await using instance = await introspectWorkflowInstance(env.ORDER_WORKFLOW, sale.orderId);
		await instance.modify(async (m) => {
			await m.disableRetryDelays();
			await m.mockStepError({ name: "issue tickets" }, new Error("D1 unavailable (test)"), 2);
		});
		await recordSales([sale]);
		await instance.waitForStatus("complete");
		expect(await statusInD1(sale.orderId)).toEqual({ status: "receipt_sent", status_detail: null });
		const { results } = await env.DB.prepare(`SELECT token FROM tickets WHERE order_id = ?`).bind(sale.orderId).all<{ token: string | null }>();
		expect(results).toHaveLength(2);
		expect(results.every((r) => r.token !== null)).toBe(true);
		expect(await devMailFor(sale.orderId)).toHaveLength(1);
	});

	it("ends an order whose step keeps failing as failed, names the step, and the promoter's retry finishes it", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_wf_failing", email: "failing@example.test" });
		{
			await using instance = await introspectWorkflowInstance(env.ORDER_WORKFLOW, sale.orderId);
			await instance.modify(async (m) => {
				await m.disableRetryDelays();
				await m.mockStepError({ name: "send receipt" }, new Error("mail down (test)"));
			});
			await recordSales([sale]);
			await instance.waitForStatus("errored");
		}
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: "send receipt failed" });
		// The promoter sees it in the sales list.
		const list = (await (await adminFetch(`/api/admin/drops/${drop.id}/sales`)).json()) as { sales: { orderId: string; status: string }[] };
		expect(list.sales.find((s) => s.orderId === sale.orderId)?.status).toBe("failed");
		expect(await devMailFor(sale.orderId)).toHaveLength(0);

		const retried = await adminFetch(`/api/admin/drops/${drop.id}/orders/${sale.orderId}/retry`, { method: "POST" });
		expect(retried.status).toBe(200);
		await waitUntil(async () => (await statusInD1(sale.orderId))?.status === "receipt_sent", 30_000, "the retried order to finish", 100);
		expect(await devMailFor(sale.orderId)).toHaveLength(1);
		// Only a failed order can be retried.
		const again = await adminFetch(`/api/admin/drops/${drop.id}/orders/${sale.orderId}/retry`, { method: "POST" });
		expect(again.status).toBe(409);
	});

	it("a retry whose Workflow could not be started leaves the order failed, so the promoter can retry it again", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_wf_nostart", email: "nostart@example.test" });
		{
			await using instance = await introspectWorkflowInstance(env.ORDER_WORKFLOW, sale.orderId);
			await instance.modify(async (m) => {
				await m.disableRetryDelays();
				await m.mockStepError({ name: "send receipt" }, new Error("mail down (test)"));
			});
			await recordSales([sale]);
			await instance.waitForStatus("errored");
		}
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: "send receipt failed" });

		// The Workflows service refuses every start this once.
		const down = () => Promise.reject(new Error("workflows unavailable (test)"));
		const broken = { ...env, ORDER_WORKFLOW: { create: down, createBatch: down, get: down } } as unknown as Env;
		const refused = await retryOrder(broken, drop.id, sale.orderId).then(
			() => null,
			(err: unknown) => err as { status?: number; code?: string },
		);
		expect(refused).toMatchObject({ status: 503, code: "try_again" });
		// Not stuck as "paid" with no Workflow running: still failed, as before, and the retry works.
		expect(await statusInD1(sale.orderId)).toEqual({ status: "failed", status_detail: "send receipt failed" });
		const retried = await adminFetch(`/api/admin/drops/${drop.id}/orders/${sale.orderId}/retry`, { method: "POST" });
		expect(retried.status).toBe(200);
		await waitUntil(async () => (await statusInD1(sale.orderId))?.status === "receipt_sent", 30_000, "the retried order to finish", 100);
	});

	it("an order whose run died without recording its failure (D1 down for that step too) can still be retried", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_wf_nofailure", email: "nofailure@example.test" });
		{
			await using instance = await introspectWorkflowInstance(env.ORDER_WORKFLOW, sale.orderId);
			await instance.modify(async (m) => {
				await m.disableRetryDelays();
				await m.mockStepError({ name: "issue tickets" }, new Error("D1 down (test)"));
				await m.mockStepError({ name: "record failure" }, new Error("D1 still down (test)"));
			});
			await recordSales([sale]);
			await instance.waitForStatus("errored");
			// No run is going, and the order still reads paid: no tickets, and nothing will move it.
			expect(await statusInD1(sale.orderId)).toMatchObject({ status: "paid" });
			const retried = await adminFetch(`/api/admin/drops/${drop.id}/orders/${sale.orderId}/retry`, { method: "POST" });
			expect(retried.status, await retried.clone().text()).toBe(200);
			await waitUntil(async () => (await statusInD1(sale.orderId))?.status === "receipt_sent", 30_000, "the retried order to finish", 100);
		}
		// A run still going is not retried.
		const fresh = saleMessage({ dropId: drop.id, paymentId: "pay_test_wf_running", email: "running@example.test" });
		{
			await using instance = await introspectWorkflowInstance(env.ORDER_WORKFLOW, fresh.orderId);
			await instance.modify(async (m) => {
				await m.disableRetryDelays();
			});
			await recordSales([fresh]);
			await instance.waitForStatus("complete");
		}
		expect((await adminFetch(`/api/admin/drops/${drop.id}/orders/${fresh.orderId}/retry`, { method: "POST" })).status).toBe(409);
	});

	it("starts one Workflow for a sale delivered twice, and acks both deliveries", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_wf_dup" });
		await using workflows = await introspectWorkflow(env.ORDER_WORKFLOW);
		await workflows.modifyAll(async (m) => m.disableRetryDelays());
		for (const id of ["dup-1", "dup-2"]) {
			const batch = createMessageBatch("ticket-sales", [{ id, timestamp: new Date(), attempts: 1, body: sale }]);
			const ctx = createExecutionContext();
			await consumeSales(batch, env);
			expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: [id], retryMessages: [] });
		}
		expect(workflows.get()).toHaveLength(1);
		await workflows.get()[0]!.waitForStatus("complete");
		expect(await statusInD1(sale.orderId)).toMatchObject({ status: "ticketed" });
		expect(await ticketsInD1(sale.orderId)).toEqual(sale.tickets);
	});

	it("starts the Workflow of an order whose message gave up after its D1 write, from the cron's sweep", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_wf_missed", email: "missed@example.test" });
		// In D1 with no Workflow: as if every delivery failed after the write.
		await storeSales([sale]);
		expect(await startMissedWorkflows(env, Date.now())).toBe(0);
		const later = Date.now() + MISSED_WORKFLOW_MS + 1_000;
		await waitUntil(async () => {
			await startMissedWorkflows(env, later);
			return (await env.DB.prepare(`SELECT workflow_runs FROM orders WHERE order_id = ?`).bind(sale.orderId).first<number>("workflow_runs")) === 1;
		}, 20_000, "the sweep to start the missed order's Workflow", 50);
		await waitUntil(async () => (await statusInD1(sale.orderId))?.status === "receipt_sent", 30_000, "the missed order to finish", 100);
		// Started once: the sweep passes it by from now on.
		await startMissedWorkflows(env, later);
		expect(await env.DB.prepare(`SELECT workflow_runs FROM orders WHERE order_id = ?`).bind(sale.orderId).first<number>("workflow_runs")).toBe(1);
	});

	it("starts no Workflow with ORDER_WORKFLOWS 'off' (the local bench switch): the sale is stored and acked, the order stays paid, the sweep starts none", async () => {
		const off = { ...env, ORDER_WORKFLOWS: "off" };
		const drop = await createDrop({ admission: WIDE_OPEN });
		const sale = saleMessage({ dropId: drop.id, paymentId: "pay_test_wf_off" });
		await using workflows = await introspectWorkflow(env.ORDER_WORKFLOW);
		const batch = createMessageBatch("ticket-sales", [{ id: "off-1", timestamp: new Date(), attempts: 1, body: sale }]);
		const ctx = createExecutionContext();
		await consumeSales(batch, off);
		expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: ["off-1"], retryMessages: [] });
		expect(await ticketsInD1(sale.orderId)).toEqual(sale.tickets);
		expect(await startMissedWorkflows(off, Date.now() + MISSED_WORKFLOW_MS + 1_000)).toBe(0);
		expect(workflows.get()).toHaveLength(0);
		expect(await statusInD1(sale.orderId)).toMatchObject({ status: "paid" });
		expect(await env.DB.prepare(`SELECT workflow_runs FROM orders WHERE order_id = ?`).bind(sale.orderId).first<number>("workflow_runs")).toBe(0);
	});
});
