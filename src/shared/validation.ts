// The contract's schemas are zod 4 schemas; this module holds the field kinds
// they are built from and the one `parse` that turns zod's findings into the
// API's errors. Pure: no Cloudflare types.
//
// Why zod 4: one dependency that validates, types (`z.output<typeof S>` in the
// handlers) and renders itself as JSON Schema 2020-12 (`z.toJSONSchema`), the
// dialect OpenAPI 3.1 uses, so src/http/openapi.ts builds the document from the very
// schemas that check the requests. Its issues carry a code, a path and the
// offending input, which map onto this API's error codes without reading any
// message text. chanfana would bring zod as well, plus its own route classes,
// its own error answers and an OpenAPI generator layered on top, around
// itty-router 5; valibot is smaller, but its JSON Schema converter is a second
// package, and a smaller bundle buys little on Workers. zod builds the schemas
// once per isolate, at module load (a few milliseconds of cold start).
//
// Type errors (wrong JSON type, missing or unknown fields) are 400; values of
// the right type that break a rule (range, length, format, time) are 422.
import * as z from "zod";

// Workers refuse code generation from strings: zod's JIT would probe `new Function`
// and fall back; jitless skips the probe. Set before any schema below is built.
z.config({ jitless: true });

export class ValidationError extends Error {
	constructor(
		readonly status: 400 | 422,
		readonly code: string,
		readonly field: string,
		message: string,
	) {
		super(message);
	}
}

/** A whole number in [min, max]: another JSON type or a fraction is 400, out of range 422. */
export function int(min: number, max: number) {
	const range = `must be between ${min} and ${max}`;
	const error = (issue: { input?: unknown }) => {
		const n = issue.input;
		if (typeof n !== "number") return "must be a number";
		// JSON has no Infinity: a non-finite number is a literal too large to represent (1e400).
		return Number.isInteger(n) || !Number.isFinite(n) ? range : "must be an integer";
	};
	return z.int({ error }).min(min, { error: range }).max(max, { error: range });
}

/**
 * Text without control characters or lone surrogates (the latter do not survive the
 * trip to UTF-8 storage unchanged); a surrogate pair is one character of real text.
 */
const PLAIN_TEXT = /^(?:[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/;

/** A string, trimmed, then checked in this order: length, plain text, the format. */
export function text(minLength: number, maxLength: number, format?: { pattern: RegExp; hint: string }) {
	const plain = z
		.string({ error: "must be a string" })
		.trim()
		.min(minLength, { error: `must have at least ${minLength} characters` })
		.max(maxLength, { error: `must have at most ${maxLength} characters` })
		.regex(PLAIN_TEXT, { error: "must not contain control characters or broken Unicode" });
	return format ? plain.regex(format.pattern, { error: format.hint }) : plain;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Date.parse rolls 2026-02-30 over to March; a real time keeps its calendar date. */
function isRealTime(value: string): boolean {
	const ms = Date.parse(value);
	if (!ISO_TIME.test(value) || Number.isNaN(ms)) return false;
	const offset = /([+-])(\d{2}):(\d{2})$/.exec(value);
	const shift = offset ? (offset[1] === "+" ? 1 : -1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60_000 : 0;
	const local = new Date(ms + shift).toISOString();
	return local.slice(0, 10) === value.slice(0, 10) && local.slice(11, 16) === value.slice(11, 16);
}

/** A real ISO 8601 time with its zone, answered back in UTC (`2026-12-01T18:00:00.000Z`). */
export function time() {
	return z
		.string({ error: "must be an ISO 8601 time string" })
		.refine(isRealTime, { params: { code: "invalid_time" }, error: "must be a real ISO 8601 time such as 2026-12-01T18:00:00Z" })
		.meta({ pattern: ISO_TIME.source, description: "An ISO 8601 time with its zone (Z or ±hh:mm); stored and answered in UTC." })
		.transform((value) => new Date(Date.parse(value)).toISOString());
}

/** The zone's canonical IANA name ("europe/berlin" is "Europe/Berlin"), or null when Intl knows no such zone. */
export function canonicalTimeZone(value: string): string | null {
	if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(value)) return null;
	try {
		return new Intl.DateTimeFormat("en", { timeZone: value }).resolvedOptions().timeZone;
	} catch {
		return null;
	}
}

/** An IANA time zone Intl knows (`Europe/Berlin`, `UTC`), answered back by its canonical name. */
export function timeZone() {
	return text(1, 64)
		.refine((value) => canonicalTimeZone(value) !== null, { params: { code: "invalid_value" }, error: "must be an IANA time zone such as Europe/Berlin or UTC" })
		.meta({ description: "An IANA time zone (`Europe/Berlin`, `America/New_York`, `UTC`); answered by its canonical name." })
		.transform((value) => canonicalTimeZone(value)!);
}

export const bool = () => z.boolean({ error: "must be true or false" });

/** One of a few strings: another JSON type is 400, another string 422. */
export function oneOf<const T extends readonly string[]>(values: T) {
	return z.enum(values, {
		error: (issue) => (typeof issue.input === "string" ? `must be one of: ${values.join(", ")}` : "must be a string"),
	});
}

/** A JSON object with exactly these fields: an unknown one is refused, never ignored. */
export const object = <S extends z.ZodRawShape>(shape: S) => z.strictObject(shape);

/** The input as its schema's output (trimmed, times in UTC, nothing else), or the first ValidationError. */
export function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
	const result = schema.safeParse(input, { reportInput: true });
	if (result.success) return result.data;
	throw contractError(firstIssue(result.error.issues));
}

/**
 * The one issue the client hears about, as a reader going down the body would find
 * it: at each object, an unknown field first, then the fields in the schema's order.
 */
function firstIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
	let here = issues;
	for (let depth = 0; ; depth++) {
		const unknown = here.find((issue) => issue.code === "unrecognized_keys" && issue.path.length === depth);
		if (unknown) return unknown;
		const first = here[0]!;
		if (first.path.length <= depth) return first;
		const key = first.path[depth];
		here = here.filter((issue) => issue.path.length > depth && issue.path[depth] === key);
	}
}

/** zod's issue as the contract's error: its code and path decide; the message is the field kind's own. */
function contractError(issue: z.core.$ZodIssue): ValidationError {
	const path = issue.path.map(String).join(".");
	const name = path || "body";
	const about = (status: 400 | 422, code: string) => new ValidationError(status, code, name, `"${name}" ${issue.message}.`);
	switch (issue.code) {
		case "unrecognized_keys": {
			// The key is the client's text: echo a bounded piece of it, never all 16 KiB.
			const field = (path ? `${path}.${issue.keys[0]}` : issue.keys[0]!).slice(0, 100);
			return new ValidationError(400, "unknown_field", field, `Unknown field "${field}".`);
		}
		case "invalid_type":
			if (issue.input === undefined && path !== "") return new ValidationError(400, "missing_field", name, `"${name}" is required.`);
			if (issue.expected === "object") return new ValidationError(400, "invalid_type", name, `${path || "The body"} must be a JSON object.`);
			if (typeof issue.input === "number" && !Number.isFinite(issue.input)) return about(422, "out_of_range");
			return about(400, "invalid_type");
		case "too_small":
			return issue.origin === "string" ? about(422, issue.minimum === 1 ? "empty" : "too_short") : about(422, "out_of_range");
		case "too_big":
			return issue.origin === "string" ? about(422, "too_long") : about(422, "out_of_range");
		case "invalid_value":
			// A missing field of an enum reports no input, as a missing field of any other kind.
			if (issue.input === undefined && path !== "") return new ValidationError(400, "missing_field", name, `"${name}" is required.`);
			return typeof issue.input === "string" ? about(422, "invalid_value") : about(400, "invalid_type");
		case "invalid_format":
			return about(422, "invalid_format");
		case "custom": {
			const params = (issue.params ?? {}) as { code?: string; status?: 400 | 422 };
			return about(params.status ?? 422, params.code ?? "invalid_value");
		}
		default:
			return about(400, "invalid_type");
	}
}
