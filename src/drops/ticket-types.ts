// A drop's ticket types: general admission, reserved seats and
// timeslots. How the promoter describes them (schemas, the seats CSV), the
// rules they must keep, and where each unit's fate is decided (which shard).
// Pure: no Cloudflare types.
//
// Where a unit is decided:
// - the drop's first general-admission type (a drop made without `ticketTypes`
//   has only this one, id "general") is spread over every shard as before, its
//   stock moving between shards when one runs dry;
// - every other counted pool (a further general type, each timeslot) and every
//   seated section lives whole on one shard, chosen by a hash of type and pool,
//   so a unit is decided in one SQLite transaction and the pools spread over the shards.
import * as z from "zod";
import { ValidationError, int, object, oneOf, text } from "../shared/validation";
import { stableHash } from "../shared/crypto";
import { TYPE_ID, idText, unitId, type HoldBody } from "../contract/requests";

/** The type of a drop created without `ticketTypes`. */
export const GENERAL = "general";

export const TYPE_LIMITS = {
	types: 20,
	slots: 500,
	seats: 100_000,
	sections: 1_000,
	seatNumber: { min: 1, max: 100_000 },
	csvBytes: 4 * 1024 * 1024,
} as const;

/** A seat as the promoter lists it. */
export interface Seat {
	id: string;
	section: string;
	row: string;
	number: number;
}

export interface Slot {
	id: string;
	startsAt: string;
	capacity: number;
}

/** A section of a seated type: its name and how many seats it has (the seats themselves live in the shards and D1). */
export interface Section {
	name: string;
	seats: number;
}

/** A ticket type as the drop keeps it (no seat list: 100,000 seats never travel with the drop). */
export interface TicketType {
	id: string;
	name: string;
	kind: "general" | "seated" | "timeslot";
	priceCents: number;
	maxPerFan: number;
	/** Units of this type: its capacity, the sum of its slots, or its seats. */
	capacity: number;
	slots?: Slot[];
	sections?: Section[];
}

const label = (max: number) => text(1, max);

export const SeatSchema = object({
	id: unitId(),
	section: label(32),
	row: label(16),
	number: int(TYPE_LIMITS.seatNumber.min, TYPE_LIMITS.seatNumber.max),
});

const SlotSchema = object({
	id: unitId(),
	startsAt: z.iso.datetime({ offset: true, error: "must be an ISO 8601 time such as 2026-12-01T18:00:00Z" }),
	capacity: int(1, 10_000_000),
});

/** One entry of `ticketTypes` in POST /api/admin/drops. */
export const TicketTypeBody = object({
	id: idText(TYPE_ID, "letters, digits, _ or -"),
	name: label(120),
	kind: oneOf(["general", "seated", "timeslot"] as const),
	priceCents: int(0, 100_000_000).optional().meta({ description: "The drop's priceCents when left out." }),
	maxPerFan: int(1, 20).optional().meta({ description: "At most the drop's maxPerFan (the default), which caps the fan's total across types." }),
	capacity: int(1, 10_000_000).optional().meta({ description: "general: how many (required)." }),
	slots: z.array(SlotSchema).min(1).max(TYPE_LIMITS.slots).optional().meta({ description: "timeslot: the slots (required)." }),
	// At most 100,000 a drop (too_many_seats, checked over all types; the body's 8 MiB bounds the work before).
	seats: z.array(SeatSchema).optional().meta({ description: "seated: the seats (at most 100,000 a drop), or seatsCsv; or none yet (uploaded as CSV before the opening)." }),
	seatsCsv: z.string().max(TYPE_LIMITS.csvBytes).optional().meta({ description: "seated: the seats as CSV (id,section,row,number)." }),
});
export type TicketTypeBody = z.output<typeof TicketTypeBody>;

export const TicketTypesBody = z.array(TicketTypeBody).min(1).max(TYPE_LIMITS.types);

/** The seats of a drop's seated types, by type id, as given with the drop. */
export type SeatsByType = Map<string, Seat[]>;

const fail = (status: 400 | 422, code: string, field: string, message: string) => new ValidationError(status, code, field, message);

/** A refusal of one line of a seats CSV: the answer names the line (the header is line 1). */
export class CsvLineError extends ValidationError {
	constructor(code: string, field: string, readonly line: number, message: string) {
		super(422, code, field, `Line ${line}: ${message}`);
	}
}

/**
 * The drop's types from the create body, with their seats apart. `dropMax` is the drop's
 * maxPerFan, `defaultPrice` its priceCents. Checks every rule; nothing is stored on an error.
 */
export function parseTicketTypes(input: TicketTypeBody[], dropMax: number, defaultPrice: number): { types: TicketType[]; seats: SeatsByType } {
	const types: TicketType[] = [];
	const seats: SeatsByType = new Map();
	const ids = new Set<string>();
	const seatIds = new Set<string>();
	let seatCount = 0;
	input.forEach((t, i) => {
		const at = (field: string) => `ticketTypes.${i}.${field}`;
		if (ids.has(t.id)) throw fail(422, "duplicate_id", at("id"), `Ticket type "${t.id}" is listed twice.`);
		ids.add(t.id);
		const maxPerFan = t.maxPerFan ?? dropMax;
		if (maxPerFan > dropMax) throw fail(422, "out_of_range", at("maxPerFan"), `"${at("maxPerFan")}" must not exceed the drop's maxPerFan (${dropMax}).`);
		const allowed = { general: ["capacity"], timeslot: ["slots"], seated: ["seats", "seatsCsv"] }[t.kind];
		for (const field of ["capacity", "slots", "seats", "seatsCsv"] as const) {
			if (t[field] !== undefined && !allowed.includes(field)) {
				throw fail(422, "not_for_kind", at(field), `"${at(field)}" does not belong to a ${t.kind} type.`);
			}
		}
		const base = { id: t.id, name: t.name, kind: t.kind, priceCents: t.priceCents ?? defaultPrice, maxPerFan };
		if (t.kind === "general") {
			if (t.capacity === undefined) throw fail(400, "missing_field", at("capacity"), `"${at("capacity")}" is required.`);
			types.push({ ...base, capacity: t.capacity });
		} else if (t.kind === "timeslot") {
			if (t.slots === undefined) throw fail(400, "missing_field", at("slots"), `"${at("slots")}" is required.`);
			const slotIds = new Set<string>();
			t.slots.forEach((s, k) => {
				if (slotIds.has(s.id)) throw fail(422, "duplicate_id", `${at("slots")}.${k}.id`, `Slot "${s.id}" is listed twice.`);
				slotIds.add(s.id);
			});
			const slots = t.slots.map((s) => ({ id: s.id, startsAt: new Date(Date.parse(s.startsAt)).toISOString(), capacity: s.capacity }));
			types.push({ ...base, capacity: slots.reduce((a, s) => a + s.capacity, 0), slots });
		} else {
			if (t.seats !== undefined && t.seatsCsv !== undefined) throw fail(422, "not_for_kind", at("seatsCsv"), `Send "seats" or "seatsCsv", not both.`);
			const list = t.seatsCsv !== undefined ? parseSeatsCsv(t.seatsCsv, at("seatsCsv")) : (t.seats ?? []);
			t.seats?.forEach((s, k) => checkNewSeat(s, seatIds, `${at("seats")}.${k}.id`));
			if (t.seatsCsv !== undefined) list.forEach((s, k) => checkNewSeat(s, seatIds, at("seatsCsv"), k + 2));
			seatCount += list.length;
			if (seatCount > TYPE_LIMITS.seats) throw tooManySeats(at(t.seatsCsv !== undefined ? "seatsCsv" : "seats"));
			seats.set(t.id, list);
			types.push({ ...base, capacity: list.length, sections: sectionsOf(list, at(t.seatsCsv !== undefined ? "seatsCsv" : "seats")) });
		}
	});
	return { types, seats };
}

const tooManySeats = (field: string) => fail(422, "too_many_seats", field, `A drop has at most ${TYPE_LIMITS.seats.toLocaleString("en")} seats.`);

function checkNewSeat(seat: Seat, seen: Set<string>, field: string, line?: number): void {
	if (seen.has(seat.id)) {
		const message = `seat "${seat.id}" is listed twice in this drop.`;
		throw line === undefined ? fail(422, "duplicate_seat", field, `S${message.slice(1)}`) : new CsvLineError("duplicate_seat", field, line, message);
	}
	seen.add(seat.id);
}

/** The sections in the order their first seat is listed (that order is "best first"). */
export function sectionsOf(seats: Seat[], field = "seats"): Section[] {
	const counts = new Map<string, number>();
	for (const s of seats) counts.set(s.section, (counts.get(s.section) ?? 0) + 1);
	if (counts.size > TYPE_LIMITS.sections) throw fail(422, "too_many_sections", field, `A seated type has at most ${TYPE_LIMITS.sections} sections.`);
	return [...counts].map(([name, n]) => ({ name, seats: n }));
}

/**
 * Seats from CSV: a header line `id,section,row,number` (any order of those four), then
 * one seat a line. Every error names its line (the header is line 1); the first one is
 * thrown, so nothing is stored. Fields may be quoted as in RFC 4180 (no line breaks inside).
 */
export function parseSeatsCsv(csv: string, field: string, already: Set<string> = new Set()): Seat[] {
	const lines = csv.replace(/^\uFEFF/, "").split(/\r?\n/);
	while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
	if (lines.length === 0) throw new CsvLineError("invalid_csv", field, 1, "the header id,section,row,number is missing.");
	const header = splitCsvLine(lines[0]!).map((h) => h.trim().toLowerCase());
	const columns = ["id", "section", "row", "number"].map((name) => header.indexOf(name));
	if (columns.some((c) => c < 0) || header.length !== 4) throw new CsvLineError("invalid_csv", field, 1, "the header must name the columns id, section, row and number.");
	if (lines.length - 1 > TYPE_LIMITS.seats) throw tooManySeats(field);
	const seats: Seat[] = [];
	const seen = new Set(already);
	for (let i = 1; i < lines.length; i++) {
		const line = i + 1;
		const cells = splitCsvLine(lines[i]!);
		if (cells.length !== 4) throw new CsvLineError("invalid_csv", field, line, "expected 4 fields (id,section,row,number).");
		const [id, section, row, number] = columns.map((c) => cells[c]!.trim());
		const candidate = { id, section, row, number: /^\d{1,6}$/.test(number!) ? Number(number) : number };
		const checked = SeatSchema.safeParse(candidate);
		if (!checked.success) {
			const issue = checked.error.issues[0]!;
			const name = String(issue.path[0] ?? "seat");
			throw new CsvLineError("invalid_csv", field, line, `"${name}" ${name === "number" && typeof candidate.number === "string" ? "must be a whole number" : issue.message}.`);
		}
		checkNewSeat(checked.data, seen, field, line);
		seats.push(checked.data);
	}
	return seats;
}

/** One CSV line's fields (a quote left open runs to the end of the line). */
function splitCsvLine(line: string): string[] {
	const out: string[] = [];
	let cur = "";
	let quoted = false;
	for (let i = 0; i < line.length; i++) {
		const c = line[i]!;
		if (quoted) {
			if (c === '"' && line[i + 1] === '"') {
				cur += '"';
				i++;
			} else if (c === '"') quoted = false;
			else cur += c;
		} else if (c === '"' && cur.trim() === "") {
			quoted = true;
			cur = "";
		} else if (c === ",") {
			out.push(cur);
			cur = "";
		} else cur += c;
	}
	out.push(cur);
	return out;
}

/** The types of a drop made without `ticketTypes`: one general-admission type of the whole capacity. */
export function generalAdmissionOnly(drop: { capacity: number; priceCents: number; maxPerFan: number }): TicketType[] {
	return [{ id: GENERAL, name: "General admission", kind: "general", priceCents: drop.priceCents, maxPerFan: drop.maxPerFan, capacity: drop.capacity }];
}

/** The type spread over every shard: the first general-admission type, if any. */
export const primaryType = (types: TicketType[]): TicketType | null => types.find((t) => t.kind === "general") ?? null;

/** How a pool is named inside a type: "g" (a whole general type), "t:<slot>", "s:<section>". */
export const poolKey = {
	general: () => "g",
	slot: (slot: string) => `t:${slot}`,
	section: (section: string) => `s:${section}`,
};

/** The shard that decides every unit of a pool (a slot, a section, a further general type). */
export const poolShard = (typeId: string, pool: string, shards: number) => stableHash(`${typeId}\n${pool}`) % shards;

/** A pool of a type, where it lives and how many units it has. */
export interface PoolPlan {
	typeId: string;
	pool: string;
	kind: "count" | "seats";
	capacity: number;
	shard: number;
}

/** Every pool of the drop's types but the primary (sharded) one, with its shard. */
export function poolPlan(types: TicketType[], shards: number): PoolPlan[] {
	const primary = primaryType(types);
	const out: PoolPlan[] = [];
	for (const t of types) {
		if (t === primary) continue;
		const add = (pool: string, kind: "count" | "seats", capacity: number) => out.push({ typeId: t.id, pool, kind, capacity, shard: poolShard(t.id, pool, shards) });
		if (t.kind === "general") add(poolKey.general(), "count", t.capacity);
		for (const s of t.slots ?? []) add(poolKey.slot(s.id), "count", s.capacity);
		for (const s of t.sections ?? []) add(poolKey.section(s.name), "seats", s.seats);
	}
	return out;
}


/** What a hold asks for, checked against the drop's types. */
export type HoldRequest =
	| { kind: "primary"; typeId: string; quantity: number }
	| { kind: "count"; typeId: string; pool: string; quantity: number }
	| { kind: "seats"; typeId: string; seats: string[]; section: string | null; quantity: number }
	| { kind: "best"; typeId: string; section: string | null; quantity: number };

const needQuantity = (body: HoldBody): number => {
	if (body.quantity === undefined) throw fail(400, "missing_field", "quantity", `"quantity" is required.`);
	return body.quantity;
};

/** The hold body (parsed) read against the drop's types: 400 for what is missing, 422 for what does not fit. */
export function holdRequest(body: HoldBody, types: TicketType[]): HoldRequest {
	const primary = primaryType(types);
	const type = body.ticketType === undefined ? primary : (types.find((t) => t.id === body.ticketType) ?? null);
	if (type === null) {
		if (body.ticketType === undefined) throw fail(400, "missing_field", "ticketType", `"ticketType" is required: this drop has no general admission.`);
		throw fail(422, "unknown_ticket_type", "ticketType", `This drop has no ticket type "${body.ticketType}".`);
	}
	const notHere = (field: "seats" | "section" | "slot") => {
		if (body[field] !== undefined) throw fail(422, "not_for_type", field, `"${field}" does not apply to a ${type.kind} ticket type.`);
	};
	if (type.kind === "general") {
		notHere("seats");
		notHere("section");
		notHere("slot");
		const quantity = needQuantity(body);
		return type === primary ? { kind: "primary", typeId: type.id, quantity } : { kind: "count", typeId: type.id, pool: poolKey.general(), quantity };
	}
	if (type.kind === "timeslot") {
		notHere("seats");
		notHere("section");
		if (body.slot === undefined) throw fail(400, "missing_field", "slot", `"slot" is required for a timeslot ticket type.`);
		if (!type.slots!.some((s) => s.id === body.slot)) throw fail(422, "unknown_slot", "slot", `Ticket type "${type.id}" has no slot "${body.slot}".`);
		return { kind: "count", typeId: type.id, pool: poolKey.slot(body.slot), quantity: needQuantity(body) };
	}
	notHere("slot");
	const section = body.section ?? null;
	if (section !== null && !type.sections!.some((s) => s.name === section)) {
		throw fail(422, "unknown_section", "section", `Ticket type "${type.id}" has no section "${section}".`);
	}
	if (body.seats !== undefined) {
		if (new Set(body.seats).size !== body.seats.length) throw fail(422, "duplicate_seat", "seats", `A seat is named twice.`);
		if (body.quantity !== undefined && body.quantity !== body.seats.length) {
			throw fail(422, "quantity_mismatch", "quantity", `"quantity" must equal the number of seats named (or be left out).`);
		}
		return { kind: "seats", typeId: type.id, seats: body.seats, section, quantity: body.seats.length };
	}
	return { kind: "best", typeId: type.id, section, quantity: needQuantity(body) };
}

/** The idempotency record of a hold request: a general hold keeps the record it always had. */
export function holdRequestText(req: HoldRequest): string {
	if (req.kind === "primary") return JSON.stringify({ quantity: req.quantity });
	return JSON.stringify(req);
}
