// Webhook deliveries: the dispatcher puts the outbox's rows (webhook-events.ts) on
// the WEBHOOKS Queue, and the consumer sends each to its endpoint, signed as Stripe
// signs (`Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`).
// Per endpoint, an order's (or a drop's) events go one at a time in the order they
// happened: only the first undelivered one of each is queued, and the next once it
// is delivered. A failed send comes back with backoff (30 s doubling to an hour);
// an endpoint that has failed for a day without one success is paused, its
// deliveries kept for when the promoter resumes it. A send is claimed in D1 before
// it goes, so two copies of a message never send at once, and a delivery is
// recorded delivered once, however often its message comes.
import { base64url } from "../shared/crypto";

export const WEBHOOK_QUEUE = "ticket-webhooks";

/** How long a send may take: a slow endpoint holds a consumer no longer than this. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** An attempt claimed this long ago with nothing recorded crashed: the delivery may be tried again. */
export const CLAIM_MS = 30_000;
/** Failing this long without a success pauses an endpoint. */
export const PAUSE_AFTER_MS = 24 * 60 * 60 * 1000;
/** A queued delivery untouched this long lost its message (it used up the Queue's retries): queued again. */
export const REQUEUE_AFTER_MS = 2 * 60 * 60 * 1000;
/** Seconds before the next try after `attempts` failed ones: 30, 60, 120, ... up to an hour. */
export const webhookBackoff = (attempts: number) => Math.min(30 * 2 ** Math.max(attempts - 1, 0), 3600);

export interface WebhookMessage {
	v: 1;
	deliveryId: string;
}

const messageOf = (body: unknown): WebhookMessage | null => {
	if (typeof body !== "object" || body === null) return null;
	const { v, deliveryId } = body as Record<string, unknown>;
	return v === 1 && typeof deliveryId === "string" && deliveryId.length > 0 && deliveryId.length <= 64 ? { v, deliveryId } : null;
};

/** The signature header of `body` at unix time `t`. */
export async function webhookSignature(secret: string, t: number, body: string): Promise<string> {
	const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${t}.${body}`));
	return `t=${t},v1=${Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Queues the deliveries that are due: pending, of an active endpoint, first of their order at that endpoint, and
 * never queued (or queued long ago and lost). Writes `drop.opened` for drops opened meanwhile first. Answers how many.
 */
export async function dispatchWebhooks(env: Env, now = Date.now(), openedStatement?: D1PreparedStatement): Promise<number> {
	if (openedStatement) await openedStatement.run();
	let sent = 0;
	for (let round = 0; round < 10; round++) {
		const { results } = await env.DB.prepare(
			`SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			 WHERE d.status = 'pending' AND e.state = 'active' AND (d.queued_at IS NULL OR d.queued_at <= ?1)
			   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key
			                   AND p.status = 'pending' AND p.rowid < d.rowid)
			 ORDER BY d.rowid LIMIT 100`,
		)
			.bind(iso(now - REQUEUE_AFTER_MS))
			.all<{ id: string }>();
		if (results.length === 0) break;
		const ids = results.map((r) => r.id);
		await env.WEBHOOKS.sendBatch(ids.map((deliveryId) => ({ body: { v: 1, deliveryId } satisfies WebhookMessage })));
		await env.DB.prepare(`UPDATE webhook_deliveries SET queued_at = ?2 WHERE id IN (SELECT value FROM json_each(?1))`).bind(JSON.stringify(ids), iso(now)).run();
		sent += ids.length;
		if (results.length < 100) break;
	}
	return sent;
}

interface Claimed {
	id: string;
	endpoint_id: string;
	event_id: string;
	order_key: string;
	payload: string;
	attempts: number;
	url: string;
	secret: string;
	failing_since: string | null;
}

export interface ConsumeOptions {
	now?: number;
	fetcher?: typeof fetch;
}

/** The WEBHOOKS Queue's consumer: each message one delivery, all sent at once (each bounded by WEBHOOK_TIMEOUT_MS). */
export async function consumeWebhooks(batch: MessageBatch<unknown>, env: Env, options: ConsumeOptions = {}): Promise<void> {
	const now = options.now ?? Date.now();
	const fetcher = options.fetcher ?? fetch;
	let delivered = 0;
	await Promise.all(
		batch.messages.map(async (msg) => {
			const job = messageOf(msg.body);
			if (job === null) {
				console.error(`webhook message ${msg.id} is not one; acked`);
				return msg.ack();
			}
			try {
				const outcome = await deliverOnce(env, job.deliveryId, now, fetcher);
				if (outcome.kind === "retry") msg.retry({ delaySeconds: outcome.delaySeconds });
				else msg.ack();
				if (outcome.kind === "delivered") delivered++;
			} catch (err) {
				console.error(`webhook delivery ${job.deliveryId}: D1 failed; retrying`, err);
				msg.retry({ delaySeconds: webhookBackoff(msg.attempts) });
			}
		}),
	);
	// The next event of each order that got through is due now.
	if (delivered > 0) await dispatchWebhooks(env, now).catch((err) => console.error("webhooks: dispatch after delivery failed; the cron sends them", err));
}

type Outcome = { kind: "delivered" | "done" } | { kind: "retry"; delaySeconds: number };

async function deliverOnce(env: Env, deliveryId: string, now: number, fetcher: typeof fetch): Promise<Outcome> {
	// Claimed only while pending, first of its order at an active endpoint, and not being sent by another copy.
	const claimed = await env.DB.prepare(
		`UPDATE webhook_deliveries AS d SET attempts = attempts + 1, claimed_at = ?2, last_attempt_at = ?2, first_attempt_at = COALESCE(first_attempt_at, ?2)
		 WHERE d.id = ?1 AND d.status = 'pending' AND (d.claimed_at IS NULL OR d.claimed_at <= ?3)
		   AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.state = 'active')
		   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key
		                   AND p.status = 'pending' AND p.rowid < d.rowid)
		 RETURNING id, endpoint_id, event_id, order_key, payload, attempts`,
	)
		.bind(deliveryId, iso(now), iso(now - CLAIM_MS))
		.first<Omit<Claimed, "url" | "secret" | "failing_since">>();
	if (claimed === null) return notClaimed(env, deliveryId, now);
	const endpoint = (await env.DB.prepare(`SELECT url, secret, failing_since FROM webhook_endpoints WHERE id = ?`)
		.bind(claimed.endpoint_id)
		.first<Pick<Claimed, "url" | "secret" | "failing_since">>())!;
	const answer = await send(fetcher, endpoint.url, endpoint.secret, claimed.event_id, claimed.id, claimed.payload, now);
	if (answer.ok) {
		await env.DB.batch([
			env.DB.prepare(`UPDATE webhook_deliveries SET status = 'delivered', claimed_at = NULL, last_status = ?2, last_error = NULL, delivered_at = ?3 WHERE id = ?1 AND status = 'pending'`).bind(
				claimed.id,
				answer.status,
				iso(now),
			),
			env.DB.prepare(`UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?`).bind(claimed.endpoint_id),
		]);
		return { kind: "delivered" };
	}
	const failingSince = endpoint.failing_since ?? iso(now);
	const pause = now - Date.parse(failingSince) >= PAUSE_AFTER_MS;
	await env.DB.batch([
		// The claim ends with its outcome, so the retry may claim it at once.
		env.DB.prepare(`UPDATE webhook_deliveries SET claimed_at = NULL, last_status = ?2, last_error = ?3, queued_at = CASE WHEN ?4 THEN NULL ELSE queued_at END WHERE id = ?1`).bind(
			claimed.id,
			answer.status,
			answer.error,
			pause ? 1 : 0,
		),
		env.DB.prepare(
			`UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?2), last_failure_at = ?5, last_failure = ?6,
			   state_since = CASE WHEN ?3 AND state = 'active' THEN ?5 ELSE state_since END,
			   state = CASE WHEN ?3 THEN 'paused' ELSE state END, paused_reason = CASE WHEN ?3 THEN ?4 ELSE paused_reason END WHERE id = ?1`,
		).bind(claimed.endpoint_id, failingSince, pause ? 1 : 0, "failing for a day", iso(now), answer.error ?? "failed"),
	]);
	if (pause) console.warn(`webhook endpoint ${claimed.endpoint_id} paused: failing since ${failingSince}`);
	return pause ? { kind: "done" } : { kind: "retry", delaySeconds: webhookBackoff(claimed.attempts) };
}

/** Why a delivery was not claimed: done (delivered, paused, or not first of its order: it is queued when due), or being sent now. */
async function notClaimed(env: Env, deliveryId: string, now: number): Promise<Outcome> {
	const row = await env.DB.prepare(
		`SELECT d.status, d.claimed_at, e.state,
		   EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key AND p.status = 'pending' AND p.rowid < d.rowid) AS waiting
		 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?`,
	)
		.bind(deliveryId)
		.first<{ status: string; claimed_at: string | null; state: string; waiting: number }>();
	if (row === null || row.status !== "pending") return { kind: "done" };
	if (row.state !== "active" || row.waiting === 1) {
		// Let the dispatcher queue it again when it is due (the endpoint resumed, the earlier event delivered).
		await env.DB.prepare(`UPDATE webhook_deliveries SET queued_at = NULL WHERE id = ? AND status = 'pending'`).bind(deliveryId).run();
		return { kind: "done" };
	}
	// Another copy of the message is sending it now: come back once its claim has run out.
	const claimedAt = row.claimed_at === null ? now : Date.parse(row.claimed_at);
	return { kind: "retry", delaySeconds: Math.max(1, Math.ceil((claimedAt + CLAIM_MS - now) / 1000)) };
}

/** One POST, bounded by WEBHOOK_TIMEOUT_MS; redirects are not followed (a 3xx is a failure). */
async function send(fetcher: typeof fetch, url: string, secret: string, eventId: string, deliveryId: string, body: string, now: number) {
	try {
		const response = await fetcher(url, {
			method: "POST",
			redirect: "manual",
			signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
			headers: {
				"content-type": "application/json",
				"user-agent": "ticket-drop-engine-webhooks/1",
				"webhook-id": eventId,
				"webhook-delivery": deliveryId,
				"webhook-signature": await webhookSignature(secret, Math.floor(now / 1000), body),
			},
			body,
		});
		// Only the status matters; the body is not read, so a large one costs nothing.
		await response.body?.cancel();
		const ok = response.status >= 200 && response.status < 300;
		return { ok, status: response.status, error: ok ? null : `answered ${response.status}` };
	} catch (err) {
		const timedOut = err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError");
		return { ok: false, status: null, error: timedOut ? `no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s` : "could not connect" };
	}
}

/** An endpoint's new signing secret: 256 random bits. */
export const newWebhookSecret = (): string => `whsec_${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
