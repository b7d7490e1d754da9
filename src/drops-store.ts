// Drops in D1: the promoter's record of what is scheduled.
import { type DropConfig } from "./drops";
import { type Seat, type SeatsByType, type TicketType, legacyTypes } from "./ticket-types";

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
	hold_seconds: number;
	paused: number;
	created_at: string;
	updated_at: string;
	ticket_types: string | null;
};

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
		admission: { batchSize: r.batch_size, intervalMs: r.interval_ms, activeMultiple: r.active_multiple },
		holdSeconds: r.hold_seconds,
		paused: r.paused === 1,
		createdAt: r.created_at,
		updatedAt: r.updated_at,
		ticketTypes: r.ticket_types === null ? legacyTypes({ capacity: r.capacity, priceCents: r.price_cents, maxPerFan: r.max_per_fan }) : (JSON.parse(r.ticket_types) as TicketType[]),
	};
}

/** Types kept in D1: a drop with only the general type it would have had without them keeps NULL (as before types). */
const typesColumn = (d: DropConfig): string | null =>
	JSON.stringify(d.ticketTypes) === JSON.stringify(legacyTypes(d)) ? null : JSON.stringify(d.ticketTypes);

export async function insertDrop(db: D1Database, d: DropConfig): Promise<void> {
	await db
		.prepare(
			`INSERT INTO drops (id, name, capacity, max_per_fan, opens_at, closes_at, price_cents, currency, shards, lines,
			 batch_size, interval_ms, active_multiple, hold_seconds, paused, created_at, updated_at, ticket_types)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		)
		.bind(
			d.id, d.name, d.capacity, d.maxPerFan, d.opensAt, d.closesAt, d.priceCents, d.currency, d.shards, d.lines,
			d.admission.batchSize, d.admission.intervalMs, d.admission.activeMultiple, d.holdSeconds, d.paused ? 1 : 0,
			d.createdAt, d.updatedAt, typesColumn(d),
		)
		.run();
}

/** Seats per statement: one JSON parameter each, well inside D1's limits on statement and value size. */
const SEATS_PER_STATEMENT = 2_000;

/**
 * The statements that store a seated type's seats (replacing any it had): one D1 batch,
 * atomic, so a type's seats are all there or none are. A seat id already used in the drop
 * breaks the primary key and fails the batch.
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
					 FROM json_each(?3)`,
				)
				.bind(dropId, typeId, JSON.stringify(part)),
		);
	}
	return out;
}

/** A drop and its seats, stored in one D1 batch. */
export async function insertDropWithSeats(db: D1Database, d: DropConfig, seats: SeatsByType): Promise<void> {
	if (seats.size === 0) return insertDrop(db, d);
	const insert = db
		.prepare(
			`INSERT INTO drops (id, name, capacity, max_per_fan, opens_at, closes_at, price_cents, currency, shards, lines,
			 batch_size, interval_ms, active_multiple, hold_seconds, paused, created_at, updated_at, ticket_types)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		)
		.bind(
			d.id, d.name, d.capacity, d.maxPerFan, d.opensAt, d.closesAt, d.priceCents, d.currency, d.shards, d.lines,
			d.admission.batchSize, d.admission.intervalMs, d.admission.activeMultiple, d.holdSeconds, d.paused ? 1 : 0,
			d.createdAt, d.updatedAt, typesColumn(d),
		);
	await db.batch([insert, ...[...seats].flatMap(([typeId, list]) => seatStatements(db, d.id, typeId, list).slice(1))]);
}

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
	await db
		.prepare(
			`UPDATE drops SET name = ?, opens_at = ?, closes_at = ?, batch_size = ?, interval_ms = ?, active_multiple = ?,
			 hold_seconds = ?, paused = ?, lines = ?, updated_at = ? WHERE id = ?`,
		)
		.bind(
			d.name, d.opensAt, d.closesAt, d.admission.batchSize, d.admission.intervalMs, d.admission.activeMultiple,
			d.holdSeconds, d.paused ? 1 : 0, d.lines, d.updatedAt, d.id,
		)
		.run();
}

export async function getDrop(db: D1Database, id: string): Promise<DropConfig | null> {
	const row = await db.prepare(`SELECT * FROM drops WHERE id = ?`).bind(id).first<DropRow>();
	return row === null ? null : fromRow(row);
}

/** Newest first; the cursor is the last drop's (created_at, id). */
export async function listDrops(db: D1Database, limit: number, cursor: { createdAt: string; id: string } | null): Promise<DropConfig[]> {
	const stmt = cursor
		? db
				.prepare(`SELECT * FROM drops WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`)
				.bind(cursor.createdAt, cursor.id, limit)
		: db.prepare(`SELECT * FROM drops ORDER BY created_at DESC, id DESC LIMIT ?`).bind(limit);
	const { results } = await stmt.all<DropRow>();
	return results.map(fromRow);
}

/** Drops opened in [since, until], the latest opening first. */
export async function recentlyOpenedDrops(db: D1Database, since: string, until: string, limit: number): Promise<DropConfig[]> {
	const { results } = await db
		.prepare(`SELECT * FROM drops WHERE opens_at >= ? AND opens_at <= ? ORDER BY opens_at DESC, id LIMIT ?`)
		.bind(since, until, limit)
		.all<DropRow>();
	return results.map(fromRow);
}

/** Whether a drop exists: one primary-key lookup, for the Worker's check before it calls any object. */
export async function dropExists(db: D1Database, id: string): Promise<boolean> {
	return (await db.prepare(`SELECT 1 AS found FROM drops WHERE id = ?`).bind(id).first<{ found: number }>()) !== null;
}
