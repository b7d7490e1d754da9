// A promoter's webhook endpoints and their deliveries in D1: made (the secret
// answered once), listed, paused and resumed; each one's deliveries listed, and one
// sent again. The sending is webhook-delivery.ts's.
import type { WebhookEvent } from "./webhook-events";

export interface WebhookEndpoint {
	id: string;
	promoterId: string;
	dropId: string | null;
	url: string;
	events: WebhookEvent[];
	state: "active" | "paused";
	pausedReason: string | null;
	failingSince: string | null;
	/** When it became what `state` says: made, paused or resumed. */
	stateSince: string;
	/** Its latest failed attempt (kept after a success), or null when none has failed. */
	lastFailure: { at: string; error: string } | null;
	createdAt: string;
}

export interface WebhookDelivery {
	id: string;
	eventId: string;
	type: WebhookEvent;
	orderKey: string;
	status: "pending" | "delivered" | "failed";
	attempts: number;
	lastStatus: number | null;
	lastError: string | null;
	createdAt: string;
	lastAttemptAt: string | null;
	deliveredAt: string | null;
}

interface EndpointRow {
	id: string;
	promoter_id: string;
	drop_id: string | null;
	url: string;
	events: string;
	state: "active" | "paused";
	paused_reason: string | null;
	failing_since: string | null;
	state_since: string;
	last_failure_at: string | null;
	last_failure: string | null;
	created_at: string;
}

const endpointOf = (r: EndpointRow): WebhookEndpoint => ({
	id: r.id,
	promoterId: r.promoter_id,
	dropId: r.drop_id,
	url: r.url,
	events: JSON.parse(r.events) as WebhookEvent[],
	state: r.state,
	pausedReason: r.paused_reason,
	failingSince: r.failing_since,
	stateSince: r.state_since,
	lastFailure: r.last_failure_at === null ? null : { at: r.last_failure_at, error: r.last_failure ?? "failed" },
	createdAt: r.created_at,
});

/** Endpoints per promoter: enough for every system a promoter runs, and a bound on the outbox's fan-out. */
export const MAX_ENDPOINTS = 20;

export function insertEndpointStatement(db: D1Database, e: WebhookEndpoint, secret: string): D1PreparedStatement {
	// Written only while the promoter has fewer than MAX_ENDPOINTS: the count and the write are one statement.
	return db
		.prepare(
			`INSERT INTO webhook_endpoints (id, promoter_id, drop_id, url, events, secret, state, state_since, created_at)
			 SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?7 WHERE (SELECT COUNT(*) FROM webhook_endpoints WHERE promoter_id = ?2) < ?8`,
		)
		.bind(e.id, e.promoterId, e.dropId, e.url, JSON.stringify(e.events), secret, e.createdAt, MAX_ENDPOINTS);
}

export async function listEndpoints(db: D1Database, promoterId: string): Promise<WebhookEndpoint[]> {
	const { results } = await db.prepare(`SELECT * FROM webhook_endpoints WHERE promoter_id = ? ORDER BY created_at, id`).bind(promoterId).all<EndpointRow>();
	return results.map(endpointOf);
}

export async function getEndpoint(db: D1Database, promoterId: string, id: string): Promise<WebhookEndpoint | null> {
	const row = await db.prepare(`SELECT * FROM webhook_endpoints WHERE id = ? AND promoter_id = ?`).bind(id, promoterId).first<EndpointRow>();
	return row === null ? null : endpointOf(row);
}

/** Pauses an endpoint by the promoter's hand: its deliveries wait, none is lost. */
export function pauseStatement(db: D1Database, id: string, at = new Date().toISOString()): D1PreparedStatement {
	return db.prepare(`UPDATE webhook_endpoints SET state = 'paused', paused_reason = 'paused by the promoter', state_since = ?2 WHERE id = ?1 AND state = 'active'`).bind(id, at);
}

/** Resumes an endpoint: its failures forgotten, its waiting deliveries due again (the dispatcher queues them). */
export function resumeStatements(db: D1Database, id: string, at = new Date().toISOString()): D1PreparedStatement[] {
	return [
		db.prepare(`UPDATE webhook_endpoints SET state = 'active', paused_reason = NULL, failing_since = NULL, state_since = ?2 WHERE id = ?1 AND state = 'paused'`).bind(id, at),
		db.prepare(`UPDATE webhook_deliveries SET queued_at = NULL WHERE endpoint_id = ? AND status = 'pending'`).bind(id),
	];
}

interface DeliveryRow {
	id: string;
	event_id: string;
	type: WebhookEvent;
	order_key: string;
	status: WebhookDelivery["status"];
	attempts: number;
	last_status: number | null;
	last_error: string | null;
	created_at: string;
	last_attempt_at: string | null;
	delivered_at: string | null;
	seq: number;
}

const deliveryOf = (r: DeliveryRow): WebhookDelivery => ({
	id: r.id,
	eventId: r.event_id,
	type: r.type,
	orderKey: r.order_key,
	status: r.status,
	attempts: r.attempts,
	lastStatus: r.last_status,
	lastError: r.last_error,
	createdAt: r.created_at,
	lastAttemptAt: r.last_attempt_at,
	deliveredAt: r.delivered_at,
});

/** One page of an endpoint's deliveries, the newest first; `before`: the cursor (a row's seq). */
export async function deliveriesPage(db: D1Database, endpointId: string, limit: number, before: number | null): Promise<{ deliveries: WebhookDelivery[]; next: number | null }> {
	const { results } = await db
		.prepare(`SELECT rowid AS seq, * FROM webhook_deliveries WHERE endpoint_id = ?1 AND (?2 IS NULL OR rowid < ?2) ORDER BY rowid DESC LIMIT ?3`)
		.bind(endpointId, before, limit)
		.all<DeliveryRow>();
	return { deliveries: results.map(deliveryOf), next: results.length === limit ? results[results.length - 1]!.seq : null };
}

/**
 * Sends a delivery again: pending once more, its place in its order kept (an earlier event still waiting goes
 * first). Answers the delivery, or null when the endpoint has none by that id.
 */
export async function resendDelivery(db: D1Database, endpointId: string, deliveryId: string): Promise<WebhookDelivery | null> {
	const row = await db
		.prepare(
			`UPDATE webhook_deliveries SET status = 'pending', queued_at = NULL, delivered_at = NULL
			 WHERE id = ? AND endpoint_id = ? RETURNING rowid AS seq, *`,
		)
		.bind(deliveryId, endpointId)
		.first<DeliveryRow>();
	return row === null ? null : deliveryOf(row);
}
