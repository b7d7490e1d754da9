// Drops in D1: the promoter's record of what is scheduled.
import type { DropConfig } from "./drops";

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
	};
}

export async function insertDrop(db: D1Database, d: DropConfig): Promise<void> {
	await db
		.prepare(
			`INSERT INTO drops (id, name, capacity, max_per_fan, opens_at, closes_at, price_cents, currency, shards, lines,
			 batch_size, interval_ms, active_multiple, hold_seconds, paused, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		)
		.bind(
			d.id, d.name, d.capacity, d.maxPerFan, d.opensAt, d.closesAt, d.priceCents, d.currency, d.shards, d.lines,
			d.admission.batchSize, d.admission.intervalMs, d.admission.activeMultiple, d.holdSeconds, d.paused ? 1 : 0,
			d.createdAt, d.updatedAt,
		)
		.run();
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
