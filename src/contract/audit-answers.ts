// What the promoter API answers about a drop's health: the audit, which checks
// every invariant on live data (stock per shard, sales against D1, named units,
// admission order, load per object, refunds), and a reconciliation's count. The
// audit route and src/sales/audit.ts type their answers with these; src/http/openapi.ts
// renders them into the OpenAPI document. Built on first use (see answer-parts.ts). Pure.
import * as z from "zod";
import { count, hex64, instant, nullable } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";

function build() {
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
		payments: count().meta({ description: "Payments the provider approved for holds of this shard (refunded ones too)." }),
		holdsChargedTwice: count().meta({ description: "Holds with more than one approved payment: always 0." }),
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
	/** The pacer's and a shard's requests by the method that served them, and how many times the object started (the lines count no methods). */
	const objectCalls = {
		methods: z.record(z.string(), count()).optional(),
		starts: count().optional(),
	};

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
		payments: count().meta({ description: "Payments the provider approved for the drop's holds (refunded ones too)." }),
		holdsChargedTwice: count().meta({ description: "Holds with more than one approved payment (a fan charged twice for one hold): always 0." }),
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
			admittedInOrder: nullable(z.boolean()).meta({ description: "Every fan admitted in place order, the lines agreeing; null until the drop has opened (nobody admitted yet, nothing checked)." }),
			placed: count(),
			batches: count(),
			largestBatch: count(),
			closestBatchesMs: nullable(count()),
			medianBatchGapMs: nullable(count()).meta({ description: "The median time between two batches (null with fewer than two): the pace admission kept, against the configured interval." }),
			returnsFrom: nullable(count()).meta({ description: "The last position admitted when the drop first sold out (null before): every fan placed after it waits in line for returned tickets." }),
			offeredReturns: count().meta({ description: "Fans offered a returned ticket since the sell-out, one a ticket, in line order (see `refunds.restocked` for the tickets that came back)." }),
			lines: z.array(LineAudit),
		}),
		windows: z
			.array(
				z.strictObject({
					id: z.string(),
					capacity: nullable(count()),
					sold: count(),
					held: count(),
					oversold: count().meta({ description: "Tickets held and sold in the window past its capacity: always 0." }),
					seedCommitment: hex64(),
					commitmentVerified: nullable(z.boolean()),
					shuffleVerified: nullable(z.boolean()),
					admittedThrough: count(),
					admittedInOrder: nullable(z.boolean()),
					ok: z.boolean(),
				}),
			)
			.optional()
			.meta({ description: "Each sale window's own line and sales (only for a drop with windows): its shuffle, its admission order, and its capacity kept." }),
		load: z.strictObject({
			fans: count(),
			objects: z.array(z.strictObject({ kind: objectKind, index: count(), requests: count(), ...objectCalls })),
			hottest: nullable(z.strictObject({ kind: objectKind, index: count(), requests: count(), ...objectCalls, perFan: z.number().min(0) })),
		}),
		refundsPending: count().meta({ description: "Refunds still pending at the provider longer than the grace period: money owed back and not settled (the cron keeps trying them)." }),
		refundsFailed: count().meta({ description: "Refunds the provider failed after making them: the promoter's to retry." }),
		refunds: z.strictObject({
			refunds: count(),
			tickets: count(),
			amountCents: count(),
			restocked: count(),
			atGate: z.int().meta({ description: "Tickets in D1 less those refunded: what the venue expects at the gate." }),
		}),
		holders: z
			.strictObject({
				transferred: count().meta({ description: "Tickets handed on by an accepted transfer." }),
				pending: count().meta({ description: "Transfers waiting to be accepted." }),
				broken: count().meta({
					description: "Tickets without exactly one valid holder: an old code still a ticket after its transfer, a transfer's new code that is no ticket of its, a ticket marked by a transfer not accepted with its code, two open transfers of one ticket. 0, or ok is false.",
				}),
			})
			.meta({ description: "Every ticket has exactly one valid holder, through transfers." }),
		resale: z
			.strictObject({
				listed: count().meta({ description: "Listings open now (their units back in the stock)." }),
				sold: count(),
				withdrawn: count(),
				returned: count().meta({ description: "Unsold when the drop closed: the tickets their sellers' again." }),
				cancelled: count(),
				occupied: z.int().meta({ description: "Sold + listed tickets of the general stock (held ones are the shards' totals): never above capacity." }),
				capacity: nullable(z.int()).meta({ description: "The general stock's capacity; null for a drop that takes no resale (ticket types)." }),
				broken: count().meta({
					description:
						"A sold listing without exactly one seller refund (face value less the fee) voiding its ticket, or without a paid buyer's order; a buyer's order that bought more listings than tickets; a listing and its ticket's mark disagreeing; sold + listed over capacity. 0, or ok is false.",
				}),
			})
			.meta({ description: "Every resale has one buyer payment and one seller refund; sold + listed ≤ capacity." }),
		ok: z.boolean(),
	});

	const Reconciled = z.strictObject({
		dropId: z.string(),
		resent: count().meta({ description: "Sales sent again." }),
		missingInD1: count().meta({ description: "Sales missing from D1 and sent over 10 minutes ago." }),
		inTransit: count().meta({ description: "Sales missing but newer: left to the pipeline." }),
		unknownInD1: count().meta({ description: "Rows in D1 no shard sold (never touched)." }),
	});

	return { AuditReport, Reconciled };
}

/** The audit's answer schemas by their names in the OpenAPI document. */
export const auditAnswers = onFirstUse(build);

export type AuditReport = z.output<ReturnType<typeof build>["AuditReport"]>;
export type Reconciled = z.output<ReturnType<typeof build>["Reconciled"]>;
