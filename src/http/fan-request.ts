// What every fan route reads before it acts: the drop's id from the path (and
// whether D1 knows the drop), a bearer token, the fan's access token, and the
// drop's watermark from this isolate's cached copy, which the fan routes answer
// from without calling the pacer.
import type { IRequest } from "itty-router";
import { requireKnownDrop } from "../drops/known-drops";
import { DROP_ID } from "../drops/rules";
import { ApiError, notFound } from "../shared/errors";
import { unwrap } from "../shared/outcome";
import { bearerToken } from "../shared/request";
import { verifyAccessToken } from "../shared/tokens";
import { cachedWatermark } from "../waiting-room/watermark-cache";
import type { Watermark } from "../waiting-room/watermark";

/** The drop's id from the path: 404 for what cannot be one. */
export function dropIdOf(request: IRequest): string {
	const id = request.params.id;
	if (id === undefined || !DROP_ID.test(id)) throw notFound("drop");
	return id;
}

/** The drop's id, once D1 says it exists: nothing calls an object by the name of a drop that does not. */
export async function knownDropId(request: IRequest, env: Env): Promise<string> {
	const id = dropIdOf(request);
	await requireKnownDrop(env, id);
	return id;
}

/** The request's bearer token, or a 401 that says what to send. */
export function requireBearer(request: IRequest, what: string): string {
	const token = bearerToken(request);
	if (token === null) {
		throw new ApiError(401, "missing_token", `Send your ${what} as "Authorization: Bearer <token>".`, {}, { "WWW-Authenticate": "Bearer" });
	}
	return token;
}

/** The drop's watermark from this isolate's copy, a second or two old at most. */
export async function watermark(env: Env, dropId: string, ctx?: ExecutionContext): Promise<Watermark> {
	return unwrap(await cachedWatermark(env, dropId, Date.now(), ctx));
}

/** The claims of the fan's access token, checked for this drop. */
export async function accessFor(request: IRequest, env: Env, dropId: string) {
	return verifyAccessToken(env, requireBearer(request, "access token"), dropId);
}
