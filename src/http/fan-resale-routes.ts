// The fan API's face-value resale. The buyer (with the order token) lists one of
// the order's tickets, reads the order's listings, and withdraws a listing not
// sold yet. src/after-sale/resale.ts does the writes; the sale of a listing
// happens when a buyer's paid order reaches D1 (src/sales/consumer.ts).
import { type IRequest, Router } from "itty-router";
import type { ListingAnswer, OrderListingsAnswer } from "../contract/resale-answers";
import { listingRow, listingView, orderListings, resaleCapacity, resaleRules } from "../after-sale/resale-store";
import { endListing, listTicket } from "../after-sale/resale";
import { dropState } from "../drops/lifecycle";
import { notFound } from "../shared/errors";
import { orderDrop } from "./fan-transfer-routes";

type Args = [Env, ExecutionContext];

export const fanResaleRoutes = Router<IRequest, Args>({ base: "/api" });

fanResaleRoutes.post("/orders/:orderId/tickets/:code/resale", async (request, env) => {
	const { drop, orderId } = await orderDrop(request, env);
	const listing = await listTicket(env, drop, orderId, decodeURIComponent(request.params.code ?? ""), Date.now());
	return Response.json(listing satisfies ListingAnswer, { status: 201 });
});

fanResaleRoutes.get("/orders/:orderId/listings", async (request, env) => {
	const { drop, orderId } = await orderDrop(request, env);
	const [rules, listings] = await Promise.all([resaleRules(env.DB, drop.id), orderListings(env.DB, orderId)]);
	const now = Date.now();
	const open = rules.enabled && drop.cancelledAt === null && dropState(drop, false, now) !== "closed" && resaleCapacity(drop) !== null;
	return { orderId, listings: listings.map(listingView), resale: { open, feeCents: rules.feeCents, feePercent: rules.feePercent } } satisfies OrderListingsAnswer;
});

fanResaleRoutes.delete("/orders/:orderId/listings/:listingId", async (request, env) => {
	const { drop, orderId } = await orderDrop(request, env);
	const row = await listingRow(env.DB, request.params.listingId ?? "");
	if (row === null || row.order_id !== orderId || row.drop_id !== drop.id) throw notFound("listing");
	return (await endListing(env, drop, row, "withdrawn", Date.now())) satisfies ListingAnswer;
});
