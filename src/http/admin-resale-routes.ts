// The promoter API's face-value resale: a drop's resale rules (on or off, a fee
// in cents or in percent), read by any role that reads the drop and changed by
// its owner (logged), and an order's listings for the promoter's view of it.
import { type IRequest, Router } from "itty-router";
import type { AdminOrderListingsAnswer, ResaleRulesAnswer } from "../contract/resale-answers";
import { PatchResaleBody } from "../contract/requests";
import { assertResaleKind, listingView, orderListings, resaleRules, setResaleRules } from "../after-sale/resale-store";
import { orderRecord } from "../after-sale/order-store";
import { ApiError, notFound } from "../shared/errors";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { dropOf, recordActivity } from "../tenants/auth";

type Args = [Env, ExecutionContext];

export const adminResaleRoutes = Router<IRequest, Args>({ base: "/api/admin" });

adminResaleRoutes.get("/drops/:id/resale", async (request, env) => (await resaleRules(env.DB, dropOf(request).id)) satisfies ResaleRulesAnswer);

adminResaleRoutes.patch("/drops/:id/resale", async (request, env) => {
	const drop = dropOf(request);
	const body = parse(PatchResaleBody, await readJson(request));
	const before = await resaleRules(env.DB, drop.id);
	const next = { ...before, ...Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) };
	if (next.feeCents > 0 && next.feePercent > 0) {
		throw new ApiError(422, "fee_conflict", "A resale fee is in cents or in percent, not both: set the other to 0.", { field: body.feePercent !== undefined ? "feePercent" : "feeCents" });
	}
	if (next.enabled && !before.enabled) assertResaleKind(drop);
	const fields = ["enabled", "feeCents", "feePercent"] as const;
	if (fields.every((f) => next[f] === before[f])) return before satisfies ResaleRulesAnswer;
	const after = await setResaleRules(env.DB, next, new Date().toISOString());
	const changes = Object.fromEntries(fields.filter((f) => before[f] !== after[f]).map((f) => [f, { from: before[f], to: after[f] }]));
	await recordActivity(env, request, { action: "drop.resale_changed", promoterId: drop.promoterId, dropId: drop.id, detail: { changes } });
	return after satisfies ResaleRulesAnswer;
});

adminResaleRoutes.get("/drops/:id/orders/:orderId/listings", async (request, env) => {
	const drop = dropOf(request);
	const orderId = request.params.orderId ?? "";
	const order = await orderRecord(env.DB, orderId);
	if (order === null || order.drop_id !== drop.id) throw notFound("order");
	return { orderId, listings: (await orderListings(env.DB, orderId)).map((r) => ({ ...listingView(r), buyerOrderId: r.buyer_order_id })) } satisfies AdminOrderListingsAnswer;
});
