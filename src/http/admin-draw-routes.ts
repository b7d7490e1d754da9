// The promoter API's draw of a registered sale window: made now, once its
// registration has closed (the cron makes it within a minute otherwise); asked
// again, or raced by the cron or another request, it answers the one draw made.
// A draw made here is in the activity log with the key that asked.
import { type IRequest, Router } from "itty-router";
import type { DrawMade } from "../contract/registrations";
import { ApiError } from "../shared/errors";
import { unwrap } from "../shared/outcome";
import { activityStatement, dropOf, principalOf } from "../tenants/auth";
import { drawAndTell } from "../after-sale/draw-mail";
import { dispatchWebhooks } from "../after-sale/webhook-delivery";

type Args = [Env, ExecutionContext];

export const adminDrawRoutes = Router<IRequest, Args>({ base: "/api/admin" });

adminDrawRoutes.post("/drops/:id/windows/:windowId/draw", async (request, env, ctx) => {
	const drop = dropOf(request);
	const window = drop.presales?.find((w) => w.id === request.params.windowId);
	if (window === undefined) throw new ApiError(404, "not_found", "The drop has no sale window with this id.");
	const made = unwrap(await drawAndTell(env, drop, window, Date.now()));
	if (made.made) {
		await activityStatement(env, principalOf(request), {
			action: "draw.made",
			promoterId: drop.promoterId,
			dropId: drop.id,
			detail: { windowId: window.id, registered: made.registered, drawn: made.invited, groupId: made.groupId },
			at: made.drawnAt,
		}).run();
		// Its presale.drawn deliveries go out now, after the answer.
		ctx.waitUntil(dispatchWebhooks(env).catch((err) => console.error("draw: webhook dispatch failed; the cron sends them", err)));
	}
	return Response.json(
		{ window: window.id, made: made.made, drawnAt: made.drawnAt, registered: made.registered, drawn: made.invited, groupId: made.groupId } satisfies DrawMade,
		{ status: made.made ? 201 : 200 },
	);
});
