// The fan API's ticket transfers. The buyer (with the order token, which names
// the order and its drop) makes a transfer of one ticket and may cancel it until
// it is accepted; the recipient opens the accept link (its secret is their
// Bearer), reads the offer and accepts, and from then on reads their own ticket
// with the key the accept answered. src/after-sale/transfers.ts does the writes.
import { type IRequest, Router } from "itty-router";
import type { HeldTicketAnswer, TransferAccepted, TransferAnswer, TransferMade, TransferOffer } from "../contract/transfer-answers";
import { transferBySecret, transferRules, transfersOpen, viewOf } from "../after-sale/transfer-store";
import { acceptTransfer, cancelTransfer, heldTicket, makeTransfer } from "../after-sale/transfers";
import { DROP_ID, type DropConfig } from "../drops/rules";
import { getDrop } from "../drops/store";
import { AcceptTransferBody } from "../contract/requests";
import { notFound } from "../shared/errors";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { ORDER_TYP, invalidToken, peekToken, verifyOrderToken } from "../shared/tokens";
import { requireBearer } from "./fan-request";

type Args = [Env, ExecutionContext];

export const fanTransferRoutes = Router<IRequest, Args>({ base: "/api" });

/** The order token's drop, for the order in the path only: any other order is the 404 of an unknown one. */
export async function orderDrop(request: IRequest, env: Env): Promise<{ drop: DropConfig; orderId: string }> {
	const token = requireBearer(request, "order token");
	const { typ, dropId } = peekToken(token);
	if (typ !== ORDER_TYP || dropId === undefined || !DROP_ID.test(dropId)) throw invalidToken();
	const claims = await verifyOrderToken(env, token, dropId);
	const orderId = request.params.orderId ?? "";
	if (claims.orderId !== orderId) throw notFound("order");
	const drop = await getDrop(env.DB, dropId);
	if (drop === null) throw notFound("order");
	return { drop, orderId };
}

async function dropOfTransfer(env: Env, dropId: string): Promise<DropConfig> {
	const drop = await getDrop(env.DB, dropId);
	if (drop === null) throw notFound("transfer");
	return drop;
}

/** The ticket code in the path, decoded; a broken escape names no ticket. */
function codeParam(request: IRequest): string {
	try {
		return decodeURIComponent(request.params.code ?? "");
	} catch {
		throw notFound("ticket");
	}
}

fanTransferRoutes.post("/orders/:orderId/tickets/:code/transfer", async (request, env) => {
	const { drop, orderId } = await orderDrop(request, env);
	const { transfer, secret } = await makeTransfer(env.DB, drop, orderId, codeParam(request), Date.now());
	const made: TransferMade = { transfer: transfer satisfies TransferAnswer, acceptPath: `/transfer#${transfer.transferId}.${secret}`, secret };
	return Response.json(made, { status: 201 });
});

fanTransferRoutes.delete("/orders/:orderId/transfers/:transferId", async (request, env) => {
	const { drop, orderId } = await orderDrop(request, env);
	return (await cancelTransfer(env.DB, drop, orderId, request.params.transferId ?? "", Date.now())) satisfies TransferAnswer;
});

fanTransferRoutes.get("/transfers/:transferId", async (request, env) => {
	const row = await transferBySecret(env.DB, request.params.transferId ?? "", requireBearer(request, "transfer link's secret"));
	const drop = await dropOfTransfer(env, row.drop_id);
	const seat = await env.DB.prepare(`SELECT seat_id FROM tickets WHERE code = ?`).bind(row.state === "accepted" ? row.to_code : row.from_code).first<string | null>("seat_id");
	const transfer = viewOf(row);
	return {
		transfer,
		drop: { id: drop.id, name: drop.name, opensAt: drop.opensAt },
		...(seat == null ? {} : { seat }),
		open: row.state === "pending" && drop.cancelledAt === null && transfersOpen(await transferRules(env.DB, drop.id), Date.now()),
	} satisfies TransferOffer;
});

fanTransferRoutes.post("/transfers/:transferId/accept", async (request, env) => {
	const row = await transferBySecret(env.DB, request.params.transferId ?? "", requireBearer(request, "transfer link's secret"));
	const body = parse(AcceptTransferBody, (await readJson(request, { optional: true })) ?? {});
	const { accepted, holderKey, again } = await acceptTransfer(env, await dropOfTransfer(env, row.drop_id), row, Date.now(), body.holderKey ?? null);
	return Response.json({ ...accepted, holderKey } satisfies TransferAccepted, { status: again ? 200 : 201 });
});

fanTransferRoutes.get("/transfers/:transferId/ticket", async (request, env) => {
	const row = await transferBySecret(env.DB, request.params.transferId ?? "", requireBearer(request, "ticket key"), true);
	return (await heldTicket(env, row.drop_id, row.transfer_id, row.to_code!)) satisfies HeldTicketAnswer;
});
