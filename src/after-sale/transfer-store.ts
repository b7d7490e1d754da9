// Ticket transfers in D1: the promoter's rules per drop (on or off, a deadline),
// the transfers themselves, and what the gate and the audit read of them. A
// transfer's accept link carries a random secret, kept here only as its SHA-256;
// so does the key the recipient reads their ticket with. The writes (make, cancel,
// accept) are in transfers.ts.
import { base64url, sha256Hex } from "../shared/crypto";
import { ApiError } from "../shared/errors";

export type TransferState = "pending" | "cancelled" | "accepted";

export interface TransferRow {
	transfer_id: string;
	drop_id: string;
	order_id: string;
	from_code: string;
	to_code: string | null;
	accept_hash: string;
	holder_hash: string | null;
	state: TransferState;
	created_at: string;
	cancelled_at: string | null;
	accepted_at: string | null;
}

/** A transfer as the holder, the recipient and the promoter read it: never its hashes. */
export interface TransferView {
	transferId: string;
	dropId: string;
	orderId: string;
	/** The ticket as its buyer knew it. */
	ticket: string;
	/** The recipient's new ticket code, once accepted (the promoter's view only). */
	newTicket?: string | null;
	state: TransferState;
	createdAt: string;
	cancelledAt: string | null;
	acceptedAt: string | null;
}

export function viewOf(r: TransferRow, withNewCode = false): TransferView {
	return {
		transferId: r.transfer_id,
		dropId: r.drop_id,
		orderId: r.order_id,
		ticket: r.from_code,
		...(withNewCode ? { newTicket: r.to_code } : {}),
		state: r.state,
		createdAt: r.created_at,
		cancelledAt: r.cancelled_at,
		acceptedAt: r.accepted_at,
	};
}

export interface TransferRules {
	dropId: string;
	/** Transfers may be made and accepted (until the deadline, when there is one). */
	enabled: boolean;
	deadline: string | null;
	updatedAt: string | null;
}

type RulesRow = { drop_id: string; enabled: number; deadline: string | null; updated_at: string };

/** A drop's transfer rules; a drop whose promoter never set any allows transfers with no deadline. */
export async function transferRules(db: D1Database, dropId: string): Promise<TransferRules> {
	const row = await db.prepare(`SELECT * FROM drop_transfer_rules WHERE drop_id = ?`).bind(dropId).first<RulesRow>();
	return row === null
		? { dropId, enabled: true, deadline: null, updatedAt: null }
		: { dropId, enabled: row.enabled === 1, deadline: row.deadline, updatedAt: row.updated_at };
}

/** The rules after a change, written whole (one row per drop). */
export async function setTransferRules(db: D1Database, rules: TransferRules, now: string): Promise<TransferRules> {
	await db
		.prepare(
			`INSERT INTO drop_transfer_rules (drop_id, enabled, deadline, updated_at) VALUES (?1, ?2, ?3, ?4)
			 ON CONFLICT (drop_id) DO UPDATE SET enabled = ?2, deadline = ?3, updated_at = ?4`,
		)
		.bind(rules.dropId, rules.enabled ? 1 : 0, rules.deadline, now)
		.run();
	return { ...rules, updatedAt: now };
}

/** Whether the rules let a transfer be made or accepted at `nowMs`. */
export function transfersOpen(rules: TransferRules, nowMs: number): boolean {
	return rules.enabled && (rules.deadline === null || Date.parse(rules.deadline) > nowMs);
}

/** 409 transfers_off or transfer_deadline_passed when the promoter's rules refuse a transfer now. */
export function assertTransfersOpen(rules: TransferRules, nowMs: number): void {
	if (!rules.enabled) throw new ApiError(409, "transfers_off", "The promoter has switched ticket transfers off for this drop.");
	if (rules.deadline !== null && Date.parse(rules.deadline) <= nowMs) {
		throw new ApiError(409, "transfer_deadline_passed", `Tickets for this drop could be transferred until ${rules.deadline}.`, { deadline: rules.deadline });
	}
}

/** A new transfer id (`tr_` and 96 random bits) and a secret (256 random bits) for a link or a key. */
export const newTransferId = () => `tr_${base64url(crypto.getRandomValues(new Uint8Array(12)))}`;
export const newSecret = () => base64url(crypto.getRandomValues(new Uint8Array(32)));
export const hashOf = (secret: string) => sha256Hex(`transfer\n${secret}`);

export async function transferRow(db: D1Database, transferId: string): Promise<TransferRow | null> {
	return db.prepare(`SELECT * FROM ticket_transfers WHERE transfer_id = ?`).bind(transferId).first<TransferRow>();
}

/**
 * The transfer this secret opens (the accept link's, or the recipient's key with `holder`), or 404 not_found: a
 * wrong secret reads as an unknown transfer, so a guess learns nothing. The hashes are compared, never the secrets.
 */
export async function transferBySecret(db: D1Database, transferId: string, secret: string, holder = false): Promise<TransferRow> {
	const row = /^tr_[A-Za-z0-9_-]{16}$/.test(transferId) ? await transferRow(db, transferId) : null;
	const expected = row === null ? null : holder ? row.holder_hash : row.accept_hash;
	if (row === null || expected === null || expected !== (await hashOf(secret))) throw new ApiError(404, "not_found", "No such transfer.");
	return row;
}

/** An order's transfers, oldest first: the holder's and the promoter's records. */
export async function orderTransfers(db: D1Database, orderId: string): Promise<TransferRow[]> {
	const { results } = await db.prepare(`SELECT * FROM ticket_transfers WHERE order_id = ? ORDER BY created_at, transfer_id`).bind(orderId).all<TransferRow>();
	return results;
}

/** The accepted transfer that took this old code away from its holder, or null. */
export async function acceptedFrom(db: D1Database, dropId: string, code: string): Promise<TransferRow | null> {
	return db.prepare(`SELECT * FROM ticket_transfers WHERE drop_id = ? AND from_code = ? AND state = 'accepted'`).bind(dropId, code).first<TransferRow>();
}

/** A drop's transferred-away codes: the device list carries them, refused, so an offline device refuses them too. */
export async function transferredCodes(db: D1Database, dropId: string): Promise<{ code: string; orderId: string }[]> {
	const { results } = await db
		.prepare(`SELECT from_code, order_id FROM ticket_transfers WHERE drop_id = ? AND state = 'accepted' ORDER BY from_code`)
		.bind(dropId)
		.all<{ from_code: string; order_id: string }>();
	return results.map((r) => ({ code: r.from_code, orderId: r.order_id }));
}

/**
 * The audit's holder check: every ticket has exactly one valid holder. Counts the accepted transfers, and every
 * way that could be broken: an old code still a ticket (two holders), a new code that is no ticket or not marked
 * as this transfer's (none), a ticket marked by a transfer that is not accepted with its code, a code with two
 * open transfers.
 */
export async function holderAudit(db: D1Database, dropId: string): Promise<{ transferred: number; pending: number; broken: number }> {
	const row = await db
		.prepare(
			`SELECT
			   (SELECT COUNT(*) FROM ticket_transfers WHERE drop_id = ?1 AND state = 'accepted') AS transferred,
			   (SELECT COUNT(*) FROM ticket_transfers WHERE drop_id = ?1 AND state = 'pending') AS pending,
			   (SELECT COUNT(*) FROM ticket_transfers x WHERE x.drop_id = ?1 AND x.state = 'accepted' AND (
			      EXISTS (SELECT 1 FROM tickets t WHERE t.code = x.from_code)
			      OR NOT EXISTS (SELECT 1 FROM tickets t WHERE t.code = x.to_code AND t.transfer_id = x.transfer_id))) +
			   (SELECT COUNT(*) FROM tickets t WHERE t.drop_id = ?1 AND t.transfer_id IS NOT NULL AND NOT EXISTS (
			      SELECT 1 FROM ticket_transfers x WHERE x.transfer_id = t.transfer_id AND x.state = 'accepted' AND x.to_code = t.code)) +
			   (SELECT COUNT(*) FROM (SELECT from_code FROM ticket_transfers WHERE drop_id = ?1 AND state = 'pending' GROUP BY from_code HAVING COUNT(*) > 1)) AS broken`,
		)
		.bind(dropId)
		.first<{ transferred: number; pending: number; broken: number }>();
	return { transferred: row?.transferred ?? 0, pending: row?.pending ?? 0, broken: row?.broken ?? 0 };
}
