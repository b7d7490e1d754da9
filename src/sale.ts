// What a shard sends to the Queue for confirmed sales, and its validation on
// the consumer side. Pure.

export interface SaleMessage {
	v: 1;
	orderId: string;
	dropId: string;
	shard: number;
	fanId: string;
	holdId: string;
	quantity: number;
	unitPriceCents: number;
	totalCents: number;
	currency: string;
	paymentId: string;
	tickets: string[];
	createdAt: string;
}

const isInt = (v: unknown, min: number, max: number): v is number =>
	typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
const isStr = (v: unknown, max = 200): v is string => typeof v === "string" && v.length > 0 && v.length <= max;

/** A message that fails this can never be stored: it goes to the dead-letter queue. */
export function isSaleMessage(body: unknown): body is SaleMessage {
	if (typeof body !== "object" || body === null) return false;
	const m = body as Record<string, unknown>;
	return (
		m.v === 1 &&
		isStr(m.orderId) &&
		isStr(m.dropId) &&
		isInt(m.shard, 0, 63) &&
		isStr(m.fanId) &&
		isStr(m.holdId) &&
		isInt(m.quantity, 1, 20) &&
		isInt(m.unitPriceCents, 0, 100_000_000) &&
		isInt(m.totalCents, 0, 2_000_000_000) &&
		isStr(m.currency, 3) &&
		isStr(m.paymentId) &&
		Array.isArray(m.tickets) &&
		m.tickets.length === m.quantity &&
		m.tickets.every((t) => isStr(t, 64)) &&
		isStr(m.createdAt, 40) &&
		!Number.isNaN(Date.parse(m.createdAt))
	);
}

/**
 * A shard packs the sales waiting in its outbox into messages of up to this
 * many: one Queue takes about 5,000 messages a second, so a drop selling
 * tens of thousands of tickets a second needs several sales per message.
 */
export const SALES_PER_MESSAGE = 25;

/** Several sales in one Queue message (version 2); a version 1 message is one sale on its own. */
export interface SalesMessage {
	v: 2;
	sales: SaleMessage[];
}

/** The sales a message carries, or null when it is malformed (every sale must be valid). */
export function salesOf(body: unknown): SaleMessage[] | null {
	if (isSaleMessage(body)) return [body];
	if (typeof body !== "object" || body === null) return null;
	const m = body as Record<string, unknown>;
	if (m.v !== 2 || !Array.isArray(m.sales) || m.sales.length === 0 || m.sales.length > SALES_PER_MESSAGE) return null;
	return m.sales.every(isSaleMessage) ? (m.sales as SaleMessage[]) : null;
}
