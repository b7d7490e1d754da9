// A ticket's rotating code, as the fan's screen shows it at the gate: its signed
// token, the current time window and a TOTP-style code, the HMAC-SHA256 of the
// window under the ticket's secret, truncated as RFC 4226 does. The engine checks
// the same (src/after-sale/rotating-codes.ts, against the same test vector), and so
// does the gate page offline. Web Crypto only: it works with the network off.

export const CODE_DIGITS = 8;
const enc = new TextEncoder();

function fromBase64url(text) {
	const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
	return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function hmac(key, message) {
	const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	return new Uint8Array(await crypto.subtle.sign("HMAC", k, message));
}

/** Whether this browser can make rotating codes (Web Crypto needs a secure context). */
export const canRotate = () => typeof crypto !== "undefined" && crypto.subtle !== undefined;

/** The window a moment falls in, for windows of `stepSeconds`. */
export const windowOf = (nowMs, stepSeconds) => Math.floor(nowMs / 1000 / stepSeconds);

/** The counter code of a window under a ticket's secret (base64url). */
export async function counterCode(secret, window) {
	const counter = new Uint8Array(8);
	new DataView(counter.buffer).setBigUint64(0, BigInt(window));
	const mac = await hmac(fromBase64url(secret), counter);
	const offset = mac[mac.length - 1] & 0x0f;
	const bits = new DataView(mac.buffer).getUint32(offset) & 0x7fffffff;
	return String(bits % 10 ** CODE_DIGITS).padStart(CODE_DIGITS, "0");
}

/** What the screen shows in the window of `nowMs`: `<token>~<window>~<code>`. */
export async function rotatingCode(token, secret, nowMs, stepSeconds) {
	const window = windowOf(nowMs, stepSeconds);
	return `${token}~${window}~${await counterCode(secret, window)}`;
}
