import { base64url, timingSafeEqualStrings, sha256Hex } from "../shared/crypto";
// Promoter API keys: how one is made, recognised and checked. A key is
// `tdk_<key id>_<secret>`: the recognisable prefix (so a leaked key is easy to
// find in logs and code scanners), the key's public id (16 base64url
// characters: the row to look up, never a scan over hashes) and a 256-bit
// secret from crypto.getRandomValues. D1 keeps only the SHA-256 of the whole
// key: with 256 random bits there is no dictionary to try, so a slow password
// hash (bcrypt, scrypt) would buy nothing; the comparison of digests is
// constant time. Pure apart from Web Crypto.

export const KEY_PREFIX = "tdk_";
const KEY_SHAPE = /^tdk_([A-Za-z0-9_-]{16})_([A-Za-z0-9_-]{43})$/;

export const ROLES = ["owner", "staff", "gate"] as const;
export type Role = (typeof ROLES)[number];

/** A new key: its id (`k_...`, shown in lists and the activity log) and the key itself (shown once). */
export function newApiKey(): { id: string; apiKey: string } {
	const idPart = base64url(crypto.getRandomValues(new Uint8Array(12)));
	const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
	return { id: `k_${idPart}`, apiKey: `${KEY_PREFIX}${idPart}_${secret}` };
}

/** Whether a bearer token is meant as a promoter key (the prefix), whatever its shape. */
export const looksLikeApiKey = (token: string) => token.startsWith(KEY_PREFIX);

/** The key id a well-formed key names, or null. */
export function keyIdOf(apiKey: string): string | null {
	const match = KEY_SHAPE.exec(apiKey);
	return match ? `k_${match[1]}` : null;
}

/** What D1 keeps of a key: its SHA-256, hex. */
export const keyHash = (apiKey: string): Promise<string> => sha256Hex(apiKey);

/** Whether the presented key is the one whose hash was stored, in constant time. */
export async function keyMatches(apiKey: string, storedHash: string): Promise<boolean> {
	return timingSafeEqualStrings(await keyHash(apiKey), storedHash);
}
