// What the API answers: one schema per answer, each error included. The routes
// type their answers with these (`satisfies`); src/http/openapi.ts renders them into
// the OpenAPI document, and test/http/openapi.test.ts checks real answers against it.
//
// Built on first use, not at start-up: the Worker never parses its own answers,
// it only types them, so an isolate that never serves the document never pays
// for building some 200 zod schemas (about 15 ms of start-up, measured in Node). Pure.
import * as z from "zod";

function build() {
	const instant = () => z.iso.datetime();
	const count = () => z.int().min(0);
	const hex64 = () => z.string().regex(/^[0-9a-f]{64}$/);
	const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();

	/** A ticket type as a drop keeps it (issue 14): seats are counted per section, never listed here. */
	const TicketType = z.strictObject({
		id: z.string(),
		name: z.string(),
		kind: z.enum(["general", "seated", "timeslot"]),
		priceCents: count(),
		maxPerFan: z.int().min(1),
		capacity: count(),
		slots: z.array(z.strictObject({ id: z.string(), startsAt: instant(), capacity: z.int().min(1) })).optional(),
		sections: z.array(z.strictObject({ name: z.string(), seats: count() })).optional(),
	});

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
		admission: z.strictObject({ batchSize: z.int(), intervalMs: z.int(), activeMultiple: z.int() }),
		holdSeconds: z.int(),
		paused: z.boolean(),
		createdAt: instant(),
		updatedAt: instant(),
		promoterId: nullable(z.string()).meta({ description: "The promoter whose drop it is; null for a drop the operator made (only the operator sees those)." }),
		ticketTypes: z.array(TicketType).meta({ description: "A drop made without ticketTypes has one: general, of capacity, priceCents and maxPerFan." }),
	});

	/** Every refusal: `{"error": {"code", "message", ...}}`, with the details a code carries. */
	const ApiErrorBody = z.strictObject({
		error: z.strictObject({
			code: z.string().meta({ description: "Stable, machine-readable; see each status for the codes it carries." }),
			message: z.string().meta({ description: "For people; never a stack or an internal message." }),
			field: z.string().optional().meta({ description: "The input at fault, as a dotted path (payment.method, admission.batchSize)." }),
			retryAfter: z.int().min(1).optional().meta({ description: "On every 429 and 503: whole seconds, as in the Retry-After header." }),
			available: count().optional().meta({ description: "not_enough_left: tickets left." }),
			maxPerFan: z.int().optional().meta({ description: "limit_exceeded: the drop's limit per fan." }),
			alreadyHeldOrBought: count().optional().meta({ description: "limit_exceeded: tickets the fan already holds or bought." }),
			holdId: z.string().optional().meta({ description: "payment_declined: the hold, which is kept." }),
			holdKept: z.boolean().optional(),
			openDrops: count().optional().meta({ description: "open_drops_limit: the promoter's limit of drops not yet closed." }),
			scannedAt: instant().optional().meta({ description: "already_used: when the ticket was admitted." }),
			seats: z.array(z.string()).optional().meta({ description: "seats_taken, unknown_seat, seat_not_in_type: the seats at fault." }),
			line: z.int().min(1).optional().meta({ description: "invalid_csv, duplicate_seat in a seats CSV: the line at fault (the header is 1)." }),
		}),
	});

	const Health = z.strictObject({ ok: z.literal(true), time: instant() });

	const Jwks = z.strictObject({
		keys: z.array(
			z.strictObject({
				kty: z.literal("EC"),
				crv: z.literal("P-256"),
				x: z.string(),
				y: z.string(),
				kid: z.string(),
				alg: z.literal("ES256"),
				use: z.literal("sig"),
			}),
		),
	});

	const OpenApiDocument = z.looseObject({
		openapi: z.literal("3.1.0"),
		info: z.looseObject({ title: z.string(), version: z.string() }),
		paths: z.record(z.string(), z.unknown()),
	});

	const dropStatus = z.enum(["scheduled", "open", "sold_out", "closed"]);

	const PublicDrop = z.strictObject({
		id: z.string(),
		name: z.string(),
		opensAt: instant(),
		closesAt: nullable(instant()),
		status: dropStatus,
		remaining: count().meta({ description: "At most a second or two old." }),
		capacity: z.int(),
		maxPerFan: z.int(),
		priceCents: count(),
		currency: z.string(),
		holdSeconds: z.int(),
		paused: z.boolean(),
		lines: z.int(),
		seedCommitment: hex64().meta({ description: "SHA-256 of the shuffle's seed, public from creation." }),
		ticketTypes: z.array(TicketType),
		serverTime: instant(),
	});

	/** Every seat of the drop's seated types, for drawing the map: rows of [number, seat id]. */
	const SeatMap = z.strictObject({
		dropId: z.string(),
		ticketTypes: z.array(
			z.strictObject({
				id: z.string(),
				sections: z.array(
					z.strictObject({
						name: z.string(),
						rows: z.array(z.strictObject({ row: z.string(), seats: z.array(z.tuple([z.int(), z.string()])).meta({ description: "[number, seat id], in the promoter's order." }) })),
					}),
				),
			}),
		),
	});

	/** What is left, per type, slot and section, with each section's free seats row by row. */
	const Availability = z.strictObject({
		dropId: z.string(),
		ticketTypes: z.array(
			z.strictObject({
				id: z.string(),
				kind: z.enum(["general", "seated", "timeslot"]),
				remaining: count(),
				slots: z.array(z.strictObject({ id: z.string(), remaining: count() })).optional(),
				sections: z
					.array(
						z.strictObject({
							name: z.string(),
							remaining: count(),
							rows: z.array(z.strictObject({ row: z.string(), free: z.string().meta({ description: 'Free seat numbers as ranges: "1-4,7".' }) })),
						}),
					)
					.optional(),
			}),
		),
		gatheredAt: nullable(instant()).meta({ description: "When the shards were last read (at most a second or two before)." }),
		serverTime: instant(),
	});

	const Fairness = z.strictObject({
		dropId: z.string(),
		algorithm: z.string(),
		seedCommitment: hex64(),
		seed: nullable(z.string()).meta({ description: "Null before the opening." }),
		lines: z.int(),
		prequeue: nullable(z.array(count())).meta({ description: "Each line's pre-queue size; null before the opening." }),
		prequeueSize: nullable(count()),
		admittedThrough: count(),
		lastPosition: count(),
		opensAt: instant(),
		serverTime: instant(),
	});

	/** Where a fan stands, as every join and poll tells it. */
	const queueFields = {
		position: nullable(z.int().min(1)).meta({ description: "Null in the pre-queue until the opening, and until the pacer places a later join." }),
		ahead: nullable(count()),
		estimatedWaitMs: nullable(count()),
		pollAfterMs: nullable(count()).meta({ description: "When to poll again; null once there is nothing to wait for." }),
		paused: z.boolean(),
		opensAt: instant(),
		serverTime: instant(),
	};

	const placeFields = {
		line: count(),
		prequeuePlace: nullable(z.int().min(1)).meta({ description: "The fan's place in their line's pre-queue, or null." }),
		slot: nullable(count()),
		slotIndex: nullable(count()),
	};

	const JoinAnswer = z.union([
		z.strictObject({
			...queueFields,
			...placeFields,
			fanId: z.string(),
			status: z.enum(["waiting", "admitted", "sold_out"]),
			queueToken: z.string(),
			fanSecret: nullable(z.string()).meta({ description: "Shown once, in the answer that made the place; null on a rejoin and in fan identity mode." }),
			rejoined: z.boolean(),
		}),
		z.strictObject({
			...queueFields,
			fanId: z.string(),
			status: z.literal("sold_out"),
			queueToken: z.null(),
			fanSecret: z.null(),
			rejoined: z.literal(false),
		}),
	]);

	const QueueStatus = z.strictObject({
		...queueFields,
		status: z.enum(["waiting", "admitted", "sold_out", "expired", "closed"]),
		queueToken: z.string().optional().meta({ description: "A new queue token once a fan without a position has been placed: use it from then on." }),
		accessToken: z.string().optional().meta({ description: "Once admitted: the token for holds and purchases." }),
		accessExpiresAt: instant().optional(),
	});

	/** What an order or hold carries of a type's named units (absent for general admission spread over the shards). */
	const unitFields = {
		ticketType: z.string().optional(),
		seats: z.array(z.string()).optional().meta({ description: "Seated: the seats, in ticket order." }),
		slot: z.string().optional(),
	};

	const Hold = z.strictObject({
		holdId: z.string(),
		quantity: z.int().min(1),
		expiresAt: instant(),
		...unitFields,
		together: z.boolean().optional().meta({ description: "Best available: whether the seats are side by side in one row." }),
	});

	const Order = z.strictObject({
		orderId: z.string(),
		dropId: z.string(),
		holdId: z.string(),
		quantity: z.int().min(1),
		tickets: z.array(z.string()),
		unitPriceCents: count(),
		totalCents: count(),
		currency: z.string(),
		createdAt: instant(),
		...unitFields,
	});

	const Purchase = Order.extend({
		orderToken: z.string().meta({ description: "Reads this order for a year from the purchase (GET /api/orders/:orderId)." }),
	});

	const orderStatus = z.enum(["paid", "ticketed", "receipt_sent", "refunded", "failed"]);

	/** An order with what became of it after the sale (issue 15). */
	const OrderDetail = Order.extend({
		status: orderStatus.meta({ description: "paid (not ticketed yet), ticketed, receipt_sent, refunded (every ticket), failed (a post-sale step gave up; the promoter can retry it)." }),
		statusDetail: nullable(z.string()).meta({ description: "failed: the step that failed; retrying: after the promoter's retry." }),
		refundedTickets: count(),
		passes: z.array(
			z.strictObject({
				code: z.string(),
				token: nullable(z.string()).meta({ description: "The ticket's signed token (ES256, the JWKS), shown as its QR code; null until ticketed." }),
				state: z.enum(["valid", "used", "refunded"]),
			}),
		),
	});

	const ScanAnswer = z.strictObject({
		admitted: z.literal(true),
		dropId: z.string(),
		orderId: z.string(),
		ticket: z.string(),
		unit: z.string().optional(),
		scannedAt: instant(),
	});

	const Refund = z.strictObject({
		refundId: z.string(),
		tickets: z.int().min(1),
		amountCents: count(),
		currency: z.string(),
		state: z.enum(["pending", "refunded"]).meta({ description: "pending: recorded, the provider not yet done (repeat the request)." }),
		restock: z.boolean(),
		restocked: z.boolean(),
		createdAt: instant(),
	});

	const OrderRefunds = z.strictObject({
		orderId: z.string(),
		status: orderStatus,
		refundedTickets: count(),
		changed: z.boolean().meta({ description: "false: nothing new to refund (a repeat changes nothing)." }),
		refunds: z.array(Refund),
	});

	const DropCancelled = z.strictObject({
		dropId: z.string(),
		cancelledAt: instant(),
		refundedOrders: count().meta({ description: "Orders refunded by this call." }),
		ordersLeft: count().meta({ description: "Orders still to refund: call again until 0." }),
	});

	const RefundList = z.strictObject({
		dropId: z.string(),
		refunds: z.array(Refund.extend({ orderId: z.string() })),
		totals: z.strictObject({ refunds: count(), tickets: count(), amountCents: count() }),
		nextCursor: nullable(z.string()),
	});

	const OrderRetry = z.strictObject({ orderId: z.string(), status: orderStatus, restarted: z.boolean() });

	const DevMailList = z.strictObject({
		mail: z.array(z.strictObject({ id: z.int(), orderId: z.string(), to: z.string(), subject: z.string(), body: z.string(), createdAt: instant() })),
	});

	const WebhookAnswer = z.strictObject({ received: z.literal(true), duplicate: z.boolean() });

	const AdminDrop = Drop.extend({ seedCommitment: hex64() });

	const AdminDropView = AdminDrop.extend({
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
		quantity: z.int().min(1),
		unitPriceCents: count(),
		totalCents: count(),
		currency: z.string(),
		paymentId: z.string(),
		shard: count(),
		tickets: z.array(z.string()),
		status: z.enum(["paid", "ticketed", "receipt_sent", "refunded", "failed"]).meta({ description: "What its post-sale Workflow made of it (issue 15)." }),
		refundedTickets: count(),
		ticketType: nullable(z.string()).meta({ description: "Null: general admission spread over the shards." }),
		slot: nullable(z.string()),
		seats: z.array(z.string()).meta({ description: "Seated: the seat of each ticket, in ticket order." }),
	});

	const SalesPage = z.strictObject({ dropId: z.string(), sales: z.array(Sale), nextCursor: nullable(z.string()) });

	const idSample = () =>
		z.strictObject({ count: count(), ids: z.array(z.string()).meta({ description: "The first ids in id order, at most 50." }) });

	const ShardAudit = z.strictObject({
		shard: count(),
		allocation: count(),
		remaining: count(),
		held: count(),
		sold: count(),
		buyers: count(),
		received: count(),
		given: count(),
		restocked: count().meta({ description: "Refunded tickets put back on sale here (not counted in sold)." }),
		orders: count(),
		activeHolds: count(),
		outboxPending: count(),
		transfersPending: count(),
		accountable: z.int(),
		recentlySent: count(),
		unreconciledCharges: count(),
		noticesPending: count(),
		soldByType: z.array(z.strictObject({ ticketType: nullable(z.string()), sold: count() })),
		pools: z.array(
			z.strictObject({ typeId: z.string(), pool: z.string(), kind: z.enum(["count", "seats"]), capacity: count(), free: count(), held: count(), sold: count(), seatErrors: count() }),
		),
		recorded: count(),
		missingInD1: idSample(),
		inTransit: idSample(),
		unknownInD1: idSample(),
	});

	const LineAudit = z.strictObject({
		line: count(),
		joined: count(),
		prequeue: count(),
		consistent: z.boolean(),
		slots: z.array(z.strictObject({ slot: count(), count: count(), start: nullable(z.int().min(1)) })),
	});

	const objectKind = z.enum(["room", "line", "shard"]);

	const AuditReport = z.strictObject({
		dropId: z.string(),
		capacity: z.int(),
		shards: z.array(ShardAudit),
		totals: z.strictObject({ sold: count(), held: count(), remaining: count(), orders: count(), inFlight: z.int() }),
		recorded: count(),
		recordedTickets: count(),
		outboxPending: count(),
		inTransit: count(),
		oversold: count(),
		lost: count(),
		phantom: count(),
		unreconciledCharges: count(),
		otherShardsInD1: idSample(),
		balanced: z.boolean(),
		named: z.strictObject({
			types: z.array(
				z.strictObject({
					ticketType: z.string(),
					kind: z.enum(["general", "seated", "timeslot"]),
					capacity: count(),
					free: count(),
					held: count(),
					sold: count().meta({ description: "Where the units are decided (their pools, or the shards' general stock)." }),
					soldToFans: count().meta({ description: "In the orders of the fans' home shards." }),
					recorded: count().meta({ description: "Tickets of this type in D1." }),
					oversold: count(),
					consistent: z.boolean().meta({ description: "sold = soldToFans = recorded, once nothing is on its way." }),
				}),
			),
			slots: z.array(z.strictObject({ ticketType: z.string(), slot: z.string(), capacity: count(), sold: count(), held: count(), oversold: count() })),
			seatsSold: count(),
			seatsRecorded: count(),
			seatsSoldTwice: count().meta({ description: "Seats sold more than once, in the shards or in D1: always 0." }),
			noticesPending: count(),
			ok: z.boolean(),
		}),
		admission: z.strictObject({
			seed: nullable(z.string()),
			seedCommitment: hex64(),
			commitmentVerified: nullable(z.boolean()),
			openedAt: nullable(instant()),
			prequeueSize: count(),
			prequeue: nullable(z.array(count())),
			algorithm: z.string(),
			shuffleVerified: nullable(z.boolean()),
			admittedThrough: count(),
			admittedInOrder: z.boolean(),
			placed: count(),
			batches: count(),
			largestBatch: count(),
			closestBatchesMs: nullable(count()),
			lines: z.array(LineAudit),
		}),
		load: z.strictObject({
			fans: count(),
			objects: z.array(z.strictObject({ kind: objectKind, index: count(), requests: count() })),
			hottest: nullable(z.strictObject({ kind: objectKind, index: count(), requests: count(), perFan: z.number().min(0) })),
		}),
		refunds: z.strictObject({
			refunds: count(),
			tickets: count(),
			amountCents: count(),
			restocked: count(),
			atGate: z.int().meta({ description: "Tickets in D1 less those refunded: what the venue expects at the gate." }),
		}),
		ok: z.boolean(),
	});

	const Reconciled = z.strictObject({
		dropId: z.string(),
		resent: count().meta({ description: "Sales sent again." }),
		missingInD1: count().meta({ description: "Sales missing from D1 and sent over 10 minutes ago." }),
		inTransit: count().meta({ description: "Sales missing but newer: left to the pipeline." }),
		unknownInD1: count().meta({ description: "Rows in D1 no shard sold (never touched)." }),
	});

	// Promoters, keys and the activity log (issue 17).
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
				actor: z.enum(["operator", "key"]),
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

	return {
		Promoter,
		PromoterCreated,
		PromoterList,
		ApiKey,
		ApiKeyMinted,
		KeyList,
		Me,
		ActivityPage,
		ApiError: ApiErrorBody,
		Health,
		Jwks,
		OpenApiDocument,
		Drop,
		AdminDrop,
		AdminDropView,
		DropList,
		SalesPage,
		AuditReport,
		Reconciled,
		PublicDrop,
		Fairness,
		JoinAnswer,
		QueueStatus,
		Hold,
		Purchase,
		Order,
		OrderDetail,
		ScanAnswer,
		OrderRefunds,
		DropCancelled,
		RefundList,
		OrderRetry,
		DevMailList,
		WebhookAnswer,
		Availability,
		SeatMap,
	};
}

export type AnswerSchemas = ReturnType<typeof build>;

let built: AnswerSchemas | null = null;

/** Every answer's schema by its name in the OpenAPI document, built once per isolate. */
export const answerSchemas = (): AnswerSchemas => (built ??= build());

type Answer<K extends keyof AnswerSchemas> = z.output<AnswerSchemas[K]>;

export type Drop = Answer<"Drop">;
export type Health = Answer<"Health">;
export type PublicDrop = Answer<"PublicDrop">;
export type Fairness = Answer<"Fairness">;
export type JoinAnswer = Answer<"JoinAnswer">;
export type QueueStatus = Answer<"QueueStatus">;
export type Hold = Answer<"Hold">;
export type Purchase = Answer<"Purchase">;
export type Order = Answer<"Order">;
export type OrderDetail = Answer<"OrderDetail">;
export type ScanAnswer = Answer<"ScanAnswer">;
export type OrderRefunds = Answer<"OrderRefunds">;
export type DropCancelled = Answer<"DropCancelled">;
export type RefundList = Answer<"RefundList">;
export type OrderRetry = Answer<"OrderRetry">;
export type DevMailList = Answer<"DevMailList">;
export type WebhookAnswer = Answer<"WebhookAnswer">;
export type AdminDrop = Answer<"AdminDrop">;
export type AdminDropView = Answer<"AdminDropView">;
export type DropList = Answer<"DropList">;
export type SalesPage = Answer<"SalesPage">;
export type AuditReport = Answer<"AuditReport">;
export type Reconciled = Answer<"Reconciled">;
export type Promoter = Answer<"Promoter">;
export type PromoterCreated = Answer<"PromoterCreated">;
export type PromoterList = Answer<"PromoterList">;
export type ApiKeyView = Answer<"ApiKey">;
export type ApiKeyMinted = Answer<"ApiKeyMinted">;
export type KeyList = Answer<"KeyList">;
export type Me = Answer<"Me">;
export type ActivityPage = Answer<"ActivityPage">;
export type Availability = Answer<"Availability">;
export type SeatMap = Answer<"SeatMap">;
