// Registrations for a registered sale window and the window's draw, in D1. A fan
// registers an email and proves it with the code mailed to it; one email is one
// registration per window (and, in identity mode, one fan id). The window's seed
// is committed no later than its first registration; the draw, once registration
// has closed, invites `invites` of the verified registrations by the rule in
// draw-core.ts and issues each a unique code through the code groups
// (access-codes.ts, issued by the engine), all in one D1 batch whose first write
// is the draw's result row: a second draw (two requests, the cron) loses its whole
// batch to that row's primary key and answers the draw that was made.
import { type Presale } from "../drops/presales";
import { registrationPhase } from "../drops/registration-window";
import { sha256Hex, timingSafeEqualStrings } from "../shared/crypto";
import { BoundedMap } from "../shared/bounded-map";
import { randomId } from "../shared/ids";
import { type Outcome, fail, ok } from "../shared/outcome";
import { accessHash, dropCodeKey, insertGroupStatements, newAccessCode, type CodeGroup } from "./access-codes";
import { newSeed } from "./admission";
import { drawInvited, drawOrder } from "./draw-core";

/** Most registrations one window takes: its public list is one answer. */
export const MAX_REGISTRATIONS = 200_000;
/** How long a verification code is good for, and how many wrong tries it survives. */
export const CODE_TTL_MS = 30 * 60_000;
export const CODE_TRIES = 5;
/** A new code is mailed to an address at most this often (a registration asked again sooner sends nothing). */
export const RESEND_AFTER_MS = 60_000;
/** Ids per statement in the draw's batch (one JSON parameter each). */
const IDS_PER_STATEMENT = 2_000;

export interface Commitment {
	seed: string;
	seedCommitment: string;
	committedAt: string;
}

/** The window's seed, committed on first use and never changed. Its seed is for the draw only; callers publish the commitment. */
export async function commitment(db: D1Database, dropId: string, windowId: string, now: number): Promise<Commitment> {
	const known = await committed(db, dropId, windowId);
	if (known !== null) return known;
	const seed = newSeed();
	await db
		.prepare(`INSERT INTO presale_draws (drop_id, window_id, seed, seed_commitment, committed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		.bind(dropId, windowId, seed, await sha256Hex(seed), new Date(now).toISOString())
		.run();
	return (await committed(db, dropId, windowId))!;
}

async function committed(db: D1Database, dropId: string, windowId: string): Promise<Commitment | null> {
	const row = await db.prepare(`SELECT seed, seed_commitment, committed_at FROM presale_draws WHERE drop_id = ? AND window_id = ?`).bind(dropId, windowId).first<{ seed: string; seed_commitment: string; committed_at: string }>();
	return row === null ? null : { seed: row.seed, seedCommitment: row.seed_commitment, committedAt: row.committed_at };
}

export interface DrawResult {
	drawnAt: string;
	registered: number;
	invited: number;
	groupId: string;
}

export async function drawResult(db: D1Database, dropId: string, windowId: string): Promise<DrawResult | null> {
	const row = await db
		.prepare(`SELECT drawn_at, registered, invited, group_id FROM presale_draw_results WHERE drop_id = ? AND window_id = ?`)
		.bind(dropId, windowId)
		.first<{ drawn_at: string; registered: number; invited: number; group_id: string }>();
	return row === null ? null : { drawnAt: row.drawn_at, registered: row.registered, invited: row.invited, groupId: row.group_id };
}

/** An address as the engine tells two apart: trimmed and lower case (one mailbox, however typed). */
export const emailKey = (email: string) => email.trim().toLowerCase();

const codeHash = (registrationId: string, code: string) => sha256Hex(`${registrationId}\n${code}`);

/** Eight digits: typed from an email on a phone, and with five tries a guess lands once in twenty million. */
const newVerificationCode = () => String(crypto.getRandomValues(new Uint32Array(1))[0]! % 100_000_000).padStart(8, "0");

function refuseUnlessOpen(window: Presale, now: number, drawn: boolean): Outcome<never> | null {
	const phase = drawn ? "closed" : registrationPhase(window.registration!, now);
	if (phase === "not_open") return fail(409, "registration_not_open", `Registration for this window opens at ${window.registration!.opensAt}.`);
	if (phase === "closed") return fail(409, "registration_closed", "Registration for this window has closed.");
	return null;
}

/** What to mail after a registration: its code, or nothing (a code went out less than a minute ago, or the address is verified already). */
export interface Registered {
	registrationId: string;
	code: string | null;
	expiresAt: string;
}

/**
 * Registers `email` for the window, or renews its unverified code. One row per address
 * (the UNIQUE key decides a race of two requests), one per fan id in identity mode.
 */
export async function register(
	db: D1Database,
	args: { dropId: string; window: Presale; email: string; locale: string; fanId: string | null; now: number },
): Promise<Outcome<Registered>> {
	const { dropId, window, now } = args;
	const closed = refuseUnlessOpen(window, now, (await drawResult(db, dropId, window.id)) !== null);
	if (closed !== null) return closed;
	// The seed is committed before any registration is stored, so no list can be fitted to a known seed.
	await commitment(db, dropId, window.id, now);
	const key = emailKey(args.email);
	const at = new Date(now).toISOString();
	if (args.fanId !== null) {
		const other = await db.prepare(`SELECT email_key FROM registrations WHERE drop_id = ? AND window_id = ? AND fan_id = ?`).bind(dropId, window.id, args.fanId).first<{ email_key: string }>();
		if (other !== null && other.email_key !== key) return fail(409, "already_registered", "You have registered for this window with another address.");
	}
	const id = randomId("r_");
	const code = newVerificationCode();
	const inserted = await db
		.prepare(
			`INSERT INTO registrations (id, drop_id, window_id, email_key, email, locale, fan_id, code_hash, code_sent_at, created_at)
			 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9 WHERE (SELECT COUNT(*) FROM registrations WHERE drop_id = ?2 AND window_id = ?3) < ?10
			 ON CONFLICT DO NOTHING`,
		)
		.bind(id, dropId, window.id, key, args.email.trim(), args.locale, args.fanId, await codeHash(id, code), at, MAX_REGISTRATIONS)
		.run();
	const expiresAt = new Date(now + CODE_TTL_MS).toISOString();
	if (inserted.meta.changes === 1) return ok({ registrationId: id, code, expiresAt });
	const row = await db
		.prepare(`SELECT id, verified_at, code_sent_at FROM registrations WHERE drop_id = ? AND window_id = ? AND email_key = ?`)
		.bind(dropId, window.id, key)
		.first<{ id: string; verified_at: string | null; code_sent_at: string }>();
	if (row === null) return fail(409, "registration_full", "This window has taken as many registrations as it can.");
	if (row.verified_at !== null || now - Date.parse(row.code_sent_at) < RESEND_AFTER_MS) return ok({ registrationId: row.id, code: null, expiresAt });
	// A new code for an unverified address: the old one stops working, its tries start again.
	const renewed = await db
		.prepare(`UPDATE registrations SET code_hash = ?, code_sent_at = ?, attempts = 0 WHERE id = ? AND verified_at IS NULL AND code_sent_at = ?`)
		.bind(await codeHash(row.id, code), at, row.id, row.code_sent_at)
		.run();
	return ok({ registrationId: row.id, code: renewed.meta.changes === 1 ? code : null, expiresAt });
}

/**
 * Verifies the address with its code. A wrong code is counted on the registration (the
 * route charges it to the client's join limit too); past CODE_TRIES, or CODE_TTL_MS, the
 * code is void and registering again mails a new one. An unknown address answers as a
 * wrong code does, so the answer tells nobody who registered.
 */
export async function verify(
	db: D1Database,
	args: { dropId: string; window: Presale; email: string; code: string; now: number },
): Promise<Outcome<{ registrationId: string; verifiedAt: string }>> {
	const { dropId, window, now } = args;
	const closed = refuseUnlessOpen(window, now, (await drawResult(db, dropId, window.id)) !== null);
	if (closed !== null) return closed;
	const row = await db
		.prepare(`SELECT id, code_hash, code_sent_at, attempts, verified_at FROM registrations WHERE drop_id = ? AND window_id = ? AND email_key = ?`)
		.bind(dropId, window.id, emailKey(args.email))
		.first<{ id: string; code_hash: string; code_sent_at: string; attempts: number; verified_at: string | null }>();
	const wrong = fail(403, "verification_invalid", "This code does not verify this address.");
	if (row === null) return wrong;
	if (row.attempts >= CODE_TRIES || (row.verified_at === null && now - Date.parse(row.code_sent_at) >= CODE_TTL_MS)) {
		return fail(410, "verification_expired", "This code has expired or was tried too often; register again for a new one.");
	}
	if (!(await timingSafeEqualStrings(await codeHash(row.id, args.code.trim()), row.code_hash))) {
		await db.prepare(`UPDATE registrations SET attempts = attempts + 1 WHERE id = ?`).bind(row.id).run();
		return wrong;
	}
	const at = new Date(now).toISOString();
	await db.prepare(`UPDATE registrations SET verified_at = ? WHERE id = ? AND verified_at IS NULL`).bind(at, row.id).run();
	return ok({ registrationId: row.id, verifiedAt: row.verified_at ?? at });
}

/** The window's verified registration ids, in the draw's order. */
async function verifiedIds(db: D1Database, dropId: string, windowId: string): Promise<string[]> {
	const { results } = await db.prepare(`SELECT id FROM registrations WHERE drop_id = ? AND window_id = ? AND verified_at IS NOT NULL`).bind(dropId, windowId).all<{ id: string }>();
	return drawOrder(results.map((r) => r.id));
}

const chunks = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * Draws the window once registration has closed; a window drawn already answers its draw.
 * `made` says whether this call made it (the one to start the emails). `events` are statements that report the
 * draw, written in its batch (so only with it).
 */
export async function drawWindow(
	db: D1Database,
	args: { dropId: string; window: Presale; now: number; events?: (at: string) => D1PreparedStatement[] },
): Promise<Outcome<DrawResult & { made: boolean }>> {
	const { dropId, window, now } = args;
	const done = await drawResult(db, dropId, window.id);
	if (done !== null) return ok({ ...done, made: false });
	if (window.registration === undefined) return fail(422, "not_registered", "This window is not drawn from registrations.");
	if (registrationPhase(window.registration, now) !== "closed") return fail(409, "registration_open", `The draw runs once registration closes, at ${window.registration.closesAt}.`);
	const { seed } = await commitment(db, dropId, window.id, now);
	const ids = await verifiedIds(db, dropId, window.id);
	const invited = drawInvited(seed, ids, window.registration.invites);
	const at = new Date(now).toISOString();
	const key = (await dropCodeKey(db, dropId, true))!;
	const codes = invited.map(() => newAccessCode());
	const hashes = await Promise.all(codes.map((c) => accessHash(key, "code", c)));
	const group: CodeGroup = {
		id: randomId("cg_"),
		dropId,
		windowId: window.id,
		kind: "unique",
		name: `${window.name}: drawn`,
		size: hashes.length,
		cap: null,
		issuedBy: "engine",
		createdAt: at,
		revokedAt: null,
	};
	const mine = `(SELECT group_id FROM presale_draw_results WHERE drop_id = ?1 AND window_id = ?2) = ?3`;
	const statements = [
		...insertGroupStatements(db, group, hashes),
		// The result row, written only with its group (the drop may have no room for one); its primary key
		// fails a second draw's whole batch, a D1 batch being one transaction.
		db
			.prepare(`INSERT INTO presale_draw_results (drop_id, window_id, drawn_at, registered, invited, group_id) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM code_groups WHERE id = ?6)`)
			.bind(dropId, window.id, at, ids.length, invited.length, group.id),
		...chunks(ids, IDS_PER_STATEMENT).map((part) =>
			db.prepare(`UPDATE registrations SET invited = 0 WHERE drop_id = ?1 AND window_id = ?2 AND ${mine} AND id IN (SELECT value FROM json_each(?4))`).bind(dropId, window.id, group.id, JSON.stringify(part)),
		),
		...chunks(invited.map((id, i) => [id, codes[i]]), IDS_PER_STATEMENT).map((part) =>
			db
				.prepare(
					`UPDATE registrations SET invited = 1, invite_code = (SELECT json_extract(j.value, '$[1]') FROM json_each(?4) j WHERE json_extract(j.value, '$[0]') = registrations.id)
					 WHERE drop_id = ?1 AND window_id = ?2 AND ${mine} AND id IN (SELECT json_extract(value, '$[0]') FROM json_each(?4))`,
				)
				.bind(dropId, window.id, group.id, JSON.stringify(part)),
		),
		// The caller's reports of the draw (its webhook event), after the result row they read, in the same transaction.
		...(args.events?.(at) ?? []),
	];
	try {
		await db.batch(statements);
	} catch (err) {
		// Decided by what is stored, not by the error's text: a draw made meanwhile is the draw.
		const other = await drawResult(db, dropId, window.id);
		if (other === null) throw err;
		return ok({ ...other, made: false });
	}
	const made = await drawResult(db, dropId, window.id);
	// No row: the drop had as many code groups as it may, so nothing of this draw was written.
	if (made === null) return fail(409, "too_many_groups", "The drop has as many code groups as it may, so the draw cannot issue its codes.");
	return ok({ ...made, made: made.groupId === group.id });
}

type PublicParts = Awaited<ReturnType<typeof readPublicDraw>>;
/** A drawn window's answer never changes: kept per isolate, so its list is read from D1 once per isolate. */
const drawnAnswers = new BoundedMap<string, PublicParts>(20);

/** The public answer's parts: the seed only once drawn, the ids never with their emails. */
export async function publicDraw(db: D1Database, dropId: string, window: Presale, now: number): Promise<PublicParts> {
	const key = `${dropId}~${window.id}`;
	const kept = drawnAnswers.get(key);
	if (kept !== undefined) return kept;
	const parts = await readPublicDraw(db, dropId, window, now);
	if (parts.seed !== null) drawnAnswers.set(key, parts);
	return parts;
}

async function readPublicDraw(db: D1Database, dropId: string, window: Presale, now: number) {
	const { seed, seedCommitment, committedAt } = await commitment(db, dropId, window.id, now);
	const result = await drawResult(db, dropId, window.id);
	if (result === null) return { seedCommitment, committedAt, seed: null, drawnAt: null, registered: null, drawn: null, registrations: null, invited: null };
	const { results } = await db
		.prepare(`SELECT id, invited FROM registrations WHERE drop_id = ? AND window_id = ? AND invited IS NOT NULL`)
		.bind(dropId, window.id)
		.all<{ id: string; invited: number }>();
	return {
		seedCommitment,
		committedAt,
		seed,
		drawnAt: result.drawnAt,
		registered: result.registered,
		drawn: result.invited,
		registrations: drawOrder(results.map((r) => r.id)),
		invited: drawOrder(results.filter((r) => r.invited === 1).map((r) => r.id)),
	};
}

export interface ToTell {
	id: string;
	email: string;
	locale: string;
	invited: boolean;
	code: string | null;
}

/** Drawn registrations not told yet (verified ones left out of the draw too: they registered too late to be in it), oldest first. */
export async function registrationsToTell(db: D1Database, dropId: string, windowId: string, limit: number): Promise<ToTell[]> {
	const { results } = await db
		.prepare(
			`SELECT id, email, locale, invited, invite_code FROM registrations WHERE drop_id = ? AND window_id = ? AND told_at IS NULL
			 AND (invited IS NOT NULL OR verified_at IS NOT NULL) ORDER BY id LIMIT ?`,
		)
		.bind(dropId, windowId, limit)
		.all<{ id: string; email: string; locale: string; invited: number | null; invite_code: string | null }>();
	return results.map((r) => ({ id: r.id, email: r.email, locale: r.locale, invited: r.invited === 1, code: r.invite_code }));
}

/** Told: the code in the clear is dropped (its hash stays with the group). */
export const markTold = (db: D1Database, ids: string[], now: number) =>
	db
		.prepare(`UPDATE registrations SET told_at = ?, invite_code = NULL WHERE id IN (SELECT value FROM json_each(?)) AND told_at IS NULL`)
		.bind(new Date(now).toISOString(), JSON.stringify(ids))
		.run();
