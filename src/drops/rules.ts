// The drop as promoters define it: schemas, defaults and the shard plan. Pure.
import type { Drop } from "../contract/admin-answers";
import { type SeatsByType, type TicketType, TicketTypesBody, generalAdmissionOnly, parseTicketTypes } from "./ticket-types";
import { ValidationError, bool, int, object, parse, text, time, timeZone } from "../shared/validation";
import { base64url } from "../shared/crypto";
import { unwrap } from "../shared/outcome";
import { type DropState, type LifeFacts, changeRefusal, dropState } from "./lifecycle";
import { PresalesBody, checkPresales } from "./presales";

/** The most lines a drop's joins may spread over. */
export const MAX_LINES = 256;

export const LIMITS = {
	capacity: { min: 1, max: 10_000_000 },
	maxPerFan: { min: 1, max: 20 },
	shards: { min: 1, max: 64 },
	lines: { min: 1, max: MAX_LINES },
	batchSize: { min: 1, max: 10_000 },
	intervalMs: { min: 250, max: 600_000 },
	activeMultiple: { min: 1, max: 20 },
	offerSeconds: { min: 60, max: 86_400 },
	holdSeconds: { min: 10, max: 3_600 },
	priceCents: { min: 0, max: 100_000_000 },
} as const;

/** A drop's settings, as D1 and the objects keep them and the promoter API answers them. */
export type DropConfig = Drop;

const limited = (limit: { min: number; max: number }) => int(limit.min, limit.max);
const nameField = () => text(1, 120);

const admissionFields = object({
	batchSize: limited(LIMITS.batchSize).optional(),
	intervalMs: limited(LIMITS.intervalMs).optional(),
	activeMultiple: limited(LIMITS.activeMultiple).optional(),
	offerSeconds: limited(LIMITS.offerSeconds).optional().meta({
		description: "After a sell-out, how long the turn of a fan offered a returned ticket lasts: long enough to come back to from an email (default 1800).",
	}),
});

/** The body of POST /api/admin/drops. */
export const CreateDropBody = object({
	name: nameField(),
	capacity: limited(LIMITS.capacity).optional().meta({ description: "Required without ticketTypes; with them, the sum of their units (may be left out)." }),
	maxPerFan: limited(LIMITS.maxPerFan),
	opensAt: time(),
	closesAt: time().nullable().optional(),
	priceCents: limited(LIMITS.priceCents).optional(),
	currency: text(3, 3, { pattern: /^[A-Z]{3}$/, hint: "must be a three-letter ISO 4217 code such as USD" }).optional(),
	shards: limited(LIMITS.shards).optional(),
	lines: limited(LIMITS.lines).optional(),
	admission: admissionFields.optional(),
	holdSeconds: limited(LIMITS.holdSeconds).optional(),
	timeZone: timeZone().optional().meta({ description: "Where the drop happens: its times are shown to fans, in emails and on the promoter page in this zone. UTC when left out." }),
	ticketTypes: TicketTypesBody.optional().meta({ description: "General admission, seated and timeslot types; one general type made of capacity, priceCents and maxPerFan when left out." }),
	presales: PresalesBody.optional().meta({ description: "Sale windows before the general sale, in order, each closed by opensAt; fixed once the drop is made." }),
});

/** The body of PATCH /api/admin/drops/:id. */
export const PatchDropBody = object({
	name: nameField().optional(),
	opensAt: time().optional(),
	closesAt: time().nullable().optional(),
	admission: admissionFields.optional(),
	holdSeconds: limited(LIMITS.holdSeconds).optional(),
	paused: bool().optional(),
	lines: limited(LIMITS.lines).optional(),
	timeZone: timeZone().optional(),
});

const IMMUTABLE = ["capacity", "maxPerFan", "shards", "priceCents", "currency", "id", "ticketTypes", "presales"];

export const DEFAULT_ADMISSION = { batchSize: 100, intervalMs: 2_000, activeMultiple: 2, offerSeconds: 1_800 } as const;
export const DEFAULT_HOLD_SECONDS = 300;
/** A drop made without a time zone shows its times in UTC. */
export const DEFAULT_TIME_ZONE = "UTC";

/** About 5,000 tickets per shard keeps each object's write rate well inside what one Durable Object takes. */
export function defaultShardCount(capacity: number): number {
	return Math.min(LIMITS.shards.max, Math.max(1, Math.ceil(capacity / 5_000)));
}

/** Splits capacity over shards as evenly as possible: the first `capacity % shards` get one more. */
export function allocateShards(capacity: number, shards: number): number[] {
	const base = Math.floor(capacity / shards);
	const extra = capacity % shards;
	return Array.from({ length: shards }, (_, k) => base + (k < extra ? 1 : 0));
}

export function newDropId(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(12));
	return "d_" + base64url(bytes);
}

export const DROP_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A drop's ticket types: those it was made with, or the one general type of a drop made without them. */
export const typesOf = (drop: Pick<DropConfig, "capacity" | "priceCents" | "maxPerFan"> & { ticketTypes?: TicketType[] }): TicketType[] =>
	drop.ticketTypes ?? generalAdmissionOnly(drop);

export function parseCreateDrop(input: unknown, now: number): Omit<DropConfig, "id" | "createdAt" | "updatedAt" | "promoterId"> {
	return parseCreateDropWithSeats(input, now).drop;
}

/** The drop a create body describes, and the seats of its seated types (which travel apart from it). */
export function parseCreateDropWithSeats(input: unknown, now: number): { drop: Omit<DropConfig, "id" | "createdAt" | "updatedAt" | "promoterId">; seats: SeatsByType } {
	const body = parse(CreateDropBody, input);
	let capacity: number;
	let typed: { types: TicketType[]; seats: SeatsByType } | null = null;
	if (body.ticketTypes === undefined) {
		if (body.capacity === undefined) throw new ValidationError(400, "missing_field", "capacity", `"capacity" is required.`);
		capacity = body.capacity;
	} else {
		typed = parseTicketTypes(body.ticketTypes, body.maxPerFan, body.priceCents ?? 0);
		capacity = typed.types.reduce((a, t) => a + t.capacity, 0);
		if (capacity < LIMITS.capacity.min) {
			throw new ValidationError(422, "no_tickets", "ticketTypes", "The drop needs at least one ticket: give a seated type its seats here, or add a type with a capacity.");
		}
		if (capacity > LIMITS.capacity.max) throw new ValidationError(422, "out_of_range", "ticketTypes", `A drop has at most ${LIMITS.capacity.max} tickets.`);
		if (body.capacity !== undefined && body.capacity !== capacity) {
			throw new ValidationError(422, "capacity_mismatch", "capacity", `"capacity" must be the sum of the types' units (${capacity}), or be left out.`);
		}
	}
	if (body.shards !== undefined && body.shards > capacity) {
		throw new ValidationError(422, "out_of_range", "shards", `"shards" must not exceed "capacity".`);
	}
	const closesAt = body.closesAt ?? null;
	checkWindow(body.opensAt, closesAt, now);
	const drop = {
		name: body.name,
		capacity,
		maxPerFan: body.maxPerFan,
		opensAt: body.opensAt,
		closesAt,
		priceCents: body.priceCents ?? 0,
		currency: body.currency ?? "USD",
		shards: body.shards ?? Math.min(capacity, defaultShardCount(capacity)),
		lines: body.lines ?? defaultLineCount(capacity),
		admission: { ...DEFAULT_ADMISSION, ...body.admission },
		holdSeconds: body.holdSeconds ?? DEFAULT_HOLD_SECONDS,
		paused: false,
		cancelledAt: null,
		timeZone: body.timeZone ?? DEFAULT_TIME_ZONE,
	};
	const priceCents = body.priceCents ?? 0;
	const ticketTypes = typed?.types ?? generalAdmissionOnly({ capacity, priceCents, maxPerFan: body.maxPerFan });
	// A drop without windows carries no presales field at all, so it answers exactly as before windows existed.
	const presales = body.presales === undefined ? {} : { presales: checkPresales(body.presales, { opensAt: body.opensAt, capacity, maxPerFan: body.maxPerFan, typeIds: ticketTypes.map((t) => t.id) }) };
	return {
		drop: { ...drop, ticketTypes, ...presales },
		seats: typed?.seats ?? new Map(),
	};
}

/** Validates a PATCH against the current drop; returns the drop as it will be. */
export function applyDropPatch(drop: DropConfig, input: unknown, now: number): DropConfig {
	if (typeof input === "object" && input !== null && !Array.isArray(input)) {
		for (const key of IMMUTABLE) {
			if (Object.hasOwn(input, key)) {
				throw new ValidationError(422, "immutable_field", key, `"${key}" cannot change after the drop is created.`);
			}
		}
	}
	const patch = parse(PatchDropBody, input);
	if (Object.keys(patch).length === 0) {
		throw new ValidationError(400, "empty_patch", "body", "Send at least one field to change.");
	}
	// The drop's state machine first: on a cancelled drop no setting that moves it through its states changes.
	const life = { paused: patch.paused ?? drop.paused, opensAt: patch.opensAt ?? drop.opensAt, closesAt: patch.closesAt === undefined ? drop.closesAt : patch.closesAt };
	const refused = changeRefusal(drop, { ...drop, ...life });
	if (refused !== null) unwrap(refused);
	const opened = Date.parse(drop.opensAt) <= now;
	if (patch.opensAt !== undefined && patch.opensAt !== drop.opensAt) {
		if (opened) throw new ValidationError(422, "already_open", "opensAt", "The drop has opened; it can no longer be rescheduled.");
		if (Date.parse(patch.opensAt) <= now) {
			throw new ValidationError(422, "invalid_time", "opensAt", `"opensAt" must be in the future when rescheduling.`);
		}
		// The same horizon as on create: a reschedule must not park a drop beyond it.
		if (Date.parse(patch.opensAt) > now + MAX_AHEAD_MS) {
			throw new ValidationError(422, "invalid_time", "opensAt", `"opensAt" is more than five years away.`);
		}
		// The sale windows stay before the general sale, as on create: two rooms never admit at once.
		const lastClose = Math.max(...(drop.presales ?? []).map((w) => Date.parse(w.closesAt)));
		if (Date.parse(patch.opensAt) < lastClose) {
			throw new ValidationError(422, "invalid_time", "opensAt", `"opensAt" must be at or after the last sale window's close (${new Date(lastClose).toISOString()}).`);
		}
	}
	if (patch.lines !== undefined && patch.lines !== drop.lines && opened) {
		throw new ValidationError(422, "already_open", "lines", `"lines" can change only before the opening.`);
	}
	const next: DropConfig = {
		...drop,
		name: patch.name ?? drop.name,
		opensAt: patch.opensAt ?? drop.opensAt,
		closesAt: patch.closesAt === undefined ? drop.closesAt : patch.closesAt,
		admission: { ...drop.admission, ...patch.admission },
		holdSeconds: patch.holdSeconds ?? drop.holdSeconds,
		paused: patch.paused ?? drop.paused,
		lines: patch.lines ?? drop.lines,
		timeZone: patch.timeZone ?? drop.timeZone,
		updatedAt: new Date(now).toISOString(),
	};
	checkWindow(next.opensAt, next.closesAt, null);
	return next;
}

const MAX_AHEAD_MS = 5 * 366 * 86_400_000;

function checkWindow(opensAt: string, closesAt: string | null, now: number | null): void {
	const opens = Date.parse(opensAt);
	if (now !== null && opens < now - 366 * 86_400_000) {
		throw new ValidationError(422, "invalid_time", "opensAt", `"opensAt" is more than a year in the past.`);
	}
	if (now !== null && opens > now + MAX_AHEAD_MS) {
		throw new ValidationError(422, "invalid_time", "opensAt", `"opensAt" is more than five years away.`);
	}
	if (closesAt !== null && Date.parse(closesAt) <= opens) {
		throw new ValidationError(422, "invalid_time", "closesAt", `"closesAt" must be after "opensAt".`);
	}
}

/** What fans may see of a drop: its state, but a pause shows as the state it interrupts (the fans already in keep their turn). */
export type DropStatus = Exclude<DropState, "paused">;

/** Whether the sale has closed at `now` (ms). */
export const hasClosed = (drop: Pick<DropConfig, "closesAt">, now: number) => drop.closesAt !== null && Date.parse(drop.closesAt) <= now;

export function publicStatus(drop: Pick<LifeFacts, "opensAt" | "closesAt" | "cancelledAt">, soldOut: boolean, now: number): DropStatus {
	const state = dropState({ ...drop, paused: false }, soldOut, now);
	return state === "paused" ? "open" : state;
}

/** Lines a drop gets unless the promoter says: one per 500 tickets, so a big drop's joins spread from the start. */
export function defaultLineCount(capacity: number): number {
	return Math.min(MAX_LINES, Math.max(1, Math.ceil(capacity / 500)));
}
