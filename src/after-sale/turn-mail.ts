// The email that tells a fan in a drop's line that a returned ticket's turn has
// come to them: in their language, with the turn's end (in the drop's time zone)
// and the drop page's link, through the receipts' mail path (RECEIPT_SENDER: the
// send_email binding, or the dev mailbox keyed `turn:<drop>:<position>`). The
// pacer's log sender calls it after the tick for each batch offered returned
// tickets. Each mail is marked sent after it went, the sends of one call marked
// together even when one fails midway: a crash between a send and its mark sends
// that mail again (at least once), a failed send is tried again with the batch's
// log entry, and a mail marked sent is never sent again.
import { config } from "../shared/config";
import { type TurnNotice, type TurnOffer, type TurnTeller, markNoticesSent, unsentNotices } from "../waiting-room/turn-notices";
import { type FanMail, fanMailer } from "./draw-mail";
import { dropTimeZone } from "./receipts";
import { mailLocale, mailWriter } from "./mail-words";

/** When an offer's turn ends: as the status route grants it, the longer of an access token's life and the offer, to the second. */
export function turnEndsAt(offer: Pick<TurnOffer, "at" | "offerSeconds">, accessSeconds: number): number {
	return Math.floor((offer.at + Math.max(accessSeconds, offer.offerSeconds) * 1000) / 1000) * 1000;
}

export function turnMail(args: { dropId: string; dropName: string; notice: TurnNotice; endsAt: number; timeZone: string }): FanMail {
	const say = mailWriter(mailLocale(args.notice.locale), args.timeZone);
	const words = { drop: args.dropName, until: say.date(new Date(args.endsAt).toISOString()), link: args.notice.page };
	return {
		ref: `turn:${args.dropId}:${args.notice.position}`,
		to: args.notice.email,
		subject: say.t("turn.subject", words),
		text: [say.t("turn.come", words), "", say.t("turn.until", words), "", say.t("turn.link", words)].join("\n"),
	};
}

/** The deployment's teller for a drop's pacer, or null when it sends no email (then the route stores no notice). */
export function turnTeller(env: Env): TurnTeller | null {
	const send = fanMailer(env);
	if (send === null) return null;
	const accessSeconds = config(env).accessTokenSeconds;
	return async (offer, limit) => {
		const notices = await unsentNotices(env.DB, offer, limit + 1);
		const now = notices.length === 0 ? 0 : Date.now();
		const sent: number[] = [];
		if (notices.length > 0) {
			const timeZone = await dropTimeZone(env.DB, offer.dropId);
			const endsAt = turnEndsAt(offer, accessSeconds);
			try {
				for (const notice of notices.slice(0, limit)) {
					await send(turnMail({ dropId: offer.dropId, dropName: offer.dropName, notice, endsAt, timeZone }));
					sent.push(notice.position);
				}
			} finally {
				// What went out is marked even when a send failed midway, so the retry sends only the rest.
				await markNoticesSent(env.DB, offer.dropId, sent, now);
			}
		}
		return { sent: sent.length, more: notices.length > limit };
	};
}
