// The gate: POST /api/admin/drops/:id/scan admits a ticket once. The ticket's
// token is checked offline (its ES256 signature, for this drop); its one
// admission is a conditional write in D1, so two gates scanning the same ticket
// at once admit it once. A refunded ticket is refused.
import type { IRequest } from "itty-router";
import type { ScanAnswer } from "../contract/engine-answers";
import { ScanBody } from "../contract/requests";
import { DROP_ID } from "../drops/rules";
import { authorizeGate } from "../tenants/gate-auth";
import { ApiError, notFound } from "../shared/errors";
import { admitTicket } from "../after-sale/order-store";
import { verifyTicketToken } from "../shared/tokens";
import { parse } from "../shared/validation";
import { readJson } from "../shared/request";

export async function scanTicket(request: IRequest, env: Env): Promise<ScanAnswer> {
	const dropId = request.params.id ?? "";
	if (!DROP_ID.test(dropId)) throw notFound("drop");
	await authorizeGate(request, env, dropId);
	const { ticket } = parse(ScanBody, await readJson(request));
	const claims = await verifyTicketToken(env, ticket, dropId).catch((err: unknown) => {
		if (err instanceof ApiError && err.code === "wrong_drop") throw new ApiError(422, "wrong_drop", "This ticket is for another drop.", { field: "ticket" });
		if (err instanceof ApiError) throw new ApiError(422, "invalid_ticket", "This is not a ticket the engine signed.", { field: "ticket" });
		throw err;
	});
	const now = new Date().toISOString();
	const result = await admitTicket(env.DB, dropId, claims.orderId, claims.code, now);
	if (result.kind === "unknown") throw notFound("ticket");
	if (result.kind === "refunded") throw new ApiError(409, "ticket_refunded", "This ticket was refunded; it does not admit anyone.");
	if (result.kind === "unpaid") throw new ApiError(409, "payment_not_taken", "This ticket's payment was not taken; it does not admit anyone.");
	if (result.kind === "already_used") {
		throw new ApiError(409, "already_used", `This ticket was already scanned at ${result.ticket.scanned_at}.`, { scannedAt: result.ticket.scanned_at });
	}
	return { admitted: true, dropId, orderId: claims.orderId, ticket: claims.code, ...(claims.unit === undefined ? {} : { unit: claims.unit }), scannedAt: now };
}
