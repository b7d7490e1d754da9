// The cron's sweep of refunds that did not finish: a provider call that failed
// (the request answered 503 and nobody repeated it) or a restock that did not
// happen. Each is due once its backoff has passed (refunds.ts puts it off after
// every failed try), and a run takes at most SWEEP_LIMIT, oldest due first, so a
// provider that is down costs each run a bounded number of calls.
import { finishRefunds } from "./refunds";
import { orderRecord } from "./order-store";

/** Refunds one cron run tries at most. */
export const SWEEP_LIMIT = 25;

/** The refunds due, oldest due first: read through a partial index of the unfinished ones, never every refund. */
export const DUE_REFUNDS_SQL = `SELECT refund_id, order_id FROM refunds WHERE (state = 'pending' OR (restock = 1 AND restocked_at IS NULL)) AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`;

/** Finishes the refunds due at `now` (the cron's scheduled time). Answers how many it tried and how many it finished. */
export async function sweepRefunds(env: Env, now: number): Promise<{ tried: number; finished: number }> {
	const { results } = await env.DB.prepare(DUE_REFUNDS_SQL)
		.bind(new Date(now).toISOString(), SWEEP_LIMIT)
		.all<{ refund_id: string; order_id: string }>();
	const orders = [...new Set(results.map((r) => r.order_id))];
	let finished = 0;
	for (const orderId of orders) {
		const order = await orderRecord(env.DB, orderId);
		if (order === null) continue;
		try {
			// A refund the provider failed is left to the promoter, who decides whether asking again can help.
			finished += await finishRefunds(env, order, { retryFailed: false, now });
		} catch (err) {
			// Put off by its backoff already: the next run that finds it due tries again.
			console.error(`refund sweep: order ${orderId} not finished`, err);
		}
	}
	return { tried: results.length, finished };
}
