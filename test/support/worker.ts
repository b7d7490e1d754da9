// Requests to the Worker, as a client makes them: one entry point with its
// variants (another configuration, the real HTTP path), and the two kinds of
// caller, the promoter (admin token) and a fan (queue or access token).
import { SELF, createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";

export const BASE = "https://engine.test";

/** Parts of the configuration replaced for one request: vars, or bindings by fakes. */
export type EnvOverrides = Partial<Record<keyof Env, unknown>>;

export interface CallOptions {
	/** The Worker as deployed with these parts of its configuration replaced. */
	env?: EnvOverrides;
	/** "self": through SELF.fetch, the real HTTP path into the Worker (slower; see below). */
	via?: "handler" | "self";
	/** The client's address, as Cloudflare's edge sets it in cf-connecting-ip. */
	ip?: string;
}

/**
 * A request to the Worker's fetch handler: the same module, router and bindings
 * SELF uses, minus the harness hop, and it waits for the request's background
 * work. SELF.fetch gets slower with every request a test file makes
 * (cloudflare/workers-sdk#15446), which the tests that fire hundreds of
 * requests cannot afford; `via: "self"` keeps it where the real path matters.
 */
export async function callWorker(path: string, init: RequestInit = {}, { env: overrides, via = "handler", ip }: CallOptions = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	if (ip !== undefined) headers.set("cf-connecting-ip", ip);
	const request = new Request(`${BASE}${path}`, { ...init, headers });
	if (via === "self") {
		if (overrides !== undefined) throw new Error("callWorker: SELF runs with the configuration as deployed; no env overrides");
		return SELF.fetch(request);
	}
	const ctx = createExecutionContext();
	const bindings = overrides === undefined ? env : ({ ...env, ...overrides } as Env);
	const res = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

/** A JSON request (a body is JSON unless it says otherwise) with `authorization` set. */
function withAuthorization(authorization: string | null, init: RequestInit): RequestInit {
	const headers = new Headers(init.headers);
	if (authorization !== null) headers.set("authorization", authorization);
	if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
	return { ...init, headers };
}

/** A promoter's request, with the admin token unless it brings its own `authorization`. */
export function adminFetch(path: string, init: RequestInit = {}, options: CallOptions = {}): Promise<Response> {
	const own = new Headers(init.headers).get("authorization");
	return callWorker(path, withAuthorization(own ?? `Bearer ${env.ADMIN_TOKEN}`, init), options);
}

/** A fan's request, with their queue or access token (none with `token` null). */
export function fanFetch(path: string, token: string | null, init: RequestInit = {}, options: CallOptions = {}): Promise<Response> {
	return callWorker(path, withAuthorization(token === null ? null : `Bearer ${token}`, init), options);
}
