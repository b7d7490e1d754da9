// The fan API's turn mail: a fan waiting in a drop's line leaves an address to be
// told by email when a returned ticket's turn comes to them (after a sell-out
// every ticket that comes back is offered to the next fans in line, as a turn of
// the drop's offerSeconds, long enough to come back to from the mail). The
// address is kept per place in the line, so the fan needs a position: a queue
// token that carries one, or one the status route's way finds. A normal turn
// during the sale sends no mail (the fan is watching the page then): only an
// offer of returned tickets does, sent by the pacer after its tick.
import { type IRequest, Router } from "itty-router";
import { NoticeBody, type TurnNoticeAnswer } from "../contract/turn-notices";
import { hasClosed } from "../drops/rules";
import { dropState, refusal } from "../drops/lifecycle";
import { ApiError } from "../shared/errors";
import { ok, unwrap } from "../shared/outcome";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { roomKey } from "../shared/names";
import { fanMailer } from "../after-sale/draw-mail";
import { saveNotice } from "../waiting-room/turn-notices";
import { dropIdOf, watermark } from "./fan-request";
import { queueClaims, resolvePosition } from "./fan-queue-routes";

type Args = [Env, ExecutionContext];

export const fanNoticeRoutes = Router<IRequest, Args>({ base: "/api" });

fanNoticeRoutes.post("/drops/:id/notify", async (request, env, ctx) => {
	const dropId = dropIdOf(request);
	const claims = await queueClaims(request, env, dropId);
	// Everything is checked before anything is stored: the body first.
	const body = parse(NoticeBody, await readJson(request));
	// A sale window's sell-out is final: its line never gets a returned ticket's turn to tell of.
	if (claims.window !== undefined) throw new ApiError(409, "no_returns_line", "A sale window's line gets no returned tickets: there is no turn to email you about.");
	const now = Date.now();
	const w = await watermark(env, roomKey(dropId), ctx);
	unwrap(refusal(dropState(w, w.soldOut, now), "admit") ?? ok(null));
	if (hasClosed(w, now)) throw new ApiError(409, "drop_closed", "The drop has closed: no turn is coming.");
	if (fanMailer(env) === null) throw new ApiError(503, "mail_unavailable", "This deployment sends no email.", { retryAfter: 3600 });
	const position = claims.position ?? (await resolvePosition(env, w, roomKey(dropId), claims.fanId, claims));
	if (position === null) throw new ApiError(409, "not_placed", "Your place in the line is not settled yet; ask again in a moment.", { retryAfter: 1 });
	if (position <= w.admittedThrough) throw new ApiError(409, "already_admitted", "Your turn has come already: no email is needed.");
	await saveNotice(env.DB, dropId, { position, fanId: claims.fanId, email: body.email, locale: body.locale ?? "en", page: new URL(`/drops/${dropId}`, request.url).href }, now);
	return Response.json({ position, email: body.email } satisfies TurnNoticeAnswer, { headers: { "cache-control": "no-store" } });
});
