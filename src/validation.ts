// One schema per endpoint, checked field by field. Pure: no Cloudflare types.
// Type errors (wrong JSON type, missing or unknown fields) are 400; values of
// the right type that break a rule (range, length, time) are 422.

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

type Field =
	| { kind: "int"; min: number; max: number; optional?: boolean }
	| { kind: "string"; minLength: number; maxLength: number; pattern?: RegExp; patternHint?: string; optional?: boolean }
	| { kind: "time"; optional?: boolean; nullable?: boolean }
	| { kind: "bool"; optional?: boolean }
	| { kind: "enum"; values: readonly string[]; optional?: boolean }
	| { kind: "object"; fields: Schema; optional?: boolean };

export type Schema = Record<string, Field>;

type Out<F extends Field> = F extends { kind: "int" }
	? number
	: F extends { kind: "string" }
		? string
		: F extends { kind: "time"; nullable: true }
			? string | null
			: F extends { kind: "time" }
				? string
				: F extends { kind: "bool" }
					? boolean
					: F extends { kind: "enum"; values: readonly (infer V)[] }
						? V
						: F extends { kind: "object"; fields: infer S extends Schema }
							? Parsed<S>
							: never;

type OptionalKeys<S extends Schema> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Schema> = Exclude<keyof S, OptionalKeys<S>>;
export type Parsed<S extends Schema> = { [K in RequiredKeys<S>]: Out<S[K]> } & { [K in OptionalKeys<S>]?: Out<S[K]> };

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export function parse<S extends Schema>(schema: S, input: unknown, path = ""): Parsed<S> {
	if (typeof input !== "object" || input === null || Array.isArray(input)) {
		throw new ValidationError(400, "invalid_type", path || "body", `${path || "The body"} must be a JSON object.`);
	}
	const record = input as Record<string, unknown>;
	for (const key of Object.keys(record)) {
		if (!Object.hasOwn(schema, key)) {
			// The key is the client's text: echo a bounded piece of it, never all 16 KiB.
			const name = (path ? `${path}.${key}` : key).slice(0, 100);
			throw new ValidationError(400, "unknown_field", name, `Unknown field "${name}".`);
		}
	}
	const out: Record<string, unknown> = {};
	for (const [key, field] of Object.entries(schema)) {
		const name = path ? `${path}.${key}` : key;
		const value = record[key];
		if (value === undefined) {
			if (field.optional) continue;
			throw new ValidationError(400, "missing_field", name, `"${name}" is required.`);
		}
		out[key] = parseField(field, value, name);
	}
	return out as Parsed<S>;
}

function parseField(field: Field, value: unknown, name: string): unknown {
	switch (field.kind) {
		case "int": {
			if (typeof value !== "number") {
				throw new ValidationError(400, "invalid_type", name, `"${name}" must be a number.`);
			}
			// JSON has no Infinity: a non-finite number is a literal too large to represent (1e400).
			if (!Number.isFinite(value)) {
				throw new ValidationError(422, "out_of_range", name, `"${name}" must be between ${field.min} and ${field.max}.`);
			}
			if (!Number.isInteger(value)) {
				throw new ValidationError(400, "invalid_type", name, `"${name}" must be an integer.`);
			}
			if (value < field.min || value > field.max) {
				throw new ValidationError(422, "out_of_range", name, `"${name}" must be between ${field.min} and ${field.max}.`);
			}
			return value;
		}
		case "string": {
			if (typeof value !== "string") {
				throw new ValidationError(400, "invalid_type", name, `"${name}" must be a string.`);
			}
			const trimmed = value.trim();
			if (trimmed.length < field.minLength) {
				throw new ValidationError(422, field.minLength === 1 ? "empty" : "too_short", name, `"${name}" must have at least ${field.minLength} characters.`);
			}
			if (trimmed.length > field.maxLength) {
				throw new ValidationError(422, "too_long", name, `"${name}" must have at most ${field.maxLength} characters.`);
			}
			// Control characters and lone surrogates have no place in any field here, and
			// the latter do not survive the trip to UTF-8 storage unchanged.
			if (CONTROL_CHARS.test(trimmed) || LONE_SURROGATE.test(trimmed)) {
				throw new ValidationError(422, "invalid_format", name, `"${name}" must not contain control characters or broken Unicode.`);
			}
			if (field.pattern && !field.pattern.test(trimmed)) {
				throw new ValidationError(422, "invalid_format", name, `"${name}" ${field.patternHint ?? "has an invalid format"}.`);
			}
			return trimmed;
		}
		case "time": {
			if (value === null && field.nullable) return null;
			if (typeof value !== "string") {
				throw new ValidationError(400, "invalid_type", name, `"${name}" must be an ISO 8601 time string.`);
			}
			const ms = Date.parse(value);
			if (!ISO_TIME.test(value) || Number.isNaN(ms) || !sameCalendarDate(value, ms)) {
				throw new ValidationError(422, "invalid_time", name, `"${name}" must be a real ISO 8601 time such as 2026-12-01T18:00:00Z.`);
			}
			return new Date(ms).toISOString();
		}
		case "bool": {
			if (typeof value !== "boolean") {
				throw new ValidationError(400, "invalid_type", name, `"${name}" must be true or false.`);
			}
			return value;
		}
		case "enum": {
			if (typeof value !== "string") {
				throw new ValidationError(400, "invalid_type", name, `"${name}" must be a string.`);
			}
			if (!field.values.includes(value)) {
				throw new ValidationError(422, "invalid_value", name, `"${name}" must be one of: ${field.values.join(", ")}.`);
			}
			return value;
		}
		case "object":
			return parse(field.fields, value, name);
	}
}

/** Date.parse rolls 2026-02-30 over to March; a real time keeps its calendar date. */
function sameCalendarDate(text: string, ms: number): boolean {
	const offset = /([+-])(\d{2}):(\d{2})$/.exec(text);
	const shift = offset ? (offset[1] === "+" ? 1 : -1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60_000 : 0;
	const local = new Date(ms + shift).toISOString();
	return local.slice(0, 10) === text.slice(0, 10) && local.slice(11, 16) === text.slice(11, 16);
}
