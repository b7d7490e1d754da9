// A fan's proof that they are the fan who joined: a secret given (or chosen)
// at their first join, of which their line keeps only the SHA-256. Without fan
// identity mode a fan id is whatever the client says, so a rejoin under an id
// that already has a place must bring the secret. The hash is `sha256Hex` of the
// secret (64 hex digits). Pure apart from Web Crypto.
import { randomId } from "./ids";

/** What a client may send as its own secret: base64url, at least 32 characters (192 bits when random). */
export const FAN_SECRET = /^[A-Za-z0-9_-]{32,128}$/;

/** 32 random bytes, base64url without padding: 43 characters. */
export const newFanSecret = () => randomId("", 32);

/** Whether two digests are the same, in time that does not depend on where they differ. */
export function sameDigest(stored: string, offered: string): boolean {
	if (stored.length !== offered.length) return false;
	const enc = new TextEncoder();
	return crypto.subtle.timingSafeEqual(enc.encode(stored), enc.encode(offered));
}
