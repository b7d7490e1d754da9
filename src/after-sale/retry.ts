// A failed order, retried by the promoter: a new Workflow run for it, from the
// start (instance `<order id>-retry-<n>`). Its steps are idempotent, so what
// the failed run had done (tickets signed, a receipt sent) is not done twice.
import type { OrderRetry } from "../contract/admin-answers";
import { ApiError, notFound } from "../shared/errors";
import { type OrderRecord, markRetrying, orderRecord, orderTickets, saleOfRecord } from "./order-store";
import { startInstances, workflowInstanceId } from "./order-workflow";

export async function retryOrder(env: Env, dropId: string, orderId: string): Promise<OrderRetry> {
	const order = await orderRecord(env.DB, orderId);
	if (order === null || order.drop_id !== dropId) throw notFound("order");
	// An order whose last run ended without recording its failure (that step failed too) reads paid or ticketed with
	// nothing left to move it: it is retried as a failed one is.
	const deadRun = order.status !== "failed" && (await lastRunEnded(env, order)) ? order.workflow_runs : null;
	if (order.status !== "failed" && deadRun === null) throw new ApiError(409, "not_failed", `Only a failed order can be retried; this one is ${order.status}.`);
	const run = await markRetrying(env.DB, orderId, deadRun);
	if (run === null) throw new ApiError(409, "not_failed", "The order changed meanwhile; read it again.");
	const params = saleOfRecord(order, await orderTickets(env.DB, orderId));
	try {
		await startInstances(env, [{ id: workflowInstanceId(orderId, run), params }]);
	} catch (err) {
		// No run started: the order goes back to failed (as it was), or it would sit paid with nothing to move it and no retry allowed.
		console.error(`order ${orderId}: its retry's Workflow could not be started`, err);
		await env.DB.prepare(`UPDATE orders SET status = 'failed', status_detail = ?, status_at = ? WHERE order_id = ? AND status = 'paid' AND workflow_runs = ?`)
			.bind(order.status_detail, new Date().toISOString(), orderId, run)
			.run();
		throw new ApiError(503, "try_again", "The retry could not be started just now; the order is still failed. Try again.", { retryAfter: 5 });
	}
	return { orderId, status: "paid", restarted: true };
}

/**
 * Whether a paid or ticketed order's last Workflow run is over without finishing it: errored, terminated, or
 * not there (never made, or gone). A run that cannot be read otherwise counts as going: two runs of one order
 * at once are worse than a 409 now.
 */
async function lastRunEnded(env: Env, order: OrderRecord): Promise<boolean> {
	if ((order.status !== "paid" && order.status !== "ticketed") || order.workflow_runs === 0) return false;
	const status = await env.ORDER_WORKFLOW.get(workflowInstanceId(order.order_id, order.workflow_runs))
		.then(async (instance) => (await instance.status()).status)
		.catch((err: unknown) => (String(err).includes("instance.not_found") ? "missing" : null));
	return status === "errored" || status === "terminated" || status === "missing";
}
