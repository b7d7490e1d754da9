// Who may join a sale window: codes and listed fans, kept in D1 only as
// HMAC-SHA256 under a key of the drop's own (a leaked table gives no code away,
// and one drop's hashes say nothing of another's). A unique code is bound to the
// first fan that uses it, a shared code admits up to its cap of fans, a listed fan
// is one the promoter uploaded; every claim is one conditional statement, so D1's
// single writer decides races (two fans on one unique code, the last slot of a
// shared one) and a revoke counts from the moment it is written.
import type { Presale } from "../drops/presales";
import { base64url } from "../shared/crypto";
import { BoundedMap } from "../shared/bounded-map";
import { type Outcome, fail, ok } from "../shared/outcome";

export type CodeGroupKind = "unique" | "shared" | "list";

export interface CodeGroup {
	id: string;
	dropId: string;
	windowId: string;
	kind: CodeGroupKind;
	name: string;
	/** Codes in the group (shared: 1), or fans on the list. */
	size: number;
	/** Shared: the most fans its code admits; null otherwise. */
	cap: number | null;
	/** Who made the codes: the promoter, or the engine (a registered window's draw). */
	issuedBy: "promoter" | "engine";
	createdAt: string;
	revokedAt: string | null;
}

/** Most codes or listed fans in one group: the create answer carries every code once. */
export const MAX_GROUP_SIZE = 10_000;
/** Groups a drop may have. */
export const MAX_GROUPS = 200;

/** Crockford's base32: no I, L, O or U, so a code read aloud or typed is not misread. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A new code: 20 symbols of 5 random bits (100 bits; guessing one among a million live codes takes about 2^80 tries), in four groups of five. */
export function newAccessCode(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(20));
	const symbols = Array.from(bytes, (b) => ALPHABET[b & 31]).join("");
	return symbols.match(/.{5}/g)!.join("-");
}

/** A code as typed: case, spaces and dashes do not matter; the letters a reader confuses are read as the digits they look like. */
export const normalizeCode = (code: string) =>
	code
		.toUpperCase()
		.replace(/[\s-]/g, "")
		.replace(/O/g, "0")
		.replace(/[IL]/g, "1");

const keys = new BoundedMap<string, CryptoKey>(1_000);

async function importKey(raw: string): Promise<CryptoKey> {
	const bytes = Uint8Array.from(atob(raw.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (raw.length % 4)) % 4)), (c) => c.charCodeAt(0));
	return crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/**
 * The drop's code key: made with the first group (`create`), read once per isolate after
 * that (it never changes). Null when the drop has none yet, so no code can be right.
 */
export async function dropCodeKey(db: D1Database, dropId: string, create: boolean): Promise<CryptoKey | null> {
	const known = keys.get(dropId);
	if (known !== undefined) return known;
	if (create) {
		await db.prepare(`INSERT INTO drop_code_keys (drop_id, code_key) VALUES (?, ?) ON CONFLICT DO NOTHING`).bind(dropId, base64url(crypto.getRandomValues(new Uint8Array(32)))).run();
	}
	const row = await db.prepare(`SELECT code_key FROM drop_code_keys WHERE drop_id = ?`).bind(dropId).first<{ code_key: string }>();
	if (row === null) return null;
	const key = await importKey(row.code_key);
	keys.set(dropId, key);
	return key;
}

/** What is stored of a code (`code`, normalized) or of a listed fan id (`fan`): the two never collide. */
export async function accessHash(key: CryptoKey, kind: "code" | "fan", value: string): Promise<string> {
	const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${kind}\n${kind === "code" ? normalizeCode(value) : value}`));
	return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hashes per statement: one JSON parameter each, well inside D1's limits on a value's size. */
const HASHES_PER_STATEMENT = 2_000;

/**
 * The statements that make a group and its codes, to run as one D1 batch (all or nothing).
 * The group is written only while the drop has fewer than MAX_GROUPS groups.
 */
export function insertGroupStatements(db: D1Database, group: CodeGroup, hashes: string[]): D1PreparedStatement[] {
	const out = [
		db
			.prepare(
				`INSERT INTO code_groups (id, drop_id, window_id, kind, name, size, cap, issued_by, created_at, revoked_at)
				 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL WHERE (SELECT COUNT(*) FROM code_groups WHERE drop_id = ?2) < ?10`,
			)
			.bind(group.id, group.dropId, group.windowId, group.kind, group.name, group.size, group.cap, group.issuedBy, group.createdAt, MAX_GROUPS),
	];
	for (let i = 0; i < hashes.length; i += HASHES_PER_STATEMENT) {
		out.push(
			db
				.prepare(
					`INSERT INTO access_codes (drop_id, hash, group_id) SELECT ?1, value, ?2 FROM json_each(?3)
					 WHERE EXISTS (SELECT 1 FROM code_groups WHERE id = ?2) ON CONFLICT DO NOTHING`,
				)
				.bind(group.dropId, group.id, JSON.stringify(hashes.slice(i, i + HASHES_PER_STATEMENT))),
		);
	}
	return out;
}

type GroupRow = { id: string; drop_id: string; window_id: string; kind: CodeGroupKind; name: string; size: number; cap: number | null; issued_by: "promoter" | "engine"; created_at: string; revoked_at: string | null; used: number };

const groupOf = (r: GroupRow): CodeGroup & { used: number } => ({
	id: r.id,
	dropId: r.drop_id,
	windowId: r.window_id,
	kind: r.kind,
	name: r.name,
	size: r.size,
	cap: r.cap,
	issuedBy: r.issued_by,
	createdAt: r.created_at,
	revokedAt: r.revoked_at,
	used: r.used,
});

/** How many fans a group let in: a shared code's fans, a unique code's first users, the listed fans who joined. */
const USED_SQL = `CASE g.kind WHEN 'shared' THEN (SELECT COUNT(*) FROM code_uses u WHERE u.group_id = g.id)
	ELSE (SELECT COUNT(*) FROM access_codes c WHERE c.group_id = g.id AND c.used_at IS NOT NULL) END AS used`;

/** A drop's groups, oldest first, each with how many fans it let in. */
export async function listGroups(db: D1Database, dropId: string): Promise<(CodeGroup & { used: number })[]> {
	const { results } = await db.prepare(`SELECT g.*, ${USED_SQL} FROM code_groups g WHERE g.drop_id = ? ORDER BY g.created_at, g.id`).bind(dropId).all<GroupRow>();
	return results.map(groupOf);
}

export async function getGroup(db: D1Database, dropId: string, groupId: string): Promise<(CodeGroup & { used: number }) | null> {
	const row = await db.prepare(`SELECT g.*, ${USED_SQL} FROM code_groups g WHERE g.drop_id = ? AND g.id = ?`).bind(dropId, groupId).first<GroupRow>();
	return row === null ? null : groupOf(row);
}

/** Revokes a group once: its codes are refused from the moment this is written. Read `meta.changes`. */
export const revokeGroupStatement = (db: D1Database, dropId: string, groupId: string, at: string) =>
	db.prepare(`UPDATE code_groups SET revoked_at = ? WHERE drop_id = ? AND id = ? AND revoked_at IS NULL`).bind(at, dropId, groupId);

/** Why a join was refused a window; `code_invalid` is the one a guesser gets, and costs them. */
export type AccessRefusal = "code_required" | "code_invalid" | "code_revoked" | "code_used" | "code_exhausted";

const REFUSALS: Record<AccessRefusal, [number, string]> = {
	code_required: [403, "This sale window is open only to fans with a code or on its list."],
	code_invalid: [403, "This code does not open this sale window."],
	code_revoked: [403, "This code has been withdrawn by the promoter."],
	code_used: [409, "This code has already been used by another fan."],
	code_exhausted: [409, "This code has been used by as many fans as it admits."],
};

export const refuseAccess = (code: AccessRefusal): Outcome<never> => fail(REFUSALS[code][0], code, REFUSALS[code][1]);

type Match = { group_id: string; kind: CodeGroupKind; cap: number | null; revoked_at: string | null; fan_id: string | null };

/** The rows of this hash in the window's groups, live groups first. */
async function matches(db: D1Database, dropId: string, windowId: string, hash: string): Promise<Match[]> {
	const { results } = await db
		.prepare(
			`SELECT c.group_id, g.kind, g.cap, g.revoked_at, c.fan_id FROM access_codes c JOIN code_groups g ON g.id = c.group_id
			 WHERE c.drop_id = ? AND c.hash = ? AND g.window_id = ? ORDER BY g.revoked_at IS NOT NULL, g.created_at`,
		)
		.bind(dropId, hash, windowId)
		.all<Match>();
	return results;
}

/**
 * Lets `fanId` into the window, or says why not. The same fan asking again is let in
 * again (a lost answer, a second tab). A unique code is bound by one guarded UPDATE, a
 * shared code's place taken by one INSERT that counts the places taken: neither can
 * admit past its rule however many fans race for it, and neither writes on a refusal.
 */
export async function claimAccess(
	db: D1Database,
	args: { dropId: string; window: Presale; fanId: string; code: string | undefined; now: number },
): Promise<Outcome<{ groupId: string }>> {
	const { dropId, window, fanId, now } = args;
	const at = new Date(now).toISOString();
	const key = await dropCodeKey(db, dropId, false);
	if (window.access === "list") {
		const fanHash = key === null ? null : await accessHash(key, "fan", fanId);
		const found = fanHash === null ? [] : (await matches(db, dropId, window.id, fanHash)).filter((m) => m.kind === "list");
		const live = found.find((m) => m.revoked_at === null);
		if (live === undefined) return refuseAccess("code_required");
		// The first join marks the listed fan as used, for the promoter's count; later ones change nothing.
		await db.prepare(`UPDATE access_codes SET used_at = ? WHERE drop_id = ? AND hash = ? AND group_id = ? AND used_at IS NULL`).bind(at, dropId, fanHash, live.group_id).run();
		return ok({ groupId: live.group_id });
	}
	if (args.code === undefined) return refuseAccess("code_required");
	if (key === null) return refuseAccess("code_invalid");
	const hash = await accessHash(key, "code", args.code);
	const found = (await matches(db, dropId, window.id, hash)).filter((m) => m.kind !== "list");
	if (found.length === 0) return refuseAccess("code_invalid");
	const m = found[0]!;
	if (m.revoked_at !== null) return refuseAccess("code_revoked");
	const notRevoked = `(SELECT revoked_at FROM code_groups WHERE id = ?) IS NULL`;
	if (m.kind === "unique") {
		const bound = await db
			.prepare(`UPDATE access_codes SET fan_id = ?, used_at = ? WHERE drop_id = ? AND hash = ? AND group_id = ? AND fan_id IS NULL AND ${notRevoked}`)
			.bind(fanId, at, dropId, hash, m.group_id, m.group_id)
			.run();
		if (bound.meta.changes === 1) return ok({ groupId: m.group_id });
		const row = await db.prepare(`SELECT c.fan_id, g.revoked_at FROM access_codes c JOIN code_groups g ON g.id = c.group_id WHERE c.drop_id = ? AND c.hash = ? AND c.group_id = ?`)
			.bind(dropId, hash, m.group_id)
			.first<{ fan_id: string | null; revoked_at: string | null }>();
		if (row?.revoked_at != null) return refuseAccess("code_revoked");
		return row?.fan_id === fanId ? ok({ groupId: m.group_id }) : refuseAccess("code_used");
	}
	const taken = await db
		.prepare(
			`INSERT INTO code_uses (group_id, fan_id, used_at) SELECT ?1, ?2, ?3
			 WHERE ${notRevoked.replace("?", "?1")} AND (SELECT COUNT(*) FROM code_uses WHERE group_id = ?1) < ?4
			 ON CONFLICT DO NOTHING`,
		)
		.bind(m.group_id, fanId, at, m.cap ?? 0)
		.run();
	if (taken.meta.changes === 1) return ok({ groupId: m.group_id });
	const again = await db
		.prepare(`SELECT (SELECT 1 FROM code_uses WHERE group_id = ?1 AND fan_id = ?2) AS mine, (SELECT revoked_at FROM code_groups WHERE id = ?1) AS revoked`)
		.bind(m.group_id, fanId)
		.first<{ mine: number | null; revoked: string | null }>();
	if (again?.mine === 1) return ok({ groupId: m.group_id });
	return refuseAccess(again?.revoked != null ? "code_revoked" : "code_exhausted");
}

/**
 * A new group and the statements that store it: unique codes made here (`count`), one
 * shared code, or the hashes of listed fan ids. The codes are in the answer only; run
 * the statements as one batch. A registered window's draw issues its codes through this
 * with `issuedBy: "engine"`.
 */
export async function newCodeGroup(
	db: D1Database,
	spec: { id: string; dropId: string; windowId: string; kind: CodeGroupKind; name: string; count?: number; cap?: number; fans?: string[]; issuedBy: "promoter" | "engine"; createdAt: string },
): Promise<{ group: CodeGroup; codes: string[]; statements: D1PreparedStatement[] }> {
	const key = (await dropCodeKey(db, spec.dropId, true))!;
	const codes = spec.kind === "unique" ? Array.from({ length: spec.count ?? 0 }, newAccessCode) : spec.kind === "shared" ? [newAccessCode()] : [];
	const fans = spec.kind === "list" ? [...new Set(spec.fans ?? [])] : [];
	const hashes = await Promise.all([...codes.map((c) => accessHash(key, "code", c)), ...fans.map((f) => accessHash(key, "fan", f))]);
	const group: CodeGroup = {
		id: spec.id,
		dropId: spec.dropId,
		windowId: spec.windowId,
		kind: spec.kind,
		name: spec.name,
		size: hashes.length,
		cap: spec.kind === "shared" ? (spec.cap ?? 1) : null,
		issuedBy: spec.issuedBy,
		createdAt: spec.createdAt,
		revokedAt: null,
	};
	return { group, codes, statements: insertGroupStatements(db, group, hashes) };
}
