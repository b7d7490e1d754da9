// What the promoter API answers about drops, sales, refunds, promoters, keys and
// the activity log (the audit's answers are in audit-answers.ts). The admin routes
// and the after-sale modules type their answers with these (`satisfies`);
// src/http/openapi.ts renders them into the OpenAPI document, and
// test/http/openapi.test.ts checks real answers against it. Built on first use
// (see answer-parts.ts). Pure.
import * as z from "zod";
import { answerParts, count, hex64, instant, nullable, orderStatus } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";
import { WEBHOOK_EVENTS } from "./requests";

function build() {
	const { TicketType, SaleWindow } = answerParts();

	/** A drop as the promoter API answers it, and as D1 and the objects keep it. */
	const Drop = z.strictObject({
		id: z.string(),
		name: z.string(),
		capacity: z.int(),
		maxPerFan: z.int(),
		opensAt: instant(),
		closesAt: nullable(instant()),
		priceCents: z.int(),
		currency: z.string(),
		shards: z.int(),
		lines: z.int().meta({ description: "Line objects that take the drop's joins." }),
		admission: z.strictObject({
			batchSize: z.int(),
			intervalMs: z.int(),
			activeMultiple: z.int(),
			offerSeconds: z.int().meta({ description: "After a sell-out: how long the turn of a fan offered a returned ticket lasts." }),
		}),
		holdSeconds: z.int(),
		paused: z.boolean(),
		cancelledAt: nullable(instant()).meta({ description: "When the drop was cancelled (POST /api/admin/drops/:id/cancel); a cancelled drop sells nothing and is never reopened." }),
		createdAt: instant(),
		updatedAt: instant(),
		promoterId: nullable(z.string()).meta({ description: "The promoter whose drop it is; null for a drop the operator made (only the operator sees those)." }),
		ticketTypes: z.array(TicketType).meta({ description: "A drop made without ticketTypes has one: general, of capacity, priceCents and maxPerFan." }),
		timeZone: z.string().meta({ description: "The drop's IANA time zone: its times are shown to fans, in emails and on the promoter page in it (UTC unless the promoter set one)." }),
		presales: z
			.array(
				SaleWindow.extend({
					registration: z
						.strictObject({ opensAt: instant(), closesAt: instant(), invites: z.int() })
						.optional()
						.meta({ description: "A registered window's: when fans may register, and how many the draw invites." }),
				}),
			)
			.optional()
			.meta({ description: "The sale windows before the general sale; absent on a drop made without them." }),
	});

	const AdminDrop = Drop.extend({ seedCommitment: hex64() });

	const AdminDropView = AdminDrop.extend({
		status: z.enum(["scheduled", "open", "paused", "sold_out", "closed", "cancelled"]).meta({ description: "The drop's state now (src/drops/lifecycle.ts)." }),
		moves: z.array(z.enum(["pause", "resume", "reschedule", "close", "reopen", "cancel"])).meta({ description: "The moves the promoter may make from this state; none once cancelled." }),
		stats: z.strictObject({
			joined: count(),
			waiting: count(),
			admitted: count(),
			held: count(),
			sold: count(),
			remaining: count(),
			recorded: count().meta({ description: "Orders in D1." }),
			recordedTickets: count(),
		}),
	});

	const DropList = z.strictObject({ drops: z.array(Drop), nextCursor: nullable(z.string()) });

	const Sale = z.strictObject({
		orderId: z.string(),
		createdAt: instant(),
		recordedAt: instant(),
		fanId: z.string(),
		email: nullable(z.string()).meta({ description: "The buyer's email, where the receipt went; null when they gave none." }),
		quantity: z.int().min(1),
		unitPriceCents: count(),
		totalCents: count(),
		currency: z.string(),
		paymentId: z.string(),
		shard: count(),
		tickets: z.array(z.string()),
		status: orderStatus().meta({ description: "What its post-sale follow-up made of it." }),
		refundedTickets: count(),
		ticketType: nullable(z.string()).meta({ description: "Null: general admission spread over the shards." }),
		slot: nullable(z.string()),
		seats: z.array(z.string()).meta({ description: "Seated: the seat of each ticket, in ticket order." }),
	});

	const SalesPage = z.strictObject({ dropId: z.string(), sales: z.array(Sale), nextCursor: nullable(z.string()) });

	const Refund = z.strictObject({
		refundId: z.string(),
		tickets: z.int().min(1),
		amountCents: count(),
		currency: z.string(),
		state: z.enum(["pending", "refunded", "failed"]).meta({
			description: "pending: recorded, the provider not yet done (repeat the request, or the cron finishes it). failed: the provider failed it after making it (detail says why); repeating the order's refund asks again.",
		}),
		detail: nullable(z.string()).meta({ description: "Why it failed, or why its last try did not finish; null once refunded." }),
		restock: z.boolean(),
		restocked: z.boolean(),
		createdAt: instant(),
	});

	const OrderRefunds = z.strictObject({
		orderId: z.string(),
		status: orderStatus(),
		refundedTickets: count(),
		changed: z.boolean().meta({ description: "false: nothing new to refund (a repeat changes nothing)." }),
		refunds: z.array(Refund),
	});

	const DropCancelled = z.strictObject({
		dropId: z.string(),
		cancelledAt: instant(),
		refundedOrders: count().meta({ description: "Orders refunded by this call." }),
		ordersLeft: count().meta({ description: "Orders still to refund: call again until 0." }),
		left: z
			.array(z.strictObject({ orderId: z.string(), code: z.string(), message: z.string() }))
			.meta({
				description:
					"Orders this call met and could not refund, with why: payment_method_unavailable (this deployment no longer takes the order's payment method), refund_failed (the provider failed the refund: the promoter retries it on the order), provider_unavailable. The next call goes on from where this one stopped.",
			}),
	});

	const RefundList = z.strictObject({
		dropId: z.string(),
		refunds: z.array(Refund.extend({ orderId: z.string() })),
		totals: z.strictObject({ refunds: count(), tickets: count(), amountCents: count() }),
		nextCursor: nullable(z.string()),
	});

	const OrderRetry = z.strictObject({ orderId: z.string(), status: orderStatus(), restarted: z.boolean() });

	const DevMailList = z.strictObject({
		mail: z.array(z.strictObject({ id: z.int(), orderId: z.string(), to: z.string(), subject: z.string(), body: z.string(), createdAt: instant() })),
	});
	const DevDrawCron = z.strictObject({
		drawn: count().meta({ description: "Registered windows this run drew (their registration had closed)." }),
		told: count().meta({ description: "Emails of drawn windows this run sent (at most 500); 0: every fan has been told." }),
	});

	// Promoters, their keys and the activity log.
	const limit = (what: string) => nullable(z.int().min(0)).meta({ description: `${what}; null: no limit.` });
	const Promoter = z.strictObject({
		id: z.string(),
		name: z.string(),
		limits: z.strictObject({
			joinsPerMinute: limit("Joins a minute each of the promoter's drops takes, all fans together"),
			adminRequestsPerMinute: limit("Admin requests a minute, all the promoter's keys together"),
			openDrops: limit("Drops not yet closed at once"),
		}),
		createdAt: instant(),
		updatedAt: instant(),
	});
	const role = z.enum(["owner", "staff", "gate"]);
	const ApiKey = z.strictObject({
		id: z.string(),
		promoterId: z.string(),
		label: z.string(),
		role,
		createdAt: instant(),
		revokedAt: nullable(instant()),
	});
	const ApiKeyMinted = ApiKey.extend({ apiKey: z.string().meta({ description: "The key itself: shown once, never again (D1 keeps only its SHA-256)." }) });
	const PromoterCreated = Promoter.extend({ apiKey: z.string().meta({ description: "Its first owner key: shown once." }), key: ApiKey });
	const PromoterList = z.strictObject({ promoters: z.array(Promoter), nextCursor: nullable(z.string()) });
	const KeyList = z.strictObject({ keys: z.array(ApiKey) });
	const Me = z.strictObject({
		kind: z.enum(["operator", "key"]),
		promoter: nullable(Promoter),
		key: nullable(ApiKey.pick({ id: true, label: true, role: true })),
	});
	const ActivityPage = z.strictObject({
		entries: z.array(
			z.strictObject({
				seq: z.int().min(1),
				promoterId: nullable(z.string()),
				actor: z.enum(["operator", "key", "fan", "engine"]).meta({
					description: "fan: a ticket holder's own act (a transfer made, cancelled or accepted); engine: the line after a sell-out (drop.sold_out, drop.returns_offered); neither has a key.",
				}),
				keyId: nullable(z.string()),
				keyLabel: nullable(z.string()),
				action: z.string().meta({ description: "drop.created, drop.rescheduled, drop.paused, drop.resumed, drop.updated, drop.reconciled, key.minted, key.revoked, promoter.created, promoter.updated, and what later routes add (refunds)." }),
				dropId: nullable(z.string()),
				detail: z.record(z.string(), z.unknown()).meta({ description: "What changed: for a change of fields, {changes: {field: {from, to}}}." }),
				at: instant(),
			}),
		),
		nextCursor: nullable(z.string()),
	});

	const webhookEvent = z.enum(WEBHOOK_EVENTS);
	const WebhookEndpoint = z.strictObject({
		id: z.string(),
		promoterId: z.string(),
		dropId: nullable(z.string()).meta({ description: "Only this drop's events; null: every drop of the promoter." }),
		url: z.string(),
		events: z.array(webhookEvent),
		state: z.enum(["active", "paused"]),
		pausedReason: nullable(z.string()).meta({ description: '"failing for a day" (paused by the engine) or "paused by the promoter".' }),
		failingSince: nullable(instant()).meta({ description: "When its current run of failures began; null after a success." }),
		stateSince: instant().meta({ description: "When it became what `state` says: made, paused (by the promoter or the engine) or resumed." }),
		lastFailure: nullable(z.strictObject({ at: instant(), error: z.string() })).meta({ description: "Its latest failed attempt (kept after a later success); null when none has failed." }),
		createdAt: instant(),
	});
	const WebhookCreated = WebhookEndpoint.extend({ secret: z.string().meta({ description: "The signing secret (whsec_…): shown once, never again." }) });
	const WebhookList = z.strictObject({ endpoints: z.array(WebhookEndpoint) });
	const CodeGroup = z.strictObject({
		id: z.string(),
		dropId: z.string(),
		windowId: z.string(),
		kind: z.enum(["unique", "shared", "list"]),
		name: z.string(),
		size: count().meta({ description: "Codes in the group (shared: 1), or fans on the list." }),
		cap: nullable(z.int()).meta({ description: "shared: the most fans its code admits; null otherwise." }),
		issuedBy: z.enum(["promoter", "engine"]).meta({ description: "engine: a registered window's codes, issued to the fans drawn." }),
		createdAt: instant(),
		revokedAt: nullable(instant()).meta({ description: "Set once revoked: its codes are refused from then on." }),
		used: count().meta({ description: "Fans it let in: unique codes bound to a fan, a shared code's fans, listed fans who joined." }),
	});
	const CodeGroupCreated = CodeGroup.extend({
		codes: z.array(z.string()).meta({ description: "The codes, in this answer only (the engine keeps only their hashes): unique, every code; shared, its one code; list, none." }),
	});
	const CodeGroupList = z.strictObject({ groups: z.array(CodeGroup) });
	const WebhookDelivery = z.strictObject({
		id: z.string(),
		eventId: z.string().meta({ description: "The event's id (the Webhook-Id header): the same on every resend and every endpoint." }),
		type: webhookEvent,
		orderKey: z.string().meta({ description: "The order (or, for a drop event, the drop) whose events are delivered in order." }),
		status: z.enum(["pending", "delivered", "failed"]),
		attempts: count(),
		lastStatus: nullable(z.int()).meta({ description: "The endpoint's last HTTP status; null when it did not answer." }),
		lastError: nullable(z.string()),
		createdAt: instant(),
		lastAttemptAt: nullable(instant()),
		deliveredAt: nullable(instant()),
	});
	const WebhookDeliveries = z.strictObject({ deliveries: z.array(WebhookDelivery), nextCursor: nullable(z.string()) });

	return {
		WebhookEndpoint,
		WebhookCreated,
		WebhookList,
		CodeGroup,
		CodeGroupCreated,
		CodeGroupList,
		WebhookDelivery,
		WebhookDeliveries,
		Promoter,
		PromoterCreated,
		PromoterList,
		ApiKey,
		ApiKeyMinted,
		KeyList,
		Me,
		ActivityPage,
		Drop,
		AdminDrop,
		AdminDropView,
		DropList,
		SalesPage,
		OrderRefunds,
		DropCancelled,
		RefundList,
		OrderRetry,
		DevMailList,
		DevDrawCron,
	};
}

/** The promoter API's answer schemas by their names in the OpenAPI document. */
export const adminAnswers = onFirstUse(build);

type Answer<K extends keyof ReturnType<typeof build>> = z.output<ReturnType<typeof build>[K]>;

export type Drop = Answer<"Drop">;
export type AdminDrop = Answer<"AdminDrop">;
export type AdminDropView = Answer<"AdminDropView">;
export type DropList = Answer<"DropList">;
export type SalesPage = Answer<"SalesPage">;
export type OrderRefunds = Answer<"OrderRefunds">;
export type DropCancelled = Answer<"DropCancelled">;
export type RefundList = Answer<"RefundList">;
export type OrderRetry = Answer<"OrderRetry">;
export type DevMailList = Answer<"DevMailList">;
export type DevDrawCron = Answer<"DevDrawCron">;
export type Promoter = Answer<"Promoter">;
export type PromoterCreated = Answer<"PromoterCreated">;
export type PromoterList = Answer<"PromoterList">;
export type ApiKeyView = Answer<"ApiKey">;
export type ApiKeyMinted = Answer<"ApiKeyMinted">;
export type KeyList = Answer<"KeyList">;
export type Me = Answer<"Me">;
export type ActivityPage = Answer<"ActivityPage">;
export type WebhookEndpointView = Answer<"WebhookEndpoint">;
export type WebhookCreated = Answer<"WebhookCreated">;
export type WebhookList = Answer<"WebhookList">;
export type CodeGroupView = Answer<"CodeGroup">;
export type CodeGroupCreated = Answer<"CodeGroupCreated">;
export type CodeGroupList = Answer<"CodeGroupList">;
export type WebhookDeliveryView = Answer<"WebhookDelivery">;
export type WebhookDeliveries = Answer<"WebhookDeliveries">;
