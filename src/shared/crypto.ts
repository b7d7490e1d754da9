// Small pieces of cryptography and hashing every part uses: base64url, SHA-256,
// a constant-time comparison, and a stable (non-cryptographic) hash for spreading
// fans and pools. Pure apart from Web Crypto.

/** Bytes as base64url without padding. */
export function base64url(bytes: Uint8Array): string {
	let s = "";
	for (const b of bytes) s += String.fromCharCode(b);
	return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes. */
export async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time comparison of two strings (their SHA-256 digests, so length leaks nothing either). */
export async function timingSafeEqualStrings(a: string, b: string): Promise<boolean> {
	const enc = new TextEncoder();
	const [da, db] = await Promise.all([
		crypto.subtle.digest("SHA-256", enc.encode(a)),
		crypto.subtle.digest("SHA-256", enc.encode(b)),
	]);
	return crypto.subtle.timingSafeEqual(da, db);
}

/** A stable 32-bit hash (FNV-1a) of a fan id, salted so lines and shards spread fans independently. */
export function stableHash(text: string, salt = ""): number {
	let h = 0x811c9dc5;
	const s = salt + text;
	for (let i = 0; i < s.length; i++) {
		h ^= s.charCodeAt(i);
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h;
}
