// The fan page's ticket types (issue 14): the types with their prices, a seat
// map (SVG, drawn from section, row and number) where seats are picked with the
// pointer, "best available", the same seats as a list by section and row for
// keyboards and screen readers, and timeslots with what is left. It only reads
// the public API (availability and the seat map) and builds the hold's body;
// fan.js sends it.
import { api, formatDateTime, formatMoney, formatNumber } from "/common.js";

const SVG = "http://www.w3.org/2000/svg";
const SEAT = 22;
/** Seats picked at most: the API takes 20 seats a hold. */
const MAX_PICK = 20;

/** Whether the drop has more than the one general-admission type of an old-style drop. */
export const hasNamedTypes = (drop) => Array.isArray(drop.ticketTypes) && (drop.ticketTypes.length > 1 || drop.ticketTypes[0].kind !== "general");

const el = (tag, props = {}, ...children) => {
	const node = document.createElement(tag);
	for (const [k, v] of Object.entries(props)) {
		if (k === "text") node.textContent = v;
		else if (k in node && typeof v !== "string") node[k] = v;
		else node.setAttribute(k, v);
	}
	node.append(...children);
	return node;
};

const svg = (tag, attrs = {}) => {
	const node = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
	return node;
};

/** "1-4,7" → [1,2,3,4,7] */
function numbers(ranges) {
	const out = new Set();
	for (const part of ranges.split(",").filter(Boolean)) {
		const [a, b] = part.split("-").map(Number);
		for (let n = a; n <= (b ?? a); n++) out.add(n);
	}
	return out;
}

/**
 * The chooser: render(root) draws it for the drop's types; body(quantity) is the hold's
 * body for what the fan chose; describe() says it in words; onPick(count) tells fan.js
 * how many seats are picked (the quantity then follows them).
 */
export function namedChooser({ drop, dropId, onPick }) {
	const price = (cents) => (cents === 0 ? "Free" : formatMoney(cents, drop.currency));
	const state = { typeId: drop.ticketTypes[0].id, slot: null, section: "", picked: new Map(), availability: null, maps: new Map() };
	let root = null;

	const typeOf = (id) => drop.ticketTypes.find((t) => t.id === id);
	const leftOf = (id) => state.availability?.ticketTypes.find((t) => t.id === id) ?? null;

	async function refresh() {
		try {
			state.availability = await api(`/api/drops/${encodeURIComponent(dropId)}/availability`);
		} catch {
			// Without it the page still works: the engine decides at the hold.
		}
	}

	async function seatsOf(typeId) {
		if (!state.maps.has(typeId)) {
			const map = await api(`/api/drops/${encodeURIComponent(dropId)}/seats?ticketType=${encodeURIComponent(typeId)}`);
			state.maps.set(typeId, map.ticketTypes[0]?.sections ?? []);
		}
		return state.maps.get(typeId);
	}

	function typePicker() {
		const fieldset = el("fieldset", { id: "type-choice" }, el("legend", { text: "Ticket type" }));
		for (const t of drop.ticketTypes) {
			const left = leftOf(t.id);
			const id = `type-${t.id}`;
			const input = el("input", { type: "radio", name: "ticket-type", id, value: t.id, checked: t.id === state.typeId });
			input.disabled = left !== null && left.remaining === 0;
			input.addEventListener("change", () => {
				state.typeId = t.id;
				state.slot = null;
				state.section = "";
				state.picked.clear();
				void draw();
			});
			const words = `${t.name} · ${price(t.priceCents)}${left === null ? "" : ` · ${left.remaining === 0 ? "sold out" : `${formatNumber(left.remaining)} left`}`}`;
			fieldset.append(el("div", { class: "radio" }, input, el("label", { for: id, text: words })));
		}
		return fieldset;
	}

	function slotPicker(type) {
		const left = leftOf(type.id);
		const fieldset = el("fieldset", { id: "slot-choice" }, el("legend", { text: "Time" }));
		for (const s of type.slots) {
			const remaining = left?.slots?.find((x) => x.id === s.id)?.remaining ?? null;
			const id = `slot-${s.id}`;
			const input = el("input", { type: "radio", name: "slot", id, value: s.id, checked: state.slot === s.id });
			input.disabled = remaining === 0;
			if (state.slot === null && remaining !== 0) {
				state.slot = s.id;
				input.checked = true;
			}
			input.addEventListener("change", () => (state.slot = s.id));
			const words = `${formatDateTime(s.startsAt)} · ${remaining === null ? `${formatNumber(s.capacity)} places` : remaining === 0 ? "full" : `${formatNumber(remaining)} left`}`;
			fieldset.append(el("div", { class: "radio" }, input, el("label", { for: id, text: words })));
		}
		return fieldset;
	}

	function togglePick(seat) {
		if (state.picked.has(seat.id)) state.picked.delete(seat.id);
		else {
			// Seats of one hold are in one section.
			for (const [id, s] of state.picked) if (s.section !== seat.section) state.picked.delete(id);
			if (state.picked.size >= Math.min(MAX_PICK, typeOf(state.typeId).maxPerFan)) return;
			state.picked.set(seat.id, seat);
		}
		syncPicks();
	}

	/** The map and the list show the same picks; the summary says them in words. */
	function syncPicks() {
		for (const node of root.querySelectorAll("[data-seat]")) {
			const on = state.picked.has(node.getAttribute("data-seat"));
			if (node.tagName === "INPUT") node.checked = on;
			else node.classList.toggle("picked", on);
		}
		const picked = [...state.picked.values()];
		root.querySelector("#seat-picked").textContent =
			picked.length === 0
				? "No seats picked: holding asks for the best available."
				: `Picked: ${picked.map((s) => `section ${s.section} row ${s.row} seat ${s.number}`).join(", ")}.`;
		onPick(picked.length);
	}

	async function seatPicker(type) {
		const left = leftOf(type.id);
		const sections = await seatsOf(type.id);
		const box = el("div", { id: "seat-choice" });
		const select = el("select", { id: "seat-section" }, el("option", { value: "", text: "Any section (best available)" }));
		for (const s of type.sections ?? []) {
			const remaining = left?.sections?.find((x) => x.name === s.name)?.remaining;
			select.append(el("option", { value: s.name, text: `Section ${s.name}${remaining === undefined ? "" : ` · ${formatNumber(remaining)} left`}` }));
		}
		select.value = state.section;
		select.addEventListener("change", () => (state.section = select.value));
		box.append(el("label", { for: "seat-section", text: "Best available in" }), select);
		box.append(el("p", { class: "hint", text: "Or pick seats on the map (the list below does the same with a keyboard). Seats of one hold are in one section." }));

		const free = new Map();
		for (const s of left?.sections ?? []) free.set(s.name, new Map(s.rows.map((r) => [r.row, numbers(r.free)])));
		const isFree = (section, row, number) => free.get(section)?.get(row)?.has(number) ?? false;

		// The map: one block per section, a row per line, seats by number. Pointer only (the list is its keyboard twin).
		const width = Math.max(1, ...sections.flatMap((s) => s.rows.map((r) => Math.max(...r.seats.map(([n]) => n)))));
		const height = sections.reduce((a, s) => a + s.rows.length + 1.5, 0);
		const map = svg("svg", { id: "seat-map", viewBox: `0 0 ${(width + 2) * SEAT} ${height * SEAT}`, "aria-hidden": "true", focusable: "false" });
		let y = 0;
		for (const section of sections) {
			const label = svg("text", { x: 0, y: (y + 0.9) * SEAT, class: "seat-section-label" });
			label.textContent = `Section ${section.name}`;
			map.append(label);
			y += 1.2;
			for (const row of section.rows) {
				const rowLabel = svg("text", { x: 2, y: (y + 0.75) * SEAT, class: "seat-row-label" });
				rowLabel.textContent = row.row;
				map.append(rowLabel);
				for (const [number, id] of row.seats) {
					const open = isFree(section.name, row.row, number);
					const seat = svg("circle", { cx: (number + 1) * SEAT, cy: (y + 0.5) * SEAT, r: SEAT * 0.38, class: open ? "seat free" : "seat taken", "data-seat": id });
					if (open) seat.addEventListener("click", () => togglePick({ id, section: section.name, row: row.row, number }));
					const title = svg("title");
					title.textContent = `Section ${section.name}, row ${row.row}, seat ${number}${open ? "" : " (taken)"}`;
					seat.append(title);
					map.append(seat);
				}
				y += 1;
			}
			y += 0.3;
		}
		box.append(map);

		// The same seats as a list by section and row: free ones as checkboxes.
		const list = el("details", { id: "seat-list" }, el("summary", { text: "Choose seats from a list (keyboard and screen readers)" }));
		for (const section of sections) {
			const group = el("fieldset", { class: "seat-section" }, el("legend", { text: `Section ${section.name}` }));
			for (const row of section.rows) {
				const open = row.seats.filter(([n]) => isFree(section.name, row.row, n));
				const rowBox = el("fieldset", { class: "seat-row" }, el("legend", { text: `Row ${row.row}: ${open.length === 0 ? "no free seats" : `${open.length} free`}` }));
				for (const [number, id] of open) {
					const inputId = `seat-${id}`;
					const input = el("input", { type: "checkbox", id: inputId, "data-seat": id });
					input.addEventListener("change", () => togglePick({ id, section: section.name, row: row.row, number }));
					rowBox.append(el("span", { class: "seat-check" }, input, el("label", { for: inputId, text: `Seat ${number}` })));
				}
				group.append(rowBox);
			}
			list.append(group);
		}
		box.append(list, el("p", { id: "seat-picked", "aria-live": "polite" }));
		return box;
	}

	async function draw() {
		const type = typeOf(state.typeId);
		const parts = [typePicker()];
		if (type.kind === "timeslot") parts.push(slotPicker(type));
		if (type.kind === "seated") parts.push(await seatPicker(type));
		root.replaceChildren(...parts);
		if (type.kind === "seated") syncPicks();
		else onPick(0);
	}

	return {
		async render(container) {
			root = container;
			await refresh();
			// Start on a type that has something left.
			const first = drop.ticketTypes.find((t) => (leftOf(t.id)?.remaining ?? 1) > 0);
			if (first && (leftOf(state.typeId)?.remaining ?? 1) === 0) state.typeId = first.id;
			await draw();
		},
		/** Availability changed (a hold was refused): read it again and redraw, keeping the type. */
		async reload() {
			state.picked.clear();
			await refresh();
			await draw();
		},
		type: () => typeOf(state.typeId),
		body(quantity) {
			const type = typeOf(state.typeId);
			if (type.kind === "timeslot") return { ticketType: type.id, slot: state.slot, quantity };
			if (type.kind === "seated" && state.picked.size > 0) {
				const picked = [...state.picked.values()];
				return { ticketType: type.id, section: picked[0].section, seats: picked.map((s) => s.id) };
			}
			if (type.kind === "seated") return { ticketType: type.id, quantity, ...(state.section ? { section: state.section } : {}) };
			return { ticketType: type.id, quantity };
		},
	};
}

/** A hold or order's units in words: "Seated: seats A-1-2, A-1-3" or "Museum, 10:00". */
export function unitsInWords(drop, held) {
	if (!held.ticketType) return "";
	const type = drop.ticketTypes.find((t) => t.id === held.ticketType);
	const name = type ? type.name : held.ticketType;
	if (held.seats) return `${name}: seat${held.seats.length === 1 ? "" : "s"} ${held.seats.join(", ")}${held.together === false ? " (not side by side)" : ""}`;
	if (held.slot) {
		const slot = type?.slots?.find((s) => s.id === held.slot);
		return `${name}, ${slot ? formatDateTime(slot.startsAt) : held.slot}`;
	}
	return name;
}

/** The price of one unit of a hold's type (the drop's price for a general hold). */
export const unitPrice = (drop, held) => drop.ticketTypes.find((t) => t.id === held.ticketType)?.priceCents ?? drop.priceCents;
