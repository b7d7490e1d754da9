// A registered sale window, through the Worker: fans register an email and verify
// it with the mailed code (a bad address refused writing nothing, one address one
// registration, wrong codes charged to the client's join limit and void after five
// tries); the seed committed before any registration and revealed by the draw; the
// draw re-derived from its public answer alone; two draws and the cron racing made
// one draw; the invited fans' codes (by email, in their language) let them into the
// window, the others' attempts do not, and the others are told how to wait for the
// general sale. And one drop with a registered presale, a code presale and the general
// sale, run by real time: the presales refuse fans without a code, a unique code the
// second time and a shared code past its cap; the drawn fans' codes let them in; fans
// holding at once at each window's edge and at the drop's never pass either.
import { createScheduledController, env } from "cloudflare:test";
import { createHash } from "node:crypto";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { checkDraw } from "../../loadtest/lib/draw.js";
import type { Presale } from "../../src/drops/presales";
import { roomKey, shardStub } from "../../src/shared/names";
import { DRAW_CRON, drawAndTell, drawDueWindows } from "../../src/after-sale/draw-mail";
import worker from "../../src/index";
import { drawWindow } from "../../src/waiting-room/registrations";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { hold, postJoin, purchase, status, withFanSecret } from "../support/fans";
import { admitBatch, lineRows } from "../support/room";
import { type EnvOverrides, adminFetch, callWorker } from "../support/worker";

const MIN = 60_000;
const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
const perDropOff: EnvOverrides = { JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "0" };
const newIp = () => `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
const sha256Hex = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const rowCount = async (sql: string, ...params: unknown[]) => (await env.DB.prepare(sql).bind(...params).first<{ n: number }>())!.n;

/** A drop whose registered window ("drawn") takes registrations now, opens in 20 minutes, and invites `invites`. */
async function registeredDrop(invites = 5, registration: Record<string, unknown> = {}) {
	return createDrop({
		opensAt: at(40 * MIN),
		capacity: 50,
		maxPerFan: 4,
		presales: [
			{ id: "drawn", name: "Verified fans", opensAt: at(20 * MIN), closesAt: at(30 * MIN), access: "registered", registration: { opensAt: at(-MIN), closesAt: at(15 * MIN), invites, ...registration } },
		],
	});
}

const windowOf = (drop: { presales?: Presale[] }) => drop.presales![0]!;
/** A moment after the window's registration has closed, for the draw. */
const afterClose = (w: Presale) => Date.parse(w.registration!.closesAt) + 1_000;

const post = (path: string, body: unknown, ip = newIp(), overrides?: EnvOverrides) =>
	callWorker(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }, { ip, ...(overrides ? { env: overrides } : {}) });

const register = (dropId: string, email: string, extra: Record<string, unknown> = {}, ip?: string, overrides?: EnvOverrides) =>
	post(`/api/drops/${dropId}/registrations`, { email, ...extra }, ip, overrides);
const verifyCode = (dropId: string, email: string, code: string, ip?: string) => post(`/api/drops/${dropId}/registrations/verify`, { email, code }, ip);

type Mail = { subject: string; body: string; order_id: string };
const mailsTo = async (to: string) => (await env.DB.prepare(`SELECT subject, body, order_id FROM dev_mail WHERE to_address = ? ORDER BY id`).bind(to).all<Mail>()).results;
const mailedCode = async (to: string) => /\b(\d{8})\b/.exec((await mailsTo(to)).at(-1)!.subject)![1]!;

/** Registers and verifies `email`; answers its registration id. */
async function registered(dropId: string, email: string, locale?: string): Promise<string> {
	const res = await register(dropId, email, locale === undefined ? {} : { locale });
	expect(res.status, await res.clone().text()).toBe(202);
	const ok = await verifyCode(dropId, email, await mailedCode(email));
	expect(ok.status, await ok.clone().text()).toBe(200);
	return ((await ok.json()) as { registrationId: string }).registrationId;
}

type DrawJson = { seedCommitment: string; committedAt: string; seed: string | null; registered: number | null; drawn: number | null; invites: number; registrations: string[] | null; invited: string[] | null };
async function publicDraw(dropId: string): Promise<DrawJson> {
	const res = await callWorker(`/api/drops/${dropId}/draw`);
	expect(res.status, await res.clone().text()).toBe(200);
	return (await res.json()) as DrawJson;
}

const registrations = (dropId: string) => rowCount(`SELECT COUNT(*) AS n FROM registrations WHERE drop_id = ?`, dropId);

describe("registering for a registered window", () => {
	it("refuses a bad address, a drop without such a window, and a deployment without mail, writing nothing", async () => {
		const drop = await registeredDrop();
		for (const email of ["not-an-address", "a@b", "two words@x.test", "x".repeat(250) + "@x.test"]) {
			const res = await register(drop.id, email);
			expect([res.status, await errorCode(res)]).toEqual([422, email.length > 254 ? "too_long" : "invalid_format"]);
		}
		const unknownField = await register(drop.id, "fan@x.test", { fanId: "f" });
		expect([unknownField.status, await errorCode(unknownField)]).toEqual([400, "unknown_field"]);
		const noMail = await register(drop.id, "fan@x.test", {}, newIp(), { RECEIPT_SENDER: "off" });
		expect([noMail.status, await errorCode(noMail), noMail.headers.get("retry-after")]).toEqual([503, "mail_unavailable", "3600"]);
		const challenged = await register(drop.id, "fan@x.test", {}, newIp(), { TURNSTILE_SECRET: "turnstile-secret" });
		expect([challenged.status, await errorCode(challenged)]).toEqual([403, "turnstile_required"]);
		const plain = await createDrop({ opensAt: at(40 * MIN) });
		const none = await register(plain.id, "fan@x.test");
		expect([none.status, await errorCode(none)]).toEqual([404, "not_found"]);
		expect(await registrations(drop.id)).toBe(0);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM dev_mail WHERE to_address = 'fan@x.test'`)).toBe(0);
	});

	it("refuses before registration opens", async () => {
		const drop = await registeredDrop(5, { opensAt: at(5 * MIN) });
		const res = await register(drop.id, "early@x.test");
		expect([res.status, await errorCode(res)]).toEqual([409, "registration_not_open"]);
		expect(await registrations(drop.id)).toBe(0);
	});

	it("one address is one registration, however typed; a second ask within the minute mails nothing", async () => {
		const drop = await registeredDrop();
		const first = await register(drop.id, "Twice@X.test");
		const again = await register(drop.id, "  twice@x.TEST ");
		expect([first.status, again.status]).toEqual([202, 202]);
		const [a, b] = [(await first.json()) as Record<string, unknown>, (await again.json()) as Record<string, unknown>];
		expect([a.status, b.status, a.window]).toEqual(["verification_sent", "verification_sent", "drawn"]);
		expect(await registrations(drop.id)).toBe(1);
		expect(await mailsTo("Twice@X.test")).toHaveLength(1);
		// Verified under either spelling, the same registration.
		const ok = await verifyCode(drop.id, "TWICE@x.test", await mailedCode("Twice@X.test"));
		expect(ok.status).toBe(200);
		const row = await env.DB.prepare(`SELECT id, verified_at FROM registrations WHERE drop_id = ?`).bind(drop.id).first<{ id: string; verified_at: string | null }>();
		expect(((await ok.json()) as { registrationId: string }).registrationId).toBe(row!.id);
		expect(row!.verified_at).not.toBeNull();
		// Registering a verified address again answers the same and mails nothing.
		expect((await register(drop.id, "twice@x.test")).status).toBe(202);
		expect([await registrations(drop.id), (await mailsTo("Twice@X.test")).length]).toEqual([1, 1]);
	});

	it("the dev mailbox reads one address's mail through the Worker (how a local load run reads its fans' codes), and only that address's", async () => {
		const drop = await registeredDrop();
		for (const email of ["Inbox-A@x.test", "inbox-b@x.test"]) expect((await register(drop.id, email)).status).toBe(202);
		type Listed = { mail: { orderId: string; to: string; subject: string }[] };
		const read = async (query: string) => {
			const res = await adminFetch(`/api/admin/dev/mail?${query}`);
			expect(res.status, await res.clone().text()).toBe(200);
			return ((await res.json()) as Listed).mail;
		};
		const a = await read(`to=${encodeURIComponent("Inbox-A@x.test")}`);
		expect(a.map((m) => m.to)).toEqual(["Inbox-A@x.test"]);
		expect(a[0]!.subject).toContain(await mailedCode("Inbox-A@x.test"));
		// Both filters at once: the address's mail for its registration, none for another's.
		const b = await read(`to=inbox-b%40x.test`);
		expect(await read(`to=inbox-b%40x.test&orderId=${b[0]!.orderId}`)).toHaveLength(1);
		expect(await read(`to=inbox-b%40x.test&orderId=${a[0]!.orderId}`)).toHaveLength(0);
		const tooLong = await adminFetch(`/api/admin/dev/mail?to=${"x".repeat(255)}`);
		expect([tooLong.status, await errorCode(tooLong)]).toEqual([422, "too_long"]);
	});

	it("the code mail is in the fan's language", async () => {
		const drop = await registeredDrop();
		await register(drop.id, "de@x.test", { locale: "de" });
		await register(drop.id, "ja@x.test", { locale: "ja" });
		expect((await mailsTo("de@x.test"))[0]!.subject).toMatch(/^Dein Code für Verified fans: \d{8}$/);
		expect((await mailsTo("ja@x.test"))[0]!.subject).toMatch(/^Verified fansの確認コード:\d{8}$/);
	});

	it("a wrong code is void after five tries (the right one too), and wrong codes are charged to the client's join limit", async () => {
		const drop = await registeredDrop();
		await register(drop.id, "tries@x.test");
		const right = await mailedCode("tries@x.test");
		const wrong = right === "00000000" ? "11111111" : "00000000";
		const statuses: number[] = [];
		for (let i = 0; i < 6; i++) statuses.push((await verifyCode(drop.id, "tries@x.test", wrong)).status);
		expect(statuses).toEqual([403, 403, 403, 403, 403, 410]);
		const late = await verifyCode(drop.id, "tries@x.test", right);
		expect([late.status, await errorCode(late)]).toEqual([410, "verification_expired"]);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM registrations WHERE drop_id = ? AND verified_at IS NOT NULL`, drop.id)).toBe(0);

		// From one client, wrong codes (here for addresses never registered) cost 10 joins each: twelve a minute, then 429.
		const left = MIN - (Date.now() % MIN);
		if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
		const ip = newIp();
		const guesses: number[] = [];
		for (let i = 0; i < 14; i++) {
			const res = await verifyCode(drop.id, `guess-${i}@x.test`, "12345678", ip);
			guesses.push(res.status);
			if (res.status === 403) expect(await errorCode(res)).toBe("verification_invalid");
		}
		expect(guesses).toEqual([...Array(12).fill(403), 429, 429]);
		// The same client is held back even with a right code; another client is not.
		await register(drop.id, "held@x.test");
		const code = await mailedCode("held@x.test");
		expect((await verifyCode(drop.id, "held@x.test", code, ip)).status).toBe(429);
		expect((await verifyCode(drop.id, "held@x.test", code)).status).toBe(200);
	});
});

describe("a registered window's configuration", () => {
	it("needs its registration, closed by the window's opening, and only a registered window takes one; a refusal writes no drop", async () => {
		const name = `bad-registration-${Date.now()}`;
		const w = { id: "drawn", name: "Drawn", opensAt: at(20 * MIN), closesAt: at(30 * MIN), access: "registered" };
		const reg = { opensAt: at(-MIN), closesAt: at(15 * MIN), invites: 5 };
		const cases: [Record<string, unknown>, number, string, string][] = [
			[w, 422, "invalid_presales", "presales.0.registration"],
			[{ ...w, registration: { ...reg, closesAt: at(21 * MIN) } }, 422, "invalid_presales", "presales.0.registration.closesAt"],
			[{ ...w, registration: { ...reg, closesAt: at(-2 * MIN) } }, 422, "invalid_presales", "presales.0.registration.closesAt"],
			[{ ...w, access: "code", registration: reg }, 422, "invalid_presales", "presales.0.registration"],
			[{ ...w, registration: { ...reg, invites: 0 } }, 422, "out_of_range", "presales.0.registration.invites"],
			[{ ...w, registration: { opensAt: reg.opensAt, closesAt: reg.closesAt } }, 400, "missing_field", "presales.0.registration.invites"],
		];
		for (const [presale, status, code, field] of cases) {
			const res = await adminFetch("/api/admin/drops", { method: "POST", body: JSON.stringify({ name, capacity: 50, maxPerFan: 4, opensAt: at(40 * MIN), shards: 1, presales: [presale] }) });
			const body = (await res.json()) as { error: { code: string; field: string } };
			expect([res.status, body.error.code, body.error.field]).toEqual([status, code, field]);
		}
		expect(await rowCount(`SELECT COUNT(*) AS n FROM drops WHERE name = ?`, name)).toBe(0);
		// Kept and answered as given.
		expect(windowOf(await registeredDrop(7)).registration).toMatchObject({ invites: 7 });
	});
});

describe("registering in fan identity mode", () => {
	const SECRET = "registration-identity-secret-0123456789";
	const identity: EnvOverrides = { FAN_IDENTITY_SECRET: SECRET };
	const token = (sub: string) => new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt().setExpirationTime("10m").sign(new TextEncoder().encode(SECRET));

	it("needs the identity token, and takes one registration per fan", async () => {
		const drop = await registeredDrop();
		const bare = await register(drop.id, "who@x.test", {}, newIp(), identity);
		expect([bare.status, await errorCode(bare)]).toEqual([401, "identity_required"]);
		expect((await register(drop.id, "site-fan@x.test", { identityToken: await token("site-fan") }, newIp(), identity)).status).toBe(202);
		// The same fan with another address is refused; the same address again is the one registration.
		const other = await register(drop.id, "second@x.test", { identityToken: await token("site-fan") }, newIp(), identity);
		expect([other.status, await errorCode(other)]).toEqual([409, "already_registered"]);
		expect((await register(drop.id, "site-fan@x.test", { identityToken: await token("site-fan") }, newIp(), identity)).status).toBe(202);
		expect((await register(drop.id, "another-fan@x.test", { identityToken: await token("another-fan") }, newIp(), identity)).status).toBe(202);
		const rows = (await env.DB.prepare(`SELECT fan_id FROM registrations WHERE drop_id = ? ORDER BY fan_id`).bind(drop.id).all<{ fan_id: string }>()).results;
		expect(rows.map((r) => r.fan_id)).toEqual(["another-fan", "site-fan"]);
	});
});

describe("the draw", () => {
	it("is made by the minute's cron once registration has closed, and its fans are told", async () => {
		const drop = await registeredDrop(1);
		const w = windowOf(drop);
		await registered(drop.id, "cron-0@x.test");
		await registered(drop.id, "cron-1@x.test");
		// Before the close the cron leaves it alone.
		expect((await drawDueWindows(env, Date.now())).ok).toBe(true);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM presale_draw_results WHERE drop_id = ?`, drop.id)).toBe(0);
		// After it: drawn (a few windows a run; this file's other drops are due then too), and told.
		const told = () => rowCount(`SELECT COUNT(*) AS n FROM registrations WHERE drop_id = ? AND told_at IS NOT NULL`, drop.id);
		const minuteCron = () => worker.scheduled(createScheduledController({ scheduledTime: afterClose(w), cron: DRAW_CRON }), env);
		for (let run = 0; run < 10 && (await told()) < 2; run++) await minuteCron();
		expect(await told()).toBe(2);
		const draw = await publicDraw(drop.id);
		expect([draw.registered, draw.drawn]).toEqual([2, 1]);
		expect(checkDraw(draw, sha256Hex).failures).toEqual([]);
	});

	it("is drawn and told on request where the dev mailbox is (wrangler dev fires no cron), and nowhere else", async () => {
		const drop = await registeredDrop(1, { closesAt: at(1_500) });
		await registered(drop.id, "dev-cron-0@x.test");
		await registered(drop.id, "dev-cron-1@x.test");
		const run = (overrides?: EnvOverrides) => adminFetch(`/api/admin/dev/draw-cron`, { method: "POST" }, overrides ? { env: overrides } : {});
		const off = await run({ RECEIPT_SENDER: "off" });
		expect([off.status, await errorCode(off)]).toEqual([404, "not_found"]);
		const early = await run();
		expect(early.status, await early.clone().text()).toBe(200);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM presale_draw_results WHERE drop_id = ?`, drop.id)).toBe(0);
		await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(windowOf(drop).registration!.closesAt) + 100 - Date.now())));
		const told = () => rowCount(`SELECT COUNT(*) AS n FROM registrations WHERE drop_id = ? AND told_at IS NOT NULL`, drop.id);
		// Other drops of this file may be due too: a few runs, each bounded, until this one's fans are told.
		const answers: { drawn: number; told: number }[] = [];
		for (let i = 0; i < 10 && (await told()) < 2; i++) {
			const res = await run();
			expect(res.status).toBe(200);
			answers.push((await res.json()) as { drawn: number; told: number });
		}
		expect(await told()).toBe(2);
		expect(answers.some((a) => a.drawn >= 1) && answers.some((a) => a.told >= 1)).toBe(true);
		expect(((await publicDraw(drop.id)).drawn)).toBe(1);
		expect((await mailsTo("dev-cron-0@x.test")).length + (await mailsTo("dev-cron-1@x.test")).length).toBe(4);
	});

	it("commits before the first registration, reveals after, and is re-derived from its public answer alone", async () => {
		const drop = await registeredDrop(5);
		const w = windowOf(drop);
		const before = await publicDraw(drop.id);
		expect(before.seedCommitment).toMatch(/^[0-9a-f]{64}$/);
		expect([before.seed, before.registrations, before.invited, before.drawn, before.invites]).toEqual([null, null, null, null, 5]);
		const ids: string[] = [];
		for (let i = 0; i < 12; i++) ids.push(await registered(drop.id, `fan-${i}@x.test`, ["en", "de", "fr", "es", "ja"][i % 5]));
		// Registered, never verified: not in the draw.
		await register(drop.id, "unverified@x.test");
		const firstRegistration = (await env.DB.prepare(`SELECT MIN(created_at) AS t FROM registrations WHERE drop_id = ?`).bind(drop.id).first<{ t: string }>())!.t;
		const still = await publicDraw(drop.id);
		expect([still.seedCommitment, still.seed]).toEqual([before.seedCommitment, null]);
		expect(Date.parse(still.committedAt)).toBeLessThanOrEqual(Date.parse(firstRegistration));

		// The promoter cannot draw while registration is open.
		const early = await adminFetch(`/api/admin/drops/${drop.id}/windows/drawn/draw`, { method: "POST" });
		expect([early.status, await errorCode(early)]).toEqual([409, "registration_open"]);

		const made = await drawAndTell(env, drop, w, afterClose(w));
		expect(made.ok && made.value.made).toBe(true);
		const after = await publicDraw(drop.id);
		expect(after.seedCommitment).toBe(before.seedCommitment);
		expect(sha256Hex(after.seed!)).toBe(after.seedCommitment);
		expect([after.registered, after.drawn, after.invited!.length]).toEqual([12, 5, 5]);
		expect(after.registrations).toEqual([...ids].sort());
		expect(JSON.stringify(after)).not.toContain("@x.test");
		// Anyone, from this answer alone.
		expect(checkDraw(after, sha256Hex).failures).toEqual([]);
		// A draw that does not follow from the seed is caught: another seed's, or one invited id swapped.
		const forged = { ...after, invited: [...after.registrations!.filter((id) => !after.invited!.includes(id)).slice(0, 1), ...after.invited!.slice(1)] };
		expect(checkDraw(forged, sha256Hex).failures.length).toBeGreaterThan(0);

		// Registration has closed with the draw, whatever the clock says.
		const late = await register(drop.id, "late@x.test");
		expect([late.status, await errorCode(late)]).toEqual([409, "registration_closed"]);
	});

	it("two draws and the cron racing for it make one draw: one code group, one code per invited fan, one email each", async () => {
		const drop = await registeredDrop(3);
		const w = windowOf(drop);
		for (let i = 0; i < 8; i++) await registered(drop.id, `race-${i}@x.test`);
		const later = afterClose(w);
		// Both drawers hold at the write until both have computed their draw: the race is at D1's batch, bounded.
		let arrived = 0;
		let release!: () => void;
		const bothThere = new Promise<void>((resolve) => (release = resolve));
		const racing = {
			prepare: (sql: string) => env.DB.prepare(sql),
			batch: async (statements: D1PreparedStatement[]) => {
				if (++arrived === 2) release();
				await Promise.race([bothThere, new Promise((resolve) => setTimeout(resolve, 10_000))]);
				return env.DB.batch(statements);
			},
		} as unknown as D1Database;
		const [a, b] = await Promise.all([drawWindow(racing, { dropId: drop.id, window: w, now: later }), drawWindow(racing, { dropId: drop.id, window: w, now: later })]);
		expect(arrived).toBe(2);
		expect(a.ok && b.ok).toBe(true);
		if (!a.ok || !b.ok) return;
		expect([a.value.made, b.value.made].sort()).toEqual([false, true]);
		expect(a.value.groupId).toBe(b.value.groupId);
		// The cron and the promoter after it: the same draw, nothing more. The cron also tells the fans, a few windows
		// a run (this file's other drops are due at this moment too): bounded runs until none of this drop is left.
		const untold = () => rowCount(`SELECT COUNT(*) AS n FROM registrations WHERE drop_id = ? AND told_at IS NULL`, drop.id);
		for (let run = 0; run < 10 && (await untold()) > 0; run++) expect((await drawDueWindows(env, later)).ok).toBe(true);
		expect(await untold()).toBe(0);
		const again = await adminFetch(`/api/admin/drops/${drop.id}/windows/drawn/draw`, { method: "POST" });
		expect(again.status).toBe(200);
		expect(((await again.json()) as { made: boolean; groupId: string; drawn: number })).toMatchObject({ made: false, groupId: a.value.groupId, drawn: 3 });
		expect(await rowCount(`SELECT COUNT(*) AS n FROM presale_draw_results WHERE drop_id = ?`, drop.id)).toBe(1);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM code_groups WHERE drop_id = ? AND issued_by = 'engine'`, drop.id)).toBe(1);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM access_codes WHERE drop_id = ?`, drop.id)).toBe(3);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM registrations WHERE drop_id = ? AND invited = 1`, drop.id)).toBe(3);
		// The cron told every fan once (the racing drawers sent nothing themselves).
		for (let i = 0; i < 8; i++) expect((await mailsTo(`race-${i}@x.test`)).length).toBe(2);
		expect(await rowCount(`SELECT COUNT(*) AS n FROM registrations WHERE drop_id = ? AND (told_at IS NULL OR invite_code IS NOT NULL)`, drop.id)).toBe(0);
		// Anyone re-derives it.
		expect(checkDraw(await publicDraw(drop.id), sha256Hex).failures).toEqual([]);
	});

	it("invited fans' codes, by email, let them into the window; the others are refused there and told how to wait for the general sale", async () => {
		const drop = await registeredDrop(2);
		const w = windowOf(drop);
		const emails = ["in-0@x.test", "in-1@x.test", "in-2@x.test", "in-3@x.test", "in-4@x.test"];
		for (const email of emails) await registered(drop.id, email, email === "in-1@x.test" ? "fr" : "en");
		expect((await drawAndTell(env, drop, w, afterClose(w))).ok).toBe(true);
		const draw = await publicDraw(drop.id);
		const codes = new Map<string, string>();
		let told = 0;
		for (const email of emails) {
			const mail = (await mailsTo(email)).at(-1)!;
			const code = /\b([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})\b/.exec(mail.body)?.[1];
			expect(draw.invited!.includes(mail.order_id)).toBe(code !== undefined);
			const french = email === "in-1@x.test";
			if (code !== undefined) {
				codes.set(email, code);
				expect(mail.body).toMatch(french ? /Votre code personnel/ : /Your personal code/);
			} else {
				told++;
				// Told how to wait for the general sale, in their language.
				expect(mail.body).toMatch(french ? /La vente générale ouvre le .*vous serez dans sa pré-file/ : /general sale opens on .*before then and you are in its pre-queue/);
			}
		}
		expect([codes.size, told]).toEqual([2, 3]);
		// Only hashes of the codes are kept once the emails are out.
		for (const code of codes.values()) expect(await rowCount(`SELECT COUNT(*) AS n FROM registrations WHERE invite_code = ?`, code)).toBe(0);

		const join = (fanId: string, code?: string) => postJoin(drop.id, withFanSecret(drop.id, { fanId, ...(code === undefined ? {} : { code }) }), { ip: newIp(), env: perDropOff });
		const [first, second] = [...codes.values()];
		expect((await join("invited-a", first)).status).toBe(201);
		expect((await join("invited-b", second)).status).toBe(201);
		// A code is its fan's: another fan with it is refused; made-up codes are refused.
		const shared = await join("borrower", first);
		expect([shared.status, await errorCode(shared)]).toEqual([409, "code_used"]);
		const guessed = await join("not-drawn", "ABCDE-FGHJK-MNPQR-STVWX");
		expect([guessed.status, await errorCode(guessed)]).toEqual([403, "code_invalid"]);
		// Without a code, the fan not drawn waits in the general sale's line (its pre-queue), not the window's.
		expect((await join("waitlisted")).status).toBe(201);
		const windowFans = (await lineRows(roomKey(drop.id, "drawn"))).map((r) => r.fan_id).sort();
		const generalFans = (await lineRows(drop.id)).map((r) => r.fan_id);
		expect(windowFans).toEqual(["invited-a", "invited-b"]);
		expect(generalFans).toEqual(["waitlisted"]);
	});
});

describe("a registered presale, a code presale and the general sale in one drop", () => {
	const SEC = 1_000;
	/** Until `at` (ms) on the Worker's clock, which is this one. */
	const until = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now()) + 200));
	type Joined = { queueToken: string };
	const joinWith = (dropId: string, fanId: string, code?: string) => postJoin(dropId, withFanSecret(dropId, { fanId, ...(code === undefined ? {} : { code }) }), { ip: newIp(), env: perDropOff });
	async function joined(dropId: string, fanId: string, code?: string): Promise<string> {
		const res = await joinWith(dropId, fanId, code);
		expect([200, 201], await res.clone().text()).toContain(res.status);
		return ((await res.json()) as Joined).queueToken;
	}
	/** The fans' access tokens once the room (a window's, or the drop's) has let them in. */
	async function admitted(room: string, dropId: string, queueTokens: string[]): Promise<string[]> {
		let views = await Promise.all(queueTokens.map((q) => status(dropId, q)));
		for (let round = 0; round < 5 && views.some((s) => s.status !== "admitted"); round++) {
			await admitBatch(room);
			views = await Promise.all(queueTokens.map((q) => status(dropId, q)));
		}
		expect(views.map((s) => s.status)).toEqual(queueTokens.map(() => "admitted"));
		return views.map((s) => s.accessToken as string);
	}
	/** Every fan asks for `quantity` at once: the refusals' codes, how many tickets the holds made took, and each made hold with its fan's token. */
	async function holdAtOnce(dropId: string, tokens: string[], quantity: number) {
		const answers = await Promise.all(tokens.map((t) => hold(dropId, t, quantity)));
		const made = await Promise.all(answers.flatMap((r, i) => (r.status === 201 ? [r.json().then((h) => ({ token: tokens[i]!, holdId: (h as { holdId: string }).holdId }))] : [])));
		const refused = await Promise.all(answers.filter((r) => r.status !== 201).map(async (r) => `${r.status} ${await errorCode(r)}`));
		return { taken: made.length * quantity, made, refused };
	}
	/** Buys every hold made. */
	async function buyAll(dropId: string, made: { token: string; holdId: string }[]) {
		for (const h of made) expect((await purchase(dropId, h.token, h.holdId)).status).toBe(201);
	}
	const windowTotals = async (dropId: string, window: string) => (await shardStub(env, dropId, 0).windowTotals({ window })).window;

	it("refuses fans without a code in the presales, a unique code the second time, a shared code past its cap; the drawn fans' codes let them in; no window sells past its capacity, the drop never past its own", { timeout: 120_000 }, async () => {
		// Real time runs the windows (with room for a loaded machine): registration closes in 15 s, the registered window is open 20 s, then the code window 20 s, then the general sale.
		const t0 = Date.now();
		const regCloses = t0 + 15 * SEC;
		const clubOpens = regCloses + 20 * SEC;
		const generalOpens = clubOpens + 20 * SEC;
		const iso = (ms: number) => new Date(ms).toISOString();
		const drop = await createDrop({
			capacity: 10,
			maxPerFan: 2,
			opensAt: iso(generalOpens),
			admission: WIDE_OPEN,
			presales: [
				{ id: "drawn", name: "Verified fans", opensAt: iso(regCloses), closesAt: iso(clubOpens), access: "registered", capacity: 4, maxPerFan: 2, registration: { opensAt: at(-MIN), closesAt: iso(regCloses), invites: 3 } },
				{ id: "club", name: "Fan club", opensAt: iso(clubOpens), closesAt: iso(generalOpens), access: "code", capacity: 4, maxPerFan: 2 },
			],
		});
		const group = async (body: Record<string, unknown>) => {
			const res = await adminFetch(`/api/admin/drops/${drop.id}/code-groups`, { method: "POST", body: JSON.stringify({ windowId: "club", ...body }) });
			expect(res.status, await res.clone().text()).toBe(201);
			return ((await res.json()) as { codes: string[] }).codes;
		};
		const [uniqueA, uniqueB] = await group({ kind: "unique", name: "Members", count: 2 });
		const [shared] = await group({ kind: "shared", name: "Card partner", cap: 3 });

		// Five fans register and verify; the draw at the close invites three, each mailed a unique code.
		const emails = Array.from({ length: 5 }, (_, i) => `three-${i}-${drop.id.slice(-6)}@x.test`);
		for (const email of emails) await registered(drop.id, email);
		await until(regCloses);
		const w = windowOf(drop);
		expect((await drawAndTell(env, drop, w, afterClose(w))).ok).toBe(true);
		const invites: string[] = [];
		for (const email of emails) {
			const code = /\b([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})\b/.exec((await mailsTo(email)).at(-1)!.body)?.[1];
			if (code !== undefined) invites.push(code);
		}
		expect(invites).toHaveLength(3);

		// The registered window is open: no code, 403 code_required, nothing written; a code of the code window does not open it.
		const drawnRoom = roomKey(drop.id, "drawn");
		const bare = await joinWith(drop.id, "no-code-1");
		expect([bare.status, await errorCode(bare)]).toEqual([403, "code_required"]);
		const clubCode = await joinWith(drop.id, "wrong-window", shared);
		expect([clubCode.status, await errorCode(clubCode)]).toEqual([403, "code_invalid"]);
		// The drawn fans' codes let them in; one of them used again by another fan is refused.
		const drawnQueue = await Promise.all(invites.map((code, i) => joined(drop.id, `drawn-${i}`, code)));
		const reused = await joinWith(drop.id, "borrower", invites[0]);
		expect([reused.status, await errorCode(reused)]).toEqual([409, "code_used"]);
		expect((await lineRows(drawnRoom)).map((r) => r.fan_id).sort()).toEqual(["drawn-0", "drawn-1", "drawn-2"]);
		// Three fans ask for two each at once at the window's edge of 4: exactly 4 taken.
		const drawnTokens = await admitted(drawnRoom, drop.id, drawnQueue);
		const drawnHolds = await holdAtOnce(drop.id, drawnTokens, 2);
		expect(drawnHolds.taken).toBe(4);
		expect(drawnHolds.refused).toEqual(["409 window_sold_out"]);
		expect(await windowTotals(drop.id, "drawn")).toMatchObject({ held: 4, sold: 0 });
		await buyAll(drop.id, drawnHolds.made);
		expect(await windowTotals(drop.id, "drawn")).toMatchObject({ held: 0, sold: 4 });

		// The code window opens: no code, 403; a unique code twice, 409 code_used; the shared code past its cap, 409 code_exhausted.
		await until(clubOpens);
		const clubRoom = roomKey(drop.id, "club");
		const bareClub = await joinWith(drop.id, "no-code-2");
		expect([bareClub.status, await errorCode(bareClub)]).toEqual([403, "code_required"]);
		const clubQueue = [await joined(drop.id, "member-a", uniqueA)];
		const twice = await joinWith(drop.id, "member-x", uniqueA);
		expect([twice.status, await errorCode(twice)]).toEqual([409, "code_used"]);
		// The code's own fan is let in again.
		expect(await joined(drop.id, "member-a", uniqueA)).toBeTruthy();
		clubQueue.push(await joined(drop.id, "member-b", uniqueB!));
		for (const fan of ["card-1", "card-2", "card-3"]) clubQueue.push(await joined(drop.id, fan, shared));
		const past = await joinWith(drop.id, "card-4", shared);
		expect([past.status, await errorCode(past)]).toEqual([409, "code_exhausted"]);
		// A drawn fan's code belongs to the registered window, now closed: it does not open this one.
		const late = await joinWith(drop.id, "drawn-late", invites[1]);
		expect([late.status, await errorCode(late)]).toEqual([403, "code_invalid"]);
		expect((await lineRows(clubRoom)).map((r) => r.fan_id).sort()).toEqual(["card-1", "card-2", "card-3", "member-a", "member-b"]);
		// Five fans ask for two each at once at the window's edge of 4: exactly 4 taken.
		const clubTokens = await admitted(clubRoom, drop.id, clubQueue);
		const clubHolds = await holdAtOnce(drop.id, clubTokens, 2);
		expect(clubHolds.taken).toBe(4);
		expect(clubHolds.refused).toEqual(["409 window_sold_out", "409 window_sold_out", "409 window_sold_out"]);
		expect(await windowTotals(drop.id, "club")).toMatchObject({ held: 4, sold: 0 });
		await buyAll(drop.id, clubHolds.made);

		// The general sale: the fans not drawn join without a code and meet the drop's own edge: 2 left of 10.
		await until(generalOpens);
		const generalQueue = await Promise.all(["open-1", "open-2", "open-3"].map((fan) => joined(drop.id, fan)));
		const generalTokens = await admitted(drop.id, drop.id, generalQueue);
		const generalHolds = await holdAtOnce(drop.id, generalTokens, 2);
		expect(generalHolds.taken).toBe(2);
		expect(generalHolds.refused).toEqual(["409 sold_out", "409 sold_out"]);

		await buyAll(drop.id, generalHolds.made);

		// Each window sold exactly its capacity, the drop exactly its own, and the audit agrees.
		const counts = await shardStub(env, drop.id, 0).windowTotals({ window: "club" });
		expect([counts.window.sold, counts.sold, counts.held, counts.remaining]).toEqual([4, 10, 0, 0]);
		expect((await windowTotals(drop.id, "drawn")).sold).toBe(4);
		const audit = (await (await adminFetch(`/api/admin/drops/${drop.id}/audit?graceSeconds=0`)).json()) as { oversold: number; windows: { id: string; sold: number; held: number; oversold: number; ok: boolean }[] };
		expect(audit.oversold).toBe(0);
		expect(audit.windows.map((x) => [x.id, x.sold, x.held, x.oversold, x.ok])).toEqual([
			["drawn", 4, 0, 0, true],
			["club", 4, 0, 0, true],
		]);
	});
});
