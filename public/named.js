// The fan page's ticket types: the types with their prices, a seat map (SVG,
// drawn from section, row and number, with the stage, a legend and the price)
// where seats are picked with the pointer, "best available", the same seats as
// a list by section and row for keyboards and screen readers (one Tab stop, the
// arrow keys between seats), and timeslots with what is left. While the map is
// shown it reads the availability again every few seconds, so a seat another
// fan takes shows taken. It only reads the public API (availability and the
// seat map) and builds the hold's body; fan.js sends it.
import { api } from "/common.js";
import { formatDateTime, formatList, formatMoney, formatNumber, t } from "/i18n.js";
import { seatDirectory, seatIdsInWords, seatName, seatsInWords, sectionName } from "/seat-words.js";

const SVG = "http://www.w3.org/2000/svg";
/** One seat's cell in the map, in CSS pixels: the map is drawn at this size (it scrolls sideways where it is wider than the screen), so a seat is a 24 px target. */
const SEAT = 30;
const SEAT_RADIUS = 12;
/**
 * How often the shown map reads the availability again. The engine's copy is at most a second or two old: each
 * isolate asks the pacer at most once a second, and the pacer reads each shard at most once a second, however
 * many fans refresh (an isolate with no copy yet asks once per fan; docs/capacity.md). So a seat another fan
 * takes shows taken within about five seconds.
 */
export const MAP_REFRESH_MS = 3_000;
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
	const price = (cents) => (cents === 0 ? t("price.free") : formatMoney(cents, drop.currency));
	const state = { typeId: drop.ticketTypes[0].id, slot: null, section: "", picked: new Map(), availability: null, rovingSeat: null };
	let root = null;
	let refreshTimer = null;
	/**
	 * Each seat's nodes as drawn, by its id: the map's glyph and title, the list's item and checkbox
	 * (null while taken), its row in the list and whether it was free. A refresh patches only the
	 * seats whose state changed through this, instead of finding each seat in the document.
	 */
	let seatNodes = new Map();
	/** Whether the choice is on screen: the seats are read again only then. */
	let watching = false;
	/** The seats drawn as picked: a change of picks touches only those and the new ones. */
	let shownPicked = new Set();

	const typeOf = (id) => drop.ticketTypes.find((t) => t.id === id);
	const leftOf = (id) => state.availability?.ticketTypes.find((t) => t.id === id) ?? null;

	async function refresh() {
		try {
			state.availability = await api(`/api/drops/${encodeURIComponent(dropId)}/availability`);
		} catch {
			// Without it the page still works: the engine decides at the hold.
		}
	}

	const seatsOf = async (typeId) => (await seatDirectory(dropId, typeId)).sections;

	function typePicker() {
		const fieldset = el("fieldset", { id: "type-choice" }, el("legend", { text: t("seats.type") }));
		for (const type of drop.ticketTypes) {
			const left = leftOf(type.id);
			const id = `type-${type.id}`;
			const input = el("input", { type: "radio", name: "ticket-type", id, value: type.id, checked: type.id === state.typeId });
			input.disabled = left !== null && left.remaining === 0;
			input.addEventListener("change", () => {
				state.typeId = type.id;
				state.slot = null;
				state.section = "";
				state.picked.clear();
				void draw();
			});
			const words = `${type.name} · ${price(type.priceCents)}${left === null ? "" : ` · ${left.remaining === 0 ? t("seats.soldOut") : t("seats.left", { count: left.remaining, n: formatNumber(left.remaining) })}`}`;
			fieldset.append(el("div", { class: "radio" }, input, el("label", { for: id, text: words })));
		}
		return fieldset;
	}

	function slotPicker(type) {
		const left = leftOf(type.id);
		const fieldset = el("fieldset", { id: "slot-choice" }, el("legend", { text: t("seats.time") }));
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
			const words = `${formatDateTime(s.startsAt)} · ${remaining === null ? t("seats.places", { count: s.capacity, n: formatNumber(s.capacity) }) : remaining === 0 ? t("seats.full") : t("seats.left", { count: remaining, n: formatNumber(remaining) })}`;
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

	/**
	 * The map and the list show the same picks; the summary says them in words, written only when its
	 * words change. Only a picked seat lost to another fan is announced: a pick the fan makes is heard
	 * from the checkbox itself.
	 */
	function syncPicks(note = "") {
		for (const id of new Set([...shownPicked, ...state.picked.keys()])) {
			const entry = seatNodes.get(id);
			if (!entry) continue;
			const on = state.picked.has(id);
			entry.glyph.classList.toggle("picked", on);
			if (entry.input) entry.input.checked = on;
		}
		shownPicked = new Set(state.picked.keys());
		const picked = [...state.picked.values()];
		const summary = root.querySelector("#seat-picked");
		const words = `${note}${picked.length === 0 ? t("seats.nonePicked") : t("seats.picked", { seats: seatsInWords(picked) })}`;
		if (summary && summary.textContent !== words) summary.textContent = words;
		const lost = root.querySelector("#seat-lost");
		if (lost && note) lost.textContent = note.trim();
		onPick(picked.length);
	}

	/** Free seats as sets of numbers: section → row → Set. */
	function freeSeats(type) {
		const free = new Map();
		for (const s of leftOf(type.id)?.sections ?? []) free.set(s.name, new Map(s.rows.map((r) => [r.row, numbers(r.free)])));
		return free;
	}

	/** One seat on the map: a circle with a tick when picked and a cross when taken, so no state is told by colour alone. */
	function seatGlyph(cx, cy, cls, attrs = {}) {
		const g = svg("g", { class: cls, ...attrs });
		g.append(
			svg("circle", { cx, cy, r: SEAT_RADIUS }),
			svg("path", { class: "seat-tick", d: `M${cx - 5} ${cy}l3.5 4l6.5 -8` }),
			svg("path", { class: "seat-cross", d: `M${cx - 5} ${cy - 5}l10 10m0 -10l-10 10` }),
		);
		return g;
	}

	function legend(type) {
		const swatch = (cls) => {
			const box = svg("svg", { viewBox: `0 0 ${SEAT} ${SEAT}`, width: 24, height: 24, "aria-hidden": "true", focusable: "false" });
			box.append(seatGlyph(SEAT / 2, SEAT / 2, cls));
			return box;
		};
		const list = el("ul", { id: "seat-legend", "aria-label": t("seats.key") });
		for (const [cls, words] of [
			["seat free", t("seats.keyFree")],
			["seat taken", t("seats.keyTaken")],
			["seat free picked", t("seats.keyPicked")],
		])
			list.append(el("li", {}, swatch(cls), el("span", { text: words })));
		const sections = formatList((type.sections ?? []).map((s) => sectionName(s.name)));
		return el(
			"div",
			{ id: "seat-key" },
			el("p", { id: "seat-price", text: t(sections ? "seats.priceSections" : "seats.price", { type: type.name, price: price(type.priceCents), sections }) }),
			list,
		);
	}

	/** The map: the stage at the top, one block per section, a row per line, seats by number. Pointer only (the list is its keyboard twin). */
	function seatMapSvg(sections, isFree) {
		const width = Math.max(1, ...sections.flatMap((s) => s.rows.map((r) => Math.max(...r.seats.map(([n]) => n)))));
		const height = 2 + sections.reduce((a, s) => a + s.rows.length + 1.5, 0);
		const w = (width + 2) * SEAT;
		const map = svg("svg", { id: "seat-map", viewBox: `0 0 ${w} ${height * SEAT}`, width: w, height: height * SEAT, "aria-hidden": "true", focusable: "false" });
		map.append(svg("rect", { class: "stage", x: SEAT, y: 4, width: w - 2 * SEAT, height: SEAT, rx: 6 }));
		const stage = svg("text", { class: "stage-label", x: w / 2, y: 4 + SEAT * 0.68, "text-anchor": "middle" });
		stage.textContent = t("seats.stage");
		map.append(stage);
		let y = 1.8;
		for (const section of sections) {
			const label = svg("text", { x: 0, y: (y + 0.9) * SEAT, class: "seat-section-label" });
			label.textContent = sectionName(section.name);
			map.append(label);
			y += 1.2;
			for (const row of section.rows) {
				const rowLabel = svg("text", { x: 2, y: (y + 0.65) * SEAT, class: "seat-row-label" });
				rowLabel.textContent = row.row;
				map.append(rowLabel);
				for (const [number, id] of row.seats) {
					const open = isFree(section.name, row.row, number);
					const seat = { id, section: section.name, row: row.row, number };
					const node = seatGlyph((number + 1) * SEAT, (y + 0.5) * SEAT, open ? "seat free" : "seat taken", { "data-seat": id });
					node.addEventListener("click", () => {
						if (node.classList.contains("free")) togglePick(seat);
					});
					const title = svg("title");
					title.textContent = open ? seatName(seat) : t("seats.takenSeat", { seat: seatName(seat) });
					node.append(title);
					map.append(node);
					seatNodes.set(id, { seat, open, glyph: node, title, item: null, input: null, row: null });
				}
				y += 1;
			}
			y += 0.3;
		}
		return map;
	}

	/** The free seats as checkboxes by section and row: one Tab stop, the arrow keys move between seats. Drawn after the map (its seats' entries). */
	function seatList(sections, isFree) {
		const body = el("div", { class: "seat-list-body" });
		for (const section of sections) {
			const group = el("fieldset", { class: "seat-section" }, el("legend", { text: sectionName(section.name) }));
			for (const row of section.rows) {
				const legend = el("legend");
				const listRow = { name: row.row, box: el("fieldset", { class: "seat-row" }, legend), legend, ids: row.seats.map(([, id]) => id) };
				for (const [number, id] of row.seats) {
					const entry = seatNodes.get(id) ?? { seat: { id, section: section.name, row: row.row, number }, open: isFree(section.name, row.row, number) };
					entry.row = listRow;
					seatNodes.set(id, entry);
					if (entry.open) listRow.box.append(listItem(entry));
				}
				rowWords(listRow);
				group.append(listRow.box);
			}
			body.append(group);
		}
		body.addEventListener("keydown", moveByKey);
		return body;
	}

	/** A free seat's checkbox in the list, made once and kept while the seat stays free. */
	function listItem(entry) {
		const { seat } = entry;
		const inputId = `seat-${seat.id}`;
		const input = el("input", { type: "checkbox", id: inputId, "data-seat": seat.id, tabIndex: -1 });
		input.checked = state.picked.has(seat.id);
		input.addEventListener("change", () => togglePick(seat));
		input.addEventListener("focus", () => rove(input));
		entry.input = input;
		entry.item = el("span", { class: "seat-check" }, input, el("label", { for: inputId, text: t("seats.seat", { number: seat.number }), title: seatName(seat) }));
		return entry.item;
	}

	/** A row's legend: how many of its seats are free. */
	function rowWords(listRow) {
		const free = listRow.ids.filter((id) => seatNodes.get(id)?.open).length;
		const words = t("seats.rowLegend", { row: listRow.name, free: free === 0 ? t("seats.noneFree") : t("seats.free", { count: free, n: formatNumber(free) }) });
		if (listRow.legend.textContent !== words) listRow.legend.textContent = words;
	}

	/** A seat freed again goes back into its row of the list, in seat order. */
	function putBack(entry) {
		const { ids, box } = entry.row;
		const after = ids.slice(ids.indexOf(entry.seat.id) + 1).map((id) => seatNodes.get(id)).find((e) => e.open && e.item?.isConnected);
		box.insertBefore(entry.item?.isConnected ? entry.item : listItem(entry), after?.item ?? null);
	}

	/** A seat taken leaves the list; focus on it moves to the seat beside it rather than falling to the page. */
	function takeOut(entry) {
		const { item, input } = entry;
		if (!item) return;
		const beside = item.nextElementSibling?.querySelector("input") ?? item.previousElementSibling?.querySelector?.("input") ?? null;
		const hadFocus = input !== null && document.activeElement === input;
		item.remove();
		entry.item = null;
		entry.input = null;
		if (state.rovingSeat === entry.seat.id || hadFocus) {
			rove(beside);
			if (hadFocus) root.querySelector('#seat-list input[tabindex="0"]')?.focus();
		}
	}

	/** The one seat of the list that Tab reaches: the last one focused while it is still free, else the first. */
	function rove(input = null) {
		const inputs = [...root.querySelectorAll("#seat-list input[data-seat]")];
		const target = input ?? inputs.find((i) => i.getAttribute("data-seat") === state.rovingSeat) ?? inputs[0];
		for (const i of inputs) i.tabIndex = i === target ? 0 : -1;
		if (target) state.rovingSeat = target.getAttribute("data-seat");
	}

	/** Left and right: the seat before or after (across rows); up and down: the nearest seat in the row above or below; Home and End: the row's ends. */
	function moveByKey(event) {
		if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(event.key)) return;
		const here = event.target.closest?.("input[data-seat]");
		if (!here) return;
		const rows = [...root.querySelectorAll("#seat-list .seat-row")].map((r) => [...r.querySelectorAll("input[data-seat]")]).filter((r) => r.length > 0);
		const flat = rows.flat();
		const r = rows.findIndex((row) => row.includes(here));
		const c = rows[r].indexOf(here);
		let next = null;
		if (event.key === "ArrowRight") next = flat[flat.indexOf(here) + 1];
		else if (event.key === "ArrowLeft") next = flat[flat.indexOf(here) - 1];
		else if (event.key === "ArrowDown") next = rows[r + 1]?.[Math.min(c, rows[r + 1].length - 1)];
		else if (event.key === "ArrowUp") next = rows[r - 1]?.[Math.min(c, rows[r - 1].length - 1)];
		else if (event.key === "Home") next = rows[r][0];
		else next = rows[r][rows[r].length - 1];
		event.preventDefault();
		if (next) {
			rove(next);
			next.focus();
		}
	}

	async function seatPicker(type) {
		const left = leftOf(type.id);
		const sections = await seatsOf(type.id);
		const box = el("div", { id: "seat-choice" });
		seatNodes = new Map();
		shownPicked = new Set();
		const select = el("select", { id: "seat-section" }, el("option", { value: "", text: t("seats.anySection") }));
		for (const s of type.sections ?? []) {
			const remaining = left?.sections?.find((x) => x.name === s.name)?.remaining;
			select.append(el("option", { value: s.name, text: `${sectionName(s.name)}${remaining === undefined ? "" : ` · ${t("seats.left", { count: remaining, n: formatNumber(remaining) })}`}` }));
		}
		select.value = state.section;
		select.addEventListener("change", () => (state.section = select.value));
		box.append(el("label", { for: "seat-section", text: t("seats.bestIn") }), select);
		box.append(el("p", { class: "hint", text: t("seats.orPick") }));

		const free = freeSeats(type);
		const isFree = (section, row, number) => free.get(section)?.get(row)?.has(number) ?? false;
		box.append(legend(type));
		// Drawn at full size: where it is wider than the screen it scrolls sideways (a keyboard scrolls it once it is focused).
		box.append(el("div", { id: "seat-map-box", tabIndex: 0, role: "region", "aria-label": t("seats.mapLabel") }, seatMapSvg(sections, isFree)));

		const list = el(
			"details",
			{ id: "seat-list" },
			el("summary", { text: t("seats.listSummary") }),
			el("p", { class: "hint", id: "seat-list-hint", text: t("seats.listHint") }),
			seatList(sections, isFree),
		);
		// The summary is read where it stands; only a picked seat lost to another fan is said aloud.
		box.append(list, el("p", { id: "seat-picked" }), el("p", { id: "seat-lost", class: "visually-hidden", "aria-live": "polite" }));
		return box;
	}

	/**
	 * The availability read again while the seat map is shown: seats taken since turn taken on the map and leave
	 * the list (a picked one is unpicked, and the fan told), seats freed come back. Only the seats whose state
	 * changed are touched, by their entries: the list is patched in place, never redrawn under the fan's focus.
	 */
	async function refreshSeats() {
		const type = typeOf(state.typeId);
		if (type.kind !== "seated" || !root.querySelector("#seat-map") || document.hidden) return;
		const before = JSON.stringify(leftOf(type.id)?.sections ?? null);
		await refresh();
		if (JSON.stringify(leftOf(type.id)?.sections ?? null) === before || state.typeId !== type.id || !root.querySelector("#seat-map")) return;
		const free = freeSeats(type);
		const isFree = (section, row, number) => free.get(section)?.get(row)?.has(number) ?? false;
		const sections = await seatsOf(type.id);
		const lost = [];
		const rows = new Set();
		for (const section of sections)
			for (const row of section.rows)
				for (const [number, id] of row.seats) {
					const open = isFree(section.name, row.row, number);
					const entry = seatNodes.get(id);
					if (!entry || entry.open === open) continue;
					entry.open = open;
					entry.glyph.classList.toggle("free", open);
					entry.glyph.classList.toggle("taken", !open);
					entry.title.textContent = open ? seatName(entry.seat) : t("seats.takenSeat", { seat: seatName(entry.seat) });
					if (open) putBack(entry);
					else takeOut(entry);
					rows.add(entry.row);
					if (!open && state.picked.has(id)) {
						lost.push(state.picked.get(id));
						state.picked.delete(id);
					}
				}
		for (const row of rows) rowWords(row);
		syncPicks(lost.length === 0 ? "" : `${t("seats.justTaken", { seats: seatsInWords(lost) })} `);
	}

	/** While the choice is the fan's view (fan.js says when, by watch and stop): the seats read again every few seconds. */
	function watchSeats() {
		clearTimeout(refreshTimer);
		refreshTimer = null;
		if (!watching) return;
		refreshTimer = setTimeout(async () => {
			if (!watching || !root?.isConnected) return;
			if (root.closest("[hidden]") === null) await refreshSeats().catch(() => {});
			watchSeats();
		}, MAP_REFRESH_MS);
	}

	async function draw() {
		const type = typeOf(state.typeId);
		const parts = [typePicker()];
		if (type.kind === "timeslot") parts.push(slotPicker(type));
		if (type.kind === "seated") parts.push(await seatPicker(type));
		root.replaceChildren(...parts);
		if (type.kind === "seated") {
			rove();
			syncPicks();
		} else onPick(0);
	}

	return {
		async render(container) {
			root = container;
			await refresh();
			// Start on a type that has something left.
			const first = drop.ticketTypes.find((t) => (leftOf(t.id)?.remaining ?? 1) > 0);
			if (first && (leftOf(state.typeId)?.remaining ?? 1) === 0) state.typeId = first.id;
			await draw();
			watchSeats();
		},
		/** Availability changed (a hold was refused): read it again and redraw, keeping the type. */
		async reload() {
			state.picked.clear();
			await refresh();
			await draw();
		},
		/** The choice is shown: its seats are read again every few seconds from now. */
		watch() {
			watching = true;
			watchSeats();
		},
		/** The fan moved on: no more reads until the choice is shown again. */
		stop() {
			watching = false;
			watchSeats();
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

/**
 * A hold or order's units in words: "Stalls: Section A, row 1, seats 2 and 3" or "Museum, 10:00". Seats are
 * named by `seatWords` (seatIdsInWords, or the order's passes); without it, only counted: never by their ids.
 */
export function unitsInWords(drop, held, seatWords = null) {
	if (!held.ticketType) return "";
	const type = drop.ticketTypes.find((t) => t.id === held.ticketType);
	const name = type ? type.name : held.ticketType;
	if (held.seats) {
		const words = seatWords ?? t("seats.count", { count: held.seats.length, n: formatNumber(held.seats.length) });
		return t(held.together === false ? "seats.unitsApart" : "seats.units", { type: name, seats: words });
	}
	if (held.slot) {
		const slot = type?.slots?.find((s) => s.id === held.slot);
		return t("seats.slotUnit", { type: name, when: slot ? formatDateTime(slot.startsAt) : held.slot });
	}
	return name;
}

/** The seats of a hold or order in words, from the order's passes when they name them, else from the seat map. */
export async function seatWordsOf(dropId, held) {
	if (!held.seats || !held.ticketType) return null;
	const named = (held.passes ?? []).map((p) => p.seat).filter(Boolean);
	if (named.length === held.seats.length) return seatsInWords(named);
	return seatIdsInWords(dropId, held.ticketType, held.seats);
}

/** The price of one unit of a hold's type (the drop's price for a general hold). */
export const unitPrice = (drop, held) => drop.ticketTypes.find((t) => t.id === held.ticketType)?.priceCents ?? drop.priceCents;
