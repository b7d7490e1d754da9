// What the fan API answers: a drop's public view, its seats, availability and
// fairness, a place in the line and its polls, a hold, a purchase and an order
// with its tickets. The fan routes type their answers with these (`satisfies`);
// src/http/openapi.ts renders them into the OpenAPI document, and
// test/http/openapi.test.ts checks real answers against it. Built on first use
// (see answer-parts.ts). Pure.
import * as z from "zod";
import { answerParts, count, hex64, instant, nullable, orderStatus } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";

function build() {
	const { TicketType, SaleWindow } = answerParts();

	const dropStatus = z.enum(["scheduled", "open", "sold_out", "closed", "cancelled"]);

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
		timeZone: z.string().meta({ description: "The drop's IANA time zone: the page shows its times in it, naming the zone." }),
		holdSeconds: z.int(),
		paused: z.boolean(),
		lines: z.int(),
		seedCommitment: hex64().meta({ description: "SHA-256 of the shuffle's seed, public from creation." }),
		ticketTypes: z.array(TicketType),
		presales: z
			.array(SaleWindow)
			.optional()
			.meta({ description: "The drop's sale windows before its general sale, in order (only on a drop that has them): the fan page says which is open, when the next opens and who each is for." }),
		payments: z
			.strictObject({
				methods: z.array(z.enum(["test", "stripe"])).meta({ description: "The payment methods this deployment takes (`test` where test payments are on, `stripe` where Stripe is configured); a free hold needs none." }),
				stripePublishableKey: nullable(z.string()).meta({ description: "Stripe's publishable key for Stripe.js (`pk_…`), set with `stripe` for the page's card form; null without one." }),
			})
			.meta({ description: "How fans of this deployment pay: what the fan page offers." }),
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
		window: z.string().optional().meta({ description: "The sale window whose line this is; absent for the general sale's." }),
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
		place: nullable(z.int().min(1)).meta({
			description: "The fan's place among the fans still waiting: `ahead` + 1, from the same watermark. Null without a position and once admitted.",
		}),
		ahead: nullable(count()).meta({ description: "Fans placed before this one and not admitted yet." }),
		estimatedWaitMs: nullable(count()).meta({
			description: "The batches still to come before `place`, at the size and spacing of the last ten let in (the first one spacing after the last; the spacing at least the configured interval and the time since the last batch); null when `waitUnknown` says why.",
		}),
		waitUnknown: nullable(z.enum(["paused", "no_pace", "waiting_for_tickets", "not_placed"])).meta({
			description:
				"Why no wait is told, or null when one is: `paused`; `no_pace` (fewer than two batches let in so far, or none in the last minute: no rhythm to count from; or the place may be past what the tickets left serve, which the first buyers have not yet shown: told no wait rather than one the tickets may break, polling at the line's pace); `waiting_for_tickets` (the fans already let in and shopping fill the drop's active multiple of the tickets left, or the place is past the fans the tickets left can serve, so admission waits for them to buy, give up or run out of time); `not_placed` (no position yet).",
		}),
		admittedPerMinute: nullable(z.number().min(0)).meta({ description: "Fans admitted a minute over the last minute, measured; null when nobody was." }),
		returns: nullable(
			z.strictObject({
				ticketsBack: count().meta({ description: "Tickets that have come back since the sell-out and are not sold again: held by a fan offered one, or free for the next offer." }),
				offered: count().meta({ description: "Fans offered a returned ticket so far, in line order." }),
			}),
		).meta({
			description:
				"After the drop has sold out (null before): the line goes on until the drop closes, and each ticket that comes back (a refund with restock, a hold or an offer that runs out) is offered to the next fan in line as an admission whose turn lasts the drop's `admission.offerSeconds`.",
		}),
		pollAfterMs: nullable(count()).meta({ description: "When to poll again; null once there is nothing to wait for (sold out, a fan in line keeps polling for returned tickets)." }),
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
			window: z.string().optional().meta({ description: "The sale window whose line the fan is in (with its code, or on its list); absent for the general sale's." }),
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
		admittedAt: instant().optional().meta({ description: "Once admitted: when the fan's batch went in." }),
		offer: z.boolean().optional().meta({
			description: "Once admitted: true when this turn is the offer of a returned ticket (the fan was placed after the sell-out), a turn of the drop's `admission.offerSeconds`.",
		}),
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

	/** A purchase whose payment waits on the fan's bank (3-D Secure): 202, for the fan's page to finish with Stripe.js. */
	const PaymentAction = z.strictObject({
		holdId: z.string(),
		status: z.literal("requires_action"),
		method: z.string().meta({ description: "The payment method that asks for the action (stripe)." }),
		paymentId: z.string().meta({ description: "The provider's payment (Stripe's PaymentIntent id)." }),
		clientSecret: z.string().meta({ description: "The PaymentIntent's client secret, for stripe.handleNextAction in the fan's browser." }),
		amountCents: count(),
		currency: z.string(),
		expiresAt: instant().meta({ description: "Until when the fan may finish it; the hold is kept as long. Past it the payment is cancelled and the hold released." }),
	});

	/** An order with what became of it after the sale. */
	const OrderDetail = Order.extend({
		status: orderStatus().meta({ description: "paid (not ticketed yet), ticketed, receipt_sent, refunded (every ticket), failed (a post-sale step gave up; the promoter can retry it)." }),
		statusDetail: nullable(z.string()).meta({ description: "failed: the step that failed; retrying: after the promoter's retry." }),
		refundedTickets: count(),
		passes: z.array(
			z.strictObject({
				code: z.string(),
				token: nullable(z.string()).meta({ description: "The ticket's signed token (ES256, the JWKS), shown as its QR code; null until ticketed." }),
				secret: z
					.string()
					.optional()
					.meta({ description: "The ticket's rotating-code secret (base64url), with its token: the fan page shows `<token>~<window>~<code>`, the code a TOTP-style HMAC of the window under it (docs/api.md, the gate). Only the holder reads it." }),
				state: z.enum(["valid", "used", "refunded", "transferred"]).meta({ description: "transferred: handed on by an accepted transfer; the recipient holds it under a new code, and the buyer sees no token or secret for it." }),
				transfer: z
					.strictObject({
						transferId: z.string(),
						state: z.enum(["pending", "accepted"]),
						createdAt: instant(),
						acceptedAt: nullable(instant()),
						ticket: z.string().meta({ description: "The ticket's code while the buyer held it." }),
					})
					.optional()
					.meta({ description: "The ticket's transfer waiting to be accepted (the buyer may cancel it), or the accepted one that took it." }),
				seat: z
					.strictObject({ id: z.string(), section: z.string(), row: z.string(), number: z.int() })
					.optional()
					.meta({ description: "A seated ticket's seat, from the drop's seat directory: the fan page names it as \"Floor, row D, seat 5\"." }),
			}),
		),
		gate: z
			.strictObject({
				stepSeconds: z.int().meta({ description: "Seconds per rotating-code window." }),
				staticQr: z.boolean().meta({ description: "Whether the bare token (a static QR code) still admits at this drop; false: only the rotating code." }),
			})
			.optional()
			.meta({ description: "How the tickets are shown at the gate; present once a ticket has a token." }),
		transfers: z
			.strictObject({ open: z.boolean().meta({ description: "Whether a ticket may be transferred now." }), deadline: nullable(instant()) })
			.optional()
			.meta({ description: "The promoter's transfer rules for the drop, once the order is in D1." }),
	});

	return { PublicDrop, Fairness, JoinAnswer, QueueStatus, Hold, Purchase, PaymentAction, Order, OrderDetail, Availability, SeatMap };
}

/** The fan API's answer schemas by their names in the OpenAPI document. */
export const fanAnswers = onFirstUse(build);

type Answer<K extends keyof ReturnType<typeof build>> = z.output<ReturnType<typeof build>[K]>;

export type PublicDrop = Answer<"PublicDrop">;
export type Fairness = Answer<"Fairness">;
export type JoinAnswer = Answer<"JoinAnswer">;
export type QueueStatus = Answer<"QueueStatus">;
export type Hold = Answer<"Hold">;
export type Purchase = Answer<"Purchase">;
export type PaymentAction = Answer<"PaymentAction">;
export type Order = Answer<"Order">;
export type OrderDetail = Answer<"OrderDetail">;
export type Availability = Answer<"Availability">;
export type SeatMap = Answer<"SeatMap">;
