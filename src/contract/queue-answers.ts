// What the promoter API answers about a drop's queue, minute by minute: the
// pacer's figures (arrivals, admissions, waits, turns ended) beside D1's (buyers,
// tickets sold, refunds). src/http/openapi.ts renders it; the route types its
// answer with it. Built on first use. Pure.
import * as z from "zod";
import { count, instant, nullable } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";

function build() {
	const seconds = () => z.number().min(0);
	const Wait = nullable(
		z.strictObject({ p50: seconds(), p90: seconds(), max: seconds() }).meta({
			description: "Seconds from join to admission (to within 0.5 s: a join is known by its slot; a pre-queue fan's wait counts from the opening).",
		}),
	);
	const QueueMinute = z.strictObject({
		minute: instant().meta({ description: "The minute's start (UTC)." }),
		arrivals: count().meta({ description: "Joins after the opening, placed in this minute (the pre-queue is counted in totals.prequeue)." }),
		admitted: count(),
		turnsEnded: count().meta({ description: "Turns that ran to their end in this minute." }),
		wait: Wait,
		buyers: count().meta({ description: "Fans whose first order was in this minute." }),
		orders: count(),
		tickets: count(),
		salesCents: count(),
		refundedTickets: count().meta({ description: "Tickets refunded (refunds asked in this minute, not failed)." }),
		refundsCents: count(),
	});
	const QueueStats = z.strictObject({
		dropId: z.string(),
		currency: z.string(),
		openedAt: nullable(instant()),
		totals: z.strictObject({
			joined: count().meta({ description: "Fans placed in line, the pre-queue included." }),
			prequeue: count(),
			admitted: count(),
			waiting: count().meta({ description: "Placed and not admitted yet (some may never be: a sold-out drop admits nobody more)." }),
			turnsEnded: count(),
			buyers: count(),
			conversion: nullable(z.number().min(0)).meta({ description: "buyers / admitted; null before anyone is admitted." }),
			leftWithoutBuying: count().meta({
				description:
					"Admitted fans whose turn ended without an order: turnsEnded less the buyers, at least (exact once every turn has ended). " +
					"A fan who stopped polling while waiting is admitted in their turn all the same and counted here once it ends.",
			}),
			leftWithoutBuyingExact: z.boolean().meta({ description: "True when every admitted fan's turn has ended, so leftWithoutBuying is exact." }),
			wait: Wait,
			orders: count(),
			tickets: count(),
			salesCents: count(),
			refundedTickets: count(),
			refundsCents: count(),
		}),
		minutes: z.array(QueueMinute).meta({ description: "Every minute with anything in it, oldest first." }),
	});
	return { QueueStats };
}

/** The queue figures' answer schemas by their names in the OpenAPI document. */
export const queueAnswers = onFirstUse(build);

export type QueueStats = z.output<ReturnType<typeof build>["QueueStats"]>;
export type QueueMinuteRow = QueueStats["minutes"][number];
