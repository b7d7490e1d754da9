// A local stand-in for Stripe's HTTP API: the parts the engine uses
// (PaymentIntents create, retrieve and search; refunds), with Stripe's
// idempotency keys, its form-encoded bodies and error shapes, and webhook
// signatures made the way Stripe documents them. The tests run it inside
// vitest's outbound fetch handler (vitest.config.ts); `serveFakeStripe` runs it
// as a Node HTTP server for a local engine (STRIPE_API_BASE=http://127.0.0.1:<port>).
//
// Test cards (PaymentMethod ids): pm_card_visa and any other pm_… succeed;
// pm_card_chargeDeclined is declined; pm_card_slow waits until POST
// /_fake/release. POST /_fake/drop-next makes the next PaymentIntent be created
// and its answer lost (the connection drops); POST /_fake/refuse-next makes the
// next POST fail before Stripe sees it (nothing made); POST /_fake/drop-next-refund
// makes the next refund be made and its answer lost; POST /_fake/forget-keys forgets
// every idempotency key (Stripe keeps them 24 hours); POST /_fake/fail-refund with a
// refund id as its body fails that refund as Stripe does days later (the card was
// closed: its amount can be refunded again) and answers the refund, for the webhook's
// event. POST /_fake/search-lag makes search find none of the PaymentIntents made from
// then on (Stripe's search is eventually consistent, and lags most when answers get
// lost) until POST /_fake/search-catch-up. GET /_fake/state shows everything.
//
// 3-D Secure: pm_card_threeDSecure2Required (as Stripe's test card is named) leaves
// its PaymentIntent in `requires_action` with a client secret; POST
// /_fake/complete-action with {"paymentIntent": "pi_…", "outcome": "succeed"|"fail"}
// plays the fan finishing (or failing) their bank's check: the intent succeeds (or
// goes back to requires_payment_method), and the answer carries the webhook event
// Stripe sends, its payload and its Stripe-Signature (when the fake knows the
// endpoint's secret); with `webhookUrl` the fake also posts it there, as Stripe does.
// POST /v1/payment_intents/:id/cancel cancels an intent that is not finished.
import { createServer } from "node:http";

/** Stripe's webhook signature header for `payload`: t=<seconds>,v1=<hex HMAC-SHA256 of "t.payload">. */
export async function stripeSignature(secret, payload, timestampSeconds = Math.floor(Date.now() / 1000)) {
	const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestampSeconds}.${payload}`)));
	return `t=${timestampSeconds},v1=${Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function createFakeStripe({ secretKey, webhookSecret = null, webhookUrl = null }) {
	const intents = new Map();
	const refunds = new Map();
	const idempotent = new Map();
	let waiting = [];
	let dropNext = false;
	let refuseNext = false;
	let dropNextRefund = false;
	/** While search lags: the intents it still finds (those made before the lag began); null when it does not lag. */
	let searchable = null;
	let created = 0;
	let seq = 0;
	const id = (prefix) => `${prefix}_fake${(++seq).toString().padStart(8, "0")}`;
	const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
	const error = (status, type, message, extra = {}) => json(status, { error: { type, message, ...extra } });

	async function createIntent(form) {
		const amount = Number(form.get("amount"));
		const currency = form.get("currency");
		const method = form.get("payment_method") ?? "";
		if (!Number.isInteger(amount) || amount < 1 || !currency) return error(400, "invalid_request_error", "amount and currency are required");
		if (method === "pm_card_slow") await new Promise((resolve) => waiting.push(resolve));
		created++;
		const metadata = {};
		for (const [k, v] of form) {
			const m = /^metadata\[(.+)\]$/.exec(k);
			if (m) metadata[m[1]] = v;
		}
		const declined = method === "pm_card_chargeDeclined";
		const action = method === "pm_card_threeDSecure2Required";
		const intentId = id("pi");
		const intent = {
			id: intentId,
			object: "payment_intent",
			amount,
			currency,
			amount_received: declined || action ? 0 : amount,
			status: declined ? "requires_payment_method" : action ? "requires_action" : "succeeded",
			client_secret: `${intentId}_secret_${seq.toString(16)}`,
			next_action: action ? { type: "use_stripe_sdk", use_stripe_sdk: { type: "three_d_secure_redirect" } } : null,
			payment_method: method,
			metadata,
			last_payment_error: declined ? { code: "card_declined", message: "Your card was declined." } : null,
			created: Math.floor(Date.now() / 1000),
		};
		intents.set(intent.id, intent);
		if (declined) return error(402, "card_error", "Your card was declined.", { code: "card_declined", payment_intent: intent });
		return json(200, intent);
	}

	function cancelIntent(intentId) {
		const intent = intents.get(intentId);
		if (!intent) return error(404, "invalid_request_error", "No such payment_intent", { code: "resource_missing" });
		if (intent.status === "succeeded" || intent.status === "canceled") {
			return error(400, "invalid_request_error", `This PaymentIntent's status is ${intent.status}.`, { code: "payment_intent_unexpected_state", payment_intent: intent });
		}
		intent.status = "canceled";
		intent.next_action = null;
		intent.cancellation_reason = "abandoned";
		return json(200, intent);
	}

	/** The fan finishes (or fails) their bank's check: the intent moves on, and Stripe's webhook event is made, signed and (with webhookUrl) sent. */
	async function completeAction(request) {
		const { paymentIntent, outcome } = await request.json();
		const intent = intents.get(paymentIntent);
		if (!intent) return error(404, "invalid_request_error", "No such payment_intent", { code: "resource_missing" });
		if (intent.status !== "requires_action") return error(400, "invalid_request_error", `This PaymentIntent's status is ${intent.status}.`, { code: "payment_intent_unexpected_state" });
		const succeed = outcome === "succeed";
		intent.next_action = null;
		intent.status = succeed ? "succeeded" : "requires_payment_method";
		intent.amount_received = succeed ? intent.amount : 0;
		intent.last_payment_error = succeed ? null : { code: "payment_intent_authentication_failure", message: "The bank could not authenticate this payment." };
		const event = {
			id: id("evt"),
			object: "event",
			type: succeed ? "payment_intent.succeeded" : "payment_intent.payment_failed",
			created: Math.floor(Date.now() / 1000),
			data: { object: { ...intent } },
		};
		const payload = JSON.stringify(event);
		const signature = webhookSecret === null ? null : await stripeSignature(webhookSecret, payload);
		let delivered = null;
		if (webhookUrl !== null && signature !== null) {
			const sent = await fetch(webhookUrl, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body: payload }).catch(() => null);
			delivered = sent === null ? 0 : sent.status;
		}
		return json(200, { intent, event, payload, signature, delivered });
	}

	function createRefund(form) {
		const intent = intents.get(form.get("payment_intent") ?? "");
		if (!intent || intent.status !== "succeeded") return error(400, "invalid_request_error", "No such payment_intent", { code: "resource_missing" });
		// A failed refund gave nothing back: its amount can be refunded again.
		const already = [...refunds.values()].filter((r) => r.payment_intent === intent.id && r.status !== "failed").reduce((sum, r) => sum + r.amount, 0);
		const left = intent.amount - already;
		if (left === 0) return error(400, "invalid_request_error", "Charge has already been refunded.", { code: "charge_already_refunded" });
		const amount = form.has("amount") ? Number(form.get("amount")) : left;
		if (!Number.isInteger(amount) || amount < 1 || amount > left) return error(400, "invalid_request_error", "Refund amount is greater than unrefunded amount.", { code: "amount_too_large" });
		const metadata = {};
		for (const [k, v] of form) {
			const m = /^metadata\[(.+)\]$/.exec(k);
			if (m) metadata[m[1]] = v;
		}
		const refund = { id: id("re"), object: "refund", amount, payment_intent: intent.id, status: "succeeded", failure_reason: null, metadata };
		refunds.set(refund.id, refund);
		return json(200, refund);
	}

	function search(url) {
		const m = /^metadata\['idempotency_key'\]:'(.*)'$/.exec(url.searchParams.get("query") ?? "");
		if (!m) return error(400, "invalid_request_error", "Unsupported search query");
		const key = m[1].replace(/\\'/g, "'");
		const found = [...intents.values()].filter((i) => i.metadata.idempotency_key === key && (searchable === null || searchable.has(i.id)));
		return json(200, { object: "search_result", data: found, has_more: false });
	}

	/** POSTs with an Idempotency-Key answer the first response to the same key and body; another body is an error, as at Stripe. */
	async function withIdempotency(request, body, run) {
		const key = request.headers.get("idempotency-key");
		if (!key) return run();
		const path = new URL(request.url).pathname;
		const seen = idempotent.get(key);
		if (seen) {
			if (seen.path !== path || seen.body !== body) return error(400, "idempotency_error", "Keys for idempotent requests can only be used with the same parameters they were first used with.");
			return new Response(seen.text, { status: seen.status, headers: { "content-type": "application/json", "idempotent-replayed": "true" } });
		}
		const response = await run();
		const text = await response.text();
		if (response.status !== 409) idempotent.set(key, { path, body, status: response.status, text });
		return new Response(text, { status: response.status, headers: response.headers });
	}

	async function handle(request) {
		const url = new URL(request.url);
		if (url.pathname.startsWith("/_fake/")) return control(url, request);
		if (request.headers.get("authorization") !== `Bearer ${secretKey}`) return error(401, "invalid_request_error", "Invalid API Key provided");
		if (request.method === "GET" && url.pathname === "/v1/payment_intents/search") return search(url);
		if (request.method === "GET" && url.pathname === "/v1/refunds") {
			const of = url.searchParams.get("payment_intent");
			const limit = Math.min(100, Number(url.searchParams.get("limit") ?? 10));
			const data = [...refunds.values()].filter((r) => of === null || r.payment_intent === of).reverse();
			return json(200, { object: "list", data: data.slice(0, limit), has_more: data.length > limit });
		}
		const cancel = /^\/v1\/payment_intents\/([A-Za-z0-9_]+)\/cancel$/.exec(url.pathname);
		if (request.method === "POST" && cancel) {
			const body = await request.text();
			return withIdempotency(request, body, () => cancelIntent(cancel[1]));
		}
		const one = /^\/v1\/payment_intents\/([A-Za-z0-9_]+)$/.exec(url.pathname);
		if (request.method === "GET" && one) {
			const intent = intents.get(one[1]);
			return intent ? json(200, intent) : error(404, "invalid_request_error", "No such payment_intent", { code: "resource_missing" });
		}
		if (request.method === "POST" && (url.pathname === "/v1/payment_intents" || url.pathname === "/v1/refunds")) {
			if (refuseNext) {
				refuseNext = false;
				throw new Error("fake-stripe: connection refused before the request reached Stripe");
			}
			const body = await request.text();
			const form = new URLSearchParams(body);
			const lose = (url.pathname === "/v1/payment_intents" && dropNext) || (url.pathname === "/v1/refunds" && dropNextRefund);
			const response = await withIdempotency(request, body, () => (url.pathname === "/v1/refunds" ? createRefund(form) : createIntent(form)));
			if (lose) {
				if (url.pathname === "/v1/refunds") dropNextRefund = false;
				else dropNext = false;
				throw new Error("fake-stripe: connection dropped after the charge was made");
			}
			return response;
		}
		return error(404, "invalid_request_error", `Unrecognized request URL (${request.method}: ${url.pathname})`);
	}

	async function control(url, request) {
		if (url.pathname === "/_fake/state") {
			return json(200, { created, paymentIntents: [...intents.values()], refunds: [...refunds.values()], waiting: waiting.length });
		}
		if (request.method === "POST" && url.pathname === "/_fake/complete-action") return completeAction(request);
		if (request.method === "POST" && url.pathname === "/_fake/release") {
			const released = waiting.length;
			for (const resolve of waiting) resolve();
			waiting = [];
			return json(200, { released });
		}
		if (request.method === "POST" && url.pathname === "/_fake/drop-next") {
			dropNext = true;
			return json(200, { dropNext });
		}
		if (request.method === "POST" && url.pathname === "/_fake/drop-next-refund") {
			dropNextRefund = true;
			return json(200, { dropNextRefund });
		}
		if (request.method === "POST" && url.pathname === "/_fake/fail-refund") {
			const refund = refunds.get((await request.text()).trim());
			if (!refund) return error(404, "invalid_request_error", "No such refund", { code: "resource_missing" });
			refund.status = "failed";
			refund.failure_reason = "expired_or_canceled_card";
			return json(200, refund);
		}
		if (request.method === "POST" && url.pathname === "/_fake/forget-keys") {
			const forgot = idempotent.size;
			idempotent.clear();
			return json(200, { forgot });
		}
		if (request.method === "POST" && url.pathname === "/_fake/search-lag") {
			searchable = new Set(intents.keys());
			return json(200, { searchLags: true });
		}
		if (request.method === "POST" && url.pathname === "/_fake/search-catch-up") {
			searchable = null;
			return json(200, { searchLags: false });
		}
		if (request.method === "POST" && url.pathname === "/_fake/refuse-next") {
			refuseNext = true;
			return json(200, { refuseNext });
		}
		return error(404, "invalid_request_error", "no such control");
	}

	return { handle };
}

/** The fake as a Node HTTP server on 127.0.0.1:`port` (0: any free port); a dropped answer destroys the socket. */
export async function serveFakeStripe({ secretKey, port = 0, webhookSecret = null, webhookUrl = null }) {
	const fake = createFakeStripe({ secretKey, webhookSecret, webhookUrl });
	const server = createServer(async (req, res) => {
		const chunks = [];
		for await (const chunk of req) chunks.push(chunk);
		const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
		const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers: req.headers, body: req.method === "GET" ? undefined : body });
		try {
			const response = await fake.handle(request);
			res.writeHead(response.status, Object.fromEntries(response.headers));
			res.end(Buffer.from(await response.arrayBuffer()));
		} catch {
			req.socket.destroy();
		}
	});
	await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
	const address = server.address();
	return { url: `http://127.0.0.1:${address.port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}
