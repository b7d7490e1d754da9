// The promoter API's gate settings for a drop: whether a ticket's static QR code
// (its bare token) still admits, or only its rotating code. Read by any role
// that reads the drop, changed by its owner (or the operator), logged.
import { type IRequest, Router } from "itty-router";
import type { GateSettings } from "../contract/gate-answers";
import { PatchGateBody } from "../contract/requests";
import { type DropGate, dropGate, setStaticQr } from "../after-sale/gate-store";
import { ROTATION_STEP_SECONDS } from "../after-sale/rotating-codes";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { dropOf, recordActivity } from "../tenants/auth";

type Args = [Env, ExecutionContext];

export const adminGateRoutes = Router<IRequest, Args>({ base: "/api/admin" });

const settingsOf = (gate: DropGate): GateSettings => ({ dropId: gate.dropId, staticQr: gate.staticQr, stepSeconds: ROTATION_STEP_SECONDS, updatedAt: gate.updatedAt });

adminGateRoutes.get("/drops/:id/gate", async (request, env) => settingsOf(await dropGate(env.DB, dropOf(request).id)));

adminGateRoutes.patch("/drops/:id/gate", async (request, env) => {
	const drop = dropOf(request);
	const { staticQr } = parse(PatchGateBody, await readJson(request));
	const before = await dropGate(env.DB, drop.id);
	if (before.staticQr === staticQr) return settingsOf(before);
	const after = await setStaticQr(env.DB, drop.id, staticQr, new Date().toISOString());
	await recordActivity(env, request, { action: "drop.gate_changed", promoterId: drop.promoterId, dropId: drop.id, detail: { staticQr: { from: before.staticQr, to: staticQr } } });
	return settingsOf(after);
});
