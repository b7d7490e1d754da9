// The contract's errors: an expected failure (ApiError) and its JSON answer, and
// the plain 500 for everything else.

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
