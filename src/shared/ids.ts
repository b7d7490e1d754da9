import { base64url } from "./crypto";
// Random identifiers. Hold and order ids carry their shard so the Worker can
// route them without a lookup; the random part makes them unguessable.

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ticket code: 80 random bits in Crockford base32, grouped for reading aloud. */
export function ticketCode(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(10));
	let bits = 0;
	let value = 0;
	let out = "";
	for (const byte of bytes) {
		value = (value << 8) | byte;
		bits += 8;
		while (bits >= 5) {
			out += CROCKFORD[(value >>> (bits - 5)) & 31];
			bits -= 5;
		}
		value &= (1 << bits) - 1;
	}
	return out.match(/.{4}/g)!.join("-");
}

export const randomId = (prefix: string, bytes = 12) => `${prefix}${base64url(crypto.getRandomValues(new Uint8Array(bytes)))}`;

export const holdId = (shard: number) => randomId(`h_${shard}_`);
export const orderId = (shard: number) => randomId(`o_${shard}_`);

/** The shard a hold or order id belongs to, or null when the id is not one of ours. */
export function shardOfId(id: string, prefix: "h" | "o", shards: number): number | null {
	const match = new RegExp(`^${prefix}_(\\d{1,2})_[A-Za-z0-9_-]{16}$`).exec(id);
	if (!match) return null;
	const shard = Number(match[1]);
	return shard < shards ? shard : null;
}
