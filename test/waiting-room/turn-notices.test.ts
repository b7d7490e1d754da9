// A fan waiting in line leaves an address to be told by email when a returned
// ticket's turn comes: one notice per place (a repeat replaces the address), only
// for a fan with a place who is not admitted yet, bad input refused with nothing
// stored. Each batch offered returned tickets mails exactly the offered places'
// notices, once, with the turn's end and the drop page's link, whatever the pacer
// repeats; a fan outside the batch gets nothing; a send that fails is tried again
// with the batch's log entry, and what went is never sent twice.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { config } from "../../src/shared/config";
import { Sql } from "../../src/shared/sql";
import { turnEndsAt, turnTeller } from "../../src/after-sale/turn-mail";
import { LINE_LOG_RETRY_MS, LineLog, type LineLogHost, LineLogSender, TURN_MAILS_PER_SEND } from "../../src/waiting-room/line-log";
import { saveNotice } from "../../src/waiting-room/turn-notices";
import type { RoomConfig } from "../../src/waiting-room/window-rooms";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { orderReaches, refund } from "../support/after-sale";
import { createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { join, newHold, purchase, status } from "../support/fans";
import { admitBatch, openRoom, roomStub, tickRoom } from "../support/room";
import { HOUR } from "../support/time";
import { waitUntil } from "../support/wait";
import { BASE, adminFetch, fanFetch } from "../support/worker";

const OFFER_SECONDS = 900;

type NoticeRow = { position: number; fan_id: string; email: string; locale: string; page: string; sent_at: string | null };

const notices = async (dropId: string) =>
	(await env.DB.prepare(`SELECT position, fan_id, email, locale, page, sent_at FROM turn_notices WHERE drop_id = ? ORDER BY position`).bind(dropId).all<NoticeRow>()).results;

const notify = (dropId: string, token: string | null, body: unknown) =>
	fanFetch(`/api/drops/${dropId}/notify`, token, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });

type Mail = { orderId: string; to: string; subject: string; body: string };

async function mailTo(address: string): Promise<Mail[]> {
	const res = await adminFetch(`/api/admin/dev/mail?to=${encodeURIComponent(address)}`);
	expect(res.status).toBe(200);
	return ((await res.json()) as { mail: Mail[] }).mail;
}

/** The pacer's write after its tick, finished. */
const logSent = (dropId: string) => runInDurableObject(roomStub(dropId), (room: WaitingRoom) => room.logSender.settled());

/** Two tickets, bought by two fans of the pre-queue; the pacer has seen the sell-out. */
async function soldOutDrop(prefix: string) {
	const opensAtMs = Date.now() + HOUR;
	const drop = await createDrop({
		name: `Turns ${prefix}`,
		opensAt: new Date(opensAtMs).toISOString(),
		capacity: 2,
		maxPerFan: 1,
		shards: 1,
		admission: { batchSize: 5, activeMultiple: 1, intervalMs: 600_000, offerSeconds: OFFER_SECONDS },
	});
	const joined = [await join(drop.id, `${prefix}-b1`), await join(drop.id, `${prefix}-b2`)];
	await openRoom(drop.id, opensAtMs);
	await admitBatch(drop.id);
	const buyers = [];
	for (const j of joined) {
		const access = (await status(drop.id, j.queueToken)).accessToken as string;
		const h = await newHold(drop.id, access, 1);
		const p = await purchase(drop.id, access, h.holdId);
		expect(p.status).toBe(201);
		buyers.push((await p.json()) as { orderId: string; orderToken: string });
	}
	await tickRoom(drop.id);
	return { drop, buyers };
}

describe("a fan's address for the turn mail", () => {
	it("is kept once per place (a repeat replaces it), only with a place and before the turn; bad input is refused and stores nothing", async () => {
		const opensAtMs = Date.now() + HOUR;
		const drop = await createDrop({ opensAt: new Date(opensAtMs).toISOString(), capacity: 10, maxPerFan: 1, admission: { batchSize: 1, intervalMs: 600_000 } });
		const a = await join(drop.id, "tn-a");
		const b = await join(drop.id, "tn-b");
		// Before the opening nobody has a position: the page is told to ask again.
		const early = await notify(drop.id, a.queueToken, { email: "a@fans.test" });
		expect(early.status).toBe(409);
		expect(await errorCode(early)).toBe("not_placed");
		expect(await notices(drop.id)).toEqual([]);
		// No token, a bad token, a bad address, a language the engine does not write in, an unknown field, no JSON: refused.
		expect((await notify(drop.id, null, { email: "a@fans.test" })).status).toBe(401);
		expect((await notify(drop.id, "not-a-token", { email: "a@fans.test" })).status).toBe(401);
		await openRoom(drop.id, opensAtMs);
		for (const [body, code] of [
			[{ email: "no-at-sign" }, "invalid_format"],
			[{ email: "a@" + "x".repeat(260) + ".test" }, "too_long"],
			[{ email: "a@fans.test", locale: "it" }, "invalid_value"],
			[{ email: "a@fans.test", extra: 1 }, "unknown_field"],
			[{}, "missing_field"],
			["{not json", "invalid_json"],
		] as const) {
			const res = await notify(drop.id, a.queueToken, body);
			expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
			expect(res.status).toBeLessThan(500);
			expect(await errorCode(res)).toBe(code);
		}
		expect(await notices(drop.id)).toEqual([]);
		// After the opening the same token's place is found as a poll finds it.
		const first = await notify(drop.id, a.queueToken, { email: "a@fans.test", locale: "de" });
		expect(first.status).toBe(200);
		const { position } = (await first.json()) as { position: number; email: string };
		expect(position).toBe((await status(drop.id, a.queueToken)).position);
		const again = await notify(drop.id, a.queueToken, { email: "a2@fans.test" });
		expect(await again.json()).toEqual({ position, email: "a2@fans.test" });
		expect(await notices(drop.id)).toEqual([{ position, fan_id: "tn-a", email: "a2@fans.test", locale: "en", page: `${BASE}/drops/${drop.id}`, sent_at: null }]);
		// The first of the two is let in: their turn has come, no mail is needed, nothing stored.
		await admitBatch(drop.id);
		const [inTurn, waiting] = (await status(drop.id, a.queueToken)).status === "admitted" ? [a, b] : [b, a];
		const late = await notify(drop.id, inTurn.queueToken, { email: "late@fans.test" });
		expect(late.status).toBe(409);
		expect(await errorCode(late)).toBe("already_admitted");
		expect((await notify(drop.id, waiting.queueToken, { email: "other@fans.test" })).status).toBe(200);
		const rows = await notices(drop.id);
		expect(rows.map((n) => n.email)).not.toContain("late@fans.test");
		expect(rows.find((n) => n.fan_id === waiting.fanId)).toMatchObject({ email: "other@fans.test", position: (await status(drop.id, waiting.queueToken)).position });
		expect(rows).toHaveLength(waiting === a ? 1 : 2);
	});

	it("a deployment that sends no email refuses it and stores nothing", async () => {
		const { drop } = await soldOutDrop("off");
		const w = await join(drop.id, "off-w1");
		await tickRoom(drop.id);
		const res = await fanFetch(`/api/drops/${drop.id}/notify`, w.queueToken, { method: "POST", body: JSON.stringify({ email: "w@fans.test" }) }, { env: { RECEIPT_SENDER: "off" } });
		expect(res.status).toBe(503);
		expect(await errorCode(res)).toBe("mail_unavailable");
		expect(await notices(drop.id)).toEqual([]);
	});
});

describe("the turn mail of a batch offered returned tickets", () => {
	it("goes to exactly the offered places' addresses, once, with the turn's end and the page's link, whatever the pacer repeats", async () => {
		const { drop, buyers } = await soldOutDrop("tm");
		const fans = [await join(drop.id, "tm-w1"), await join(drop.id, "tm-w2"), await join(drop.id, "tm-w3")];
		await tickRoom(drop.id);
		const addresses = ["tm-w1@fans.test", "tm-w2@fans.test", "tm-w3@fans.test"];
		for (const [i, f] of fans.entries()) expect((await notify(drop.id, f.queueToken, { email: addresses[i], locale: i === 0 ? "fr" : "en" })).status).toBe(200);
		// A normal turn sends nothing, and neither does the sell-out: no mail yet.
		await logSent(drop.id);
		for (const a of addresses) expect(await mailTo(a)).toEqual([]);

		await orderReaches(buyers[0]!.orderId, buyers[0]!.orderToken, ["ticketed", "receipt_sent"]);
		expect((await refund(drop.id, buyers[0]!.orderId, { restock: true })).status).toBe(200);
		await admitBatch(drop.id);
		await logSent(drop.id);
		const offered = await status(drop.id, fans[0]!.queueToken);
		expect(offered).toMatchObject({ status: "admitted", offer: true, position: 3 });
		await waitUntil(async () => (await mailTo(addresses[0]!)).length > 0, 10_000, "the offered fan's mail", 20);
		const [mail] = await mailTo(addresses[0]!);
		expect(mail!.orderId).toBe(`turn:${drop.id}:3`);
		expect(mail!.subject).toContain(`Turns tm`);
		// In French, with the turn's end as the status route grants it, in the drop's zone, and the page's link.
		const ends = new Date(offered.accessExpiresAt as string);
		expect(ends.getTime()).toBe(turnEndsAt({ at: Date.parse(offered.admittedAt as string), offerSeconds: OFFER_SECONDS }, config(env).accessTokenSeconds));
		const said = new Intl.DateTimeFormat("fr", { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short", timeZone: "UTC" }).format(ends);
		expect(mail!.body.replace(/[\u00a0\u202f]/g, " ")).toContain(said.replace(/[\u00a0\u202f]/g, " "));
		expect(mail!.body).toContain("Votre tour dure jusqu’au");
		expect(mail!.body).toContain(`${BASE}/drops/${drop.id}`);
		// The fans behind the batch get nothing.
		expect(await mailTo(addresses[1]!)).toEqual([]);
		expect(await mailTo(addresses[2]!)).toEqual([]);
		expect((await notices(drop.id)).map((n) => n.sent_at !== null)).toEqual([true, false, false]);

		// Ticks again, a batch asked again (nothing to offer), the log's write and the mail asked again: no second mail.
		await tickRoom(drop.id);
		await admitBatch(drop.id);
		await logSent(drop.id);
		const teller = turnTeller(env)!;
		expect(await teller({ dropId: drop.id, dropName: drop.name, from: 3, through: 3, at: Date.parse(offered.admittedAt as string), offerSeconds: OFFER_SECONDS }, 50)).toEqual({ sent: 0, more: false });
		expect(await mailTo(addresses[0]!)).toHaveLength(1);
		expect(await mailTo(addresses[1]!)).toEqual([]);
	});

	it("a send that fails keeps the batch's entry, and the pacer's retry sends only what did not go; each address gets one mail", async () => {
		const drop = await createDrop({ name: "Retry" });
		for (const p of [1, 2, 3, 4]) await saveNotice(env.DB, drop.id, { position: p, fanId: `rt-${p}`, email: `rt-${p}@fans.test`, locale: "en", page: "https://x.test/drops/d" }, Date.now());
		const delivered: string[] = [];
		let attempts = 0;
		const mailEnv = {
			...env,
			RECEIPT_SENDER: "email",
			RECEIPT_FROM: "drops@x.test",
			RECEIPTS: {
				send: async (m: { to: string }) => {
					attempts++;
					// The second send fails once.
					if (attempts === 2) throw new Error("mail server unavailable");
					delivered.push(m.to);
				},
			},
		} as unknown as Env;
		await runInDurableObject(roomStub(drop.id), async (_room, state) => {
			const log = new LineLog(new Sql(state.storage.sql));
			log.note("drop.returns_offered", { fans: 3, positions: { from: 1, through: 3 }, ticketsBack: 3, offerSeconds: 600, waiting: 1 }, 1_000);
			const comeBacks: number[] = [];
			const waits: Promise<unknown>[] = [];
			const host: LineLogHost = { log, room: () => drop as RoomConfig, now: () => 50_000, waitUntil: (w) => waits.push(w), comeBack: async (at) => void comeBacks.push(at) };
			const sender = new LineLogSender(env.DB, host, turnTeller(mailEnv));
			sender.flush();
			await Promise.all(waits);
			expect(delivered).toEqual(["rt-1@fans.test"]);
			expect(comeBacks).toEqual([50_000 + LINE_LOG_RETRY_MS]);
			expect(log.pending()).toHaveLength(1);
			// The retry: the entry written again (guarded: still one), and only the two not sent.
			sender.flush();
			await Promise.all(waits);
			expect(delivered).toEqual(["rt-1@fans.test", "rt-2@fans.test", "rt-3@fans.test"]);
			expect(log.pending()).toEqual([]);
			sender.flush();
			await sender.settled();
		});
		expect(delivered).toEqual(["rt-1@fans.test", "rt-2@fans.test", "rt-3@fans.test"]);
		// Position 4 was not in the batch.
		expect((await notices(drop.id)).map((n) => [n.position, n.sent_at !== null])).toEqual([[1, true], [2, true], [3, true], [4, false]]);
		const entries = await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE drop_id = ? AND action = 'drop.returns_offered'`).bind(drop.id).first<{ n: number }>();
		expect(entries!.n).toBe(1);
	});
	it("a batch with more addresses than one send mails brings the pacer back at once for the rest, each once", async () => {
		const drop = await createDrop({ name: "Many" });
		const count = TURN_MAILS_PER_SEND + 3;
		for (let p = 1; p <= count; p++) await saveNotice(env.DB, drop.id, { position: p, fanId: `mn-${p}`, email: `mn-${p}@fans.test`, locale: "en", page: "https://x.test/drops/d" }, Date.now());
		const delivered: string[] = [];
		const mailEnv = { ...env, RECEIPT_SENDER: "email", RECEIPT_FROM: "drops@x.test", RECEIPTS: { send: async (m: { to: string }) => void delivered.push(m.to) } } as unknown as Env;
		await runInDurableObject(roomStub(drop.id), async (_room, state) => {
			const log = new LineLog(new Sql(state.storage.sql));
			log.note("drop.returns_offered", { fans: count, positions: { from: 1, through: count }, ticketsBack: count, offerSeconds: 600, waiting: 0 }, 1_000);
			const comeBacks: number[] = [];
			const waits: Promise<unknown>[] = [];
			const host: LineLogHost = { log, room: () => drop as RoomConfig, now: () => 70_000, waitUntil: (w) => waits.push(w), comeBack: async (at) => void comeBacks.push(at) };
			const sender = new LineLogSender(env.DB, host, turnTeller(mailEnv));
			sender.flush();
			await Promise.all(waits);
			expect(delivered).toHaveLength(TURN_MAILS_PER_SEND);
			expect(comeBacks).toEqual([70_000]);
			expect(log.pending()).toHaveLength(1);
			sender.flush();
			await Promise.all(waits);
			expect(log.pending()).toEqual([]);
			expect(comeBacks).toEqual([70_000]);
		});
		expect([...delivered].sort()).toEqual(Array.from({ length: count }, (_, i) => `mn-${i + 1}@fans.test`).sort());
	});
});
