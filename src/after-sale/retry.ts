// A failed order, retried by the promoter: a new follow-up run for it, from the
// start (run n+1 on the follow-up Queue). Its steps are idempotent, so what the
// failed run had done (tickets signed, a receipt sent) is not done twice.
import type { OrderRetry } from "../contract/admin-answers";
import { ApiError, notFound } from "../shared/errors";
import { type FollowUpMessage, MISSED_FOLLOW_UP_MS } from "./follow-up";
import { markRetrying, orderRecord } from "./order-store";

export async function retryOrder(env: Env, dropId: string, orderId: string, now = Date.now()): Promise<OrderRetry> {
	const order = await orderRecord(env.DB, orderId);
	if (order === null || order.drop_id !== dropId) throw notFound("order");
	// A paid or ticketed order that nothing has moved for longer than a run's retries take (its run ended without
	// recording its failure, D1 down for that too) is retried as a failed one is.
	const stuckBefore = new Date(now - MISSED_FOLLOW_UP_MS).toISOString();
	const run = await markRetrying(env.DB, orderId, stuckBefore);
	if (run === null) {
		if (order.status !== "failed") throw new ApiError(409, "not_failed", `Only a failed order can be retried; this one is ${order.status}.`);
		throw new ApiError(409, "not_failed", "The order changed meanwhile; read it again.");
	}
	try {
		await env.FOLLOW_UP.send({ v: 1, orderId, run } satisfies FollowUpMessage);
	} catch (err) {
		// Nothing queued: the order goes back to failed (as it was), or it would sit paid with nothing to move it.
		console.error(`order ${orderId}: its retry could not be queued`, err);
		await env.DB.prepare(`UPDATE orders SET status = 'failed', status_detail = ?, status_at = ? WHERE order_id = ? AND status = 'paid' AND workflow_runs = ?`)
			.bind(order.status === "failed" ? order.status_detail : "retry not queued", new Date().toISOString(), orderId, run)
			.run();
		throw new ApiError(503, "try_again", "The retry could not be started just now; the order is still failed. Try again.", { retryAfter: 5 });
	}
	return { orderId, status: "paid", restarted: true };
}
