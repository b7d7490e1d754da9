// The fan page's rotating codes (public/rotating-code.js) are the engine's: the
// same fixed vector as test/after-sale/rotating-codes.test.ts checks against
// src/after-sale/rotating-codes.ts, and Node's own HMAC agrees with both.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { counterCode, rotatingCode, windowOf } from "../public/rotating-code.js";

const SEVEN = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

/** RFC 4226's truncation of HMAC-SHA256, written again from the RFC with node:crypto. */
function hotp(secret, window) {
	const counter = Buffer.alloc(8);
	counter.writeBigUInt64BE(BigInt(window));
	const mac = createHmac("sha256", Buffer.from(secret, "base64url")).update(counter).digest();
	const offset = mac[mac.length - 1] & 0x0f;
	return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1e8).padStart(8, "0");
}

test("the fan page's counter code matches the engine's fixed vector and node:crypto", async () => {
	assert.equal(await counterCode(SEVEN, 0), "26048460");
	assert.equal(await counterCode(SEVEN, 178000000), "16844368");
	for (const w of [1, 2, 99, 180_000_123]) assert.equal(await counterCode(SEVEN, w), hotp(SEVEN, w));
});

test("a rotating code is the token, the window of its moment and that window's code", async () => {
	const now = 1_800_000_004_321;
	const code = await rotatingCode("a.b.c", SEVEN, now, 10);
	assert.equal(windowOf(now, 10), 180_000_000);
	assert.equal(code, `a.b.c~180000000~${hotp(SEVEN, 180_000_000)}`);
	assert.notEqual(await rotatingCode("a.b.c", SEVEN, now + 10_000, 10), code);
});
