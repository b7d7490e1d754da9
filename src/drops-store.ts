// Drops in D1: the promoter's record of what is scheduled.
import type { DropConfig } from "./drops";
import { OPEN_DROPS_SQL } from "./tenants-store";

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
	promoter_id: string | null;
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
		promoterId: r.promoter_id,
	};
}

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
			 batch_size, interval_ms, active_multiple, hold_seconds, paused, created_at, updated_at, promoter_id)
			 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
			 WHERE ? = 0 OR (${OPEN_DROPS_SQL}) < ?`,
		)
		.bind(
			d.id, d.name, d.capacity, d.maxPerFan, d.opensAt, d.closesAt, d.priceCents, d.currency, d.shards, d.lines,
			d.admission.batchSize, d.admission.intervalMs, d.admission.activeMultiple, d.holdSeconds, d.paused ? 1 : 0,
			d.createdAt, d.updatedAt, d.promoterId,
			limited ? 1 : 0, d.promoterId, d.createdAt, openDrops ?? 0,
		);
}

export async function insertDrop(db: D1Database, d: DropConfig): Promise<void> {
	await insertDropStatement(db, d).run();
}

export async function updateDrop(db: D1Database, d: DropConfig): Promise<void> {
	await updateDropStatement(db, d).run();
}

export function updateDropStatement(db: D1Database, d: DropConfig): D1PreparedStatement {
	return db
		.prepare(
			`UPDATE drops SET name = ?, opens_at = ?, closes_at = ?, batch_size = ?, interval_ms = ?, active_multiple = ?,
			 hold_seconds = ?, paused = ?, lines = ?, updated_at = ? WHERE id = ?`,
		)
		.bind(
			d.name, d.opensAt, d.closesAt, d.admission.batchSize, d.admission.intervalMs, d.admission.activeMultiple,
			d.holdSeconds, d.paused ? 1 : 0, d.lines, d.updatedAt, d.id,
		);
}

export async function getDrop(db: D1Database, id: string): Promise<DropConfig | null> {
	const row = await db.prepare(`SELECT * FROM drops WHERE id = ?`).bind(id).first<DropRow>();
	return row === null ? null : fromRow(row);
}

/** Newest first; the cursor is the last drop's (created_at, id). `promoterId`: only that promoter's (undefined: every drop). */
export async function listDrops(
	db: D1Database,
	limit: number,
	cursor: { createdAt: string; id: string } | null,
	promoterId?: string,
): Promise<DropConfig[]> {
	const where = [promoterId === undefined ? null : `promoter_id = ?`, cursor ? `(created_at, id) < (?, ?)` : null].filter((w) => w !== null);
	const params = [...(promoterId === undefined ? [] : [promoterId]), ...(cursor ? [cursor.createdAt, cursor.id] : []), limit];
	const { results } = await db
		.prepare(`SELECT * FROM drops ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`)
		.bind(...params)
		.all<DropRow>();
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

/**
 * Whether a drop exists, and its promoter's join limit: one primary-key lookup, for the
 * Worker's check before it calls any object (src/known-drops.ts keeps the answer).
 */
export async function dropJoinFacts(db: D1Database, id: string): Promise<{ joinsPerMinute: number | null } | null> {
	return await db
		.prepare(`SELECT p.joins_per_minute AS joinsPerMinute FROM drops d LEFT JOIN promoters p ON p.id = d.promoter_id WHERE d.id = ?`)
		.bind(id)
		.first<{ joinsPerMinute: number | null }>();
}
