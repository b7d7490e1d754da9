// Promoters, their API keys and the activity log in D1.
import type { Role } from "./api-keys";
import { OPEN_DROPS_SQL } from "../drops/store";

export interface PromoterLimits {
	/** Joins a minute one of the promoter's drops takes, all fans together; null: none beyond the deployment's. */
	joinsPerMinute: number | null;
	/** Admin API requests a minute, all the promoter's keys together; null: none. */
	adminRequestsPerMinute: number | null;
	/** Drops not yet closed at once; null: any number. */
	openDrops: number | null;
}

export interface Promoter {
	id: string;
	name: string;
	limits: PromoterLimits;
	createdAt: string;
	updatedAt: string;
}

export interface ApiKeyInfo {
	id: string;
	promoterId: string;
	label: string;
	role: Role;
	createdAt: string;
	revokedAt: string | null;
}

/** What authorizing a request needs of a key: one read by its id. */
export interface KeyForAuth extends ApiKeyInfo {
	keyHash: string;
	adminRequestsPerMinute: number | null;
}

/** An entry of the log as read back: what was recorded, and its place in the log. */
export interface ActivityEntry extends NewActivity {
	seq: number;
}

type PromoterRow = {
	id: string;
	name: string;
	joins_per_minute: number | null;
	admin_per_minute: number | null;
	open_drops: number | null;
	created_at: string;
	updated_at: string;
};

const promoterOf = (r: PromoterRow): Promoter => ({
	id: r.id,
	name: r.name,
	limits: { joinsPerMinute: r.joins_per_minute, adminRequestsPerMinute: r.admin_per_minute, openDrops: r.open_drops },
	createdAt: r.created_at,
	updatedAt: r.updated_at,
});

export function insertPromoterStatement(db: D1Database, p: Promoter): D1PreparedStatement {
	return db
		.prepare(`INSERT INTO promoters (id, name, joins_per_minute, admin_per_minute, open_drops, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		.bind(p.id, p.name, p.limits.joinsPerMinute, p.limits.adminRequestsPerMinute, p.limits.openDrops, p.createdAt, p.updatedAt);
}

export function updatePromoterStatement(db: D1Database, p: Promoter): D1PreparedStatement {
	return db
		.prepare(`UPDATE promoters SET name = ?, joins_per_minute = ?, admin_per_minute = ?, open_drops = ?, updated_at = ? WHERE id = ?`)
		.bind(p.name, p.limits.joinsPerMinute, p.limits.adminRequestsPerMinute, p.limits.openDrops, p.updatedAt, p.id);
}

export async function getPromoter(db: D1Database, id: string): Promise<Promoter | null> {
	const row = await db.prepare(`SELECT * FROM promoters WHERE id = ?`).bind(id).first<PromoterRow>();
	return row === null ? null : promoterOf(row);
}

/** Newest first; the cursor is the last one's (created_at, id). */
export async function listPromoters(db: D1Database, limit: number, after: { createdAt: string; id: string } | null): Promise<Promoter[]> {
	const stmt = after
		? db.prepare(`SELECT * FROM promoters WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`).bind(after.createdAt, after.id, limit)
		: db.prepare(`SELECT * FROM promoters ORDER BY created_at DESC, id DESC LIMIT ?`).bind(limit);
	return (await stmt.all<PromoterRow>()).results.map(promoterOf);
}

type KeyRow = { id: string; promoter_id: string; label: string; role: Role; created_at: string; revoked_at: string | null };

const keyOf = (r: KeyRow): ApiKeyInfo => ({
	id: r.id,
	promoterId: r.promoter_id,
	label: r.label,
	role: r.role,
	createdAt: r.created_at,
	revokedAt: r.revoked_at,
});

export function insertKeyStatement(db: D1Database, key: ApiKeyInfo, hash: string): D1PreparedStatement {
	return db
		.prepare(`INSERT INTO api_keys (id, promoter_id, label, role, key_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)`)
		.bind(key.id, key.promoterId, key.label, key.role, hash, key.createdAt);
}

/** The key and its promoter's admin limit, read fresh on every request: a revocation counts from the next one. */
export async function keyForAuth(db: D1Database, keyId: string): Promise<KeyForAuth | null> {
	const row = await db
		.prepare(`SELECT k.*, p.admin_per_minute FROM api_keys k JOIN promoters p ON p.id = k.promoter_id WHERE k.id = ?`)
		.bind(keyId)
		.first<KeyRow & { key_hash: string; admin_per_minute: number | null }>();
	return row === null ? null : { ...keyOf(row), keyHash: row.key_hash, adminRequestsPerMinute: row.admin_per_minute };
}

export async function getKey(db: D1Database, keyId: string): Promise<ApiKeyInfo | null> {
	const row = await db.prepare(`SELECT id, promoter_id, label, role, created_at, revoked_at FROM api_keys WHERE id = ?`).bind(keyId).first<KeyRow>();
	return row === null ? null : keyOf(row);
}

/** A promoter's keys, oldest first (a promoter has a handful; bounded all the same). */
export async function listKeys(db: D1Database, promoterId: string, limit = 500): Promise<ApiKeyInfo[]> {
	const { results } = await db
		.prepare(`SELECT id, promoter_id, label, role, created_at, revoked_at FROM api_keys WHERE promoter_id = ? ORDER BY created_at, id LIMIT ?`)
		.bind(promoterId, limit)
		.all<KeyRow>();
	return results.map(keyOf);
}

export function revokeKeyStatement(db: D1Database, keyId: string, at: string): D1PreparedStatement {
	return db.prepare(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`).bind(at, keyId);
}

export async function openDropCount(db: D1Database, promoterId: string, nowIso: string): Promise<number> {
	return (await db.prepare(OPEN_DROPS_SQL).bind(promoterId, nowIso).first<number>("n")) ?? 0;
}

type ActivityRow = {
	seq: number;
	promoter_id: string | null;
	actor: "operator" | "key" | "fan" | "engine";
	key_id: string | null;
	key_label: string | null;
	action: string;
	drop_id: string | null;
	detail: string;
	at: string;
};

export interface NewActivity {
	promoterId: string | null;
	actor: "operator" | "key" | "fan" | "engine";
	keyId: string | null;
	keyLabel: string | null;
	action: string;
	dropId: string | null;
	detail: Record<string, unknown>;
	at: string;
}

/** With `onlyIfDropExists`, written only when its drop is in D1 (batched after a drop's insert that a limit may refuse). */
export function insertActivityStatement(db: D1Database, a: NewActivity, onlyIfDropExists = false): D1PreparedStatement {
	return db
		.prepare(
			`INSERT INTO activity (promoter_id, actor, key_id, key_label, action, drop_id, detail, at) SELECT ?, ?, ?, ?, ?, ?, ?, ?` +
				(onlyIfDropExists ? ` WHERE EXISTS (SELECT 1 FROM drops WHERE id = ?6)` : ""),
		)
		.bind(a.promoterId, a.actor, a.keyId, a.keyLabel, a.action, a.dropId, JSON.stringify(a.detail), a.at);
}

/**
 * An entry written only when `guard` (SQL over parameters ?9 and on, bound from `binds`) holds when the batch runs:
 * batched after an act that may find nothing to do, so the log names only acts that happened.
 */
export function guardedActivityStatement(db: D1Database, a: NewActivity, guard: string, ...binds: (string | number)[]): D1PreparedStatement {
	return db
		.prepare(`INSERT INTO activity (promoter_id, actor, key_id, key_label, action, drop_id, detail, at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE ${guard}`)
		.bind(a.promoterId, a.actor, a.keyId, a.keyLabel, a.action, a.dropId, JSON.stringify(a.detail), a.at, ...binds);
}

/** Newest first, after the entry numbered `before`; one promoter's, or every entry (null, the operator's view). */
export async function activityPage(db: D1Database, promoterId: string | null, limit: number, before: number | null): Promise<ActivityEntry[]> {
	const where = [promoterId === null ? null : `promoter_id = ?`, before === null ? null : `seq < ?`].filter((w) => w !== null);
	const params = [...(promoterId === null ? [] : [promoterId]), ...(before === null ? [] : [before]), limit];
	const { results } = await db
		.prepare(`SELECT * FROM activity ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`)
		.bind(...params)
		.all<ActivityRow>();
	return results.map((r) => ({
		seq: r.seq,
		promoterId: r.promoter_id,
		actor: r.actor,
		keyId: r.key_id,
		keyLabel: r.key_label,
		action: r.action,
		dropId: r.drop_id,
		detail: JSON.parse(r.detail) as Record<string, unknown>,
		at: r.at,
	}));
}
