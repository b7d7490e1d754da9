// The fan API's registration for a registered sale window, and its public draw.
// A registration takes the join's protections in the join's order (the client's
// limit first, then identity, then Turnstile), mails a code to the address in the
// fan's language, and is one per address; a wrong code is charged to the client's
// join limit like a wrong presale code. The draw's answer is what anyone needs to
// re-derive it: the commitment before, the seed, the registration ids and the
// invited ids after. A read after registration has closed draws a window the cron
// has not reached yet (the draw is made once, whoever asks first).
import { type IRequest, Router } from "itty-router";
import { type DrawAnswer, DrawQuery, RegisterBody, type RegistrationSent, type RegistrationVerified, VerifyRegistrationBody } from "../contract/registrations";
import { parseQuery } from "../contract/requests";
import { requireKnownDrop } from "../drops/known-drops";
import type { Presale } from "../drops/presales";
import { config } from "../shared/config";
import { ApiError } from "../shared/errors";
import { failureOf, unwrap } from "../shared/outcome";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { chargeWrongCode, fanIdFromIdentity, limitJoinsByClient, verifyTurnstile } from "../waiting-room/join-guard";
import { DRAW_ALGORITHM } from "../waiting-room/draw-core";
import { publicDraw, register, verify } from "../waiting-room/registrations";
import { fanMailer, verificationMail } from "../after-sale/draw-mail";
import { dropIdOf } from "./fan-request";

type Args = [Env, ExecutionContext];

export const fanRegistrationRoutes = Router<IRequest, Args>({ base: "/api" });

const clientIp = (request: Request) => request.headers.get("cf-connecting-ip");

/** The registered window a request names, or the drop's only one. */
function registeredWindow(presales: Presale[] | undefined, id: string | undefined): Presale {
	const registered = (presales ?? []).filter((w) => w.access === "registered" && w.registration !== undefined);
	const window = id === undefined ? (registered.length === 1 ? registered[0] : undefined) : registered.find((w) => w.id === id);
	if (window !== undefined) return window;
	if (id === undefined && registered.length > 1) throw new ApiError(400, "missing_field", `The drop has several registered windows: name one in "window".`, { field: "window" });
	throw new ApiError(404, "not_found", "The drop has no registered sale window of this id.");
}

fanRegistrationRoutes.post("/drops/:id/registrations", async (request, env) => {
	const ip = clientIp(request);
	await limitJoinsByClient(env, ip);
	const dropId = dropIdOf(request);
	const { presales } = await requireKnownDrop(env, dropId);
	const body = parse(RegisterBody, await readJson(request));
	const window = registeredWindow(presales, body.window);
	const settings = config(env);
	const fanId = settings.fanIdentity === null ? null : await fanIdFromIdentity(env, body.identityToken);
	await verifyTurnstile(env, body.turnstileToken, ip);
	const send = fanMailer(env);
	// Without a mail path no address can be verified: said before anything is stored.
	if (send === null) throw new ApiError(503, "mail_unavailable", "Registration needs email, which this deployment does not send.", { retryAfter: 3600 });
	const locale = body.locale ?? "en";
	const made = unwrap(await register(env.DB, { dropId, window, email: body.email, locale, fanId, now: Date.now() }));
	if (made.code !== null) await send(verificationMail({ registrationId: made.registrationId, to: body.email, locale, window, code: made.code }));
	return Response.json(
		{ window: window.id, status: "verification_sent", expiresAt: made.expiresAt, registrationClosesAt: window.registration!.closesAt } satisfies RegistrationSent,
		{ status: 202, headers: { "cache-control": "no-store" } },
	);
});

fanRegistrationRoutes.post("/drops/:id/registrations/verify", async (request, env) => {
	const ip = clientIp(request);
	await limitJoinsByClient(env, ip);
	const dropId = dropIdOf(request);
	const { presales } = await requireKnownDrop(env, dropId);
	const body = parse(VerifyRegistrationBody, await readJson(request));
	const window = registeredWindow(presales, body.window);
	const outcome = await verify(env.DB, { dropId, window, email: body.email, code: body.code, now: Date.now() });
	// A wrong code costs the client as a wrong presale code does: no one walks the eight digits.
	if (failureOf(outcome)?.code === "verification_invalid") await chargeWrongCode(env, ip);
	const verified = unwrap(outcome);
	return Response.json(
		{ registrationId: verified.registrationId, window: window.id, status: "verified", verifiedAt: verified.verifiedAt, drawAt: window.registration!.closesAt } satisfies RegistrationVerified,
		{ headers: { "cache-control": "no-store" } },
	);
});

fanRegistrationRoutes.get("/drops/:id/draw", async (request, env) => {
	const dropId = dropIdOf(request);
	const drop = await requireKnownDrop(env, dropId);
	const query = parseQuery(DrawQuery, request.query);
	const window = registeredWindow(drop.presales, query.window);
	const now = Date.now();
	const r = window.registration!;
	const parts = await publicDraw(env.DB, dropId, window, now);
	return Response.json(
		{
			dropId,
			window: window.id,
			algorithm: DRAW_ALGORITHM,
			registrationOpensAt: r.opensAt,
			registrationClosesAt: r.closesAt,
			invites: r.invites,
			...parts,
		} satisfies DrawAnswer,
		// Fixed once drawn: cacheable a minute; before, only the commitment, briefly.
		{ headers: { "cache-control": parts.seed === null ? "public, max-age=5" : "public, max-age=60" } },
	);
});
