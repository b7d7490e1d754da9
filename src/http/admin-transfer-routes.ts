// The promoter API's ticket transfers: a drop's transfer rules (on or off, a
// deadline), read by any role that reads the drop and changed by its owner
// (logged), and an order's transfers, made, cancelled and accepted, for the
// promoter's view of that order.
import { type IRequest, Router } from "itty-router";
import type { OrderTransfers, TransferRulesAnswer } from "../contract/transfer-answers";
import { PatchTransfersBody } from "../contract/requests";
import { orderTransfers, setTransferRules, transferRules, viewOf } from "../after-sale/transfer-store";
import { orderRecord } from "../after-sale/order-store";
import { notFound } from "../shared/errors";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { dropOf, recordActivity } from "../tenants/auth";

type Args = [Env, ExecutionContext];

export const adminTransferRoutes = Router<IRequest, Args>({ base: "/api/admin" });

adminTransferRoutes.get("/drops/:id/transfers", async (request, env) => (await transferRules(env.DB, dropOf(request).id)) satisfies TransferRulesAnswer);

adminTransferRoutes.patch("/drops/:id/transfers", async (request, env) => {
	const drop = dropOf(request);
	const body = parse(PatchTransfersBody, await readJson(request));
	const before = await transferRules(env.DB, drop.id);
	const next = { ...before, ...(body.enabled === undefined ? {} : { enabled: body.enabled }), ...(body.deadline === undefined ? {} : { deadline: body.deadline }) };
	if (next.enabled === before.enabled && next.deadline === before.deadline) return before satisfies TransferRulesAnswer;
	const after = await setTransferRules(env.DB, next, new Date().toISOString());
	const changes = Object.fromEntries(
		(["enabled", "deadline"] as const).filter((f) => before[f] !== after[f]).map((f) => [f, { from: before[f], to: after[f] }]),
	);
	await recordActivity(env, request, { action: "drop.transfers_changed", promoterId: drop.promoterId, dropId: drop.id, detail: { changes } });
	return after satisfies TransferRulesAnswer;
});

adminTransferRoutes.get("/drops/:id/orders/:orderId/transfers", async (request, env) => {
	const drop = dropOf(request);
	const orderId = request.params.orderId ?? "";
	const order = await orderRecord(env.DB, orderId);
	if (order === null || order.drop_id !== drop.id) throw notFound("order");
	return { orderId, transfers: (await orderTransfers(env.DB, orderId)).map((r) => viewOf(r, true)) } satisfies OrderTransfers;
});
