// The promoter API after the sale: refunding an order (whole or some tickets;
// a repeat finishes a pending refund and retries one the provider failed),
// the drop's refunds, cancelling a drop (its pacer and shards told first, then its
// orders refunded a page per call), running a failed order's post-sale steps again, the dev
// mailbox, and the dev run of the draw's minute cron (wrangler dev fires no cron, and its
// scheduled trigger reaches the assets router, not this Worker). Each change is in the
// activity log once it has happened.
import { type IRequest, Router } from "itty-router";
import type { DevDrawCron, DevMailList, DropCancelled, OrderRefunds, OrderRetry, RefundList } from "../contract/admin-answers";
import { CancelBody, DevMailQuery, RefundBody, RefundsQuery, nextCursor, parseQuery } from "../contract/requests";
import { devMail } from "../after-sale/receipts";
import { drawDueWindows } from "../after-sale/draw-mail";
import { listRefunds, refundOrder } from "../after-sale/refunds";
import { cancelDrop, markCancelled } from "../after-sale/drop-cancel";
import { retryOrder } from "../after-sale/retry";
import { dispatchWebhooks } from "../after-sale/webhook-delivery";
import type { DropConfig } from "../drops/rules";
import { tellShards } from "../inventory/drop-shards";
import { config } from "../shared/config";
import { ApiError } from "../shared/errors";
import { unwrap } from "../shared/outcome";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { dropOf, principalOf, recordActivity } from "../tenants/auth";
import { saveDrop } from "./admin-drop-routes";

type Args = [Env, ExecutionContext];

export const adminRefundRoutes = Router<IRequest, Args>({ base: "/api/admin" });

/** A promoter's act wrote its webhook rows in its own batch: they go out now, after the answer, not at the next sales batch or half-hour cron. */
function dispatchAfter(env: Env, ctx: ExecutionContext, what: string): void {
	ctx.waitUntil(dispatchWebhooks(env).catch((err) => console.error(`${what}: webhook dispatch failed; the cron sends them`, err)));
}

adminRefundRoutes.post("/drops/:id/orders/:orderId/refund", async (request, env, ctx) => {
	const drop = dropOf(request);
	const { tickets, restock } = parse(RefundBody, (await readJson(request, { optional: true })) ?? {});
	const { byThisCall, ...refunded } = await refundOrder(env, drop, request.params.orderId ?? "", { ...(tickets === undefined ? {} : { codes: tickets }), restock: restock ?? false });
	// Written once the provider has refunded; a repeat that changed nothing records nothing.
	if (refunded.changed) {
		await recordActivity(env, request, {
			action: "order.refunded",
			promoterId: drop.promoterId,
			dropId: drop.id,
			detail: {
				orderId: refunded.orderId,
				tickets: tickets ?? "all",
				restock: restock ?? false,
				refundedTickets: refunded.refundedTickets,
				// This call's refunds only (an earlier one of the order was logged by its own call), and where they stand:
				// "pending" is money asked of the provider, not yet gone back.
				amountCents: byThisCall.reduce((sum, r) => sum + r.amountCents, 0),
				currency: drop.currency,
				state: byThisCall.every((r) => r.state === "refunded") ? "refunded" : byThisCall.some((r) => r.state === "pending") ? "pending" : "failed",
			},
		});
	}
	// On every call, a repeat too: one that finishes what a failed call began sends the rows that call wrote.
	dispatchAfter(env, ctx, "refund");
	return refunded satisfies OrderRefunds;
});

adminRefundRoutes.get("/drops/:id/refunds", async (request, env) => {
	const drop = dropOf(request);
	const { limit, cursor } = parseQuery(RefundsQuery, request.query);
	const { last, count: _count, ...page } = await listRefunds(env.DB, drop.id, limit, cursor ? { createdAt: cursor[0], refundId: cursor[1] } : null);
	return { ...page, nextCursor: nextCursor(page.refunds, limit, last ? [last.created_at, last.refund_id] : null) } satisfies RefundList;
});

adminRefundRoutes.post("/drops/:id/cancel", async (request, env, ctx) => {
	const drop = dropOf(request);
	const { restock } = parse(CancelBody, (await readJson(request, { optional: true })) ?? {});
	// The drop is cancelled before its orders are refunded: the pacer first (nobody admitted, no settings undo it),
	// then every shard at once (no hold, no purchase; the pacer's looks tell a shard this call missed), then D1.
	const { cancelledAt, first } = await markCancelled(env, drop.id);
	const next: DropConfig = { ...drop, paused: true, cancelledAt: drop.cancelledAt ?? cancelledAt, updatedAt: new Date().toISOString() };
	if (drop.cancelledAt === null || !drop.paused) await saveDrop(env, principalOf(request), drop, next);
	await tellShards(env, drop.id, drop.shards, "cancelled");
	const { first: _again, ...cancelled } = await cancelDrop(env, next, restock ?? false);
	if (first || cancelled.refundedOrders > 0 || !drop.paused) {
		await recordActivity(env, request, {
			action: "drop.cancelled",
			promoterId: drop.promoterId,
			dropId: drop.id,
			detail: { restock: restock ?? false, refundedOrders: cancelled.refundedOrders, ordersLeft: cancelled.ordersLeft, unrefundable: cancelled.left.length },
		});
	}
	// drop.cancelled, and order.refunded for each order refunded: on every call, so a repeat after a call that failed
	// between marking the drop and answering sends what that call wrote.
	dispatchAfter(env, ctx, "cancel");
	return cancelled satisfies DropCancelled;
});

adminRefundRoutes.post("/drops/:id/orders/:orderId/retry", async (request, env) => {
	const drop = dropOf(request);
	const retried = await retryOrder(env, drop.id, request.params.orderId ?? "");
	await recordActivity(env, request, { action: "order.retried", promoterId: drop.promoterId, dropId: drop.id, detail: { orderId: retried.orderId } });
	return retried satisfies OrderRetry;
});

adminRefundRoutes.get("/dev/mail", async (request, env) => {
	if (config(env).receipts.sender !== "dev") throw new ApiError(404, "not_found", "The dev mailbox is on only with RECEIPT_SENDER = \"dev\".");
	const { orderId, to, limit } = parseQuery(DevMailQuery, request.query);
	return { mail: await devMail(env.DB, { orderId: orderId ?? null, to: to ?? null }, limit) } satisfies DevMailList;
});

adminRefundRoutes.post("/dev/draw-cron", async (_request, env) => {
	// Only where the dev mailbox is: a deployment's cron runs itself, and its mail leaves.
	if (config(env).receipts.sender !== "dev") throw new ApiError(404, "not_found", "The draw's cron runs on request only with RECEIPT_SENDER = \"dev\".");
	return unwrap(await drawDueWindows(env, Date.now())) satisfies DevDrawCron;
});
