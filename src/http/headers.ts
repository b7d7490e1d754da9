// Headers on every answer: security headers (a strict CSP on pages) and CORS for
// the configured origins.

/** The pages' CSP; `stripe` adds the sources Stripe documents for Stripe.js, its card field and 3-D Secure frames. */
function pageCsp(stripe: boolean): string {
	return [
		"default-src 'self'",
		stripe ? "script-src 'self' https://js.stripe.com" : "script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		stripe ? "connect-src 'self' https://api.stripe.com" : "connect-src 'self'",
		...(stripe ? ["frame-src https://js.stripe.com https://hooks.stripe.com"] : []),
		"frame-ancestors 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"object-src 'none'",
	].join("; ");
}

const PAGE_CSP = pageCsp(false);
const STRIPE_PAGE_CSP = pageCsp(true);

/**
 * Security headers on every response; pages get a CSP that allows only our own scripts,
 * and Stripe's where `stripe` is set (the fan page, on a deployment that takes cards); `camera` lets the page
 * itself (the gate scanner) use the camera, which every other page is refused.
 */
export function withSecurityHeaders(response: Response, { page = false, stripe = false, camera = false } = {}): Response {
	const out = new Response(response.body, response);
	const h = out.headers;
	h.set("X-Content-Type-Options", "nosniff");
	h.set("Referrer-Policy", "no-referrer");
	h.set("X-Frame-Options", "DENY");
	h.set("Cross-Origin-Opener-Policy", "same-origin");
	h.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
	h.set("Permissions-Policy", `camera=${camera ? "(self)" : "()"}, microphone=(), geolocation=(), payment=()`);
	if (page) {
		h.set("Content-Security-Policy", stripe ? STRIPE_PAGE_CSP : PAGE_CSP);
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
