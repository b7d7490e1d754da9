// The fan API's orders: an order read from its shard, with its status, refunds
// and signed tickets from D1. It takes the purchase's order token (good for a
// year, for that one order) or the buyer's access token while their turn lasts.
import { type IRequest, Router } from "itty-router";
import type { OrderDetail } from "../contract/fan-answers";
import { orderProgress } from "../after-sale/order-store";
import { DROP_ID, LIMITS } from "../drops/rules";
import { notFound } from "../shared/errors";
import { shardOfId } from "../shared/ids";
import { shardStub } from "../shared/names";
import { unwrap } from "../shared/outcome";
import { ORDER_TYP, invalidToken, peekToken, verifyAccessToken, verifyOrderToken } from "../shared/tokens";
import { requireBearer } from "./fan-request";

type Args = [Env, ExecutionContext];

export const fanOrderRoutes = Router<IRequest, Args>({ base: "/api" });

fanOrderRoutes.get("/orders/:orderId", async (request, env) => {
	const token = requireBearer(request, "order token or access token");
	// The token names its kind and its drop; it is verified as that kind, for that drop, right after.
	const { typ, dropId } = peekToken(token);
	if (dropId === undefined || !DROP_ID.test(dropId)) throw invalidToken();
	const orderId = request.params.orderId ?? "";
	let fanId: string;
	let shardIndex: number | null;
	if (typ === ORDER_TYP) {
		const claims = await verifyOrderToken(env, token, dropId);
		// Good for its own order only: any other id is the 404 of an unknown one, and no shard is asked.
		if (claims.orderId !== orderId) throw notFound("order");
		fanId = claims.fanId;
		// The id was made by one of the drop's shards and signed by us: its shard is real.
		shardIndex = shardOfId(orderId, "o", LIMITS.shards.max);
	} else {
		// Anything else is read as the access token of the buyer's turn, while it lasts.
		const access = await verifyAccessToken(env, token, dropId);
		fanId = access.fanId;
		shardIndex = shardOfId(orderId, "o", access.shards);
	}
	if (shardIndex === null) throw notFound("order");
	const order = unwrap(await shardStub(env, dropId, shardIndex).order({ orderId, fanId }));
	// Its status and signed tickets after the sale, from D1.
	return { ...order, ...(await orderProgress(env, orderId, order.tickets, order)) } satisfies OrderDetail;
});
