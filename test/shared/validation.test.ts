// The schema parser of src/shared/validation.ts, as a plain function: no Worker, no storage.
import { describe, expect, it } from "vitest";
import { ValidationError, bool, int, object, oneOf, parse, text, time } from "../../src/shared/validation";
import { rejection } from "../support/errors";

describe("parse", () => {
	const schema = object({
		n: int(1, 10),
		s: text(1, 5).optional(),
		code: text(3, 3, { pattern: /^[A-Z]{3}$/, hint: "must be three capital letters" }).optional(),
		t: time().nullable().optional(),
		b: bool().optional(),
		e: oneOf(["a", "b"]).optional(),
		o: object({ x: int(0, 1) }).optional(),
	});

	it("accepts a valid body and returns exactly the schema's fields", () => {
		const out = parse(schema, { n: 3, s: "  hi ", code: "USD", t: null, b: false, e: "b", o: { x: 1 } });
		expect(out).toEqual({ n: 3, s: "hi", code: "USD", t: null, b: false, e: "b", o: { x: 1 } });
		expect(parse(schema, { n: 10 })).toEqual({ n: 10 });
	});

	it("refuses anything but an object as the body with 400 invalid_type", () => {
		for (const body of [null, [], [{ n: 1 }], "x", 1, true]) {
			expect(rejection(() => parse(schema, body))).toEqual([400, "invalid_type", "body"]);
		}
	});

	it("400 missing_field and unknown_field, with the field's path", () => {
		expect(rejection(() => parse(schema, {}))).toEqual([400, "missing_field", "n"]);
		expect(rejection(() => parse(schema, { n: 1, extra: 1 }))).toEqual([400, "unknown_field", "extra"]);
		expect(rejection(() => parse(schema, { n: 1, o: { x: 0, y: 1 } }))).toEqual([400, "unknown_field", "o.y"]);
		expect(rejection(() => parse(schema, { n: 1, o: {} }))).toEqual([400, "missing_field", "o.x"]);
		expect(rejection(() => parse(schema, { n: 1, o: [] }))).toEqual([400, "invalid_type", "o"]);
		// A required one-of field left out is missing too, not a wrong type (an API key's role).
		expect(rejection(() => parse(object({ role: oneOf(["a", "b"]) }), {}))).toEqual([400, "missing_field", "role"]);
		expect(rejection(() => parse(object({ role: oneOf(["a", "b"]) }), { role: null }))).toEqual([400, "invalid_type", "role"]);
	});

	it("treats __proto__ and inherited names as unknown fields, not as schema lookups", () => {
		expect(rejection(() => parse(schema, JSON.parse('{"n":1,"__proto__":{"s":"x"}}')))).toEqual([400, "unknown_field", "__proto__"]);
		expect(rejection(() => parse(schema, { n: 1, constructor: 1 }))).toEqual([400, "unknown_field", "constructor"]);
		expect(rejection(() => parse(schema, { n: 1, toString: "x" }))).toEqual([400, "unknown_field", "toString"]);
	});

	it("echoes at most 100 characters of an unknown field's name", () => {
		const key = "k".repeat(5_000);
		try {
			parse(schema, { n: 1, [key]: 1 });
			expect.unreachable();
		} catch (err) {
			expect(err).toBeInstanceOf(ValidationError);
			expect((err as ValidationError).field.length).toBe(100);
			expect((err as ValidationError).message.length).toBeLessThan(200);
		}
	});

	it("integers: wrong type and floats are 400, out of range is 422", () => {
		for (const n of ["3", null, true, [3], { v: 3 }]) expect(rejection(() => parse(schema, { n }))).toEqual([400, "invalid_type", "n"]);
		for (const n of [1.5, 9.999, 1e-9]) expect(rejection(() => parse(schema, { n }))).toEqual([400, "invalid_type", "n"]);
		for (const n of [0, 11, -1, 1e308]) expect(rejection(() => parse(schema, { n }))).toEqual([422, "out_of_range", "n"]);
		// JSON cannot say Infinity: a literal too large for a double arrives as one.
		expect(rejection(() => parse(schema, JSON.parse('{"n": 1e400}')))).toEqual([422, "out_of_range", "n"]);
		expect(rejection(() => parse(schema, JSON.parse('{"n": -1e400}')))).toEqual([422, "out_of_range", "n"]);
		expect(parse(schema, JSON.parse('{"n": 2.0}'))).toEqual({ n: 2 });
	});

	it("strings: wrong type 400; empty, too long, bad format 422; trimmed", () => {
		expect(rejection(() => parse(schema, { n: 1, s: 5 }))).toEqual([400, "invalid_type", "s"]);
		expect(rejection(() => parse(schema, { n: 1, s: "" }))).toEqual([422, "empty", "s"]);
		expect(rejection(() => parse(schema, { n: 1, s: " \t\n " }))).toEqual([422, "empty", "s"]);
		expect(rejection(() => parse(schema, { n: 1, s: "abcdef" }))).toEqual([422, "too_long", "s"]);
		expect(parse(schema, { n: 1, s: "  abcde  " }).s).toBe("abcde");
		expect(rejection(() => parse(schema, { n: 1, code: "US" }))).toEqual([422, "too_short", "code"]);
		expect(rejection(() => parse(schema, { n: 1, code: "usd" }))).toEqual([422, "invalid_format", "code"]);
	});

	it("strings: control characters and lone surrogates are 422 invalid_format", () => {
		for (const s of ["a\u0000b", "a\u0007", "a\u001bb", "a\u007fb", "a\u0085b", "a\ud800b", "a\udc00", "\ud83d"]) {
			expect(rejection(() => parse(schema, { n: 1, s }))).toEqual([422, "invalid_format", "s"]);
		}
		// A whole surrogate pair is one character of real text.
		expect(parse(schema, { n: 1, s: "ok 🎟" }).s).toBe("ok 🎟");
	});

	it("times: real ISO 8601 only, normalised to UTC", () => {
		expect(parse(schema, { n: 1, t: "2026-12-01T18:00:00Z" }).t).toBe("2026-12-01T18:00:00.000Z");
		expect(parse(schema, { n: 1, t: "2026-12-01T18:00Z" }).t).toBe("2026-12-01T18:00:00.000Z");
		expect(parse(schema, { n: 1, t: "2026-12-01T23:30:00-05:00" }).t).toBe("2026-12-02T04:30:00.000Z");
		expect(parse(schema, { n: 1, t: "2028-02-29T10:00:00.5+01:00" }).t).toBe("2028-02-29T09:00:00.500Z");
		for (const t of [
			"tomorrow",
			"",
			"2026-12-01",
			"2026-12-01 18:00:00Z",
			"2026-12-01T18:00:00",
			"2026-02-30T10:00:00Z",
			"2026-02-29T10:00:00Z",
			"2026-13-01T00:00:00Z",
			"2026-01-01T24:00:00Z",
			"2026-01-01T10:60:00Z",
			"2026-01-01T10:00:60Z",
			"2026-01-01T10:00:00+99:99",
			"2026-01-01T10:00:00.1234567891Z",
			"+002026-01-01T00:00:00Z",
			"2026-01-01t10:00:00z",
			"Tue, 01 Dec 2026 18:00:00 GMT",
		]) {
			expect(rejection(() => parse(schema, { n: 1, t })), t).toEqual([422, "invalid_time", "t"]);
		}
		for (const t of [1_767_261_600_000, true, {}, []]) expect(rejection(() => parse(schema, { n: 1, t }))).toEqual([400, "invalid_type", "t"]);
	});

	it("null only where a field is nullable", () => {
		expect(rejection(() => parse(schema, { n: null }))).toEqual([400, "invalid_type", "n"]);
		expect(rejection(() => parse(schema, { n: 1, s: null }))).toEqual([400, "invalid_type", "s"]);
		expect(rejection(() => parse(schema, { n: 1, b: null }))).toEqual([400, "invalid_type", "b"]);
	});

	it("booleans and enums", () => {
		for (const b of ["true", 1, 0]) expect(rejection(() => parse(schema, { n: 1, b }))).toEqual([400, "invalid_type", "b"]);
		expect(rejection(() => parse(schema, { n: 1, e: 1 }))).toEqual([400, "invalid_type", "e"]);
		expect(rejection(() => parse(schema, { n: 1, e: "c" }))).toEqual([422, "invalid_value", "e"]);
		expect(rejection(() => parse(schema, { n: 1, e: "A" }))).toEqual([422, "invalid_value", "e"]);
	});
});
