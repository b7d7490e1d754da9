// The schema parser and the drop rules, as plain functions: no Worker, no storage.
import { describe, expect, it } from "vitest";
import { allocateShards, applyDropPatch, defaultShardCount, type DropConfig, newDropId, parseCreateDrop, publicStatus, DROP_ID } from "../src/drops";
import { ValidationError, bool, int, object, oneOf, parse, text, time } from "../src/validation";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The ValidationError `fn` throws, as [status, code, field]. */
function rejection(fn: () => unknown): [number, string, string] {
	try {
		fn();
	} catch (err) {
		if (err instanceof ValidationError) return [err.status, err.code, err.field];
		throw err;
	}
	throw new Error("expected a ValidationError, nothing was thrown");
}

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

const validCreate = (over: Record<string, unknown> = {}) => ({
	name: "Summer tour",
	capacity: 1_000,
	maxPerFan: 4,
	opensAt: new Date(NOW + DAY).toISOString(),
	...over,
});

describe("parseCreateDrop", () => {
	it("fills the defaults", () => {
		const d = parseCreateDrop(validCreate(), NOW);
		expect(d).toEqual({
			name: "Summer tour",
			capacity: 1_000,
			maxPerFan: 4,
			opensAt: new Date(NOW + DAY).toISOString(),
			closesAt: null,
			priceCents: 0,
			currency: "USD",
			shards: 1,
			lines: 2,
			admission: { batchSize: 100, intervalMs: 2_000, activeMultiple: 2 },
			holdSeconds: 300,
			paused: false,
		});
	});

	it("gives a drop one line per 500 tickets by default, at most 256, and takes 1..256 when asked", () => {
		expect(parseCreateDrop(validCreate({ capacity: 1 }), NOW).lines).toBe(1);
		expect(parseCreateDrop(validCreate({ capacity: 500 }), NOW).lines).toBe(1);
		expect(parseCreateDrop(validCreate({ capacity: 501 }), NOW).lines).toBe(2);
		expect(parseCreateDrop(validCreate({ capacity: 10_000_000 }), NOW).lines).toBe(256);
		expect(parseCreateDrop(validCreate({ capacity: 10, lines: 256 }), NOW).lines).toBe(256);
		expect(parseCreateDrop(validCreate({ lines: 1 }), NOW).lines).toBe(1);
	});

	it("keeps every optional field it is given, and merges a partial admission over the defaults", () => {
		const d = parseCreateDrop(
			validCreate({
				closesAt: new Date(NOW + 2 * DAY).toISOString(),
				priceCents: 4_500,
				currency: "EUR",
				shards: 8,
				admission: { batchSize: 50 },
				holdSeconds: 120,
			}),
			NOW,
		);
		expect(d).toMatchObject({ priceCents: 4_500, currency: "EUR", shards: 8, holdSeconds: 120, closesAt: new Date(NOW + 2 * DAY).toISOString() });
		expect(d.admission).toEqual({ batchSize: 50, intervalMs: 2_000, activeMultiple: 2 });
	});

	// Every rule of issue 2: [field overrides, status, code, field]
	const cases: [string, Record<string, unknown>, number, string, string][] = [
		["lines zero", { lines: 0 }, 422, "out_of_range", "lines"],
		["lines over 256", { lines: 257 }, 422, "out_of_range", "lines"],
		["lines a fraction", { lines: 1.5 }, 400, "invalid_type", "lines"],
		["lines a string", { lines: "4" }, 400, "invalid_type", "lines"],
		["name missing", { name: undefined }, 400, "missing_field", "name"],
		["name a number", { name: 7 }, 400, "invalid_type", "name"],
		["name empty", { name: "" }, 422, "empty", "name"],
		["name blank", { name: "   " }, 422, "empty", "name"],
		["name too long", { name: "x".repeat(121) }, 422, "too_long", "name"],
		["capacity missing", { capacity: undefined }, 400, "missing_field", "capacity"],
		["capacity zero", { capacity: 0 }, 422, "out_of_range", "capacity"],
		["capacity negative", { capacity: -5 }, 422, "out_of_range", "capacity"],
		["capacity above 10M", { capacity: 10_000_001 }, 422, "out_of_range", "capacity"],
		["capacity float", { capacity: 10.5 }, 400, "invalid_type", "capacity"],
		["capacity string", { capacity: "10" }, 400, "invalid_type", "capacity"],
		["maxPerFan missing", { maxPerFan: undefined }, 400, "missing_field", "maxPerFan"],
		["maxPerFan zero", { maxPerFan: 0 }, 422, "out_of_range", "maxPerFan"],
		["maxPerFan 21", { maxPerFan: 21 }, 422, "out_of_range", "maxPerFan"],
		["maxPerFan float", { maxPerFan: 2.5 }, 400, "invalid_type", "maxPerFan"],
		["opensAt missing", { opensAt: undefined }, 400, "missing_field", "opensAt"],
		["opensAt not a time", { opensAt: "next friday" }, 422, "invalid_time", "opensAt"],
		["opensAt not a real date", { opensAt: "2026-02-30T10:00:00Z" }, 422, "invalid_time", "opensAt"],
		["opensAt epoch number", { opensAt: NOW + DAY }, 400, "invalid_type", "opensAt"],
		["opensAt null", { opensAt: null }, 400, "invalid_type", "opensAt"],
		["opensAt over a year ago", { opensAt: new Date(NOW - 367 * DAY).toISOString() }, 422, "invalid_time", "opensAt"],
		["opensAt over five years away", { opensAt: new Date(NOW + 5 * 367 * DAY).toISOString() }, 422, "invalid_time", "opensAt"],
		["closesAt before opensAt", { closesAt: new Date(NOW + HOUR).toISOString() }, 422, "invalid_time", "closesAt"],
		["closesAt equal to opensAt", { closesAt: new Date(NOW + DAY).toISOString() }, 422, "invalid_time", "closesAt"],
		["closesAt garbage", { closesAt: "soon" }, 422, "invalid_time", "closesAt"],
		["priceCents negative", { priceCents: -1 }, 422, "out_of_range", "priceCents"],
		["priceCents too high", { priceCents: 100_000_001 }, 422, "out_of_range", "priceCents"],
		["priceCents float", { priceCents: 9.99 }, 400, "invalid_type", "priceCents"],
		["currency lower case", { currency: "usd" }, 422, "invalid_format", "currency"],
		["currency two letters", { currency: "US" }, 422, "too_short", "currency"],
		["currency four letters", { currency: "USDT" }, 422, "too_long", "currency"],
		["currency a number", { currency: 840 }, 400, "invalid_type", "currency"],
		["shards zero", { shards: 0 }, 422, "out_of_range", "shards"],
		["shards 65", { shards: 65 }, 422, "out_of_range", "shards"],
		["shards above capacity", { capacity: 3, shards: 4 }, 422, "out_of_range", "shards"],
		["admission not an object", { admission: 5 }, 400, "invalid_type", "admission"],
		["admission null", { admission: null }, 400, "invalid_type", "admission"],
		["admission unknown field", { admission: { batchSize: 10, speed: 1 } }, 400, "unknown_field", "admission.speed"],
		["batchSize zero", { admission: { batchSize: 0 } }, 422, "out_of_range", "admission.batchSize"],
		["batchSize too big", { admission: { batchSize: 10_001 } }, 422, "out_of_range", "admission.batchSize"],
		["intervalMs too short", { admission: { intervalMs: 249 } }, 422, "out_of_range", "admission.intervalMs"],
		["intervalMs too long", { admission: { intervalMs: 600_001 } }, 422, "out_of_range", "admission.intervalMs"],
		["intervalMs float", { admission: { intervalMs: 500.5 } }, 400, "invalid_type", "admission.intervalMs"],
		["activeMultiple zero", { admission: { activeMultiple: 0 } }, 422, "out_of_range", "admission.activeMultiple"],
		["activeMultiple 21", { admission: { activeMultiple: 21 } }, 422, "out_of_range", "admission.activeMultiple"],
		["holdSeconds 9", { holdSeconds: 9 }, 422, "out_of_range", "holdSeconds"],
		["holdSeconds 3601", { holdSeconds: 3_601 }, 422, "out_of_range", "holdSeconds"],
		["paused on create", { paused: true }, 400, "unknown_field", "paused"],
		["id on create", { id: "d_mine" }, 400, "unknown_field", "id"],
	];
	for (const [what, over, status, code, field] of cases) {
		it(`${what}: ${status} ${code}`, () => {
			const body: Record<string, unknown> = validCreate(over);
			for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
			expect(rejection(() => parseCreateDrop(body, NOW))).toEqual([status, code, field]);
		});
	}

	it("accepts every bound exactly", () => {
		const low = parseCreateDrop(
			validCreate({ capacity: 1, maxPerFan: 1, shards: 1, priceCents: 0, holdSeconds: 10, admission: { batchSize: 1, intervalMs: 250, activeMultiple: 1 }, name: "x" }),
			NOW,
		);
		expect(low).toMatchObject({ capacity: 1, maxPerFan: 1, shards: 1, holdSeconds: 10 });
		const high = parseCreateDrop(
			validCreate({
				capacity: 10_000_000,
				maxPerFan: 20,
				shards: 64,
				priceCents: 100_000_000,
				holdSeconds: 3_600,
				admission: { batchSize: 10_000, intervalMs: 600_000, activeMultiple: 20 },
				name: "x".repeat(120),
			}),
			NOW,
		);
		expect(high).toMatchObject({ capacity: 10_000_000, maxPerFan: 20, shards: 64, priceCents: 100_000_000, holdSeconds: 3_600 });
		// A drop that opened recently may still be created (a promoter starting one now).
		expect(parseCreateDrop(validCreate({ opensAt: new Date(NOW - DAY).toISOString() }), NOW).opensAt).toBe(new Date(NOW - DAY).toISOString());
		expect(parseCreateDrop(validCreate({ closesAt: null }), NOW).closesAt).toBeNull();
	});

	it("spreads large drops over shards by default, never more shards than tickets", () => {
		expect(parseCreateDrop(validCreate({ capacity: 3 }), NOW).shards).toBe(1);
		expect(parseCreateDrop(validCreate({ capacity: 5_000 }), NOW).shards).toBe(1);
		expect(parseCreateDrop(validCreate({ capacity: 5_001 }), NOW).shards).toBe(2);
		expect(parseCreateDrop(validCreate({ capacity: 10_000_000 }), NOW).shards).toBe(64);
		expect(defaultShardCount(1)).toBe(1);
	});
});

describe("allocateShards", () => {
	it("splits capacity exactly, the first shards taking the remainder", () => {
		expect(allocateShards(10, 3)).toEqual([4, 3, 3]);
		expect(allocateShards(64, 64)).toEqual(Array(64).fill(1));
		for (const [capacity, shards] of [[1, 1], [7, 7], [10_000_000, 64], [12_345, 17]] as const) {
			const parts = allocateShards(capacity, shards);
			expect(parts).toHaveLength(shards);
			expect(parts.reduce((a, b) => a + b, 0)).toBe(capacity);
			expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
		}
	});
});

describe("drop ids", () => {
	it("are random, URL-safe and accepted by the route pattern", () => {
		const ids = new Set(Array.from({ length: 1_000 }, newDropId));
		expect(ids.size).toBe(1_000);
		for (const id of ids) {
			expect(id).toMatch(/^d_[A-Za-z0-9_-]{16}$/);
			expect(DROP_ID.test(id)).toBe(true);
			expect(encodeURIComponent(id)).toBe(id);
		}
	});
});

function drop(over: Partial<DropConfig> = {}): DropConfig {
	return {
		id: "d_test",
		...parseCreateDrop(validCreate(), NOW - HOUR),
		createdAt: new Date(NOW - HOUR).toISOString(),
		updatedAt: new Date(NOW - HOUR).toISOString(),
		...over,
	};
}

describe("applyDropPatch", () => {
	it("changes only what is sent and stamps updatedAt", () => {
		const before = drop();
		const after = applyDropPatch(before, { name: "Renamed", admission: { intervalMs: 500 }, paused: true, holdSeconds: 60 }, NOW);
		expect(after).toEqual({
			...before,
			name: "Renamed",
			admission: { ...before.admission, intervalMs: 500 },
			paused: true,
			holdSeconds: 60,
			updatedAt: new Date(NOW).toISOString(),
		});
	});

	it("reschedules before the open, and sets or clears closesAt", () => {
		const before = drop();
		const later = new Date(NOW + 2 * DAY).toISOString();
		expect(applyDropPatch(before, { opensAt: later }, NOW).opensAt).toBe(later);
		const closes = new Date(NOW + 3 * DAY).toISOString();
		const closed = applyDropPatch(before, { closesAt: closes }, NOW);
		expect(closed.closesAt).toBe(closes);
		expect(applyDropPatch(closed, { closesAt: null }, NOW).closesAt).toBeNull();
	});

	it("refuses to reschedule a drop that has opened", () => {
		const opened = drop({ opensAt: new Date(NOW - HOUR).toISOString() });
		expect(rejection(() => applyDropPatch(opened, { opensAt: new Date(NOW + DAY).toISOString() }, NOW))).toEqual([422, "already_open", "opensAt"]);
		// Sending the same time back is not a reschedule.
		expect(applyDropPatch(opened, { opensAt: opened.opensAt, paused: true }, NOW).paused).toBe(true);
		// Pausing, resuming and admission changes stay allowed after the open.
		expect(applyDropPatch(opened, { admission: { batchSize: 5 } }, NOW).admission.batchSize).toBe(5);
		// The line count is fixed from the opening on (the same count sent back is no change).
		expect(rejection(() => applyDropPatch(opened, { lines: opened.lines + 1 }, NOW))).toEqual([422, "already_open", "lines"]);
		expect(applyDropPatch(opened, { lines: opened.lines, paused: true }, NOW).lines).toBe(opened.lines);
	});

	it("refuses a reschedule into the past or beyond five years", () => {
		const before = drop();
		expect(rejection(() => applyDropPatch(before, { opensAt: new Date(NOW - 1_000).toISOString() }, NOW))).toEqual([422, "invalid_time", "opensAt"]);
		expect(rejection(() => applyDropPatch(before, { opensAt: new Date(NOW).toISOString() }, NOW))).toEqual([422, "invalid_time", "opensAt"]);
		expect(rejection(() => applyDropPatch(before, { opensAt: "9999-01-01T00:00:00Z" }, NOW))).toEqual([422, "invalid_time", "opensAt"]);
	});

	it("keeps closesAt after opensAt", () => {
		const before = drop({ closesAt: new Date(NOW + 2 * DAY).toISOString() });
		expect(rejection(() => applyDropPatch(before, { opensAt: new Date(NOW + 3 * DAY).toISOString() }, NOW))).toEqual([422, "invalid_time", "closesAt"]);
		expect(rejection(() => applyDropPatch(before, { closesAt: before.opensAt }, NOW))).toEqual([422, "invalid_time", "closesAt"]);
	});

	it("refuses changes to what the inventory was built from with 422 immutable_field", () => {
		for (const key of ["capacity", "maxPerFan", "shards", "priceCents", "currency", "id"]) {
			expect(rejection(() => applyDropPatch(drop(), { [key]: 1 }, NOW))).toEqual([422, "immutable_field", key]);
		}
	});

	it("400 for an empty patch, unknown fields, wrong types and non-objects", () => {
		expect(rejection(() => applyDropPatch(drop(), {}, NOW))).toEqual([400, "empty_patch", "body"]);
		expect(rejection(() => applyDropPatch(drop(), { colour: "red" }, NOW))).toEqual([400, "unknown_field", "colour"]);
		expect(rejection(() => applyDropPatch(drop(), { paused: "yes" }, NOW))).toEqual([400, "invalid_type", "paused"]);
		expect(rejection(() => applyDropPatch(drop(), { name: null }, NOW))).toEqual([400, "invalid_type", "name"]);
		expect(rejection(() => applyDropPatch(drop(), { opensAt: null }, NOW))).toEqual([400, "invalid_type", "opensAt"]);
		expect(rejection(() => applyDropPatch(drop(), [], NOW))).toEqual([400, "invalid_type", "body"]);
		expect(rejection(() => applyDropPatch(drop(), null, NOW))).toEqual([400, "invalid_type", "body"]);
		expect(rejection(() => applyDropPatch(drop(), { admission: { batchSize: 0 } }, NOW))).toEqual([422, "out_of_range", "admission.batchSize"]);
		expect(rejection(() => applyDropPatch(drop(), { holdSeconds: 5 }, NOW))).toEqual([422, "out_of_range", "holdSeconds"]);
		expect(rejection(() => applyDropPatch(drop(), { name: "" }, NOW))).toEqual([422, "empty", "name"]);
	});
});

describe("publicStatus", () => {
	const d = { opensAt: new Date(NOW + HOUR).toISOString(), closesAt: new Date(NOW + DAY).toISOString() };
	it("scheduled, open, sold_out, closed", () => {
		expect(publicStatus(d, false, NOW)).toBe("scheduled");
		expect(publicStatus(d, false, NOW + HOUR)).toBe("open");
		expect(publicStatus(d, true, NOW + 2 * HOUR)).toBe("sold_out");
		expect(publicStatus(d, true, NOW + DAY)).toBe("closed");
		expect(publicStatus({ ...d, closesAt: null }, false, NOW + 1_000 * DAY)).toBe("open");
	});
});
