// The Worker's routes: the API's groups, the keys, the OpenAPI document and the pages.
import { AutoRouter, type IRequest } from "itty-router";
import { adminRouter } from "./admin-routes";
import type { Health } from "../contract/engine-answers";
import { config } from "../shared/config";
import { fanRouter } from "./fan-routes";
import { ApiError, errorResponse, internalError } from "../shared/errors";
import { openApiDocument } from "./openapi";
import { scanTicket } from "./scan-route";
import { stripeWebhook } from "./stripe-webhook";
import { publicJwks } from "../shared/tokens";
import { ValidationError } from "../shared/validation";
import { corsPreflight } from "./headers";

type Args = [Env, ExecutionContext];

export function toResponse(err: unknown): Response {
	if (err instanceof ApiError) return errorResponse(err);
	if (err instanceof ValidationError) return errorResponse(new ApiError(err.status, err.code, err.message, { field: err.field }));
	return internalError(err);
}

export const router = AutoRouter<IRequest, Args>({
	catch: toResponse,
	missing: () => errorResponse(new ApiError(404, "not_found", "No such route.")),
});

router
	.options("/api/*", (request, env) => corsPreflight(request, config(env).corsOrigins))
	.get("/api/health", () => ({ ok: true, time: new Date().toISOString() }) satisfies Health)
	.get("/api/openapi.json", () => Response.json(openApiDocument(), { headers: { "Cache-Control": "public, max-age=3600" } }))
	.get("/.well-known/jwks.json", async (_request, env) =>
		Response.json(await publicJwks(env), { headers: { "Cache-Control": "public, max-age=300" } }),
	)
	// The gate's scan takes a gate credential, not the admin token (src/tenants/gate-auth.ts).
	.post("/api/admin/drops/:id/scan", scanTicket)
	.all("/api/admin/*", adminRouter.fetch)
	.post("/api/payments/stripe/webhook", stripeWebhook)
	.all("/api/*", fanRouter.fetch)
	// An unknown API path answers the contract's JSON 404, never falls through to the static assets.
	.all("/api/*", () => errorResponse(new ApiError(404, "not_found", "No such route.")))
	// Pages: a drop's fan page, the promoter page, the gate scanner and a transfer's accept page are single HTML files.
	.get("/drops/:id", (request, env) => env.ASSETS.fetch(new URL("/drop.html", request.url)))
	.get("/admin", (request, env) => env.ASSETS.fetch(new URL("/admin.html", request.url)))
	.get("/gate", (request, env) => env.ASSETS.fetch(new URL("/gate.html", request.url)))
	// A transfer's accept page: its secret rides in the fragment, which never reaches here.
	.get("/transfer", (request, env) => env.ASSETS.fetch(new URL("/transfer.html", request.url)))
	// A plain Request: the assets binding refuses itty's decorated one ("Invalid URL: [object Request]").
	.get("*", (request, env) => env.ASSETS.fetch(new Request(request.url, { headers: request.headers })));
