// The promoter page's ticket types (issue 14): an editor in the create form
// (general, seated with a seats CSV file, timeslots), the seats CSV upload of a
// drop that has not opened (errors shown by line), and sold per type from the
// audit. admin.js calls it; it only uses the admin API.
import { $, formatMoney, formatNumber, show, text } from "/common.js";

const el = (tag, props = {}, ...children) => {
	const node = document.createElement(tag);
	for (const [k, v] of Object.entries(props)) {
		if (k === "text") node.textContent = v;
		else if (k === "class") node.className = v;
		else node.setAttribute(k, v);
	}
	node.append(...children);
	return node;
};

/** A labelled input whose errors show under it (admin.js's setFieldError finds `<id>-error`). */
function field(id, label, input, hint = null) {
	input.id = id;
	const error = el("p", { class: "field-error", id: `${id}-error`, hidden: "" });
	input.setAttribute("aria-describedby", `${hint ? `${id}-hint ` : ""}${id}-error`);
	return el("div", {}, el("label", { for: id, text: label }), input, ...(hint ? [el("p", { class: "hint", id: `${id}-hint`, text: hint })] : []), error);
}

let rows = 0;

/** The create form's types: "Add a ticket type" adds a row; none means the drop is one general type of its capacity. */
export function typesEditor(container, addButton) {
	const list = el("ol", { class: "type-rows" });
	container.replaceChildren(list);

	function addRow() {
		const n = rows++;
		const i = () => [...list.children].indexOf(item);
		const kind = el("select", {}, el("option", { value: "general", text: "General admission" }), el("option", { value: "seated", text: "Reserved seats" }), el("option", { value: "timeslot", text: "Timeslots" }));
		const inputs = {
			id: el("input", { type: "text", maxlength: "32", spellcheck: "false", value: `type${n + 1}` }),
			name: el("input", { type: "text", maxlength: "120" }),
			kind,
			price: el("input", { type: "number", inputmode: "decimal", min: "0", step: "0.01" }),
			maxPerFan: el("input", { type: "number", inputmode: "numeric", min: "1", max: "20", step: "1", placeholder: "the drop's" }),
			capacity: el("input", { type: "number", inputmode: "numeric", min: "1", step: "1" }),
			slots: el("textarea", { rows: "3", spellcheck: "false", placeholder: "10am,2026-12-01T10:00:00Z,50" }),
			seats: el("input", { type: "file", accept: ".csv,text/csv" }),
		};
		const parts = {
			capacity: field(`t${n}-capacity`, "Tickets of this type", inputs.capacity),
			slots: field(`t${n}-slots`, "Slots, one a line: id,start time (ISO),capacity", inputs.slots),
			seats: field(`t${n}-seats`, "Seats (CSV file: id,section,row,number)", inputs.seats, "Errors are shown by line; nothing is saved unless every line is good."),
		};
		const remove = el("button", { type: "button", class: "secondary", text: "Remove this type" });
		const item = el(
			"li",
			{ class: "type-row" },
			el(
				"fieldset",
				{},
				el("legend", { text: `Ticket type ${n + 1}` }),
				el("div", { class: "row" }, field(`t${n}-id`, "Type id", inputs.id), field(`t${n}-name`, "Type name", inputs.name), field(`t${n}-kind`, "Kind of tickets", kind)),
				el("div", { class: "row" }, field(`t${n}-price`, "Price (blank: the drop's)", inputs.price), field(`t${n}-maxPerFan`, "Limit per fan of this type", inputs.maxPerFan)),
				parts.capacity,
				parts.slots,
				parts.seats,
				el("div", { class: "actions" }, remove),
			),
		);
		const fields = () => {
			const k = i();
			const names = { id: "id", name: "name", kind: "kind", price: "priceCents", maxPerFan: "maxPerFan", capacity: "capacity", slots: "slots", seats: "seatsCsv" };
			for (const [key, input] of Object.entries(inputs)) input.dataset.field = `ticketTypes.${k}.${names[key]}`;
		};
		const showKind = () => {
			show(parts.capacity, kind.value === "general");
			show(parts.slots, kind.value === "timeslot");
			show(parts.seats, kind.value === "seated");
		};
		kind.addEventListener("change", showKind);
		remove.addEventListener("click", () => {
			item.remove();
			for (const row of list.children) row.renumber();
		});
		item.renumber = fields;
		item.read = async (problems) => {
			const t = { id: inputs.id.value.trim(), name: inputs.name.value.trim() || inputs.id.value.trim(), kind: kind.value };
			if (inputs.price.value.trim() !== "") t.priceCents = Math.round(Number(inputs.price.value) * 100);
			if (inputs.maxPerFan.value.trim() !== "") t.maxPerFan = Number(inputs.maxPerFan.value);
			if (kind.value === "general") {
				if (inputs.capacity.value.trim() === "") problems.push([inputs.capacity, "Enter how many tickets of this type."]);
				t.capacity = Number(inputs.capacity.value);
			} else if (kind.value === "timeslot") {
				t.slots = inputs.slots.value
					.split("\n")
					.map((line) => line.trim())
					.filter(Boolean)
					.map((line) => {
						const [id, startsAt, capacity] = line.split(",").map((x) => x.trim());
						return { id, startsAt, capacity: Number(capacity) };
					});
				if (t.slots.length === 0) problems.push([inputs.slots, "Enter at least one slot."]);
			} else if (inputs.seats.files.length > 0) {
				t.seatsCsv = await inputs.seats.files[0].text();
			}
			return t;
		};
		list.append(item);
		fields();
		showKind();
		inputs.id.focus();
	}

	addButton.addEventListener("click", addRow);
	return {
		/** The types as the API takes them (empty: none), and what the page can already tell is missing. */
		async read(problems) {
			const out = [];
			for (const row of list.children) out.push(await row.read(problems));
			return out;
		},
		clear() {
			list.replaceChildren();
		},
	};
}

/** The drop's types on its page: price, units, sold / held / left per type (from the audit), and a seats upload for seated types before the opening. */
export function typesPanel(container, { adminApi, onChanged }) {
	let drop = null;
	let named = null;
	/** What the last upload of each type said, kept across redraws. */
	const notes = new Map();

	function render() {
		if (!drop) return;
		const price = (cents) => (cents === 0 ? "free" : formatMoney(cents, drop.currency));
		const table = el(
			"table",
			{ class: "sold-by-type", id: "types-table" },
			el("caption", { text: "Sold per ticket type" }),
			el("thead", {}, el("tr", {}, ...["Type", "Kind", "Price", "Units", "Sold", "Held", "Left"].map((h) => el("th", { scope: "col", text: h })))),
		);
		const body = el("tbody");
		for (const t of drop.ticketTypes) {
			const n = named?.types.find((x) => x.ticketType === t.id);
			const units = t.kind === "seated" ? ` in ${t.sections?.length ?? 0} section(s)` : t.kind === "timeslot" ? ` in ${t.slots.length} slot(s)` : "";
			const cells = [t.kind, price(t.priceCents), `${formatNumber(t.capacity)}${units}`, n ? formatNumber(n.sold) : "–", n ? formatNumber(n.held) : "–", n ? formatNumber(n.free) : "–"];
			body.append(el("tr", { "data-type": t.id }, el("th", { scope: "row", text: t.name }), ...cells.map((c) => el("td", { text: c }))));
		}
		table.append(body);
		// On a phone the table scrolls within its own box (focusable, so a keyboard scrolls it too) rather than breaking words.
		const parts = [el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Sold per ticket type (scrolls sideways)" }, table)];
		const opened = Date.parse(drop.opensAt) <= Date.now();
		for (const t of drop.ticketTypes.filter((x) => x.kind === "seated")) {
			// Seats change only before the opening, and never on a cancelled drop.
			if (opened || drop.status === "cancelled") continue;
			const id = `upload-${t.id}`;
			const file = el("input", { type: "file", accept: ".csv,text/csv", id });
			const errors = el("div", { class: "notice error", role: "alert", id: `${id}-errors`, hidden: "" });
			const done = el("p", { class: "meta", id: `${id}-done`, "aria-live": "polite", text: notes.get(t.id) ?? "" });
			const button = el("button", { type: "submit", class: "secondary", text: `Upload seats for ${t.name}` });
			const form = el(
				"form",
				{ class: "seat-upload", novalidate: "" },
				el("label", { for: id, text: `Replace the seats of “${t.name}” (CSV: id,section,row,number)` }),
				file,
				el("div", { class: "actions" }, button),
				errors,
				done,
			);
			form.addEventListener("submit", async (event) => {
				event.preventDefault();
				show(errors, false);
				text(done, "");
				if (file.files.length === 0) {
					text(errors, "Choose a CSV file first.");
					return show(errors, true);
				}
				button.disabled = true;
				try {
					const next = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}/ticket-types/${encodeURIComponent(t.id)}/seats`, {
						method: "PUT",
						csv: await file.files[0].text(),
					});
					const type = next.ticketTypes.find((x) => x.id === t.id);
					notes.set(t.id, `Saved ${formatNumber(type.capacity)} seats in ${type.sections.length} section(s).`);
					text(done, notes.get(t.id));
					onChanged(next);
				} catch (err) {
					// The engine names the line: "Line 17: seat "A-1-1" is listed twice in this drop."
					text(errors, err.details?.line ? `Nothing was saved. ${err.message}` : `Nothing was saved: ${err.message}`);
					show(errors, true);
				} finally {
					button.disabled = false;
				}
			});
			parts.push(form);
		}
		container.replaceChildren(...parts);
	}

	return {
		drop(next) {
			const changed = !drop || drop.id !== next.id || JSON.stringify(drop.ticketTypes) !== JSON.stringify(next.ticketTypes) || drop.opensAt !== next.opensAt;
			if (drop?.id !== next.id) {
				named = null;
				notes.clear();
			}
			drop = next;
			// Redrawn only when something shown changed: a file being chosen is not lost every two seconds.
			if (changed) render();
		},
		sold(auditNamed) {
			named = auditNamed;
			for (const t of drop?.ticketTypes ?? []) {
				const n = named?.types.find((x) => x.ticketType === t.id);
				const row = container.querySelector(`tr[data-type="${CSS.escape(t.id)}"]`);
				if (!row || !n) continue;
				const cells = row.querySelectorAll("td");
				text(cells[3], formatNumber(n.sold));
				text(cells[4], formatNumber(n.held));
				text(cells[5], formatNumber(n.free));
			}
		},
	};
}
