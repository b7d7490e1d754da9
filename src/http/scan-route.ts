// The gate: POST /api/admin/drops/:id/scan admits a ticket once. What the gate
// scans is a rotating code (`<token>~<window>~<code>`, src/after-sale/rotating-codes.ts)
// or, where the drop still allows it, the bare token of a static QR code. The
// token is checked offline (its ES256 signature, for this drop), a rotating
// code's window against the clock (one window of skew) and its code against the
// ticket's secret; the one admission is a conditional write in D1, so two gates
// scanning the same ticket at once admit it once. A refunded ticket is refused, and so
// is a ticket's old code once a transfer of it was accepted.
// A registered device may name itself: its admission then counts toward it and
// its gate (a revoked device is refused before anything is checked).
import type { IRequest } from "itty-router";
import type { ScanAnswer } from "../contract/engine-answers";
import { ScanBody } from "../contract/requests";
import { DROP_ID } from "../drops/rules";
import { authorizeGate } from "../tenants/gate-auth";
import { ApiError, notFound } from "../shared/errors";
import { dropGate, secretOf } from "../after-sale/gate-store";
import { admitTicket } from "../after-sale/order-store";
import { checkRotating, readRotating } from "../after-sale/rotating-codes";
import { type TicketClaims, verifyTicketToken } from "../shared/tokens";
import { parse } from "../shared/validation";
import { readJson } from "../shared/request";
import { assertActive, recordOnlineAdmission } from "../after-sale/gate-devices";
import { deviceIn } from "./gate-device-routes";

const refused = (code: string, message: string) => new ApiError(422, code, message, { field: "ticket" });

/** The ticket a scanned text names, once its token, and its rotating code (or the drop's leave to scan a bare token), are good. */
export async function ticketOfScan(env: Env, dropId: string, scanned: string, nowMs: number): Promise<TicketClaims> {
	const rotating = readRotating(scanned);
	if (rotating === "malformed") throw refused("invalid_ticket", "This is not a ticket the engine signed.");
	const claims = await verifyTicketToken(env, rotating === null ? scanned : rotating.token, dropId).catch((err: unknown) => {
		if (err instanceof ApiError && err.code === "wrong_drop") throw refused("wrong_drop", "This ticket is for another drop.");
		if (err instanceof ApiError) throw refused("invalid_ticket", "This is not a ticket the engine signed.");
		throw err;
	});
	const gate = await dropGate(env.DB, dropId);
	if (rotating === null) {
		if (!gate.staticQr) throw refused("rotating_code_required", "This drop admits only the ticket's rotating code, not a fixed QR code: ask for the live ticket on the phone.");
		return claims;
	}
	const check = await checkRotating(rotating, await secretOf(gate, claims.code), nowMs);
	if (check === "stale") throw refused("code_expired", "This code is not current: it is a copy or a screenshot, or the phone's clock is wrong.");
	if (check === "wrong_code") throw refused("invalid_code", "This code was not made by this ticket.");
	return claims;
}

export async function scanTicket(request: IRequest, env: Env): Promise<ScanAnswer> {
	const dropId = request.params.id ?? "";
	if (!DROP_ID.test(dropId)) throw notFound("drop");
	await authorizeGate(request, env, dropId);
	const { ticket, device: deviceId } = parse(ScanBody, await readJson(request));
	const device = deviceId === undefined ? null : await deviceIn(env, { id: dropId }, deviceId);
	if (device !== null) assertActive(device);
	const nowMs = Date.now();
	const claims = await ticketOfScan(env, dropId, ticket, nowMs);
	const now = new Date(nowMs).toISOString();
	const result = await admitTicket(env.DB, dropId, claims.orderId, claims.code, now);
	if (result.kind === "unknown") throw notFound("ticket");
	if (result.kind === "refunded") throw new ApiError(409, "ticket_refunded", "This ticket was refunded; it does not admit anyone.");
	if (result.kind === "transferred") {
		throw new ApiError(409, "ticket_transferred", `This ticket was transferred to someone else at ${result.acceptedAt}; it does not admit anyone. The new holder has a ticket of their own.`, { transferredAt: result.acceptedAt });
	}
	if (result.kind === "listed") throw new ApiError(409, "ticket_listed", "This ticket is listed for resale; it admits no one while it is. Its holder can withdraw the listing.");
	if (result.kind === "unpaid") throw new ApiError(409, "payment_not_taken", "This ticket's payment was not taken; it does not admit anyone.");
	if (result.kind === "already_used") {
		throw new ApiError(409, "already_used", `This ticket was already scanned at ${result.ticket.scanned_at}.`, { scannedAt: result.ticket.scanned_at });
	}
	if (device !== null) await recordOnlineAdmission(env.DB, device, claims.code, now);
	return { admitted: true, dropId, orderId: claims.orderId, ticket: claims.code, ...(claims.unit === undefined ? {} : { unit: claims.unit }), scannedAt: now };
}
