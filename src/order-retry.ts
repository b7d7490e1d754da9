// A failed order, retried by the promoter: a new Workflow run for it, from the
// start (instance `<order id>-retry-<n>`). Its steps are idempotent, so what
// the failed run had done (tickets signed, a receipt sent) is not done twice.
import type { OrderRetry } from "./api-answers";
import { ApiError, notFound } from "./http";
import { markRetrying, orderRecord, orderTickets, saleOfRecord } from "./order-store";
import { startInstances, workflowInstanceId } from "./order-workflow";

export async function retryOrder(env: Env, dropId: string, orderId: string): Promise<OrderRetry> {
	const order = await orderRecord(env.DB, orderId);
	if (order === null || order.drop_id !== dropId) throw notFound("order");
	if (order.status !== "failed") throw new ApiError(409, "not_failed", `Only a failed order can be retried; this one is ${order.status}.`);
	const run = await markRetrying(env.DB, orderId);
	if (run === null) throw new ApiError(409, "not_failed", "The order changed meanwhile; read it again.");
	const params = saleOfRecord(order, (await orderTickets(env.DB, orderId)).map((t) => t.code));
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
