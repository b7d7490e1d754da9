// What a shard sends to the Queue for confirmed sales, its validation on the
// consumer side (one schema for both), and the one builder of a sale message:
// the shard builds it from its order row, the post-sale path rebuilds it from
// D1's, and both must say the same. Pure.
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
		/** Where the receipt goes, when the buyer gave an address. */
		email: z.string().max(254).optional(),
		/**
		 * The buyer's language, for the receipt; absent in messages older than it (English). Any short
		 * tag is taken, not just the ones the purchase allows: a sale is never refused for its language.
		 */
		locale: word(35).optional(),
		/** When the buyer's turn began; absent in messages older than it, and for orders made without a turn. */
		admittedAt: word(40).refine((at) => !Number.isNaN(Date.parse(at))).optional(),
		// Named units; absent for the general admission spread over the shards.
		ticketType: word(32).optional(),
		seats: z.array(word(64)).optional(),
		slot: word(64).optional(),
	})
	.refine((sale) => sale.tickets.length === sale.quantity && (sale.seats === undefined || sale.seats.length === sale.quantity));
export type SaleMessage = z.output<typeof SaleMessage>;

/**
 * The columns an order's row has alike on its shard and in D1 (the consumer stores a
 * message's fields under these names), each a field of the order's sale message.
 */
export type OrderColumns = {
	order_id: string;
	fan_id: string;
	hold_id: string;
	quantity: number;
	unit_price_cents: number;
	total_cents: number;
	currency: string;
	payment_id: string;
};

/** The rest of a sale, as either side keeps it: what an order may lack is null (or no seats), never absent. */
export interface SaleDetails {
	dropId: string;
	shard: number;
	tickets: string[];
	createdAt: string;
	email: string | null;
	/** The buyer's language, as the purchase named it; null when it named none. */
	locale: string | null;
	/** When the buyer's turn began (ISO), for the queue figures; null when not known. */
	admittedAt: string | null;
	ticketType: string | null;
	/** Seated: the seat of each ticket, in ticket order; none otherwise. */
	seats: string[];
	slot: string | null;
}

/** The message of one sale: what an order lacks is left out, so a message rebuilt from D1 equals the one the shard sent. */
export function saleMessageOf(order: OrderColumns, sale: SaleDetails): SaleMessage {
	return {
		v: 1,
		orderId: order.order_id,
		dropId: sale.dropId,
		shard: sale.shard,
		fanId: order.fan_id,
		holdId: order.hold_id,
		quantity: order.quantity,
		unitPriceCents: order.unit_price_cents,
		totalCents: order.total_cents,
		currency: order.currency,
		paymentId: order.payment_id,
		tickets: sale.tickets,
		createdAt: sale.createdAt,
		...(sale.email === null ? {} : { email: sale.email }),
		...(sale.locale === null ? {} : { locale: sale.locale }),
		...(sale.admittedAt === null ? {} : { admittedAt: sale.admittedAt }),
		...unitFields(sale),
	};
}

/** A sale's named units as its message (and its order's answer) carries them: each left out when the order has none. */
export function unitFields(units: Pick<SaleDetails, "ticketType" | "seats" | "slot">): Pick<SaleMessage, "ticketType" | "seats" | "slot"> {
	return {
		...(units.ticketType === null ? {} : { ticketType: units.ticketType }),
		...(units.seats.length === 0 ? {} : { seats: units.seats }),
		...(units.slot === null ? {} : { slot: units.slot }),
	};
}

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
