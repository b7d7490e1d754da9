// A drop's gate settings in D1: its gate key (the root of its tickets' rotating
// codes) and whether a ticket's static QR code still admits. The row is made on
// first use with a random key, once: two first uses at once both read the one
// row the first insert wrote.
import { newGateKey, ticketSecret } from "./rotating-codes";

export interface DropGate {
	dropId: string;
	gateKey: string;
	/** The bare signed token (the static QR code) admits; off, only a rotating code does. */
	staticQr: boolean;
	updatedAt: string;
}

type GateRow = { drop_id: string; gate_key: string; static_qr: number; updated_at: string };

const fromRow = (r: GateRow): DropGate => ({ dropId: r.drop_id, gateKey: r.gate_key, staticQr: r.static_qr === 1, updatedAt: r.updated_at });

/** The drop's gate settings, made (static QR on, a new key) the first time anyone asks. */
export async function dropGate(db: D1Database, dropId: string): Promise<DropGate> {
	const row = await db.prepare(`SELECT * FROM drop_gates WHERE drop_id = ?`).bind(dropId).first<GateRow>();
	if (row !== null) return fromRow(row);
	const [, made] = await db.batch<GateRow>([
		db.prepare(`INSERT OR IGNORE INTO drop_gates (drop_id, gate_key, static_qr, updated_at) VALUES (?, ?, 1, ?)`).bind(dropId, newGateKey(), new Date().toISOString()),
		db.prepare(`SELECT * FROM drop_gates WHERE drop_id = ?`).bind(dropId),
	]);
	return fromRow(made!.results[0]!);
}

/** Switches the static QR code on or off for a drop; answers the settings after. */
export async function setStaticQr(db: D1Database, dropId: string, staticQr: boolean, now: string): Promise<DropGate> {
	await dropGate(db, dropId);
	const row = await db.prepare(`UPDATE drop_gates SET static_qr = ?, updated_at = ? WHERE drop_id = ? RETURNING *`).bind(staticQr ? 1 : 0, now, dropId).first<GateRow>();
	return fromRow(row!);
}

/** A ticket's rotating-code secret under its drop's gate. */
export function secretOf(gate: DropGate, code: string): Promise<string> {
	return ticketSecret(gate.gateKey, code);
}
