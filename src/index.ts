// Wiring only: the router, the Queue consumers, the cron and the Durable Object classes.
import { AutoRouter, type IRequest } from "itty-router";
import { adminRouter } from "./admin-routes";
import { config } from "./config";
import { fanRouter } from "./fan-routes";
import { ApiError, allowedOrigin, corsPreflight, errorResponse, internalError, withCors, withSecurityHeaders } from "./http";
import { consumeSales } from "./sales-consumer";
import { DEAD_SALES_QUEUE, consumeDeadSales } from "./sales-dead-letters";
import { reconcileRecentDrops } from "./sales-reconcile";
import { publicJwks } from "./tokens";
import { ValidationError } from "./validation";

export { InventoryShard } from "./inventory-shard";
export { WaitingLine } from "./waiting-line";
export { WaitingRoom } from "./waiting-room";

type Args = [Env, ExecutionContext];

function toResponse(err: unknown): Response {
	if (err instanceof ApiError) return errorResponse(err);
	if (err instanceof ValidationError) return errorResponse(new ApiError(err.status, err.code, err.message, { field: err.field }));
	return internalError(err);
}

const router = AutoRouter<IRequest, Args>({
	catch: toResponse,
	missing: () => errorResponse(new ApiError(404, "not_found", "No such route.")),
});

router
	.options("/api/*", (request, env) => corsPreflight(request, config(env).corsOrigins))
	.get("/api/health", () => ({ ok: true, time: new Date().toISOString() }))
	.get("/.well-known/jwks.json", async (_request, env) =>
		Response.json(await publicJwks(env), { headers: { "Cache-Control": "public, max-age=300" } }),
	)
	.all("/api/admin/*", adminRouter.fetch)
	.all("/api/*", fanRouter.fetch)
	// An unknown API path answers the contract's JSON 404, never falls through to the static assets.
	.all("/api/*", () => errorResponse(new ApiError(404, "not_found", "No such route.")))
	// Pages: a drop's fan page and the promoter page are single HTML files.
	.get("/drops/:id", (request, env) => env.ASSETS.fetch(new URL("/drop.html", request.url)))
	.get("/admin", (request, env) => env.ASSETS.fetch(new URL("/admin.html", request.url)))
	// A plain Request: the assets binding refuses itty's decorated one ("Invalid URL: [object Request]").
	.get("*", (request, env) => env.ASSETS.fetch(new Request(request.url, { headers: request.headers })));

export default {
	async fetch(request, env, ctx) {
		const response: Response = await router.fetch(request, env, ctx).catch(toResponse);
		const url = new URL(request.url);
		const isApi = url.pathname.startsWith("/api/") || url.pathname.startsWith("/.well-known/");
		const secured = withSecurityHeaders(response, { page: !isApi });
		return isApi ? withCors(secured, allowedOrigin(request, config(env).corsOrigins), config(env).corsOrigins) : secured;
	},
	async queue(batch, env) {
		if (batch.queue === DEAD_SALES_QUEUE) await consumeDeadSales(batch, env);
		else await consumeSales(batch, env);
	},
	async scheduled(_controller, env) {
		await reconcileRecentDrops(env);
	},
} satisfies ExportedHandler<Env, unknown>;
