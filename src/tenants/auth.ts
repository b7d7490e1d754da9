// Who is calling the admin API, and what they may do: the one place every
// /api/admin route goes through, so a route added later is
// authenticated, role-checked and scoped to its promoter without doing
// anything itself.
//
// - The principal is resolved once per request: the operator (the deployment's
//   ADMIN_TOKEN: every drop, every promoter) or a promoter's API key
//   ({promoterId, keyId, label, role}). A key is read from D1 on every request
//   (one primary-key lookup, nothing cached), so a revoked key fails on the very
//   next request.
// - What a route needs is declared in ROUTE_ACCESS, or follows from its method:
//   GET and HEAD read, anything else changes. `staff` keys read only; `gate`
//   keys are refused everywhere but the ticket scan and a gate device's own routes; operator routes refuse keys.
// - Any path under /drops/:id is scoped here, before the route runs: another
//   promoter's drop (or the operator's own) answers 404 not_found, the same as
//   a drop that does not exist.
import type { IRequest } from "itty-router";
import { type Role, keyIdOf, keyMatches, looksLikeApiKey } from "./api-keys";
import { config } from "../shared/config";
import { DROP_ID, type DropConfig } from "../drops/rules";
import { getDrop } from "../drops/store";
import { ApiError, notFound } from "../shared/errors";
import { RateLimiter } from "../shared/rate-limit";
import { type NewActivity, insertActivityStatement, keyForAuth } from "./store";
import { bearerToken } from "../shared/request";
import { timingSafeEqualStrings } from "../shared/crypto";

export type Principal =
	| { kind: "operator" }
	| { kind: "key"; promoterId: string; keyId: string; label: string; role: Role };

/**
 * What a route needs: `read` (every role but gate), `change` (operator and owner), `operator` only, `owner` (a
 * promoter's owner key only), `any` signed-in caller, or `gate` (the scan: its own guard decides, see authorizeGateKey).
 */
export type Access = "read" | "change" | "operator" | "owner" | "any" | "gate";

/** Routes whose access is not what their method says; paths relative to /api/admin. */
export const ROUTE_ACCESS: { method: string; path: RegExp; access: Access }[] = [
	{ method: "GET", path: /^\/promoters$/, access: "operator" },
	{ method: "POST", path: /^\/promoters$/, access: "operator" },
	{ method: "PATCH", path: /^\/promoters\/[^/]+$/, access: "operator" },
	{ method: "GET", path: /^\/me$/, access: "any" },
	// The dev receipt mailbox holds every fan's receipt of every drop.
	{ method: "GET", path: /^\/dev\/mail$/, access: "operator" },
	// The draw's cron run on request draws and tells every drop's windows.
	{ method: "POST", path: /^\/dev\/draw-cron$/, access: "operator" },
	// The ticket scan has its own guard, authorizeGate in src/tenants/gate-auth.ts, which accepts gate keys through authorizeGateKey.
	{ method: "POST", path: /^\/drops\/[^/]+\/scan$/, access: "gate" },
	// A gate device's registration, list and uploads take the same guard (src/http/gate-device-routes.ts).
	{ method: "POST", path: /^\/drops\/[^/]+\/gate\/devices$/, access: "gate" },
	{ method: "GET", path: /^\/drops\/[^/]+\/gate\/devices\/[^/]+\/list$/, access: "gate" },
	{ method: "POST", path: /^\/drops\/[^/]+\/gate\/devices\/[^/]+\/scans$/, access: "gate" },
	// Webhook endpoints carry a promoter's signing secrets and reach its systems: its owner keys only, every method.
	{ method: "GET", path: /^\/webhooks(\/|$)/, access: "owner" },
	{ method: "POST", path: /^\/webhooks(\/|$)/, access: "owner" },
];

export function accessOf(method: string, path: string): Access {
	// The router takes a path with trailing slashes as the same route (itty-router's `/*$`): so must this.
	const route = path.replace(/\/+$/, "");
	const declared = ROUTE_ACCESS.find((r) => r.method === method && r.path.test(route));
	if (declared) return declared.access;
	return method === "GET" || method === "HEAD" ? "read" : "change";
}

/** What the gate found, kept for the route: who asks, and the drop of a /drops/:id path. */
interface AdminContext {
	principal: Principal;
	drop: DropConfig | null;
}

const contexts = new WeakMap<object, AdminContext>();

/** The caller of a request that went through authorizeAdmin. */
export function principalOf(request: IRequest): Principal {
	const found = contexts.get(request);
	if (found === undefined) throw new Error("principalOf: the request did not go through authorizeAdmin");
	return found.principal;
}

/** The drop of a /drops/:id request, already loaded and scoped by authorizeAdmin. */
export function dropOf(request: IRequest): DropConfig {
	const drop = contexts.get(request)?.drop;
	if (drop == null) throw notFound("drop");
	return drop;
}

const unauthorized = (message = "A valid admin token or API key is required.") =>
	new ApiError(401, "unauthorized", message, {}, { "WWW-Authenticate": 'Bearer realm="admin"' });

export const forbidden = (message: string) => new ApiError(403, "forbidden", message);

/** Admin requests per promoter, counted per isolate (see docs/api.md: a flood spread over isolates gets more). */
const adminRequests = new RateLimiter(60_000, 10_000);

/**
 * The principal of the request's bearer credential; 401 for none, an unknown or revoked
 * key, or a wrong token. A key costs one D1 read (its row and its promoter's admin limit).
 */
async function resolvePrincipal(request: Request, env: Env): Promise<{ principal: Principal; adminPerMinute: number | null }> {
	const token = bearerToken(request);
	if (token === null) throw unauthorized();
	if (looksLikeApiKey(token)) {
		const keyId = keyIdOf(token);
		if (keyId === null) throw unauthorized("The API key is not valid.");
		let key;
		try {
			key = await keyForAuth(env.DB, keyId);
		} catch (err) {
			console.error("could not read an API key", err);
			throw new ApiError(503, "try_again", "The key could not be checked just now; try again.", { retryAfter: 1 });
		}
		// One answer for unknown, revoked and wrong: nothing tells which.
		if (key === null || key.revokedAt !== null || !(await keyMatches(token, key.keyHash))) throw unauthorized("The API key is not valid.");
		return {
			principal: { kind: "key", promoterId: key.promoterId, keyId: key.id, label: key.label, role: key.role },
			adminPerMinute: key.adminRequestsPerMinute,
		};
	}
	const expected = config(env).adminToken;
	if (!expected || !(await timingSafeEqualStrings(token, expected))) throw unauthorized();
	return { principal: { kind: "operator" }, adminPerMinute: null };
}

/** 403 unless the principal may use a route that needs `access`. */
export function checkRole(principal: Principal, access: Access): void {
	if (access === "owner") {
		if (principal.kind === "operator") throw forbidden("Webhooks belong to a promoter: use one of its owner keys.");
		if (principal.role !== "owner") throw forbidden("Only an owner key may manage webhooks.");
		return;
	}
	if (principal.kind === "operator" || access === "any") return;
	if (access === "operator") throw forbidden("Only the deployment's operator may do this.");
	if (principal.role === "gate") throw forbidden("A gate key may only scan tickets.");
	if (access === "change" && principal.role !== "owner") throw forbidden("This key may only read; ask an owner.");
}

/** 404 unless the principal may see this drop: the operator sees every drop, a key its promoter's. */
export function checkDropScope(principal: Principal, drop: DropConfig | null): DropConfig {
	if (drop === null || (principal.kind === "key" && drop.promoterId !== principal.promoterId)) throw notFound("drop");
	return drop;
}

const DROP_PATH = /^\/drops\/([^/]+)(?:\/|$)/;

/** The middleware in front of every /api/admin route. */
export async function authorizeAdmin(request: IRequest, env: Env): Promise<void> {
	const path = new URL(request.url).pathname.replace(/^\/api\/admin/, "");
	const access = accessOf(request.method, path);
	if (access === "gate") return;
	const { principal, adminPerMinute } = await resolvePrincipal(request, env);
	checkRole(principal, access);
	if (principal.kind === "key" && adminPerMinute !== null) {
		const decision = adminRequests.take(principal.promoterId, adminPerMinute, Date.now());
		if (!decision.allowed) {
			throw new ApiError(429, "rate_limited", "Too many admin requests for this promoter; wait and try again.", { retryAfter: decision.retryAfter });
		}
	}
	let drop: DropConfig | null = null;
	const dropPath = DROP_PATH.exec(path);
	if (dropPath) {
		const id = decodeURIComponent(dropPath[1]!);
		if (!DROP_ID.test(id)) throw notFound("drop");
		drop = checkDropScope(principal, await getDrop(env.DB, id));
	}
	contexts.set(request, { principal, drop });
}

/**
 * For the ticket scan's guard (authorizeGate in src/tenants/gate-auth.ts): the principal when the
 * bearer is the operator token, or an owner or gate key of the drop's promoter; null when
 * the bearer is neither kind (the guard may then check its own credential). Throws 401 for
 * a key that is unknown, revoked or wrong, 403 for a staff key, 404 for a drop the key's
 * promoter does not have (or none).
 */
export async function authorizeGateKey(request: Request, env: Env, dropId: string): Promise<Principal | null> {
	const token = bearerToken(request);
	if (token === null) return null;
	if (!looksLikeApiKey(token)) {
		const expected = config(env).adminToken;
		return expected && (await timingSafeEqualStrings(token, expected)) ? { kind: "operator" } : null;
	}
	const { principal } = await resolvePrincipal(request, env);
	if (principal.kind === "key" && principal.role === "staff") throw forbidden("A staff key may not scan tickets.");
	checkDropScope(principal, DROP_ID.test(dropId) ? await getDrop(env.DB, dropId) : null);
	return principal;
}

/** Who made a change, as the activity log records it. */
export function actorOf(principal: Principal): Pick<NewActivity, "actor" | "keyId" | "keyLabel"> {
	return principal.kind === "operator"
		? { actor: "operator", keyId: null, keyLabel: null }
		: { actor: "key", keyId: principal.keyId, keyLabel: principal.label };
}

/**
 * The activity entry for a change, as a statement to batch with the change itself (so
 * both happen or neither). `promoterId`: whose log it goes in (the drop's promoter for a
 * change to a drop; null for the operator's own drops).
 */
export function activityStatement(
	env: Env,
	principal: Principal,
	entry: { action: string; promoterId: string | null; dropId?: string | null; detail?: Record<string, unknown>; at?: string },
	onlyIfDropExists = false,
): D1PreparedStatement {
	return insertActivityStatement(
		env.DB,
		{
			...actorOf(principal),
			promoterId: entry.promoterId,
			action: entry.action,
			dropId: entry.dropId ?? null,
			detail: entry.detail ?? {},
			at: entry.at ?? new Date().toISOString(),
		},
		onlyIfDropExists,
	);
}

/** Records one activity entry on its own, for a change that cannot be batched with its D1 write (a refund, say). */
export async function recordActivity(env: Env, request: IRequest, entry: Parameters<typeof activityStatement>[2]): Promise<void> {
	await activityStatement(env, principalOf(request), entry).run();
}
