// What a shard sends to the Queue for confirmed sales, and its validation on
// the consumer side: one schema for both. Pure.
import * as z from "zod";

/** Text of 1..max characters, as a shard writes it (no trimming: it is our own data). */
const word = (max = 200) => z.string().min(1).max(max);

/** One confirmed sale (version 1 of the message). */
export const SaleMessage = z
	.object({
		v: z.literal(1),
		orderId: word(),
		dropId: word(),
		shard: z.int().min(0).max(63),
		fanId: word(),
		holdId: word(),
		quantity: z.int().min(1).max(20),
		unitPriceCents: z.int().min(0).max(100_000_000),
		totalCents: z.int().min(0).max(2_000_000_000),
		currency: word(3),
		paymentId: word(),
		tickets: z.array(word(64)),
		createdAt: word(40).refine((at) => !Number.isNaN(Date.parse(at))),
		/** Where the receipt goes, when the buyer gave an address (issue 15). */
		email: z.string().max(254).optional(),
		// Named units (issue 14); absent for the general admission spread over the shards.
		ticketType: word(32).optional(),
		seats: z.array(word(64)).optional(),
		slot: word(64).optional(),
	})
	.refine((sale) => sale.tickets.length === sale.quantity && (sale.seats === undefined || sale.seats.length === sale.quantity));
export type SaleMessage = z.output<typeof SaleMessage>;

/**
 * A shard packs the sales waiting in its outbox into messages of up to this
 * many: one Queue takes about 5,000 messages a second, so a drop selling
 * tens of thousands of tickets a second needs several sales per message.
 */
export const SALES_PER_MESSAGE = 25;

/** Several sales in one Queue message (version 2); a version 1 message is one sale on its own. */
export const SalesMessage = z.object({ v: z.literal(2), sales: z.array(SaleMessage).min(1).max(SALES_PER_MESSAGE) });
export type SalesMessage = z.output<typeof SalesMessage>;

/**
 * The sales a message carries, or null when it is malformed (every sale must be
 * valid): such a message can never be stored, and goes to the dead-letter queue.
 */
export function salesOf(body: unknown): SaleMessage[] | null {
	const one = SaleMessage.safeParse(body);
	if (one.success) return [one.data];
	const many = SalesMessage.safeParse(body);
	return many.success ? many.data.sales : null;
}
