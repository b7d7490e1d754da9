// Gate devices in D1: a phone or scanner registered for one drop with the public
// half of a P-256 key pair it made itself, and the ticket list it checks codes
// against offline. The list carries each ticket's own rotating-code secret, not
// the drop's gate key: a device taken from the door gives away the secrets of the
// tickets it was handed, never the key that makes every ticket's secret, and
// nothing of any other drop (docs/operations.md, the threat model, says why).
import { dropGate, secretOf } from "./gate-store";
import { ROTATION_SKEW_WINDOWS, ROTATION_STEP_SECONDS } from "./rotating-codes";
import { transferredCodes } from "./transfer-store";
import { base64url } from "../shared/crypto";
import { ApiError } from "../shared/errors";

/** A device's public key as the engine keeps it: a P-256 JWK, nothing private. */
export interface DevicePublicKey {
	kty: "EC";
	crv: "P-256";
	x: string;
	y: string;
}

export interface GateDevice {
	id: string;
	dropId: string;
	name: string;
	publicKey: DevicePublicKey;
	registeredAt: string;
	/** Who registered it: `key:<key id>`, or `operator` for the deployment's own credentials. */
	registeredBy: string;
	lastSyncAt: string | null;
	revokedAt: string | null;
}

type DeviceRow = {
	device_id: string;
	drop_id: string;
	name: string;
	public_key: string;
	registered_at: string;
	registered_by: string;
	last_sync_at: string | null;
	revoked_at: string | null;
};

const fromRow = (r: DeviceRow): GateDevice => ({
	id: r.device_id,
	dropId: r.drop_id,
	name: r.name,
	publicKey: JSON.parse(r.public_key) as DevicePublicKey,
	registeredAt: r.registered_at,
	registeredBy: r.registered_by,
	lastSyncAt: r.last_sync_at,
	revokedAt: r.revoked_at,
});

/** The key a device's signatures are checked with; 422 invalid_key when the coordinates are not a P-256 point. */
export async function importDeviceKey(publicKey: DevicePublicKey): Promise<CryptoKey> {
	try {
		return await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: publicKey.x, y: publicKey.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
	} catch {
		throw new ApiError(422, "invalid_key", "This is not a P-256 public key.", { field: "publicKey" });
	}
}

/** A new device id: `gd_` and 96 random bits. */
export const newDeviceId = () => `gd_${base64url(crypto.getRandomValues(new Uint8Array(12)))}`;

/** The statement that records a new device, to batch with its activity entry. */
export function insertDeviceStatement(db: D1Database, device: GateDevice): D1PreparedStatement {
	return db
		.prepare(`INSERT INTO gate_devices (device_id, drop_id, name, public_key, registered_at, registered_by) VALUES (?, ?, ?, ?, ?, ?)`)
		.bind(device.id, device.dropId, device.name, JSON.stringify(device.publicKey), device.registeredAt, device.registeredBy);
}

/** A device of this drop, or null (another drop's device is null too: a device id names one drop). */
export async function deviceOf(db: D1Database, dropId: string, deviceId: string): Promise<GateDevice | null> {
	const row = await db.prepare(`SELECT * FROM gate_devices WHERE device_id = ? AND drop_id = ?`).bind(deviceId, dropId).first<DeviceRow>();
	return row === null ? null : fromRow(row);
}

export interface DeviceSummary extends GateDevice {
	admitted: number;
	refused: number;
}

/** A drop's devices, oldest first, each with its uploaded scans counted. */
export async function devicesOf(db: D1Database, dropId: string): Promise<DeviceSummary[]> {
	const { results } = await db
		.prepare(
			`SELECT d.*,
			   (SELECT COUNT(*) FROM gate_scans s WHERE s.device_id = d.device_id AND s.result = 'admitted') AS admitted,
			   (SELECT COUNT(*) FROM gate_scans s WHERE s.device_id = d.device_id AND s.result = 'refused') AS refused
			 FROM gate_devices d WHERE d.drop_id = ? ORDER BY d.registered_at, d.device_id`,
		)
		.bind(dropId)
		.all<DeviceRow & { admitted: number; refused: number }>();
	return results.map((r) => ({ ...fromRow(r), admitted: r.admitted, refused: r.refused }));
}

/** Revokes a device once; answers it after, and whether this call revoked it. */
export async function revokeDevice(db: D1Database, device: GateDevice, now: string): Promise<{ device: GateDevice; changed: boolean }> {
	const row = await db.prepare(`UPDATE gate_devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL RETURNING *`).bind(now, device.id).first<DeviceRow>();
	return row === null ? { device, changed: false } : { device: fromRow(row), changed: true };
}

/** 403 device_revoked for a revoked device: nothing it sends is written, nothing is handed to it. */
export function assertActive(device: GateDevice): void {
	if (device.revokedAt !== null) throw new ApiError(403, "device_revoked", `This device was revoked at ${device.revokedAt}; register it again to scan.`, { revokedAt: device.revokedAt });
}

/** transferred: a code a ticket had before an accepted transfer gave it a new one; it admits nobody. */
export type ListState = "valid" | "used" | "refunded" | "transferred";

export interface ListedTicket {
	code: string;
	orderId: string;
	state: ListState;
	/** The ticket's rotating-code secret; only for a ticket that may still admit someone. */
	secret?: string;
}

export interface TicketList {
	dropId: string;
	deviceId: string;
	generatedAt: string;
	stepSeconds: number;
	skewWindows: number;
	staticQr: boolean;
	tickets: ListedTicket[];
}

type ListRow = { code: string; order_id: string; scanned_at: string | null; refund_id: string | null; payment_missing_at: string | null };

/**
 * The drop's tickets as a device checks them offline: every ticket in D1, its state (a ticket whose payment was
 * not taken is `refunded` here: it admits nobody), and the secret of each not refunded. `used` is what the engine
 * knows at download: an admission on another device that has not synced yet is not in it.
 */
export async function ticketList(db: D1Database, dropId: string, deviceId: string, now: string): Promise<TicketList> {
	const { results } = await db
		.prepare(
			`SELECT t.code, t.order_id, t.scanned_at, t.refund_id, o.payment_missing_at
			 FROM tickets t JOIN orders o ON o.order_id = t.order_id WHERE t.drop_id = ? ORDER BY t.code`,
		)
		.bind(dropId)
		.all<ListRow>();
	const gate = await dropGate(db, dropId);
	const tickets = await Promise.all(
		results.map(async (r): Promise<ListedTicket> => {
			const state: ListState = r.refund_id !== null || r.payment_missing_at !== null ? "refunded" : r.scanned_at !== null ? "used" : "valid";
			return { code: r.code, orderId: r.order_id, state, ...(state === "refunded" ? {} : { secret: await secretOf(gate, r.code) }) };
		}),
	);
	// A ticket's old code after an accepted transfer, listed refused with no secret: an offline device refuses it too.
	for (const moved of await transferredCodes(db, dropId)) tickets.push({ code: moved.code, orderId: moved.orderId, state: "transferred" });
	return { dropId, deviceId, generatedAt: now, stepSeconds: ROTATION_STEP_SECONDS, skewWindows: ROTATION_SKEW_WINDOWS, staticQr: gate.staticQr, tickets };
}
