// The emails of a registered window, in the fan's language, through the receipts'
// mail path (RECEIPT_SENDER: the send_email binding, or the dev mailbox keyed by the
// registration id): the verification code, then after the draw the invitation with
// the fan's unique code, or the news that they were not drawn with how to wait for
// the general sale. The draw's emails are sent by whoever made the draw and by the
// minute's cron after it, a bounded number at a time, marked told in fifties once
// sent (a crash between a send and its mark sends those again: at least once, never
// lost). The cron also draws every window whose registration has closed. Either way
// the draw's `presale.drawn` webhook event rides the draw's batch.
import type { Presale } from "../drops/presales";
import { config } from "../shared/config";
import { type Outcome, ok } from "../shared/outcome";
import { drawWindow, markTold, registrationsToTell } from "../waiting-room/registrations";
import { devMailbox } from "./receipts";
import { mailLocale, mailWriter } from "./mail-words";
import { drawnEventStatement } from "./webhook-events";

/** The cron schedule (wrangler.toml) that draws and tells: every minute. */
export const DRAW_CRON = "* * * * *";
/** Emails one call sends, marked told 50 at a time: about 510 subrequests, well inside a Worker's 1,000. */
export const TELL_PER_RUN = 500;
const MARK_EVERY = 50;
/** Windows the cron draws in one run. */
const DRAWS_PER_RUN = 5;

export interface FanMail {
	ref: string;
	to: string;
	subject: string;
	text: string;
}

/** The deployment's mail path, or null when it sends nothing (then no address can be verified). */
export function fanMailer(env: Env): ((mail: FanMail) => Promise<void>) | null {
	const settings = config(env).receipts;
	if (settings.sender === "dev") {
		const box = devMailbox(env.DB);
		return (mail) => box.send({ orderId: mail.ref, to: mail.to, subject: mail.subject, text: mail.text });
	}
	if (settings.sender === "email") {
		const from = settings.from;
		return async (mail) => {
			await env.RECEIPTS.send({ from, to: mail.to, subject: mail.subject, text: mail.text, headers: { "X-Registration-Id": mail.ref } });
		};
	}
	return null;
}

export function verificationMail(args: { registrationId: string; to: string; locale: string; window: Presale; code: string }): FanMail {
	const say = mailWriter(mailLocale(args.locale));
	return {
		ref: args.registrationId,
		to: args.to,
		subject: say.t("registration.subject", { window: args.window.name, code: args.code }),
		text: [say.t("registration.code", { window: args.window.name, code: args.code }), "", say.t("registration.ignore")].join("\n"),
	};
}

export function drawMail(args: { registrationId: string; to: string; locale: string; window: Presale; generalOpensAt: string; invited: boolean; code: string | null }): FanMail {
	const say = mailWriter(mailLocale(args.locale));
	const words = { window: args.window.name, registrationId: args.registrationId, opensAt: say.date(args.window.opensAt), generalOpensAt: say.date(args.generalOpensAt) };
	if (args.invited && args.code !== null) {
		return { ref: args.registrationId, to: args.to, subject: say.t("draw.invited.subject", words), text: [say.t("draw.invited", words), "", say.t("draw.code", { code: args.code })].join("\n") };
	}
	return { ref: args.registrationId, to: args.to, subject: say.t("draw.notDrawn.subject", words), text: [say.t("draw.notDrawn", words), "", say.t("draw.waitlist", words)].join("\n") };
}

/** Sends up to `limit` of a drawn window's emails; answers how many went. */
export async function tellDrawn(env: Env, drop: { id: string; opensAt: string }, window: Presale, now: number, limit = TELL_PER_RUN): Promise<number> {
	const send = fanMailer(env);
	if (send === null) return 0;
	let told = 0;
	let sent: string[] = [];
	try {
		for (const r of await registrationsToTell(env.DB, drop.id, window.id, limit)) {
			// An invited fan whose code is gone cannot be sent it: that row is only marked.
			if (!(r.invited && r.code === null)) {
				await send(drawMail({ registrationId: r.id, to: r.email, locale: r.locale, window, generalOpensAt: drop.opensAt, invited: r.invited, code: r.code }));
				told++;
			}
			sent.push(r.id);
			if (sent.length >= MARK_EVERY) {
				await markTold(env.DB, sent, now);
				sent = [];
			}
		}
	} finally {
		// What went out is marked even when a send failed midway, so a retry sends only the rest.
		if (sent.length > 0) await markTold(env.DB, sent, now);
	}
	return told;
}

/** The draw's webhook event, for the draw's own batch. */
const drawnEvents = (db: D1Database, dropId: string, windowId: string) => (at: string) => [drawnEventStatement(db, dropId, windowId, at)];

/** The draw of one window, then its first emails when this call made it. */
export async function drawAndTell(env: Env, drop: { id: string; opensAt: string }, window: Presale, now: number) {
	const outcome = await drawWindow(env.DB, { dropId: drop.id, window, now, events: drawnEvents(env.DB, drop.id, window.id) });
	if (outcome.ok && outcome.value.made) await tellDrawn(env, drop, window, now);
	return outcome;
}

/**
 * The cron's part: draws the registered windows whose registration has closed (of drops
 * not cancelled), and goes on telling the drawn windows' fans not told yet.
 */
export async function drawDueWindows(env: Env, now: number): Promise<Outcome<{ drawn: number; told: number }>> {
	const at = new Date(now).toISOString();
	const { results: due } = await env.DB.prepare(
		`SELECT p.drop_id AS dropId, d.opens_at AS opensAt, w.value AS window FROM drop_presales p JOIN drops d ON d.id = p.drop_id, json_each(p.presales) w
		 WHERE d.cancelled_at IS NULL AND json_extract(w.value, '$.access') = 'registered' AND json_extract(w.value, '$.registration.closesAt') <= ?1
		 AND NOT EXISTS (SELECT 1 FROM presale_draw_results r WHERE r.drop_id = p.drop_id AND r.window_id = json_extract(w.value, '$.id')) LIMIT ?2`,
	)
		.bind(at, DRAWS_PER_RUN)
		.all<{ dropId: string; opensAt: string; window: string }>();
	let drawn = 0;
	for (const row of due) {
		const window = JSON.parse(row.window) as Presale;
		const outcome = await drawWindow(env.DB, { dropId: row.dropId, window, now, events: drawnEvents(env.DB, row.dropId, window.id) });
		if (outcome.ok && outcome.value.made) drawn++;
		else if (!outcome.ok) console.error("draw not made", row.dropId, outcome.code);
	}
	const { results: untold } = await env.DB.prepare(
		`SELECT DISTINCT r.drop_id AS dropId, d.opens_at AS opensAt, w.value AS window FROM registrations r JOIN presale_draw_results x ON x.drop_id = r.drop_id AND x.window_id = r.window_id
		 JOIN drops d ON d.id = r.drop_id JOIN drop_presales p ON p.drop_id = r.drop_id, json_each(p.presales) w
		 WHERE r.told_at IS NULL AND r.verified_at IS NOT NULL AND json_extract(w.value, '$.id') = r.window_id LIMIT ?1`,
	)
		.bind(DRAWS_PER_RUN)
		.all<{ dropId: string; opensAt: string; window: string }>();
	// One budget for the run, whatever the number of windows.
	let told = 0;
	for (const row of untold) {
		if (told >= TELL_PER_RUN) break;
		told += await tellDrawn(env, { id: row.dropId, opensAt: row.opensAt }, JSON.parse(row.window) as Presale, now, TELL_PER_RUN - told);
	}
	return ok({ drawn, told });
}
