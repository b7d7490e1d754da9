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
	const Purchase = nullable(
		z.strictObject({ p50: seconds(), p90: seconds(), max: seconds() }).meta({
			description:
				"Seconds from the buyer's admission to the order, over the orders made (to within 1 s; orders recorded before the admission was kept are left out).",
		}),
	);
	const shoppers = () => count().meta({ description: "Fans whose first hold was made in this minute (fans who came back from the line and shopped)." });
	const expiredHolds = () => count().meta({ description: "Holds that ran out unbought in this minute." });
	const expiredTickets = () => count().meta({ description: "Their tickets, returned to sale." });
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
		purchase: Purchase,
		shoppers: shoppers(),
		expiredHolds: expiredHolds(),
		expiredTickets: expiredTickets(),
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
					"A fan who stopped polling while waiting is admitted in their turn all the same and counted here once it ends. " +
					"Split in leftAfterHolding and leftWithoutHolding.",
			}),
			leftAfterHolding: count().meta({ description: "Of leftWithoutBuying, fans who held tickets and let their turn run out." }),
			leftWithoutHolding: count().meta({
				description:
					"Of leftWithoutBuying, fans who never held: they stopped polling while waiting (or came back and held nothing; no note is kept per fan of who read their admission).",
			}),
			leftWithoutBuyingExact: z.boolean().meta({ description: "True when every admitted fan's turn has ended, so leftWithoutBuying is exact." }),
			wait: Wait,
			shoppers: count().meta({ description: "Fans who held tickets at least once." }),
			purchase: Purchase,
			expiredHolds: count(),
			expiredTickets: count().meta({ description: "Tickets of holds that ran out, returned to sale." }),
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
