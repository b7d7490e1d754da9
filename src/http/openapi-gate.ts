// The OpenAPI document's operations for gate devices: registering one with its
// own public key, its ticket list, its signed scans, and the promoter's view of
// devices and double entries. Rendered by openapi.ts. Pure.
import { type Operation, json } from "./openapi-operation";

const GATE_401 = "unauthorized: no valid gate credential (with WWW-Authenticate); the admin token is not one";

export const GATE_DEVICE_OPERATIONS: Operation[] = [
	{
		operationId: "registerGateDevice",
		method: "POST",
		path: "/api/admin/drops/:id/gate/devices",
		tag: "gate",
		summary: "Register a gate device for a drop with the public key it made",
		description:
			"The device makes its own ECDSA P-256 key pair and sends the public JWK; it gets its id and the drop's ticket list (each ticket's own secret, never the drop's gate key). Logged as gate.device_registered.",
		security: ["gate"],
		body: { schema: "RegisterDeviceBody", required: true },
		answers: { 201: json("DeviceRegistered", "The device and its ticket list.") },
		errors: { 401: GATE_401, 404: "not_found: no such drop", 422: "invalid_key (field publicKey), too_short, too_long, invalid_value" },
	},
	{
		operationId: "getGateDeviceList",
		method: "GET",
		path: "/api/admin/drops/:id/gate/devices/:deviceId/list",
		tag: "gate",
		summary: "A device's ticket list, fresh",
		description: "Every ticket of the drop with its state (valid, used, refunded) and, unless refunded, its rotating-code secret; the engine's public keys to check tokens offline.",
		security: ["gate"],
		answers: { 200: json("TicketList", "The ticket list.") },
		errors: { 401: GATE_401, 403: "device_revoked (revokedAt)", 404: "not_found: no such drop or device" },
	},
	{
		operationId: "uploadGateScans",
		method: "POST",
		path: "/api/admin/drops/:id/gate/devices/:deviceId/scans",
		tag: "gate",
		summary: "Upload a device's signed scans, idempotent by scan id",
		description:
			"Checked whole before anything is written (each signature, each admitted ticket, each time); each scan written once per device and scanId; an admission marks its ticket used. Logged as gate.scans_synced when something was written.",
		security: ["gate"],
		body: { schema: "UploadScansBody", required: true },
		answers: { 200: json("ScansUploaded", "What was written and what had been before.") },
		errors: {
			401: GATE_401,
			403: "device_revoked (revokedAt): nothing written",
			404: "not_found: no such drop or device",
			422: "invalid_signature, unknown_ticket, invalid_time (field scans[i]…), out_of_range, too_short, too_long, invalid_format",
		},
	},
	{
		operationId: "listGateDevices",
		method: "GET",
		path: "/api/admin/drops/:id/gate/devices",
		tag: "gate",
		summary: "A drop's gate devices with their last sync and scan counts",
		security: ["admin"],
		answers: { 200: json("GateDeviceList", "Oldest first.") },
		errors: { 404: "not_found" },
	},
	{
		operationId: "revokeGateDevice",
		method: "POST",
		path: "/api/admin/drops/:id/gate/devices/:deviceId/revoke",
		tag: "gate",
		summary: "Revoke a gate device",
		description: "Its uploads and list downloads are refused from now on; its past scans stay. Again changes nothing. Logged once as gate.device_revoked.",
		security: ["admin"],
		answers: { 200: json("DeviceRevoked", "The device after, and whether this call revoked it.") },
		errors: { 403: "forbidden: a staff or gate key", 404: "not_found: no such drop or device" },
	},
	{
		operationId: "listDoubleEntries",
		method: "GET",
		path: "/api/admin/drops/:id/gate/double-entries",
		tag: "gate",
		summary: "Tickets admitted more than once",
		description: "Each ticket once, with every admission in time order: by which device (null: the online scan) and when.",
		security: ["admin"],
		answers: { 200: json("DoubleEntries", "Oldest double entry first.") },
		errors: { 404: "not_found" },
	},
];
