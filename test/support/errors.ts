// What a refusal looks like: the contract's JSON error over HTTP, and the
// ValidationError the pure parsers throw.
import { expect } from "vitest";
import { ValidationError } from "../../src/shared/validation";

/** The error code of a refusal, or a note saying there was none. */
export async function errorCode(res: Response): Promise<string> {
	const body = (await res.json()) as { error?: { code?: string } };
	return body.error?.code ?? `(no error code, status ${res.status})`;
}

/**
 * Text that must never reach a client: stacks, error names, runtime and storage
 * internals, parser messages, key material, and the "secret-detail" marker that
 * tests put into the failures they plant.
 */
export const INTERNALS =
	/stack|\bat \S+ \(|\.[jt]s:\d|Error\b|Unexpected token|JSON\.parse|JWT_PRIVATE_JWK|P-256|D1_|SQLITE|sqlite|no such table|secret-detail|workerd|Durable ?Object|\bundefined\b|\[object /;

export interface ErrorJson {
	code: string;
	message: string;
	field?: string;
	[k: string]: unknown;
}

/**
 * The contract's error, exactly: `status`, a JSON body that is `{"error": ...}` and
 * nothing else, with `code`, a short message, and nothing internal in it. `what`
 * names the case in a failure.
 */
export async function expectError(res: Response, status: number, code: string, what = ""): Promise<ErrorJson> {
	const text = await res.text();
	const about = what ? `${what}: ${text}` : text;
	expect(res.status, about).toBe(status);
	expect(res.headers.get("content-type"), about).toMatch(/^application\/json/);
	const body = JSON.parse(text) as { error: ErrorJson };
	expect(Object.keys(body), about).toEqual(["error"]);
	expect(body.error.code, about).toBe(code);
	expect(typeof body.error.message, about).toBe("string");
	expect(body.error.message.length, about).toBeGreaterThan(0);
	expect(body.error.message.length, about).toBeLessThan(300);
	expect(text, what).not.toMatch(INTERNALS);
	return body.error;
}

/** The ValidationError `fn` throws, as [status, code, field]. */
export function rejection(fn: () => unknown): [number, string, string] {
	try {
		fn();
	} catch (err) {
		if (err instanceof ValidationError) return [err.status, err.code, err.field];
		throw err;
	}
	throw new Error("expected a ValidationError, nothing was thrown");
}
