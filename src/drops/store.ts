// Drops in D1: the promoter's record of what is scheduled.
import type { DropConfig } from "./rules";
import { type Seat, type SeatsByType, type TicketType, generalAdmissionOnly } from "./ticket-types";
import type { Presale } from "./presales";

type DropRow = {
	id: string;
	name: string;
	capacity: number;
	max_per_fan: number;
	opens_at: string;
	closes_at: string | null;
	price_cents: number;
	currency: string;
	shards: number;
	lines: number;
	batch_size: number;
	interval_ms: number;
	active_multiple: number;
	offer_seconds: number;
	hold_seconds: number;
	paused: number;
	created_at: string;
	updated_at: string;
	promoter_id: string | null;
	ticket_types: string | null;
	cancelled_at: string | null;
	time_zone: string;
	/** From drop_presales, joined: null for a drop without windows. */
	presales: string | null;
};

/** A drop's row with its windows, kept beside it so a drop without any is the row it always was. */
const DROP_SELECT = `SELECT d.*, w.presales AS presales FROM drops d LEFT JOIN drop_presales w ON w.drop_id = d.id`;

function fromRow(r: DropRow): DropConfig {
	return {
		id: r.id,
		name: r.name,
		capacity: r.capacity,
		maxPerFan: r.max_per_fan,
		opensAt: r.opens_at,
		closesAt: r.closes_at,
		priceCents: r.price_cents,
		currency: r.currency,
		shards: r.shards,
		lines: r.lines,
		admission: { batchSize: r.batch_size, intervalMs: r.interval_ms, activeMultiple: r.active_multiple, offerSeconds: r.offer_seconds },
		holdSeconds: r.hold_seconds,
		paused: r.paused === 1,
		cancelledAt: r.cancelled_at ?? null,
		createdAt: r.created_at,
		updatedAt: r.updated_at,
		promoterId: r.promoter_id,
		timeZone: r.time_zone,
		ticketTypes: r.ticket_types === null ? generalAdmissionOnly({ capacity: r.capacity, priceCents: r.price_cents, maxPerFan: r.max_per_fan }) : (JSON.parse(r.ticket_types) as TicketType[]),
		...(r.presales === null ? {} : { presales: JSON.parse(r.presales) as Presale[] }),
	};
}

/** Types kept in D1: a drop with only the general type it would have had without them keeps NULL (as before types). */
const typesColumn = (d: DropConfig): string | null =>
	JSON.stringify(d.ticketTypes) === JSON.stringify(generalAdmissionOnly(d)) ? null : JSON.stringify(d.ticketTypes);

/**
 * The drop's row, written only while its promoter has fewer than `openDrops` drops not
 * yet closed (null: no limit): the count and the insert are one statement, so two
 * creations at once cannot both take the last place. Run it and read `meta.changes`.
 */
export function insertDropStatement(db: D1Database, d: DropConfig, openDrops: number | null = null): D1PreparedStatement {
	const limited = d.promoterId !== null && openDrops !== null;
	return db
		.prepare(
			`INSERT INTO drops (id, name, capacity, max_per_fan, opens_at, closes_at, price_cents, currency, shards, lines,
			 batch_size, interval_ms, active_multiple, offer_seconds, hold_seconds, paused, created_at, updated_at, promoter_id, ticket_types, time_zone)
			 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
			 WHERE ? = 0 OR (${OPEN_DROPS_SQL}) < ?`,
		)
		.bind(
			d.id, d.name, d.capacity, d.maxPerFan, d.opensAt, d.closesAt, d.priceCents, d.currency, d.shards, d.lines,
			d.admission.batchSize, d.admission.intervalMs, d.admission.activeMultiple, d.admission.offerSeconds, d.holdSeconds, d.paused ? 1 : 0,
			d.createdAt, d.updatedAt, d.promoterId, typesColumn(d), d.timeZone,
			limited ? 1 : 0, d.promoterId, d.createdAt, openDrops ?? 0,
		);
}

/** A new drop's windows, to batch after its row: written only if the row was (the promoter's limit may refuse it). */
export const newDropPresaleStatements = (db: D1Database, d: DropConfig): D1PreparedStatement[] =>
	d.presales === undefined
		? []
		: [db.prepare(`INSERT INTO drop_presales (drop_id, presales) SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM drops WHERE id = ?1)`).bind(d.id, JSON.stringify(d.presales))];

export async function insertDrop(db: D1Database, d: DropConfig): Promise<void> {
	await db.batch([insertDropStatement(db, d), ...newDropPresaleStatements(db, d)]);
}

/** Seats per statement: one JSON parameter each, well inside D1's limits on statement and value size. */
const SEATS_PER_STATEMENT = 2_000;

/**
 * The statements that store a seated type's seats (replacing any it had): one D1 batch,
 * atomic, so a type's seats are all there or none are. A seat id already used in the drop
 * breaks the primary key and fails the batch. Seats are written only for a drop D1 has
 * (a drop refused by its promoter's limit in the same batch leaves none behind).
 */
export function seatStatements(db: D1Database, dropId: string, typeId: string, seats: Seat[]): D1PreparedStatement[] {
	const out = [db.prepare(`DELETE FROM seats WHERE drop_id = ? AND ticket_type = ?`).bind(dropId, typeId)];
	for (let i = 0; i < seats.length; i += SEATS_PER_STATEMENT) {
		const part = seats.slice(i, i + SEATS_PER_STATEMENT).map((s) => [s.id, s.section, s.row, s.number]);
		out.push(
			db
				.prepare(
					`INSERT INTO seats (drop_id, seat_id, ticket_type, section, row_name, number)
					 SELECT ?1, json_extract(value, '$[0]'), ?2, json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]')
					 FROM json_each(?3) WHERE EXISTS (SELECT 1 FROM drops WHERE id = ?1)`,
				)
				.bind(dropId, typeId, JSON.stringify(part)),
		);
	}
	return out;
}

/** The seats of a new drop's seated types, to batch after its row. */
export const newDropSeatStatements = (db: D1Database, d: DropConfig, seats: SeatsByType): D1PreparedStatement[] =>
	[...seats].flatMap(([typeId, list]) => seatStatements(db, d.id, typeId, list).slice(1));

/** A seated type's seats replaced (before the opening): the seats, the drop's capacity and types, in one batch. */
export async function replaceSeatsInD1(db: D1Database, d: DropConfig, typeId: string, seats: Seat[]): Promise<void> {
	await db.batch([
		...seatStatements(db, d.id, typeId, seats),
		db.prepare(`UPDATE drops SET capacity = ?, ticket_types = ?, updated_at = ? WHERE id = ?`).bind(d.capacity, typesColumn(d), d.updatedAt, d.id),
	]);
}

/** The sections of these seats of a drop: one read of the seat directory, for a hold that names seats without their section. */
export async function sectionsOfSeats(db: D1Database, dropId: string, seatIds: string[]): Promise<Map<string, { typeId: string; section: string }>> {
	const { results } = await db
		.prepare(`SELECT seat_id, ticket_type, section FROM seats WHERE drop_id = ? AND seat_id IN (SELECT value FROM json_each(?))`)
		.bind(dropId, JSON.stringify(seatIds))
		.all<{ seat_id: string; ticket_type: string; section: string }>();
	return new Map(results.map((r) => [r.seat_id, { typeId: r.ticket_type, section: r.section }]));
}

export async function updateDrop(db: D1Database, d: DropConfig): Promise<void> {
	await updateDropStatement(db, d).run();
}

/**
 * A cancel, once written, stays: a write from a copy of the drop read before the cancel
 * keeps it (the objects refuse such a change first, see src/drops/lifecycle.ts).
 * With `openDrops` (a closed drop opened again), written only while the promoter's other open drops are fewer: the count and the write are one statement. */
export function updateDropStatement(db: D1Database, d: DropConfig, openDrops: number | null = null): D1PreparedStatement {
	const limited = d.promoterId !== null && openDrops !== null;
	return db
		.prepare(
			`UPDATE drops SET name = ?, opens_at = ?, closes_at = ?, batch_size = ?, interval_ms = ?, active_multiple = ?,
			 offer_seconds = ?, hold_seconds = ?, paused = ?, lines = ?, time_zone = ?, updated_at = ?, cancelled_at = COALESCE(cancelled_at, ?) WHERE id = ?
			 AND (? = 0 OR (${OPEN_DROPS_SQL} AND id <> ?) < ?)`,
		)
		.bind(
			d.name, d.opensAt, d.closesAt, d.admission.batchSize, d.admission.intervalMs, d.admission.activeMultiple,
			d.admission.offerSeconds, d.holdSeconds, d.paused ? 1 : 0, d.lines, d.timeZone, d.updatedAt, d.cancelledAt, d.id,
			limited ? 1 : 0, d.promoterId, d.updatedAt, d.id, openDrops ?? 0,
		);
}

export async function getDrop(db: D1Database, id: string): Promise<DropConfig | null> {
	const row = await db.prepare(`${DROP_SELECT} WHERE d.id = ?`).bind(id).first<DropRow>();
	return row === null ? null : fromRow(row);
}

/** Newest first; the cursor is the last drop's (created_at, id). `promoterId`: only that promoter's (undefined: every drop). */
export async function listDrops(
	db: D1Database,
	limit: number,
	cursor: { createdAt: string; id: string } | null,
	promoterId?: string,
): Promise<DropConfig[]> {
	const where = [promoterId === undefined ? null : `d.promoter_id = ?`, cursor ? `(d.created_at, d.id) < (?, ?)` : null].filter((w) => w !== null);
	const params = [...(promoterId === undefined ? [] : [promoterId]), ...(cursor ? [cursor.createdAt, cursor.id] : []), limit];
	const { results } = await db
		.prepare(`${DROP_SELECT} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY d.created_at DESC, d.id DESC LIMIT ?`)
		.bind(...params)
		.all<DropRow>();
	return results.map(fromRow);
}

/** Drops opened in [since, until], the latest opening first. */
export async function recentlyOpenedDrops(db: D1Database, since: string, until: string, limit: number): Promise<DropConfig[]> {
	const { results } = await db
		.prepare(`${DROP_SELECT} WHERE d.opens_at >= ? AND d.opens_at <= ? ORDER BY d.opens_at DESC, d.id LIMIT ?`)
		.bind(since, until, limit)
		.all<DropRow>();
	return results.map(fromRow);
}

/**
 * Whether a drop exists, its promoter's join limit and its sale windows (fixed once the
 * drop is made): one primary-key lookup, for the Worker's check before it calls any
 * object (src/drops/known-drops.ts keeps the answer).
 */
export async function dropJoinFacts(db: D1Database, id: string): Promise<{ joinsPerMinute: number | null; presales?: Presale[] } | null> {
	const row = await db
		.prepare(`SELECT p.joins_per_minute AS joinsPerMinute, w.presales AS presales FROM drops d LEFT JOIN promoters p ON p.id = d.promoter_id
			 LEFT JOIN drop_presales w ON w.drop_id = d.id WHERE d.id = ?`)
		.bind(id)
		.first<{ joinsPerMinute: number | null; presales: string | null }>();
	if (row === null) return null;
	return { joinsPerMinute: row.joinsPerMinute, ...(row.presales === null ? {} : { presales: JSON.parse(row.presales) as Presale[] }) };
}

/** Drops of a promoter not closed at `nowIso`: what the open-drops limit counts. */
export const OPEN_DROPS_SQL = `SELECT COUNT(*) AS n FROM drops WHERE promoter_id = ? AND (closes_at IS NULL OR closes_at > ?)`;
