// Scans a gate device uploads, merged in D1. Each scan is signed by the device's
// own key (ECDSA P-256, SHA-256) over its drop, device, scan id, ticket, time and
// result, so a scan in the log was made by that device and not changed since. An
// upload is checked whole before anything is written (a bad signature, or an
// admission of a ticket the drop does not have, refuses it all); the write is one
// batch, each scan once per device and scan id, and only while the device is not
// revoked, so a revoke that lands during an upload leaves nothing of it. A ticket
// admitted by two devices (or by a device and the online scan) is a double entry;
// an online admission names the device that asked for it, when one did.
import { type GateDevice, importDeviceKey } from "./gate-devices";
import type { SCAN_RESULTS } from "../contract/requests";
import { ApiError } from "../shared/errors";

export type ScanOutcome = (typeof SCAN_RESULTS)[number];

export interface DeviceScan {
	scanId: string;
	ticket: string;
	at: string;
	result: ScanOutcome;
	reason?: string | undefined;
	signature: string;
}

const enc = new TextEncoder();

/** The bytes a device signs for a scan: every field that matters, one per line, so none can be moved to another. */
export function scanMessage(dropId: string, deviceId: string, scan: Omit<DeviceScan, "signature">): Uint8Array {
	return enc.encode(["gate-scan", dropId, deviceId, scan.scanId, scan.ticket, scan.at, scan.result].join("\n"));
}

function fromBase64url(text: string): Uint8Array {
	const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
	return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** 422 invalid_signature (field `scans[i].signature`) for the first scan the device's key did not sign. */
export async function verifyScans(device: GateDevice, scans: DeviceScan[]): Promise<void> {
	const key = await importDeviceKey(device.publicKey);
	for (const [i, scan] of scans.entries()) {
		const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, fromBase64url(scan.signature), scanMessage(device.dropId, device.id, scan));
		if (!ok) throw new ApiError(422, "invalid_signature", "This scan was not signed by this device's key.", { field: `scans[${i}].signature` });
	}
}

export interface MergeResult {
	/** Scans written by this upload. */
	accepted: number;
	/** Scans this device had uploaded before (the same scan id): written once, counted once. */
	duplicates: number;
}

/**
 * Writes an upload's scans, verified, in one batch: each new scan once; each admission marks its ticket used
 * (the earliest device admission wins, and an online admission is never replaced; through a transfer accepted after it); the device's last sync. Every
 * statement holds only while the device is not revoked. 422 unknown_ticket when an admission names a ticket the
 * drop does not have; 403 device_revoked when the device was revoked before the batch ran.
 */
export async function mergeScans(db: D1Database, device: GateDevice, scans: DeviceScan[], now: string): Promise<MergeResult> {
	const admitted = [...new Set(scans.filter((s) => s.result === "admitted").map((s) => s.ticket))];
	if (admitted.length > 0) {
		const { results } = await db
			// A ticket's old code after a transfer is known too: a device that admitted it offline reports that, and it is kept.
			.prepare(
				`SELECT code FROM tickets WHERE drop_id = ?1 AND code IN (SELECT value FROM json_each(?2))
				 UNION SELECT from_code FROM ticket_transfers WHERE drop_id = ?1 AND state = 'accepted' AND from_code IN (SELECT value FROM json_each(?2))`,
			)
			.bind(device.dropId, JSON.stringify(admitted))
			.all<{ code: string }>();
		const known = new Set(results.map((r) => r.code));
		const index = scans.findIndex((s) => s.result === "admitted" && !known.has(s.ticket));
		if (index >= 0) throw new ApiError(422, "unknown_ticket", "An admitted scan names a ticket this drop does not have.", { field: `scans[${index}].ticket` });
	}
	const active = `EXISTS (SELECT 1 FROM gate_devices WHERE device_id = ?1 AND revoked_at IS NULL)`;
	const statements = [
		db.prepare(`UPDATE gate_devices SET last_sync_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL`).bind(device.id, now),
		...scans.map((s) =>
			db
				.prepare(
					// An admission this device already has through the online scan is the same one, uploaded again
					// because the online answer was lost on the way back: written once, under the online row.
					`INSERT OR IGNORE INTO gate_scans (device_id, scan_id, drop_id, ticket, scanned_at, result, reason, signature, uploaded_at)
					 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE ${active}
					   AND NOT (?6 = 'admitted' AND EXISTS (SELECT 1 FROM gate_scans WHERE device_id = ?1 AND ticket = ?4 AND via = 'online'))`,
				)
				.bind(device.id, s.scanId, device.dropId, s.ticket, s.at, s.result, s.reason ?? null, s.signature, now),
		),
		...scans
			.filter((s) => s.result === "admitted")
			.map((s) =>
				db
					.prepare(
						// The ticket under the code admitted, or under its code now when a transfer of that code was accepted
						// only after this admission (the ticket was used before it was handed on; the accept could not know).
						// An old code admitted after its transfer's accept (a device not yet synced) marks nothing: the
						// recipient holds the ticket, and both entries are a double entry.
						`UPDATE tickets SET scanned_at = ?2, scanned_device = ?1 WHERE drop_id = ?3
						   AND code IN (
						     WITH RECURSIVE moved(code) AS (
						       SELECT ?4
						       UNION
						       SELECT t.to_code FROM ticket_transfers t JOIN moved m ON t.from_code = m.code
						       WHERE t.drop_id = ?3 AND t.state = 'accepted' AND t.accepted_at >= ?2
						     ) SELECT code FROM moved)
						   AND (scanned_at IS NULL OR (scanned_device IS NOT NULL AND scanned_at > ?2)) AND ${active}`,
					)
					.bind(device.id, s.at, device.dropId, s.ticket),
			),
	];
	const results = await db.batch(statements);
	if (results[0]!.meta.changes === 0) {
		const revokedAt = await db.prepare(`SELECT revoked_at FROM gate_devices WHERE device_id = ?`).bind(device.id).first<string>("revoked_at");
		throw new ApiError(403, "device_revoked", `This device was revoked at ${revokedAt}; register it again to scan.`, { revokedAt });
	}
	const accepted = results.slice(1, 1 + scans.length).reduce((n, r) => n + r.meta.changes, 0);
	return { accepted, duplicates: scans.length - accepted };
}

export interface Admission {
	/** The code admitted: the ticket's own, or an earlier code of it before a transfer was accepted. */
	code: string;
	/** The device that admitted it; null: the online scan, for a credential that named no device. */
	deviceId: string | null;
	deviceName: string | null;
	/** `device`: checked and signed on the device, synced later; `online`: the engine's scan admitted it. */
	via: "device" | "online";
	at: string;
}

export interface DoubleEntry {
	/** The ticket's code now (after every accepted transfer). */
	ticket: string;
	admissions: Admission[];
}

/**
 * Every ticket of the drop admitted more than once, each once, with its admissions in time order; oldest double entry
 * first. A transferred ticket is one place under all its codes: its old code admitted offline by a device that had not
 * synced since the accept, and its new code admitted at the door, are a double entry too.
 */
export async function doubleEntries(db: D1Database, dropId: string): Promise<DoubleEntry[]> {
	// The online admission is the ticket's own row (scanned_device NULL); its scan row, when a device asked, only names the device.
	// `moved` follows each code through the accepted transfers to the code the ticket has now.
	const { results } = await db
		.prepare(
			`WITH RECURSIVE moved(code, now_code) AS (
			   SELECT from_code, to_code FROM ticket_transfers WHERE drop_id = ?1 AND state = 'accepted'
			   UNION
			   SELECT m.code, t.to_code FROM moved m JOIN ticket_transfers t ON t.drop_id = ?1 AND t.state = 'accepted' AND t.from_code = m.now_code
			 ),
			 latest AS (SELECT code, now_code FROM moved WHERE now_code NOT IN (SELECT from_code FROM ticket_transfers WHERE drop_id = ?1 AND state = 'accepted')),
			 admitted AS (
			   SELECT s.ticket AS code, s.device_id, d.name, 'device' AS via, s.scanned_at AS at FROM gate_scans s JOIN gate_devices d ON d.device_id = s.device_id
			   WHERE s.drop_id = ?1 AND s.result = 'admitted' AND s.via = 'device'
			   UNION ALL
			   SELECT t.code, o.device_id, d.name, 'online', t.scanned_at FROM tickets t
			     LEFT JOIN gate_scans o ON o.drop_id = t.drop_id AND o.ticket = t.code AND o.via = 'online'
			     LEFT JOIN gate_devices d ON d.device_id = o.device_id
			   WHERE t.drop_id = ?1 AND t.scanned_at IS NOT NULL AND t.scanned_device IS NULL
			 ),
			 placed AS (SELECT COALESCE(l.now_code, a.code) AS ticket, a.* FROM admitted a LEFT JOIN latest l ON l.code = a.code)
			 SELECT ticket, code, device_id, name, via, at FROM placed
			 WHERE ticket IN (SELECT ticket FROM placed GROUP BY ticket HAVING COUNT(*) > 1)
			 ORDER BY at, ticket`,
		)
		.bind(dropId)
		.all<{ ticket: string; code: string; device_id: string | null; name: string | null; via: "device" | "online"; at: string }>();
	const byTicket = new Map<string, DoubleEntry>();
	for (const r of results) {
		const entry = byTicket.get(r.ticket) ?? { ticket: r.ticket, admissions: [] };
		entry.admissions.push({ code: r.code, deviceId: r.device_id, deviceName: r.name, via: r.via, at: r.at });
		byTicket.set(r.ticket, entry);
	}
	return [...byTicket.values()];
}
