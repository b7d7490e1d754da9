// The seat map fans draw: every seat of a drop's seated types with its
// section, row and number, from D1's seat directory, in the promoter's order. The
// layout changes only before the opening, so it is cached for a minute (in the
// isolate and by browsers), one D1 read per section a minute per isolate at most.
import * as z from "zod";
import type { SeatMap } from "../contract/fan-answers";
import { parseQuery } from "../contract/requests";
import { BoundedMap } from "../shared/bounded-map";

const MAX_AGE_MS = 60_000;
const MAX_ENTRIES = 200;
const cache = new BoundedMap<string, { at: number; value: SeatMap }>(MAX_ENTRIES);

export const SeatMapQuery = z.object({
	ticketType: z.string().max(32).optional().meta({ description: "Only this type's seats." }),
	section: z.string().max(32).optional().meta({ description: "Only this section's seats." }),
});

/** The drop's seats, grouped by type, section and row: each row's seats as [number, id] pairs. */
export async function seatMap(db: D1Database, dropId: string, rawQuery: Record<string, string | string[] | undefined>, now = Date.now()): Promise<SeatMap> {
	const query = parseQuery(SeatMapQuery, rawQuery);
	const key = `${dropId}\n${query.ticketType ?? ""}\n${query.section ?? ""}`;
	const hit = cache.get(key);
	if (hit && now - hit.at < MAX_AGE_MS && now >= hit.at) return hit.value;
	const { results } = await db
		.prepare(
			`SELECT ticket_type, section, row_name, number, seat_id FROM seats WHERE drop_id = ?1
			 AND (?2 IS NULL OR ticket_type = ?2) AND (?3 IS NULL OR section = ?3) ORDER BY rowid`,
		)
		.bind(dropId, query.ticketType ?? null, query.section ?? null)
		.all<{ ticket_type: string; section: string; row_name: string; number: number; seat_id: string }>();
	const types: SeatMap["ticketTypes"] = [];
	for (const r of results) {
		let type = types[types.length - 1];
		if (!type || type.id !== r.ticket_type) types.push((type = { id: r.ticket_type, sections: [] }));
		let section = type.sections.find((s) => s.name === r.section);
		if (!section) type.sections.push((section = { name: r.section, rows: [] }));
		let row = section.rows.find((x) => x.row === r.row_name);
		if (!row) section.rows.push((row = { row: r.row_name, seats: [] }));
		row.seats.push([r.number, r.seat_id]);
	}
	const value: SeatMap = { dropId, ticketTypes: types };
	cache.set(key, { at: now, value });
	return value;
}
