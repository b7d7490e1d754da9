// The addresses fans in a drop's line leave to be told by email when a returned
// ticket's turn comes to them: one per place in the line (a repeat replaces the
// address), read back a batch of offered positions at a time by the pacer's write
// after its tick, and marked sent once their mails went. The mail itself is the
// after-sale path's (turn-mail.ts): the pacer is handed it as a TurnTeller.
import type { Locale } from "../contract/requests";

export interface TurnNotice {
	position: number;
	fanId: string;
	email: string;
	locale: Locale;
	page: string;
}

/** A batch offered returned tickets, as the pacer's log entry says it. */
export interface TurnOffer {
	dropId: string;
	dropName: string;
	from: number;
	through: number;
	/** When the batch went in (ms). */
	at: number;
	offerSeconds: number;
}

/**
 * What the pacer's log sender is handed to tell a batch's fans their turn has come: sends at most `limit` of the
 * offer's notices not sent yet, marks what went, and answers how many went and whether any are left unsent.
 */
export type TurnTeller = (offer: TurnOffer, limit: number) => Promise<{ sent: number; more: boolean }>;

/** Stores (or replaces) the address of the fan at `position`: one row per place, whatever is repeated. */
export async function saveNotice(db: D1Database, dropId: string, notice: TurnNotice, now: number): Promise<void> {
	await db
		.prepare(
			`INSERT INTO turn_notices (drop_id, position, fan_id, email, locale, page, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
			 ON CONFLICT (drop_id, position) DO UPDATE SET fan_id = excluded.fan_id, email = excluded.email, locale = excluded.locale, page = excluded.page, created_at = excluded.created_at`,
		)
		.bind(dropId, notice.position, notice.fanId, notice.email, notice.locale, notice.page, new Date(now).toISOString())
		.run();
}

/** The offer's notices not sent yet, in line order, at most `limit` (the primary key's range). */
export async function unsentNotices(db: D1Database, offer: Pick<TurnOffer, "dropId" | "from" | "through">, limit: number): Promise<TurnNotice[]> {
	const { results } = await db
		.prepare(
			`SELECT position, fan_id AS fanId, email, locale, page FROM turn_notices
			 WHERE drop_id = ? AND position BETWEEN ? AND ? AND sent_at IS NULL ORDER BY position LIMIT ?`,
		)
		.bind(offer.dropId, offer.from, offer.through, limit)
		.all<TurnNotice>();
	return results;
}

/** These places were told. */
export async function markNoticesSent(db: D1Database, dropId: string, positions: number[], now: number): Promise<void> {
	if (positions.length === 0) return;
	// At most 50 positions a call (D1 binds 100 parameters a statement).
	for (let i = 0; i < positions.length; i += 50) {
		const part = positions.slice(i, i + 50);
		await db
			.prepare(`UPDATE turn_notices SET sent_at = ? WHERE drop_id = ? AND position IN (${part.map(() => "?").join(", ")})`)
			.bind(new Date(now).toISOString(), dropId, ...part)
			.run();
	}
}
