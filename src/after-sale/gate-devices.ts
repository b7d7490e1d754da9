// Gate devices in D1: a phone or scanner registered for one drop, at a named gate,
// with the public half of a P-256 key pair it made itself, what each device and
// each gate admitted (its synced scans and its online ones), and the ticket list
// it checks codes
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
	/** The gate (an entrance: "North entrance") it scans at; its admissions count toward it. */
	gate: string;
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
	gate: string;
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
	gate: r.gate,
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

/** The gate a device registered without naming one counts toward. */
export const DEFAULT_GATE = "Main gate";

/** A new device id: `gd_` and 96 random bits. */
export const newDeviceId = () => `gd_${base64url(crypto.getRandomValues(new Uint8Array(12)))}`;

/** The statement that records a new device, to batch with its activity entry. */
export function insertDeviceStatement(db: D1Database, device: GateDevice): D1PreparedStatement {
	return db
		.prepare(`INSERT INTO gate_devices (device_id, drop_id, name, gate, public_key, registered_at, registered_by) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		.bind(device.id, device.dropId, device.name, device.gate, JSON.stringify(device.publicKey), device.registeredAt, device.registeredBy);
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

/** A drop's devices, oldest first, each with its scans counted: uploaded ones and the online admissions it asked for. */
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

export interface GateSummary {
	gate: string;
	devices: number;
	active: number;
	admitted: number;
	refused: number;
	/** The latest sync or online scan of any of its devices; null: none yet. */
	lastSyncAt: string | null;
}

/** The drop's gates from its devices, in the order their first device registered: a revoked device's past scans still count. */
export function gatesOf(devices: DeviceSummary[]): GateSummary[] {
	const gates = new Map<string, GateSummary>();
	for (const d of devices) {
		const g = gates.get(d.gate) ?? { gate: d.gate, devices: 0, active: 0, admitted: 0, refused: 0, lastSyncAt: null };
		g.devices += 1;
		if (d.revokedAt === null) g.active += 1;
		g.admitted += d.admitted;
		g.refused += d.refused;
		if (d.lastSyncAt !== null && (g.lastSyncAt === null || d.lastSyncAt > g.lastSyncAt)) g.lastSyncAt = d.lastSyncAt;
		gates.set(d.gate, g);
	}
	return [...gates.values()];
}

/** Tickets the online scan admitted for a credential that named no device: counted toward no gate. */
export async function onlineWithoutDevice(db: D1Database, dropId: string): Promise<number> {
	const n = await db
		.prepare(
			`SELECT COUNT(*) AS n FROM tickets t WHERE t.drop_id = ? AND t.scanned_at IS NOT NULL AND t.scanned_device IS NULL
			   AND NOT EXISTS (SELECT 1 FROM gate_scans s WHERE s.drop_id = t.drop_id AND s.ticket = t.code AND s.via = 'online')`,
		)
		.bind(dropId)
		.first<number>("n");
	return n ?? 0;
}

/**
 * Records that a device's online scan admitted a ticket (the ticket's own row already holds the admission): a
 * scan row of its own (its id `online:<ticket>`, which no device's scan id can be), counted toward the device and its gate, and the device's last sync. Written after the
 * admission, so a failure here loses only whose admission it was, never the admission.
 */
export async function recordOnlineAdmission(db: D1Database, device: GateDevice, ticket: string, at: string): Promise<void> {
	await db.batch([
		db
			.prepare(`INSERT OR IGNORE INTO gate_scans (device_id, scan_id, drop_id, ticket, scanned_at, result, via, uploaded_at) VALUES (?, ?, ?, ?, ?, 'admitted', 'online', ?)`)
			.bind(device.id, `online:${ticket}`, device.dropId, ticket, at, at),
		db.prepare(`UPDATE gate_devices SET last_sync_at = ? WHERE device_id = ? AND (last_sync_at IS NULL OR last_sync_at < ?)`).bind(at, device.id, at),
	]);
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

/** transferred: a code a ticket had before an accepted transfer gave it a new one; listed: on offer for resale; neither admits anybody. */
export type ListState = "valid" | "used" | "refunded" | "transferred" | "listed";

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
	/** The device's gate and what its devices had admitted at download: the gate page counts on from it. */
	gate: { name: string; admitted: number };
	tickets: ListedTicket[];
}

type ListRow = { code: string; order_id: string; scanned_at: string | null; refund_id: string | null; listing_id: string | null; payment_missing_at: string | null };

/**
 * The drop's tickets as a device checks them offline: every ticket in D1, its state (a ticket whose payment was
 * not taken is `refunded` here: it admits nobody), and the secret of each not refunded. `used` is what the engine
 * knows at download: an admission on another device that has not synced yet is not in it.
 */
export async function ticketList(db: D1Database, device: GateDevice, now: string): Promise<TicketList> {
	const dropId = device.dropId;
	const { results } = await db
		.prepare(
			`SELECT t.code, t.order_id, t.scanned_at, t.refund_id, t.listing_id, o.payment_missing_at
			 FROM tickets t JOIN orders o ON o.order_id = t.order_id WHERE t.drop_id = ? ORDER BY t.code`,
		)
		.bind(dropId)
		.all<ListRow>();
	const gate = await dropGate(db, dropId);
	const atGate = await db
		.prepare(`SELECT COUNT(*) AS n FROM gate_scans s JOIN gate_devices d ON d.device_id = s.device_id WHERE d.drop_id = ? AND d.gate = ? AND s.result = 'admitted'`)
		.bind(dropId, device.gate)
		.first<number>("n");
	const tickets = await Promise.all(
		results.map(async (r): Promise<ListedTicket> => {
			const state: ListState = r.refund_id !== null || r.payment_missing_at !== null ? "refunded" : r.scanned_at !== null ? "used" : r.listing_id !== null ? "listed" : "valid";
			// A listed ticket's secret stays off the device too: it admits nobody while its unit is on sale again.
			return { code: r.code, orderId: r.order_id, state, ...(state === "refunded" || state === "listed" ? {} : { secret: await secretOf(gate, r.code) }) };
		}),
	);
	// A ticket's old code after an accepted transfer, listed refused with no secret: an offline device refuses it too.
	for (const moved of await transferredCodes(db, dropId)) tickets.push({ code: moved.code, orderId: moved.orderId, state: "transferred" });
	return {
		dropId,
		deviceId: device.id,
		generatedAt: now,
		stepSeconds: ROTATION_STEP_SECONDS,
		skewWindows: ROTATION_SKEW_WINDOWS,
		staticQr: gate.staticQr,
		gate: { name: device.gate, admitted: atGate ?? 0 },
		tickets,
	};
}
