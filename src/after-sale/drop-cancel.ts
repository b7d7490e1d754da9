// Cancelling a drop: it is marked cancelled once, and its orders are refunded a
// page per call, going round from where the last call stopped. An order the call
// cannot refund (its payment method no longer taken, its refund failed at the
// provider) is reported with why and passed over, so it never holds up the others.
// An order that reaches D1 after the last page (its charge raced the cancel) is
// refunded by the cron (refundCancelledOrders), so nothing sold on a cancelled drop
// stays unrefunded.
import type { DropCancelled } from "../contract/admin-answers";
import type { DropConfig } from "../drops/rules";
import { getDrop } from "../drops/store";
import { ApiError } from "../shared/errors";
import { refundOrder } from "./refunds";
import { cancelledEventStatement } from "./webhook-events";

/** Orders refunded per cancel call: the promoter calls again until none are left (bounded work per request). */
export const CANCEL_PAGE = 50;

/**
 * An order of drop ?1 with a refund not finished (its provider call failed, its restock is due, or the provider
 * failed it): it reads `refunded` already (its tickets are claimed), but the money is not settled yet.
 */
const UNFINISHED_REFUND = `order_id IN (SELECT order_id FROM refunds WHERE drop_id = ?1 AND (state IN ('pending', 'failed') OR (restock = 1 AND restocked_at IS NULL)))`;
const LEFT_TO_REFUND = `drop_id = ?1 AND (status <> 'refunded' OR ${UNFINISHED_REFUND})`;

type LeftOrder = DropCancelled["left"][number];

/** Marks a drop cancelled, once: when it was (the first call's time, whoever asks again), and whether this call marked it. */
export async function markCancelled(env: Env, dropId: string): Promise<{ cancelledAt: string; first: boolean }> {
	const at = new Date().toISOString();
	const [marked] = await env.DB.batch([
		env.DB.prepare(`INSERT INTO drop_cancellations (drop_id, cancelled_at) VALUES (?, ?) ON CONFLICT (drop_id) DO NOTHING`).bind(dropId, at),
		cancelledEventStatement(env.DB, dropId, at),
	]);
	const mark = (await env.DB.prepare(`SELECT cancelled_at FROM drop_cancellations WHERE drop_id = ?`).bind(dropId).first<{ cancelled_at: string }>())!;
	return { cancelledAt: mark.cancelled_at, first: marked!.meta.changes > 0 };
}

/**
 * Cancels a drop: marks it cancelled (once) and refunds its orders, `page` per call. `first`: this call marked it.
 * Nothing is put back on sale (a cancelled drop allows no restock, see refundOrder), whatever `restock` asks.
 */
export async function cancelDrop(env: Env, drop: DropConfig, restock: boolean, page = CANCEL_PAGE): Promise<DropCancelled & { first: boolean }> {
	const marked = await markCancelled(env, drop.id);
	const cancelled: DropConfig = { ...drop, cancelledAt: drop.cancelledAt ?? marked.cancelledAt };
	const mark = (await env.DB.prepare(`SELECT cancelled_at, next_order_id FROM drop_cancellations WHERE drop_id = ?`).bind(drop.id).first<{ cancelled_at: string; next_order_id: string | null }>())!;
	// From where the last call stopped to the end, then round from the start: every order has its turn.
	const pageOf = async (from: string, limit: number) =>
		(
			await env.DB.prepare(
				`SELECT order_id, ticket_type, EXISTS (SELECT 1 FROM tickets t WHERE t.order_id = orders.order_id AND t.scanned_at IS NOT NULL AND t.refund_id IS NULL) AS used
				 FROM orders WHERE ${LEFT_TO_REFUND} AND ${from} ORDER BY order_id LIMIT ?2`,
			)
				.bind(drop.id, limit, mark.next_order_id ?? "")
				.all<{ order_id: string; ticket_type: string | null; used: number }>()
		).results;
	const after = await pageOf(`order_id > ?3`, page);
	const results = after.length < page && mark.next_order_id !== null ? [...after, ...(await pageOf(`order_id <= ?3`, page - after.length))] : after;
	let refundedOrders = 0;
	const left: LeftOrder[] = [];
	// A refund the provider does not finish stays pending (the cron tries it again, and so does the next call);
	// the others of the page go on, and the call answers 503 at the end.
	let unavailable: ApiError | null = null;
	for (const { order_id, ticket_type, used } of results) {
		try {
			// Only general admission goes back on sale (see refundOrder); seats and slots are refunded and kept off sale, and so is an order with a ticket admitted at the gate.
			// A refund the provider failed is the promoter's to retry (the card may be closed): the cancel reports it.
			const done = await refundOrder(env, cancelled, order_id, { restock: restock && ticket_type === null && used === 0, retryFailed: false });
			const failed = done.refunds.find((r) => r.state === "failed");
			if (failed === undefined) refundedOrders++;
			else left.push({ orderId: order_id, code: "refund_failed", message: failed.detail ?? "The payment provider failed the refund." });
		} catch (err) {
			if (!(err instanceof ApiError) || (err.status >= 500 && err.code !== "provider_unavailable")) throw err;
			if (err.code === "provider_unavailable") unavailable = err;
			left.push({ orderId: order_id, code: err.code, message: err.message });
		}
	}
	const last = results.at(-1);
	if (last !== undefined) await env.DB.prepare(`UPDATE drop_cancellations SET next_order_id = ? WHERE drop_id = ?`).bind(last.order_id, drop.id).run();
	if (unavailable !== null) throw unavailable;
	const count = await env.DB.prepare(`SELECT COUNT(*) AS n FROM orders WHERE ${LEFT_TO_REFUND}`).bind(drop.id).first<{ n: number }>();
	return { dropId: drop.id, cancelledAt: mark.cancelled_at, refundedOrders, ordersLeft: count?.n ?? 0, left, first: marked.first };
}

/** Cancelled drops the cron looks at per run: each is one cancel page. */
export const CANCELLED_DROPS_PER_RUN = 10;

/**
 * The cron's pass over cancelled drops with orders left to refund (an order that reached D1 after the cancel's
 * last page, or one the cancel passed over): a page of each, as a repeat of the cancel would. Idempotent. It goes
 * round them, the drops it took least recently first: a drop whose orders cannot be refunded stays on the list,
 * and would otherwise take its place in every run and keep newer drops out.
 */
export async function refundCancelledOrders(env: Env): Promise<{ drops: number; refundedOrders: number }> {
	const { results } = await env.DB.prepare(
		`SELECT c.drop_id FROM drop_cancellations c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.drop_id = c.drop_id AND o.status <> 'refunded')
		 ORDER BY c.swept_turn IS NOT NULL, c.swept_turn, c.cancelled_at LIMIT ?`,
	)
		.bind(CANCELLED_DROPS_PER_RUN)
		.all<{ drop_id: string }>();
	let refundedOrders = 0;
	for (const { drop_id } of results) {
		// Its turn is taken before its page, so a page that fails sends the drop to the back as well.
		await env.DB.prepare(`UPDATE drop_cancellations SET swept_turn = (SELECT COALESCE(MAX(swept_turn), 0) + 1 FROM drop_cancellations) WHERE drop_id = ?`)
			.bind(drop_id)
			.run();
		const drop = await getDrop(env.DB, drop_id);
		if (drop === null) continue;
		try {
			refundedOrders += (await cancelDrop(env, drop, false)).refundedOrders;
		} catch (err) {
			console.error(`cancelled drop ${drop_id}: orders not refunded this run`, err);
		}
	}
	return { drops: results.length, refundedOrders };
}
