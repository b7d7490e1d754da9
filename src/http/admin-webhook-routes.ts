// The promoter API's webhooks: an owner key registers endpoints (for every drop of
// its promoter, or one), lists, pauses and resumes them, reads each one's
// deliveries and sends one again. The signing secret is answered once, when the
// endpoint is made. Who may call these is decided in authorizeAdmin (owner keys
// only); each change is in the activity log once it has happened.
import { type IRequest, Router } from "itty-router";
import type { WebhookCreated, WebhookDeliveries, WebhookDeliveryView, WebhookEndpointView, WebhookList } from "../contract/admin-answers";
import { CreateWebhookBody, DELIVERY_ID, DeliveriesQuery, WEBHOOK_ID, nextCursor, parseQuery } from "../contract/requests";
import { dispatchWebhooks, newWebhookSecret } from "../after-sale/webhook-delivery";
import {
	MAX_ENDPOINTS,
	type WebhookEndpoint,
	deliveriesPage,
	getEndpoint,
	insertEndpointStatement,
	listEndpoints,
	pauseStatement,
	resendDelivery,
	resumeStatements,
} from "../after-sale/webhook-endpoints";
import { getDrop } from "../drops/store";
import { ApiError, notFound } from "../shared/errors";
import { randomId } from "../shared/ids";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { activityStatement, principalOf } from "../tenants/auth";

type Args = [Env, ExecutionContext];

export const adminWebhookRoutes = Router<IRequest, Args>({ base: "/api/admin" });

/** The caller's promoter: authorizeAdmin lets only owner keys through to these routes. */
function promoterOf(request: IRequest): string {
	const principal = principalOf(request);
	if (principal.kind !== "key") throw new ApiError(403, "forbidden", "Webhooks belong to a promoter: use one of its owner keys.");
	return principal.promoterId;
}

/** The caller's endpoint named in the path; another promoter's, or none, is 404. */
async function endpointOf(request: IRequest, env: Env): Promise<WebhookEndpoint> {
	const id = request.params.webhookId ?? "";
	const endpoint = WEBHOOK_ID.test(id) ? await getEndpoint(env.DB, promoterOf(request), id) : null;
	if (endpoint === null) throw notFound("webhook endpoint");
	return endpoint;
}

adminWebhookRoutes.post("/webhooks", async (request, env) => {
	const promoterId = promoterOf(request);
	const body = parse(CreateWebhookBody, await readJson(request));
	if (body.dropId !== undefined) {
		const drop = await getDrop(env.DB, body.dropId).catch(() => null);
		if (drop === null || drop.promoterId !== promoterId) throw notFound("drop");
	}
	const createdAt = new Date().toISOString();
	const endpoint: WebhookEndpoint = {
		id: randomId("wh_"),
		promoterId,
		dropId: body.dropId ?? null,
		url: body.url,
		events: [...new Set(body.events)],
		state: "active",
		pausedReason: null,
		failingSince: null,
		stateSince: createdAt,
		lastFailure: null,
		createdAt,
	};
	const secret = newWebhookSecret();
	const inserted = await insertEndpointStatement(env.DB, endpoint, secret).run();
	if (inserted.meta.changes === 0) throw new ApiError(409, "limit_reached", `A promoter has at most ${MAX_ENDPOINTS} webhook endpoints.`, { limit: MAX_ENDPOINTS });
	await activityStatement(env, principalOf(request), {
		action: "webhook.created",
		promoterId,
		dropId: endpoint.dropId,
		detail: { webhookId: endpoint.id, url: endpoint.url, events: endpoint.events },
		at: endpoint.createdAt,
	}).run();
	return Response.json({ ...endpoint, secret } satisfies WebhookCreated, { status: 201 });
});

adminWebhookRoutes.get("/webhooks", async (request, env) => {
	return { endpoints: await listEndpoints(env.DB, promoterOf(request)) } satisfies WebhookList;
});

adminWebhookRoutes.post("/webhooks/:webhookId/pause", async (request, env) => {
	const endpoint = await endpointOf(request, env);
	if (endpoint.state === "active") {
		await env.DB.batch([
			pauseStatement(env.DB, endpoint.id),
			activityStatement(env, principalOf(request), { action: "webhook.paused", promoterId: endpoint.promoterId, dropId: endpoint.dropId, detail: { webhookId: endpoint.id } }),
		]);
	}
	return (await getEndpoint(env.DB, endpoint.promoterId, endpoint.id))! satisfies WebhookEndpointView;
});

adminWebhookRoutes.post("/webhooks/:webhookId/resume", async (request, env, ctx) => {
	const endpoint = await endpointOf(request, env);
	if (endpoint.state === "paused") {
		await env.DB.batch([
			...resumeStatements(env.DB, endpoint.id),
			activityStatement(env, principalOf(request), { action: "webhook.resumed", promoterId: endpoint.promoterId, dropId: endpoint.dropId, detail: { webhookId: endpoint.id } }),
		]);
		ctx.waitUntil(dispatchWebhooks(env).catch((err) => console.error("webhooks: dispatch after resume failed; the cron sends them", err)));
	}
	return (await getEndpoint(env.DB, endpoint.promoterId, endpoint.id))! satisfies WebhookEndpointView;
});

adminWebhookRoutes.get("/webhooks/:webhookId/deliveries", async (request, env) => {
	const endpoint = await endpointOf(request, env);
	const { limit, cursor } = parseQuery(DeliveriesQuery, request.query);
	const before = cursor ? Number(cursor[0]) : null;
	if (before !== null && !Number.isSafeInteger(before)) throw new ApiError(400, "invalid_cursor", `"cursor" is not one this API gave out.`, { field: "cursor" });
	const page = await deliveriesPage(env.DB, endpoint.id, limit, before);
	const last = page.deliveries[page.deliveries.length - 1];
	return {
		deliveries: page.deliveries,
		nextCursor: nextCursor(page.deliveries, limit, page.next !== null && last ? [String(page.next), last.id] : null),
	} satisfies WebhookDeliveries;
});

adminWebhookRoutes.post("/webhooks/:webhookId/deliveries/:deliveryId/resend", async (request, env, ctx) => {
	const endpoint = await endpointOf(request, env);
	const deliveryId = request.params.deliveryId ?? "";
	const delivery = DELIVERY_ID.test(deliveryId) ? await resendDelivery(env.DB, endpoint.id, deliveryId) : null;
	if (delivery === null) throw notFound("delivery");
	await activityStatement(env, principalOf(request), { action: "webhook.resent", promoterId: endpoint.promoterId, dropId: endpoint.dropId, detail: { webhookId: endpoint.id, deliveryId } }).run();
	ctx.waitUntil(dispatchWebhooks(env).catch((err) => console.error("webhooks: dispatch after resend failed; the cron sends it", err)));
	return delivery satisfies WebhookDeliveryView;
});
