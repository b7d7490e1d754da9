// A drop's sale windows before its general sale (presales): how the promoter
// describes them, the rules they keep (in order, not overlapping, all closed by
// the general sale's opening, naming only the drop's own types and staying within
// its limits), and which window is open at a moment. Pure.
import * as z from "zod";
import { TYPE_ID, idText } from "../contract/requests";
import { ValidationError, int, object, oneOf, text, time } from "../shared/validation";
import { type Registration, RegistrationBody, checkRegistration } from "./registration-window";

/** How a window lets fans in: codes the promoter hands out, fan ids it uploads, or unique codes the engine issues to fans drawn from registrations. */
export const PRESALE_ACCESS = ["code", "list", "registered"] as const;
export type PresaleAccess = (typeof PRESALE_ACCESS)[number];

export const MAX_PRESALES = 10;

export interface Presale {
	id: string;
	name: string;
	opensAt: string;
	closesAt: string;
	access: PresaleAccess;
	/** The ticket types its fans may hold; null: every type of the drop. */
	ticketTypes: string[] | null;
	/** Its per-fan cap; null: the drop's. */
	maxPerFan: number | null;
	/** The most tickets it may sell, all shards together; null: no cap of its own. */
	capacity: number | null;
	/** A registered window's registration and draw; absent on the other kinds. */
	registration?: Registration;
}

export const PresaleBody = object({
	id: idText(TYPE_ID, "letters, digits, _ or -").meta({ description: "The window's id, unique in the drop (codes and lines are keyed by it)." }),
	name: text(1, 120),
	opensAt: time(),
	closesAt: time(),
	access: oneOf(PRESALE_ACCESS).meta({ description: "code: codes the promoter makes; list: fan ids the promoter uploads; registered: unique codes the engine issues to fans drawn from registrations." }),
	ticketTypes: z.array(idText(TYPE_ID, "letters, digits, _ or -")).min(1).max(100).optional().meta({ description: "The types its fans may hold; every type when left out." }),
	maxPerFan: int(1, 20).optional().meta({ description: "Its per-fan cap, at most the drop's; the drop's when left out." }),
	capacity: int(1, 10_000_000).optional().meta({ description: "The most tickets the window may sell, all shards together, at most the drop's capacity." }),
	registration: RegistrationBody.optional().meta({ description: "A registered window's registration (required there, refused on the other kinds): when fans may register, and how many the draw invites." }),
});

export const PresalesBody = z.array(PresaleBody).min(1).max(MAX_PRESALES);

const fail = (field: string, message: string) => new ValidationError(422, "invalid_presales", field, message);

/**
 * The windows as kept, checked against the drop they belong to. Every refusal is a 422
 * `invalid_presales` naming the field, before anything is written.
 */
export function checkPresales(
	windows: z.output<typeof PresalesBody>,
	drop: { opensAt: string; capacity: number; maxPerFan: number; typeIds: string[] },
): Presale[] {
	const ids = new Set<string>();
	const out: Presale[] = [];
	windows.forEach((w, i) => {
		const at = `presales.${i}`;
		if (ids.has(w.id)) throw fail(`${at}.id`, `Window ids must be unique in the drop ("${w.id}" is used twice).`);
		ids.add(w.id);
		if (Date.parse(w.closesAt) <= Date.parse(w.opensAt)) throw fail(`${at}.closesAt`, `A window's "closesAt" must be after its "opensAt".`);
		if (i > 0 && Date.parse(w.opensAt) < Date.parse(windows[i - 1]!.closesAt)) {
			throw fail(`${at}.opensAt`, "Windows must be in order and must not overlap: each opens when the one before has closed, or later.");
		}
		if (Date.parse(w.closesAt) > Date.parse(drop.opensAt)) throw fail(`${at}.closesAt`, `Every window must close by the general sale's "opensAt".`);
		const types = w.ticketTypes === undefined ? null : [...new Set(w.ticketTypes)];
		const unknown = types?.find((t) => !drop.typeIds.includes(t));
		if (unknown !== undefined) throw fail(`${at}.ticketTypes`, `"${unknown}" is not one of the drop's ticket types.`);
		if (w.maxPerFan !== undefined && w.maxPerFan > drop.maxPerFan) throw fail(`${at}.maxPerFan`, `A window's "maxPerFan" must not exceed the drop's (${drop.maxPerFan}).`);
		if (w.capacity !== undefined && w.capacity > drop.capacity) throw fail(`${at}.capacity`, `A window's "capacity" must not exceed the drop's (${drop.capacity}).`);
		const registration = checkRegistration(w, at, fail);
		out.push({ id: w.id, name: w.name, opensAt: w.opensAt, closesAt: w.closesAt, access: w.access, ticketTypes: types, maxPerFan: w.maxPerFan ?? null, capacity: w.capacity ?? null, ...(registration === null ? {} : { registration }) });
	});
	return out;
}

/** The window open at `now` (ms), if any: windows never overlap, so at most one. */
export function openPresale(presales: readonly Presale[] | null | undefined, now: number): Presale | null {
	return presales?.find((w) => Date.parse(w.opensAt) <= now && now < Date.parse(w.closesAt)) ?? null;
}

/**
 * What a shard is told of a window with each hold made under its token: the types its
 * fans may hold, its per-fan cap, and this shard's part of its capacity (the window's
 * capacity spread over the shards like the drop's stock, so no window sells past it
 * across all shards whatever the shards decide at once). Null fields: no rule of its own.
 */
export interface WindowRule {
	id: string;
	types: string[] | null;
	maxPerFan: number | null;
	allowance: number | null;
}

export function windowRule(window: Presale, shard: number, shards: number): WindowRule {
	return {
		id: window.id,
		types: window.ticketTypes,
		maxPerFan: window.maxPerFan,
		// As allocateShards spreads the drop's stock (rules.ts imports this file, so not called from here).
		allowance: window.capacity === null ? null : Math.floor(window.capacity / shards) + (shard < window.capacity % shards ? 1 : 0),
	};
}

/** A window by its id, or null when the drop has none of that id. */
export const presaleById = (presales: readonly Presale[] | null | undefined, id: string): Presale | null => presales?.find((w) => w.id === id) ?? null;

/**
 * The window a join goes to: the one open at `now`, else, for a join that brings a code,
 * the next window not open yet (its fans wait in that window's pre-queue, shuffled at its
 * opening like the general sale's). A join without a code before every window goes to the
 * general sale's line, unless its fan is on a list window still to open (listWindowAhead).
 */
export function presaleForJoin(presales: readonly Presale[] | null | undefined, now: number, withCode: boolean): Presale | null {
	const open = openPresale(presales, now);
	if (open !== null || !withCode) return open;
	return presales?.find((w) => w.access !== "list" && now < Date.parse(w.opensAt)) ?? null;
}

/** The next list window not open yet, whose listed fans join its pre-queue without a code. */
export function listWindowAhead(presales: readonly Presale[] | null | undefined, now: number): Presale | null {
	if (openPresale(presales, now) !== null) return null;
	return presales?.find((w) => w.access === "list" && now < Date.parse(w.opensAt)) ?? null;
}
