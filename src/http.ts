// The HTTP edge: contract errors, bounded JSON bodies, security headers, CORS.

export const MAX_BODY_BYTES = 16 * 1024;

/** An expected failure, answered as `{"error": {"code", "message"}}` with its status. */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly details: Record<string, unknown> = {},
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}
}

/** Statuses that tell the client to come back later: they always carry `Retry-After`. */
const RETRY_LATER = new Set([429, 503]);

/** Whole seconds from a failure's `retryAfter`: at least 1, and 1 when it is missing or not a number. */
export function retryAfterSeconds(details: Record<string, unknown>): number {
	const n = Number(details.retryAfter);
	return Number.isFinite(n) && n >= 1 ? Math.ceil(n) : 1;
}

/**
 * The contract's error answer. A 429 or 503 always says when to come back, in a
 * `Retry-After` header and as `retryAfter` in the body (the same whole seconds,
 * from the failure's `retryAfter`, 1 when it gave none), so no route can forget it.
 */
export function errorResponse(err: ApiError): Response {
	const headers = new Headers(err.headers);
	let details = err.details;
	if (RETRY_LATER.has(err.status)) {
		const seconds = retryAfterSeconds(details);
		details = { ...details, retryAfter: seconds };
		headers.set("Retry-After", String(seconds));
	}
	return Response.json({ error: { code: err.code, message: err.message, ...details } }, { status: err.status, headers });
}

/** Any unexpected failure: logged for the operator, never shown to the client. */
export function internalError(err: unknown): Response {
	console.error("unhandled error", err);
	return Response.json({ error: { code: "internal", message: "Something went wrong on our side; try again." } }, { status: 500 });
}

export const notFound = (what = "resource") => new ApiError(404, "not_found", `No such ${what}.`);

/**
 * Reads a JSON body: 413 past the limit (declared or actual), 415 when a body
 * comes without a JSON content type, 400 when it is missing or does not parse.
 * With `optional`, no body at all (whatever the headers say) reads as undefined.
 */
export async function readJson(
	request: Request,
	{ optional = false, maxBytes = MAX_BODY_BYTES, largeIf }: { optional?: boolean; maxBytes?: number; largeIf?: (body: unknown) => boolean } = {},
): Promise<unknown> {
	const declared = request.headers.get("content-length");
	if (declared !== null && Number(declared) > maxBytes) {
		throw new ApiError(413, "body_too_large", `The body must be at most ${maxBytes} bytes.`);
	}
	const type = request.headers.get("content-type");
	const isJson = type !== null && /^application\/json\s*(;|$)/i.test(type);
	if (type !== null && !isJson) throw unsupportedType();
	// Without a content type only an empty body is acceptable, so it is read (bounded) to see.
	// Loose: itty's request proxy may show a missing body as undefined rather than null.
	const text = request.body == null ? "" : await readBounded(request.body, maxBytes);
	if (text.length === 0) {
		if (optional) return undefined;
		throw new ApiError(400, "missing_body", "A JSON body is required.");
	}
	if (!isJson) throw unsupportedType();
	// Past the usual bound only a body `largeIf` accepts may pass (a drop with its seats); anything else is 413.
	const large = text.length > MAX_BODY_BYTES / 3 && new TextEncoder().encode(text).byteLength > MAX_BODY_BYTES;
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		if (large) throw tooLarge(MAX_BODY_BYTES);
		throw new ApiError(400, "invalid_json", "The body is not valid JSON.");
	}
	if (large && !largeIf?.(body)) throw tooLarge(MAX_BODY_BYTES);
	return body;
}

const tooLarge = (bytes: number) => new ApiError(413, "body_too_large", `The body must be at most ${bytes} bytes.`);

const unsupportedType = () => new ApiError(415, "unsupported_media_type", "Send the body as application/json.");

/** A body as text, refused with 413 past `maxBytes`. */
export async function readBounded(body: ReadableStream<Uint8Array>, maxBytes = MAX_BODY_BYTES): Promise<string> {
	const reader = body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > maxBytes) {
			await reader.cancel();
			throw new ApiError(413, "body_too_large", `The body must be at most ${maxBytes} bytes.`);
		}
		chunks.push(value);
	}
	const all = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		all.set(chunk, offset);
		offset += chunk.byteLength;
	}
	try {
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(all);
	} catch {
		throw new ApiError(400, "invalid_json", "The body is not valid UTF-8.");
	}
}

export function bearerToken(request: Request): string | null {
	const header = request.headers.get("authorization");
	if (header === null) return null;
	const match = /^Bearer\s+(\S{1,4096})\s*$/i.exec(header);
	return match ? match[1]! : null;
}

/** Constant-time comparison of two strings (their SHA-256 digests, so length leaks nothing either). */
export async function timingSafeEqualStrings(a: string, b: string): Promise<boolean> {
	const enc = new TextEncoder();
	const [da, db] = await Promise.all([
		crypto.subtle.digest("SHA-256", enc.encode(a)),
		crypto.subtle.digest("SHA-256", enc.encode(b)),
	]);
	return crypto.subtle.timingSafeEqual(da, db);
}

const PAGE_CSP = [
	"default-src 'self'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' data:",
	"connect-src 'self'",
	"frame-ancestors 'none'",
	"base-uri 'none'",
	"form-action 'self'",
	"object-src 'none'",
].join("; ");

/** Security headers on every response; pages get a CSP that allows only our own scripts. */
export function withSecurityHeaders(response: Response, { page = false } = {}): Response {
	const out = new Response(response.body, response);
	const h = out.headers;
	h.set("X-Content-Type-Options", "nosniff");
	h.set("Referrer-Policy", "no-referrer");
	h.set("X-Frame-Options", "DENY");
	h.set("Cross-Origin-Opener-Policy", "same-origin");
	h.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
	h.set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()");
	if (page) {
		h.set("Content-Security-Policy", PAGE_CSP);
	} else {
		h.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
		if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
	}
	return out;
}

const CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS";
const CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key";

export function allowedOrigin(request: Request, list: string[]): string | null {
	const origin = request.headers.get("origin");
	if (origin === null || list.length === 0) return null;
	if (list.includes("*")) return "*";
	return list.includes(origin) ? origin : null;
}

/**
 * Adds the CORS headers for an allowed origin. With a list of origins
 * configured, every answer varies by Origin (allowed or not), so a shared
 * cache never hands one origin's answer to another.
 */
export function withCors(response: Response, origin: string | null, list: string[] = []): Response {
	const varies = origin !== "*" && (origin !== null || (list.length > 0 && !list.includes("*")));
	if (origin === null && !varies) return response;
	const out = new Response(response.body, response);
	if (origin !== null) {
		out.headers.set("Access-Control-Allow-Origin", origin);
		out.headers.set("Access-Control-Expose-Headers", "Retry-After");
	}
	const vary = out.headers.get("Vary") ?? "";
	if (varies && !/(^|,)\s*origin\s*(,|$)/i.test(vary)) out.headers.append("Vary", "Origin");
	return out;
}

export function corsPreflight(request: Request, list: string[]): Response {
	const origin = allowedOrigin(request, list);
	if (origin === null) return new Response(null, { status: 403 });
	return new Response(null, {
		status: 204,
		headers: {
			"Access-Control-Allow-Origin": origin,
			"Access-Control-Allow-Methods": CORS_METHODS,
			"Access-Control-Allow-Headers": CORS_HEADERS,
			"Access-Control-Max-Age": "600",
			Vary: "Origin",
		},
	});
}
