// Gate devices for a drop. With the gate's credential (a gate or owner key of the
// drop's promoter, or GATE_TOKEN; authorizeGate): register a device (its public
// key, its gate) and get the ticket list, download the list again, upload signed
// scans. With the promoter's own credentials (authorizeAdmin's roles): the devices
// and gates with what each admitted and its last sync, revoking a device, and the
// tickets admitted twice. Changes are logged.
import { type IRequest, Router } from "itty-router";
import type { DeviceRegistered, DeviceRevoked, DoubleEntries, GateDeviceList, ScansUploaded, TicketListAnswer } from "../contract/gate-answers";
import { RegisterDeviceBody, UploadScansBody } from "../contract/requests";
import { DROP_ID, type DropConfig } from "../drops/rules";
import { getDrop } from "../drops/store";
import {
	DEFAULT_GATE,
	type GateDevice,
	assertActive,
	deviceOf,
	devicesOf,
	gatesOf,
	importDeviceKey,
	insertDeviceStatement,
	newDeviceId,
	onlineWithoutDevice,
	revokeDevice,
	ticketList,
} from "../after-sale/gate-devices";
import { doubleEntries, mergeScans, verifyScans } from "../after-sale/gate-scans";
import { ApiError, notFound } from "../shared/errors";
import { readJson } from "../shared/request";
import { publicJwks } from "../shared/tokens";
import { parse } from "../shared/validation";
import { activityStatement, dropOf, principalOf } from "../tenants/auth";
import { authorizeGate } from "../tenants/gate-auth";

type Args = [Env, ExecutionContext];

export const gateDeviceRoutes = Router<IRequest, Args>({ base: "/api/admin" });

/** A scan's time may be this far ahead of the engine's clock (a phone's clock drifts); further is refused. */
const FUTURE_SLACK_MS = 5 * 60_000;

/** The drop of a gate-credential route, once the credential may act for it. */
async function gateDrop(request: IRequest, env: Env) {
	const dropId = request.params.id ?? "";
	if (!DROP_ID.test(dropId)) throw notFound("drop");
	const principal = await authorizeGate(request, env, dropId);
	const drop = await getDrop(env.DB, dropId);
	if (drop === null) throw notFound("drop");
	return { principal, drop };
}

export async function deviceIn(env: Env, drop: Pick<DropConfig, "id">, deviceId: string | undefined): Promise<GateDevice> {
	const device = deviceId === undefined ? null : await deviceOf(env.DB, drop.id, deviceId);
	if (device === null) throw notFound("device");
	return device;
}

async function listFor(env: Env, device: GateDevice, now: string): Promise<TicketListAnswer> {
	const [list, jwks] = await Promise.all([ticketList(env.DB, device, now), publicJwks(env)]);
	return { ...list, keys: jwks.keys as Record<string, string>[] };
}

gateDeviceRoutes.post("/drops/:id/gate/devices", async (request, env) => {
	const { principal, drop } = await gateDrop(request, env);
	const body = parse(RegisterDeviceBody, await readJson(request));
	const publicKey = { kty: "EC" as const, crv: "P-256" as const, x: body.publicKey.x, y: body.publicKey.y };
	await importDeviceKey(publicKey);
	const now = new Date().toISOString();
	const device: GateDevice = {
		id: newDeviceId(),
		dropId: drop.id,
		name: body.name,
		gate: body.gate ?? DEFAULT_GATE,
		publicKey,
		registeredAt: now,
		registeredBy: principal.kind === "key" ? `key:${principal.keyId}` : "operator",
		lastSyncAt: null,
		revokedAt: null,
	};
	await env.DB.batch([
		insertDeviceStatement(env.DB, device),
		activityStatement(env, principal, { action: "gate.device_registered", promoterId: drop.promoterId, dropId: drop.id, detail: { deviceId: device.id, name: device.name, gate: device.gate }, at: now }),
	]);
	const answer = { device, list: await listFor(env, device, now) } satisfies DeviceRegistered;
	return new Response(JSON.stringify(answer), { status: 201, headers: { "Content-Type": "application/json" } });
});

gateDeviceRoutes.get("/drops/:id/gate/devices/:deviceId/list", async (request, env) => {
	const { drop } = await gateDrop(request, env);
	const device = await deviceIn(env, drop, request.params.deviceId);
	assertActive(device);
	return listFor(env, device, new Date().toISOString());
});

gateDeviceRoutes.post("/drops/:id/gate/devices/:deviceId/scans", async (request, env) => {
	const { principal, drop } = await gateDrop(request, env);
	const device = await deviceIn(env, drop, request.params.deviceId);
	assertActive(device);
	const { scans } = parse(UploadScansBody, await readJson(request));
	const nowMs = Date.now();
	const ahead = scans.findIndex((s) => Date.parse(s.at) > nowMs + FUTURE_SLACK_MS);
	if (ahead >= 0) throw new ApiError(422, "invalid_time", "A scan's time is ahead of the engine's clock by more than 5 minutes.", { field: `scans[${ahead}].at` });
	await verifyScans(device, scans);
	const now = new Date(nowMs).toISOString();
	const merged = await mergeScans(env.DB, device, scans, now);
	if (merged.accepted > 0) {
		const admitted = scans.filter((s) => s.result === "admitted").length;
		await activityStatement(env, principal, { action: "gate.scans_synced", promoterId: drop.promoterId, dropId: drop.id, detail: { deviceId: device.id, accepted: merged.accepted, admitted }, at: now }).run();
	}
	return { deviceId: device.id, ...merged, lastSyncAt: now } satisfies ScansUploaded;
});

gateDeviceRoutes.get("/drops/:id/gate/devices", async (request, env) => {
	const dropId = dropOf(request).id;
	const [devices, withoutDevice] = await Promise.all([devicesOf(env.DB, dropId), onlineWithoutDevice(env.DB, dropId)]);
	return { devices, gates: gatesOf(devices), onlineWithoutDevice: withoutDevice } satisfies GateDeviceList;
});

gateDeviceRoutes.post("/drops/:id/gate/devices/:deviceId/revoke", async (request, env) => {
	const drop = dropOf(request);
	const device = await deviceIn(env, drop, request.params.deviceId);
	const now = new Date().toISOString();
	const revoked = await revokeDevice(env.DB, device, now);
	if (revoked.changed) {
		await activityStatement(env, principalOf(request), { action: "gate.device_revoked", promoterId: drop.promoterId, dropId: drop.id, detail: { deviceId: device.id, name: device.name }, at: now }).run();
	}
	return revoked satisfies DeviceRevoked;
});

gateDeviceRoutes.get("/drops/:id/gate/double-entries", async (request, env) => ({ doubleEntries: await doubleEntries(env.DB, dropOf(request).id) }) satisfies DoubleEntries);
