// The rules of a drop as two tables, one for creating it and one for changing
// it: test/drops/drops.test.ts runs every row through parseCreateDrop and
// applyDropPatch, test/drops/drops-api.test.ts through POST and PATCH
// /api/admin/drops. A new rule is one row here.
import { DAY, HOUR } from "./time";

/** A valid create body at time `now` (it opens a day later); `over` replaces fields, `undefined` removes one. */
export function validDropBody(now: number, over: Record<string, unknown> = {}): Record<string, unknown> {
	const body: Record<string, unknown> = { name: "Summer tour", capacity: 1_000, maxPerFan: 4, opensAt: new Date(now + DAY).toISOString(), ...over };
	for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
	return body;
}

/** [what, field overrides of validDropBody(now), status, code, field] */
export type DropRefusal = [string, Record<string, unknown>, number, string, string];

/** Every way a create body is refused, with the answer it gets. */
export function createDropRefusals(now: number): DropRefusal[] {
	const at = (ms: number) => new Date(now + ms).toISOString();
	return [
		["name missing", { name: undefined }, 400, "missing_field", "name"],
		["name a number", { name: 7 }, 400, "invalid_type", "name"],
		["name an array", { name: ["a"] }, 400, "invalid_type", "name"],
		["name an object", { name: { first: "x" } }, 400, "invalid_type", "name"],
		["name empty", { name: "" }, 422, "empty", "name"],
		["name blank", { name: "   " }, 422, "empty", "name"],
		["name only tabs and newlines", { name: "\t \n" }, 422, "empty", "name"],
		["name 121 characters", { name: "x".repeat(121) }, 422, "too_long", "name"],
		["name 10,000 characters", { name: "n".repeat(10_000) }, 422, "too_long", "name"],
		["name with a control character", { name: "bad\u0000name" }, 422, "invalid_format", "name"],
		["name with a lone surrogate", { name: "a\ud800b" }, 422, "invalid_format", "name"],
		["capacity missing", { capacity: undefined }, 400, "missing_field", "capacity"],
		["capacity zero", { capacity: 0 }, 422, "out_of_range", "capacity"],
		["capacity negative", { capacity: -5 }, 422, "out_of_range", "capacity"],
		["capacity -1", { capacity: -1 }, 422, "out_of_range", "capacity"],
		["capacity above 10M", { capacity: 10_000_001 }, 422, "out_of_range", "capacity"],
		["capacity past the safe integers", { capacity: Number.MAX_SAFE_INTEGER + 2 }, 422, "out_of_range", "capacity"],
		["capacity a float", { capacity: 10.5 }, 400, "invalid_type", "capacity"],
		["capacity a tiny float", { capacity: 1e-7 }, 400, "invalid_type", "capacity"],
		["capacity a string", { capacity: "10" }, 400, "invalid_type", "capacity"],
		["capacity a boolean", { capacity: true }, 400, "invalid_type", "capacity"],
		["capacity null", { capacity: null }, 400, "invalid_type", "capacity"],
		["maxPerFan missing", { maxPerFan: undefined }, 400, "missing_field", "maxPerFan"],
		["maxPerFan zero", { maxPerFan: 0 }, 422, "out_of_range", "maxPerFan"],
		["maxPerFan 21", { maxPerFan: 21 }, 422, "out_of_range", "maxPerFan"],
		["maxPerFan a float", { maxPerFan: 2.5 }, 400, "invalid_type", "maxPerFan"],
		["maxPerFan an array", { maxPerFan: [2] }, 400, "invalid_type", "maxPerFan"],
		["opensAt missing", { opensAt: undefined }, 400, "missing_field", "opensAt"],
		["opensAt not a time", { opensAt: "next friday" }, 422, "invalid_time", "opensAt"],
		["opensAt a word", { opensAt: "yesterday" }, 422, "invalid_time", "opensAt"],
		["opensAt not ISO", { opensAt: "01/12/2030 18:00" }, 422, "invalid_time", "opensAt"],
		["opensAt without a zone", { opensAt: "2030-02-01T18:00:00" }, 422, "invalid_time", "opensAt"],
		["opensAt not a real date", { opensAt: "2026-02-30T10:00:00Z" }, 422, "invalid_time", "opensAt"],
		["opensAt 31 February", { opensAt: "2026-02-31T00:00:00Z" }, 422, "invalid_time", "opensAt"],
		["opensAt an epoch number", { opensAt: now + DAY }, 400, "invalid_type", "opensAt"],
		["opensAt null", { opensAt: null }, 400, "invalid_type", "opensAt"],
		["opensAt over a year ago", { opensAt: at(-367 * DAY) }, 422, "invalid_time", "opensAt"],
		["opensAt years ago", { opensAt: "2001-01-01T00:00:00Z" }, 422, "invalid_time", "opensAt"],
		["opensAt over five years away", { opensAt: at(5 * 367 * DAY) }, 422, "invalid_time", "opensAt"],
		["opensAt far away", { opensAt: "2999-01-01T00:00:00Z" }, 422, "invalid_time", "opensAt"],
		["closesAt before opensAt", { closesAt: at(HOUR) }, 422, "invalid_time", "closesAt"],
		["closesAt equal to opensAt", { closesAt: at(DAY) }, 422, "invalid_time", "closesAt"],
		["closesAt garbage", { closesAt: "soon" }, 422, "invalid_time", "closesAt"],
		["closesAt a boolean", { closesAt: false }, 400, "invalid_type", "closesAt"],
		["priceCents negative", { priceCents: -1 }, 422, "out_of_range", "priceCents"],
		["priceCents too high", { priceCents: 100_000_001 }, 422, "out_of_range", "priceCents"],
		["priceCents a float", { priceCents: 9.99 }, 400, "invalid_type", "priceCents"],
		["currency lower case", { currency: "usd" }, 422, "invalid_format", "currency"],
		["currency not letters", { currency: "€€€" }, 422, "invalid_format", "currency"],
		["currency two letters", { currency: "US" }, 422, "too_short", "currency"],
		["currency four letters", { currency: "USDT" }, 422, "too_long", "currency"],
		["currency a number", { currency: 840 }, 400, "invalid_type", "currency"],
		["shards zero", { shards: 0 }, 422, "out_of_range", "shards"],
		["shards 65", { shards: 65 }, 422, "out_of_range", "shards"],
		["shards above capacity", { capacity: 3, shards: 4 }, 422, "out_of_range", "shards"],
		["lines zero", { lines: 0 }, 422, "out_of_range", "lines"],
		["lines over 256", { lines: 257 }, 422, "out_of_range", "lines"],
		["lines a fraction", { lines: 1.5 }, 400, "invalid_type", "lines"],
		["lines a string", { lines: "4" }, 400, "invalid_type", "lines"],
		["admission a number", { admission: 5 }, 400, "invalid_type", "admission"],
		["admission a string", { admission: "fast" }, 400, "invalid_type", "admission"],
		["admission an array", { admission: [] }, 400, "invalid_type", "admission"],
		["admission null", { admission: null }, 400, "invalid_type", "admission"],
		["admission with an unknown field", { admission: { batchSize: 10, speed: 1 } }, 400, "unknown_field", "admission.speed"],
		["admission with only an unknown field", { admission: { rate: 5 } }, 400, "unknown_field", "admission.rate"],
		["admission.batchSize zero", { admission: { batchSize: 0 } }, 422, "out_of_range", "admission.batchSize"],
		["admission.batchSize too big", { admission: { batchSize: 10_001 } }, 422, "out_of_range", "admission.batchSize"],
		["admission.intervalMs 100", { admission: { intervalMs: 100 } }, 422, "out_of_range", "admission.intervalMs"],
		["admission.intervalMs too short", { admission: { intervalMs: 249 } }, 422, "out_of_range", "admission.intervalMs"],
		["admission.intervalMs too long", { admission: { intervalMs: 600_001 } }, 422, "out_of_range", "admission.intervalMs"],
		["admission.intervalMs a float", { admission: { intervalMs: 500.5 } }, 400, "invalid_type", "admission.intervalMs"],
		["admission.activeMultiple zero", { admission: { activeMultiple: 0 } }, 422, "out_of_range", "admission.activeMultiple"],
		["admission.activeMultiple 21", { admission: { activeMultiple: 21 } }, 422, "out_of_range", "admission.activeMultiple"],
		["admission.activeMultiple 50", { admission: { activeMultiple: 50 } }, 422, "out_of_range", "admission.activeMultiple"],
		["holdSeconds 0", { holdSeconds: 0 }, 422, "out_of_range", "holdSeconds"],
		["holdSeconds 1", { holdSeconds: 1 }, 422, "out_of_range", "holdSeconds"],
		["holdSeconds 9", { holdSeconds: 9 }, 422, "out_of_range", "holdSeconds"],
		["holdSeconds 3601", { holdSeconds: 3_601 }, 422, "out_of_range", "holdSeconds"],
		["holdSeconds 7200", { holdSeconds: 7_200 }, 422, "out_of_range", "holdSeconds"],
		["an unknown field", { colour: "blue" }, 400, "unknown_field", "colour"],
		["another unknown field", { extra: 1 }, 400, "unknown_field", "extra"],
		["paused on create", { paused: true }, 400, "unknown_field", "paused"],
		["an id of its own", { id: "d_chosen" }, 400, "unknown_field", "id"],
		["a time zone Intl does not know", { timeZone: "Mars/Olympus_Mons" }, 422, "invalid_value", "timeZone"],
		["a time zone as an offset", { timeZone: "+02:00" }, 422, "invalid_value", "timeZone"],
		["a time zone with a path in it", { timeZone: "../../etc/passwd" }, 422, "invalid_value", "timeZone"],
		["a time zone empty", { timeZone: "" }, 422, "empty", "timeZone"],
		["a time zone 65 characters", { timeZone: "E".repeat(65) }, 422, "too_long", "timeZone"],
		["a time zone a number", { timeZone: 2 }, 400, "invalid_type", "timeZone"],
		["a time zone null", { timeZone: null }, 400, "invalid_type", "timeZone"],
	];
}

/** [what, the patch sent, status, code, field] */
export type PatchRefusal = [string, unknown, number, string, string];

/**
 * Every way a promoter's change to a drop that has not opened yet (opening at
 * `opensAt`) is refused at time `now`, with the answer it gets: run through
 * applyDropPatch by test/drops/drops.test.ts and through PATCH by test/drops/drops-api.test.ts.
 */
export function patchDropRefusals(opensAt: string, now: number): PatchRefusal[] {
	const at = (ms: number) => new Date(ms).toISOString();
	return [
		["an empty patch", {}, 400, "empty_patch", "body"],
		["an array", [], 400, "invalid_type", "body"],
		["null", null, 400, "invalid_type", "body"],
		["an unknown field", { venue: "x" }, 400, "unknown_field", "venue"],
		["a time zone Intl does not know", { timeZone: "Europe/Atlantis" }, 422, "invalid_value", "timeZone"],
		["a time zone a number", { timeZone: 1 }, 400, "invalid_type", "timeZone"],
		["another unknown field", { colour: "red" }, 400, "unknown_field", "colour"],
		["an unknown admission field", { admission: { batchSize: 5, speed: 2 } }, 400, "unknown_field", "admission.speed"],
		["capacity", { capacity: 5 }, 422, "immutable_field", "capacity"],
		["maxPerFan", { maxPerFan: 1 }, 422, "immutable_field", "maxPerFan"],
		["shards", { shards: 2 }, 422, "immutable_field", "shards"],
		["priceCents", { priceCents: 1 }, 422, "immutable_field", "priceCents"],
		["currency", { currency: "EUR" }, 422, "immutable_field", "currency"],
		["currency as a number", { currency: 1 }, 422, "immutable_field", "currency"],
		["id", { id: "d_other" }, 422, "immutable_field", "id"],
		["id as a number", { id: 1 }, 422, "immutable_field", "id"],
		["paused a string", { paused: "true" }, 400, "invalid_type", "paused"],
		["name null", { name: null }, 400, "invalid_type", "name"],
		["name empty", { name: "" }, 422, "empty", "name"],
		["name blank", { name: " " }, 422, "empty", "name"],
		["opensAt null", { opensAt: null }, 400, "invalid_type", "opensAt"],
		["opensAt an hour ago", { opensAt: at(now - 3_600_000) }, 422, "invalid_time", "opensAt"],
		["opensAt a second ago", { opensAt: at(now - 1_000) }, 422, "invalid_time", "opensAt"],
		["opensAt now", { opensAt: at(now) }, 422, "invalid_time", "opensAt"],
		["opensAt too far away", { opensAt: "2999-01-01T00:00:00Z" }, 422, "invalid_time", "opensAt"],
		["opensAt in the year 9999", { opensAt: "9999-01-01T00:00:00Z" }, 422, "invalid_time", "opensAt"],
		["opensAt not a time", { opensAt: "later" }, 422, "invalid_time", "opensAt"],
		["closesAt before opensAt", { closesAt: at(Date.parse(opensAt) - 1_000) }, 422, "invalid_time", "closesAt"],
		["admission.batchSize 0", { admission: { batchSize: 0 } }, 422, "out_of_range", "admission.batchSize"],
		["admission.intervalMs 1", { admission: { intervalMs: 1 } }, 422, "out_of_range", "admission.intervalMs"],
		["holdSeconds a float", { holdSeconds: 30.5 }, 400, "invalid_type", "holdSeconds"],
		["holdSeconds 5", { holdSeconds: 5 }, 422, "out_of_range", "holdSeconds"],
	];
}
