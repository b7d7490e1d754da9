// The fan API's public view of a drop: the drop itself, what is left per ticket
// type, the seat map and what anyone needs to check the admission order. Every
// answer comes from cached copies (the watermark, the availability, the seat
// map), never a call to the pacer or the shards per request.
import { type IRequest, Router } from "itty-router";
import type { Availability, Fairness, PublicDrop, SeatMap } from "../contract/fan-answers";
import { publicStatus } from "../drops/rules";
import { seatMap } from "../drops/seat-map";
import { cachedAvailability } from "../inventory/availability";
import { config } from "../shared/config";
import { unwrap } from "../shared/outcome";
import { knownDropId, watermark } from "./fan-request";
import { SHUFFLE_ALGORITHM } from "../waiting-room/pacer-audit";
import { FairnessQuery, parseQuery } from "../contract/requests";
import { requireKnownDrop } from "../drops/known-drops";
import { presaleById } from "../drops/presales";
import { notFound } from "../shared/errors";
import { roomKey } from "../shared/names";

type Args = [Env, ExecutionContext];

export const fanDropRoutes = Router<IRequest, Args>({ base: "/api" });

fanDropRoutes.get("/drops/:id", async (request, env, ctx) => {
	const id = await knownDropId(request, env);
	const w = await watermark(env, id, ctx);
	const now = Date.now();
	const soldOut = w.soldOut || (w.remaining === 0 && w.held === 0);
	// The windows come with the drop's existence from this isolate's cache (they never change once the drop is made).
	const { presales } = await requireKnownDrop(env, id);
	return Response.json(
		{
			id: w.dropId,
			name: w.name,
			opensAt: w.opensAt,
			closesAt: w.closesAt,
			status: publicStatus(w, soldOut, now),
			remaining: w.remaining,
			capacity: w.capacity,
			maxPerFan: w.maxPerFan,
			priceCents: w.priceCents,
			currency: w.currency,
			// A watermark cached from before drops had a zone: UTC, as D1's default says.
			timeZone: w.timeZone ?? "UTC",
			holdSeconds: w.holdSeconds,
			paused: w.paused,
			lines: w.lines,
			seedCommitment: w.seedCommitment,
			ticketTypes: w.ticketTypes,
			...(presales === undefined ? {} : { presales }),
			payments: paymentsOffered(env),
			serverTime: new Date(now).toISOString(),
		} satisfies PublicDrop,
		{ headers: { "Cache-Control": "public, max-age=1" } },
	);
});

/** The methods fans may pay with here, and Stripe's publishable key where the page can take cards. */
function paymentsOffered(env: Env): PublicDrop["payments"] {
	const settings = config(env);
	const methods: PublicDrop["payments"]["methods"] = [];
	if (settings.testPayments) methods.push("test");
	if (settings.stripe !== null) methods.push("stripe");
	return { methods, stripePublishableKey: settings.stripe === null ? null : settings.stripePublishableKey };
}

// What is left per type, slot and section: from the Worker's copy of what the pacer
// gathered (src/inventory/availability.ts), at most a second or two old; never a call to the shards.
fanDropRoutes.get("/drops/:id/availability", async (request, env, ctx) => {
	const id = await knownDropId(request, env);
	const doc = unwrap(await cachedAvailability(env, id, ctx));
	return Response.json({ ...doc, serverTime: new Date().toISOString() } satisfies Availability, { headers: { "Cache-Control": "public, max-age=1" } });
});

// Every seat with its section, row and number, for the seat map (src/drops/seat-map.ts): cached a minute.
fanDropRoutes.get("/drops/:id/seats", async (request, env) => {
	const id = await knownDropId(request, env);
	return Response.json((await seatMap(env.DB, id, request.query)) satisfies SeatMap, { headers: { "Cache-Control": "public, max-age=60" } });
});

fanDropRoutes.get("/drops/:id/fairness", async (request, env, ctx) => {
	const id = await knownDropId(request, env);
	// A sale window's line has its own seed and pre-queue, published the same way from its own pacer.
	const { window } = parseQuery(FairnessQuery, request.query);
	if (window !== undefined && presaleById((await requireKnownDrop(env, id)).presales, window) === null) throw notFound("window");
	const w = await watermark(env, roomKey(id, window), ctx);
	return Response.json(
		{
			dropId: w.dropId,
			...(window === undefined ? {} : { window }),
			algorithm: SHUFFLE_ALGORITHM,
			seedCommitment: w.seedCommitment,
			seed: w.seed,
			lines: w.lines,
			prequeue: w.prequeue,
			prequeueSize: w.prequeue === null ? null : w.prequeue.reduce((a, b) => a + b, 0),
			admittedThrough: w.admittedThrough,
			lastPosition: w.lastPosition,
			opensAt: w.opensAt,
			serverTime: new Date().toISOString(),
		} satisfies Fairness,
		{ headers: { "Cache-Control": "public, max-age=1" } },
	);
});
