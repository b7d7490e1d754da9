// Rotating ticket codes: what a fan's screen shows at the gate instead of a
// fixed QR code. Each ticket has a secret, the HMAC-SHA256 of its code under its
// drop's gate key (one random key per drop in D1, so nothing is stored per
// ticket); the screen shows the ticket's signed token, the current time window
// and a TOTP-style code (RFC 4226's truncation of the HMAC of the window under
// the ticket's secret), so a screenshot is stale within a window or two. The fan
// page computes the same in the browser (public/rotating-code.js, tested against
// the same vector). Pure apart from Web Crypto.
import { base64url } from "../shared/crypto";

/** Seconds per window: short enough that a screenshot passed back through a queue is stale, long enough to scan. */
export const ROTATION_STEP_SECONDS = 10;
/** Windows of clock difference allowed either way between the fan's phone and the gate. */
export const ROTATION_SKEW_WINDOWS = 1;
/** Digits of the counter code: 10^8 guesses per window, and a guess needs a gate's credential to be tried. */
export const CODE_DIGITS = 8;
/** Separates a rotating code's parts; never found in a JWT (base64url and dots). */
const SEPARATOR = "~";

const enc = new TextEncoder();

function fromBase64url(text: string): Uint8Array {
	const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
	return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function hmac(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
	const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	return new Uint8Array(await crypto.subtle.sign("HMAC", k, message));
}

/** A new drop gate key: 256 random bits, base64url. */
export function newGateKey(): string {
	return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** A ticket's secret (base64url of 32 bytes): the same for the same drop key and code, whoever asks and when. */
export async function ticketSecret(gateKey: string, code: string): Promise<string> {
	return base64url(await hmac(fromBase64url(gateKey), enc.encode(`ticket\n${code}`)));
}

/** The window a moment falls in. */
export function windowOf(nowMs: number): number {
	return Math.floor(nowMs / 1000 / ROTATION_STEP_SECONDS);
}

/** The counter code of a window under a ticket's secret: HOTP's dynamic truncation, CODE_DIGITS digits. */
export async function counterCode(secret: string, window: number): Promise<string> {
	const counter = new Uint8Array(8);
	new DataView(counter.buffer).setBigUint64(0, BigInt(window));
	const mac = await hmac(fromBase64url(secret), counter);
	const offset = mac[mac.length - 1]! & 0x0f;
	const bits = new DataView(mac.buffer).getUint32(offset) & 0x7fffffff;
	return String(bits % 10 ** CODE_DIGITS).padStart(CODE_DIGITS, "0");
}

/** What the fan's screen shows in a window: `<ticket token>~<window>~<code>`. */
export async function rotatingCode(token: string, secret: string, nowMs: number): Promise<string> {
	const window = windowOf(nowMs);
	return [token, String(window), await counterCode(secret, window)].join(SEPARATOR);
}

export interface RotatingParts {
	token: string;
	window: number;
	code: string;
}

/** A scanned text read as a rotating code; null when it is a bare token (the static QR). Malformed parts are `malformed`. */
export function readRotating(text: string): RotatingParts | null | "malformed" {
	if (!text.includes(SEPARATOR)) return null;
	const parts = text.split(SEPARATOR);
	if (parts.length !== 3) return "malformed";
	const [token, window, code] = parts as [string, string, string];
	if (!/^\d{1,12}$/.test(window) || !new RegExp(`^\\d{${CODE_DIGITS}}$`).test(code) || token.length === 0) return "malformed";
	return { token, window: Number(window), code };
}

export type RotationCheck = "ok" | "stale" | "wrong_code";

/**
 * A rotating code's window and counter code against the ticket's secret at `nowMs`: a window more than
 * ROTATION_SKEW_WINDOWS from now (either way) is stale; a code not made with this ticket's secret for its window is wrong.
 */
export async function checkRotating(parts: RotatingParts, secret: string, nowMs: number): Promise<RotationCheck> {
	if (Math.abs(parts.window - windowOf(nowMs)) > ROTATION_SKEW_WINDOWS) return "stale";
	const expected = await counterCode(secret, parts.window);
	let diff = 0;
	for (let i = 0; i < CODE_DIGITS; i++) diff |= expected.charCodeAt(i) ^ parts.code.charCodeAt(i);
	return diff === 0 && parts.code.length === CODE_DIGITS ? "ok" : "wrong_code";
}
