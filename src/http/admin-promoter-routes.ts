// The promoter API's promoters, keys and activity log. Who may call each route
// is decided in authorizeAdmin (src/tenants/auth.ts): the promoter routes are the
// operator's; keys and the activity log are scoped to a key's promoter. A key is
// answered once, when it is minted; D1 keeps only its hash.
import { type IRequest, Router } from "itty-router";
import type { ActivityPage, ApiKeyMinted, KeyList, Me, PromoterCreated, PromoterList } from "../contract/admin-answers";
import { ActivityQuery, CreatePromoterBody, KEY_ID, KeysQuery, ListPromotersQuery, MintKeyBody, PROMOTER_ID, PatchPromoterBody, nextCursor, parseQuery } from "../contract/requests";
import { ApiError, notFound } from "../shared/errors";
import { randomId } from "../shared/ids";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { changedFields } from "../tenants/activity";
import { type Role, keyHash, newApiKey } from "../tenants/api-keys";
import { type Principal, activityStatement, principalOf } from "../tenants/auth";
import { type ApiKeyInfo, type Promoter, activityPage, getKey, getPromoter, insertKeyStatement, insertPromoterStatement, listKeys, listPromoters, revokeKeyStatement, updatePromoterStatement } from "../tenants/store";

type Args = [Env, ExecutionContext];

export const adminPromoterRoutes = Router<IRequest, Args>({ base: "/api/admin" });

const promoterPath = (raw: string | undefined): string => {
	if (raw === undefined || !PROMOTER_ID.test(raw)) throw notFound("promoter");
	return raw;
};

/** A new key for a promoter: its row's statement, the key's view, and the key itself (shown once). */
async function mintKey(env: Env, promoterId: string, label: string, role: Role, at: string) {
	const { id, apiKey } = newApiKey();
	const key: ApiKeyInfo = { id, promoterId, label, role, createdAt: at, revokedAt: null };
	return { key, apiKey, statement: insertKeyStatement(env.DB, key, await keyHash(apiKey)) };
}

/**
 * The promoter a keys or activity request is about: a key's own (naming another is 404,
 * as if it did not exist); the operator names one (`required`), or means every promoter (null).
 */
async function promoterInScope(env: Env, principal: Principal, named: string | undefined, required: boolean): Promise<string | null> {
	if (principal.kind === "key") {
		if (named !== undefined && named !== principal.promoterId) throw notFound("promoter");
		return principal.promoterId;
	}
	if (named === undefined) {
		if (required) throw new ApiError(400, "missing_field", `"promoterId" is required from the operator.`, { field: "promoterId" });
		return null;
	}
	if (!PROMOTER_ID.test(named) || (await getPromoter(env.DB, named)) === null) throw notFound("promoter");
	return named;
}

adminPromoterRoutes.post("/promoters", async (request, env) => {
	const body = parse(CreatePromoterBody, await readJson(request));
	const at = new Date().toISOString();
	const limits = { joinsPerMinute: null, adminRequestsPerMinute: null, openDrops: null, ...body.limits };
	const promoter: Promoter = { id: randomId("p_"), name: body.name, limits, createdAt: at, updatedAt: at };
	const first = await mintKey(env, promoter.id, "owner", "owner", at);
	const principal = principalOf(request);
	await env.DB.batch([
		insertPromoterStatement(env.DB, promoter),
		first.statement,
		activityStatement(env, principal, { action: "promoter.created", promoterId: promoter.id, detail: { name: promoter.name, limits }, at }),
		activityStatement(env, principal, { action: "key.minted", promoterId: promoter.id, detail: { keyId: first.key.id, label: "owner", role: "owner" }, at }),
	]);
	return Response.json({ ...promoter, apiKey: first.apiKey, key: first.key } satisfies PromoterCreated, { status: 201 });
});

adminPromoterRoutes.get("/promoters", async (request, env) => {
	const { limit, cursor } = parseQuery(ListPromotersQuery, request.query);
	const promoters = await listPromoters(env.DB, limit, cursor ? { createdAt: cursor[0], id: cursor[1] } : null);
	const last = promoters.at(-1);
	return { promoters, nextCursor: nextCursor(promoters, limit, last ? [last.createdAt, last.id] : null) } satisfies PromoterList;
});

adminPromoterRoutes.patch("/promoters/:promoterId", async (request, env) => {
	const before = await getPromoter(env.DB, promoterPath(request.params.promoterId));
	if (before === null) throw notFound("promoter");
	const body = parse(PatchPromoterBody, await readJson(request));
	if (body.name === undefined && (body.limits === undefined || Object.keys(body.limits).length === 0)) {
		throw new ApiError(400, "empty_patch", "Send at least one field to change.", { field: "body" });
	}
	const after: Promoter = { ...before, name: body.name ?? before.name, limits: { ...before.limits, ...body.limits }, updatedAt: new Date().toISOString() };
	const changes = { ...changedFields(before, after, ["name"]), ...changedFields(before.limits, after.limits, ["joinsPerMinute", "adminRequestsPerMinute", "openDrops"]) };
	await env.DB.batch([
		updatePromoterStatement(env.DB, after),
		activityStatement(env, principalOf(request), { action: "promoter.updated", promoterId: after.id, detail: { changes }, at: after.updatedAt }),
	]);
	return after;
});

adminPromoterRoutes.get("/me", async (request, env) => {
	const principal = principalOf(request);
	if (principal.kind === "operator") return { kind: "operator", promoter: null, key: null } satisfies Me;
	return {
		kind: "key",
		promoter: await getPromoter(env.DB, principal.promoterId),
		key: { id: principal.keyId, label: principal.label, role: principal.role },
	} satisfies Me;
});

adminPromoterRoutes.post("/keys", async (request, env) => {
	const principal = principalOf(request);
	const body = parse(MintKeyBody, await readJson(request));
	const promoterId = (await promoterInScope(env, principal, body.promoterId, true))!;
	const at = new Date().toISOString();
	const minted = await mintKey(env, promoterId, body.label, body.role, at);
	await env.DB.batch([
		minted.statement,
		activityStatement(env, principal, { action: "key.minted", promoterId, detail: { keyId: minted.key.id, label: body.label, role: body.role }, at }),
	]);
	return Response.json({ ...minted.key, apiKey: minted.apiKey } satisfies ApiKeyMinted, { status: 201 });
});

adminPromoterRoutes.get("/keys", async (request, env) => {
	const { promoterId } = parseQuery(KeysQuery, request.query);
	const scope = (await promoterInScope(env, principalOf(request), promoterId, true))!;
	return { keys: await listKeys(env.DB, scope) } satisfies KeyList;
});

adminPromoterRoutes.delete("/keys/:keyId", async (request, env) => {
	const principal = principalOf(request);
	const keyId = request.params.keyId;
	const key = keyId !== undefined && KEY_ID.test(keyId) ? await getKey(env.DB, keyId) : null;
	if (key === null || (principal.kind === "key" && key.promoterId !== principal.promoterId)) throw notFound("key");
	// Revoking a revoked key changes nothing and records nothing.
	if (key.revokedAt !== null) return key;
	const at = new Date().toISOString();
	await env.DB.batch([
		revokeKeyStatement(env.DB, key.id, at),
		activityStatement(env, principal, { action: "key.revoked", promoterId: key.promoterId, detail: { keyId: key.id, label: key.label, role: key.role }, at }),
	]);
	return { ...key, revokedAt: at };
});

adminPromoterRoutes.get("/activity", async (request, env) => {
	const { limit, cursor, promoterId } = parseQuery(ActivityQuery, request.query);
	const scope = await promoterInScope(env, principalOf(request), promoterId, false);
	const before = cursor ? Number(cursor[1]) : null;
	if (before !== null && !Number.isSafeInteger(before)) throw new ApiError(400, "invalid_cursor", `"cursor" is not one this API gave out.`, { field: "cursor" });
	const entries = await activityPage(env.DB, scope, limit, before);
	const last = entries.at(-1);
	return { entries, nextCursor: nextCursor(entries, limit, last ? [last.at, String(last.seq)] : null) } satisfies ActivityPage;
});
