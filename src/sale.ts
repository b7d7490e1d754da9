// The message a shard sends for each confirmed sale, and its validation on
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
