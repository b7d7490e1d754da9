// Seats in words, as a fan reads them: "Floor, row D, seat 5" from the seat's
// section, row and number (never the promoter's CSV id, which reads like
// another row: "F-D-5"). Seats a hold or an order names by id are looked up in
// the drop's seat map (public, cached a minute by the engine and the browser).
import { api } from "/common.js";
import { formatList, t } from "/i18n.js";

/** A short section name ("A", "12") reads as "Section A"; a named one ("Floor") as itself. */
export const sectionName = (name) => (/^[A-Za-z]?\d*$|^[A-Za-z]{1,2}$/.test(name) ? t("seat.section", { name }) : name);

/** One seat: "Floor, row D, seat 5". */
export const seatName = (seat) => t("seat.one", { section: sectionName(seat.section), row: seat.row, number: seat.number });

/** Several seats, one phrase per row: "Floor, row D, seats 5 and 6; Balcony, row A, seat 1". */
export function seatsInWords(seats) {
	const rows = new Map();
	for (const s of seats) {
		const key = `${s.section}\n${s.row}`;
		if (!rows.has(key)) rows.set(key, { section: s.section, row: s.row, numbers: [] });
		rows.get(key).numbers.push(s.number);
	}
	return [...rows.values()]
		.map(({ section, row, numbers }) => {
			const seats = numbers.length === 1 ? t("seat.number", { number: numbers[0] }) : t("seat.numbers", { numbers: formatList(numbers) });
			return t("seat.row", { section: sectionName(section), row, seats });
		})
		.join(t("seat.rowJoiner"));
}

/** The seat maps read so far, by drop and type: id → { id, section, row, number }. */
const directories = new Map();

/** A type's seats by id, read once per page (a failed read is tried again at the next call). */
export function seatDirectory(dropId, typeId) {
	const key = `${dropId}\n${typeId}`;
	if (!directories.has(key)) {
		const read = api(`/api/drops/${encodeURIComponent(dropId)}/seats?ticketType=${encodeURIComponent(typeId)}`).then(
			(map) => {
				const byId = new Map();
				for (const section of map.ticketTypes[0]?.sections ?? [])
					for (const row of section.rows) for (const [number, id] of row.seats) byId.set(id, { id, section: section.name, row: row.row, number });
				return { sections: map.ticketTypes[0]?.sections ?? [], byId };
			},
			(err) => {
				directories.delete(key);
				throw err;
			},
		);
		directories.set(key, read);
	}
	return directories.get(key);
}

/** Seats named by id, in words ("Floor, row D, seats 5 and 6"), or null when the map cannot be read. */
export async function seatIdsInWords(dropId, typeId, ids) {
	try {
		const { byId } = await seatDirectory(dropId, typeId);
		const seats = ids.map((id) => byId.get(id));
		return seats.every(Boolean) ? seatsInWords(seats) : null;
	} catch {
		return null;
	}
}
