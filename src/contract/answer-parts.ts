// The pieces every API's answers are built from: the kinds of field (an instant,
// a count, a hash), an order's statuses, a ticket type, a sale window and the error body. The
// fan's answers (fan-answers.ts), the promoter's (admin-answers.ts,
// audit-answers.ts) and the engine's own (engine-answers.ts) take them from here,
// so a ticket type or a refusal reads the same in every answer.
//
// Schemas are built on first use, not at start-up: the Worker never parses its own
// answers, it only types them, so an isolate that never serves the OpenAPI document
// never pays for building some 200 zod schemas (about 15 ms of start-up, measured in
// Node). Each answers file builds its own with onFirstUse. Pure.
import * as z from "zod";
import { onFirstUse } from "../shared/on-first-use";

/** Every status an order can have after the sale; D1 keeps them in `orders.status`, the answers show them. */
export const ORDER_STATUSES = ["paid", "ticketed", "receipt_sent", "refunded", "failed"] as const;

export const instant = () => z.iso.datetime();
export const count = () => z.int().min(0);
export const hex64 = () => z.string().regex(/^[0-9a-f]{64}$/);
export const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();
export const orderStatus = () => z.enum(ORDER_STATUSES);

function build() {
	/** A ticket type as a drop keeps it: seats are counted per section, never listed here. */
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

	/** A sale window before the general sale, as fans and promoters read it (the promoter's adds its registration). */
	const SaleWindow = z.strictObject({
		id: z.string(),
		name: z.string(),
		opensAt: instant(),
		closesAt: instant(),
		access: z.enum(["code", "list", "registered"]),
		ticketTypes: nullable(z.array(z.string())).meta({ description: "The types its fans may hold; null: every type." }),
		maxPerFan: nullable(z.int()).meta({ description: "Its per-fan cap; null: the drop's." }),
		capacity: nullable(z.int()).meta({ description: "The most it may sell; null: no cap of its own." }),
	});

	/** Every refusal: `{"error": {"code", "message", ...}}`, with the details a code carries. */
	const ApiError = z.strictObject({
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
			revokedAt: instant().optional().meta({ description: "device_revoked: when the gate device was revoked." }),
			transferId: z.string().optional().meta({ description: "transfer_pending: the transfer already waiting for this ticket." }),
			transferredAt: instant().optional().meta({ description: "ticket_transferred (at the gate): when the transfer that took this code was accepted." }),
			listingId: z.string().optional().meta({ description: "ticket_listed: the open resale listing of this ticket." }),
			soldAt: instant().optional().meta({ description: "listing_sold: when a buyer's order took the listing." }),
			acceptedAt: instant().optional().meta({ description: "transfer_accepted: when the transfer was accepted." }),
			deadline: instant().optional().meta({ description: "transfer_deadline_passed: the drop's transfer deadline." }),
			seats: z.array(z.string()).optional().meta({ description: "seats_taken, unknown_seat, seat_not_in_type: the seats at fault." }),
			line: z.int().min(1).optional().meta({ description: "invalid_csv, duplicate_seat in a seats CSV: the line at fault (the header is 1)." }),
		}),
	});

	return { TicketType, SaleWindow, ApiError };
}

/** The schemas several answers use. */
export const answerParts = onFirstUse(build);
