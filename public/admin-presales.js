// The promoter page's sale windows (presales) and their code groups: the windows
// built in the create form (each checked by the engine when the drop is made,
// fixed from then on), each window's line (its pre-queue, placed and admitted
// fans, from its public fairness data) and sales (from the audit's part for it),
// and the code groups: unique codes handed over once as a CSV download (the
// engine keeps only their hashes), a shared code with a cap, a list of fan ids
// uploaded; per group how many it let in, and a revoke behind a confirm step.
// Everything goes in by textContent.
import { $, formatDateTime, formatNumber, plural, show, text } from "/common.js";
import { confirmStep } from "/confirm.js";
import { createZone } from "/create-checks.js";
import { wallToIso } from "/zoned-time.js";

const ACCESS = { code: "codes", list: "a list of fans", registered: "registration" };
const KIND = { unique: "unique codes", shared: "a shared code", list: "a list of fans" };

function el(tag, props = {}, ...children) {
	const node = Object.assign(document.createElement(tag), props);
	node.append(...children);
	return node;
}

/** A datetime-local value on the drop's wall clock (the create form's time zone); the API wants ISO 8601 with a zone. */
const wallIso = (value) => wallToIso(value, createZone()) ?? undefined;

// --- the create form's windows ------------------------------------------------

/**
 * The windows editor inside the create form. Each window's inputs carry
 * `data-field="presales.N.field"`, so an engine refusal (422 invalid_presales names
 * the field) lands by its input; N is renumbered whenever a window is removed.
 */
export function windowsEditor(container, addButton) {
	let made = 0;
	const renumber = () => {
		[...container.children].forEach((box, i) => {
			box.querySelector("legend").textContent = `Sale window ${i + 1}`;
			for (const input of box.querySelectorAll("[data-key]")) input.dataset.field = `presales.${i}.${input.dataset.key}`;
		});
	};
	const field = (box, n, key, label, input, hint = null) => {
		const id = `w${n}-${key}`;
		Object.assign(input, { id });
		input.dataset.key = key;
		const error = el("p", { className: "field-error", id: `${id}-error`, hidden: true });
		const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
		input.setAttribute("aria-describedby", described);
		const wrap = el("div", {}, el("label", { htmlFor: id, textContent: label }), input);
		if (hint) wrap.append(el("p", { className: "hint", id: `${id}-hint`, textContent: hint }));
		wrap.append(error);
		box.append(wrap);
		return input;
	};
	const add = () => {
		const n = ++made;
		const box = el("fieldset", { className: "window-box" }, el("legend"));
		const row = () => box.appendChild(el("div", { className: "row" }));
		field(box, n, "name", "Window name", el("input", { type: "text", maxLength: 120, required: true }));
		field(box, n, "id", "Window id", el("input", { type: "text", maxLength: 32, required: true, spellcheck: false, autocomplete: "off" }), "Letters, digits, _ or -; codes and the window’s line are kept under it.");
		const times = row();
		field(times, n, "opensAt", "Window opens at (the drop's time zone)", el("input", { type: "datetime-local", step: 1, required: true }));
		field(times, n, "closesAt", "Window closes at", el("input", { type: "datetime-local", step: 1, required: true }));
		const access = el("select", {});
		for (const [value, words] of Object.entries({ code: "Codes (unique, or shared with a cap)", list: "A list of fan ids", registered: "Registration (codes the engine issues)" })) access.append(new Option(words, value));
		field(box, n, "access", "Who may join", access);
		const limits = row();
		field(limits, n, "capacity", "Window’s tickets (optional)", el("input", { type: "number", inputMode: "numeric", min: 1, step: 1 }), "Empty: no cap of its own.");
		field(limits, n, "maxPerFan", "Window’s limit per fan (optional)", el("input", { type: "number", inputMode: "numeric", min: 1, max: 20, step: 1 }), "Empty: the drop’s.");
		const remove = el("button", { type: "button", className: "secondary", textContent: "Remove this window" });
		remove.addEventListener("click", () => {
			box.remove();
			renumber();
			addButton.focus();
		});
		box.append(el("div", { className: "actions" }, remove));
		container.append(box);
		renumber();
		box.querySelector("input").focus();
	};
	addButton.addEventListener("click", add);
	return {
		/** The windows as the API takes them; an empty required field is a problem by its input. */
		read(problems) {
			return [...container.children].map((box) => {
				const v = (key) => box.querySelector(`[data-key="${key}"]`);
				for (const key of ["name", "id", "opensAt", "closesAt"]) {
					if (v(key).value.trim() === "") problems.push([v(key), `Enter the window’s ${{ name: "name", id: "id", opensAt: "opening time", closesAt: "closing time" }[key]}.`]);
				}
				const num = (key) => (v(key).value.trim() === "" ? undefined : Number(v(key).value));
				const w = { id: v("id").value.trim(), name: v("name").value.trim(), opensAt: wallIso(v("opensAt").value), closesAt: wallIso(v("closesAt").value), access: v("access").value, capacity: num("capacity"), maxPerFan: num("maxPerFan") };
				for (const [k, x] of Object.entries(w)) if (x === undefined) delete w[k];
				return w;
			});
		},
		clear() {
			container.replaceChildren();
		},
	};
}

// --- a drop's windows and code groups ----------------------------------------

let readsOnly = false;
let current = null;

export function presalesRole(reads) {
	readsOnly = reads;
}

/** Another drop chosen: nothing of the last one stays on screen. */
export function clearPresales() {
	current = null;
	show("presales-panel", false);
	$("windows-rows").replaceChildren();
	$("groups-rows").replaceChildren();
	text("groups-status", "");
}

/** The audit's part per window (sold, held, capacity), kept until the next audit. */
let windowSales = new Map();

export function windowsAudited(windows) {
	windowSales = new Map((windows ?? []).map((w) => [w.id, w]));
	if (current) drawWindows(current.drop, current.lines);
}

/** Reads each window's line and the code groups and draws them, unless another drop is on screen by then. */
export async function refreshPresales(adminApi, drop, isCurrent) {
	if (!drop.presales?.length) return clearPresales();
	show("presales-panel", true);
	const id = encodeURIComponent(drop.id);
	const [lines, { groups }] = await Promise.all([
		Promise.all(drop.presales.map((w) => adminApi(`/api/drops/${id}/fairness?window=${encodeURIComponent(w.id)}`).catch(() => null))),
		adminApi(`/api/admin/drops/${id}/code-groups`),
	]);
	if (!isCurrent()) return;
	const first = current?.drop.id !== drop.id;
	current = { drop, lines, adminApi, isCurrent };
	drawWindows(drop, lines);
	drawGroups(groups);
	if (first) fillWindowChoice(drop);
}

function cell(tag, value) {
	const c = el(tag, { textContent: value });
	if (tag === "th") c.scope = "row";
	return c;
}

function drawWindows(drop, lines) {
	const now = Date.now();
	$("windows-rows").replaceChildren(
		...drop.presales.map((w, i) => {
			const line = lines[i];
			const state = now < Date.parse(w.opensAt) ? "not open yet" : now < Date.parse(w.closesAt) ? "open" : "closed";
			// The pre-queue's size is published at the window's opening, with its seed; before it, only that it is waiting.
			const inLine = line === null ? "–" : line.prequeueSize === null ? (state === "not open yet" ? "pre-queue, shuffled at its opening" : `${formatNumber(line.lastPosition)} placed`) : `${formatNumber(line.lastPosition)} placed (${formatNumber(line.prequeueSize)} from its pre-queue)`;
			const sales = windowSales.get(w.id);
			const sold = sales ? `${formatNumber(sales.sold)} sold, ${formatNumber(sales.held)} held${w.capacity === null ? "" : ` of ${formatNumber(w.capacity)}`}` : "–";
			const tr = el("tr");
			tr.dataset.window = w.id;
			tr.append(cell("th", w.name), cell("td", `${formatDateTime(w.opensAt, drop.timeZone)} to ${formatDateTime(w.closesAt, drop.timeZone)} (${state})`), cell("td", ACCESS[w.access]), cell("td", inLine), cell("td", line === null ? "–" : formatNumber(line.admittedThrough)), cell("td", sold));
			return tr;
		}),
	);
}

function drawGroups(groups) {
	const windows = new Map(current.drop.presales.map((w) => [w.id, w.name]));
	text("groups-empty", groups.length === 0 ? "No code groups yet." : "");
	$("groups-rows").replaceChildren(
		...groups.map((g) => {
			const tr = el("tr");
			tr.dataset.group = g.id;
			const size = g.kind === "shared" ? `one code, up to ${formatNumber(g.cap)} fans` : g.kind === "unique" ? plural(g.size, "code") : plural(g.size, "fan");
			tr.append(cell("th", g.name), cell("td", windows.get(g.windowId) ?? g.windowId), cell("td", `${KIND[g.kind]}: ${size}`), cell("td", formatNumber(g.used)), cell("td", g.revokedAt === null ? "active" : `revoked ${formatDateTime(g.revokedAt)}`));
			const action = el("td");
			if (g.revokedAt === null && !readsOnly && g.issuedBy !== "engine") {
				const button = el("button", { type: "button", className: "secondary", textContent: `Revoke ${g.name}` });
				button.addEventListener("click", () => void revoke(g, button));
				action.append(button);
			}
			tr.append(action);
			return tr;
		}),
	);
}

async function revoke(g, opener) {
	const sure = await confirmStep({
		title: `Revoke the group ${g.name}?`,
		body: `Its ${g.kind === "list" ? "listed fans" : "codes"} are refused from then on, fans already let in by them too when they join again. ${plural(g.used, "fan")} used it so far. It cannot be undone.`,
		confirm: "Revoke the group",
		keep: "Keep it",
		opener,
	});
	if (!sure || !current) return;
	const { adminApi, drop, isCurrent } = current;
	opener.disabled = true;
	try {
		await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}/code-groups/${encodeURIComponent(g.id)}/revoke`, { method: "POST" });
		text("groups-status", `${g.name} is revoked.`);
		await refreshPresales(adminApi, drop, isCurrent);
	} catch (err) {
		opener.disabled = false;
		text("groups-status", `Could not revoke ${g.name}: ${err.message}`);
	}
}

// --- the new group form --------------------------------------------------------

/** The windows that take groups made here (a registered window's codes are the engine's). */
function fillWindowChoice(drop) {
	const select = $("g-window");
	select.replaceChildren(...drop.presales.filter((w) => w.access !== "registered").map((w) => new Option(`${w.name} (${ACCESS[w.access]})`, w.id)));
	show("group-form", select.options.length > 0 && !readsOnly);
	kindsFor();
}

/** A list window takes lists; a code window unique or shared codes. */
function kindsFor() {
	const w = current?.drop.presales.find((x) => x.id === $("g-window").value);
	const kinds = w?.access === "list" ? ["list"] : ["unique", "shared"];
	const select = $("g-kind");
	if ([...select.options].map((o) => o.value).join() !== kinds.join()) select.replaceChildren(...kinds.map((k) => new Option(KIND[k][0].toUpperCase() + KIND[k].slice(1), k)));
	showKind();
}

function showKind() {
	const kind = $("g-kind").value;
	show("g-count-box", kind === "unique");
	show("g-cap-box", kind === "shared");
	show("g-fans-box", kind === "list");
}

function groupError(message, input = null) {
	text("group-error", message ?? "");
	show("group-error", Boolean(message));
	for (const id of ["g-name", "g-count", "g-cap", "g-fans"]) $(id).removeAttribute("aria-invalid");
	if (message && input) {
		input.setAttribute("aria-invalid", "true");
		input.focus();
	}
}

async function createGroup(event) {
	event.preventDefault();
	if (!current) return;
	const { adminApi, drop, isCurrent } = current;
	groupError(null);
	const kind = $("g-kind").value;
	const body = { windowId: $("g-window").value, kind, name: $("g-name").value.trim() };
	if (body.name === "") return groupError("Enter the group’s name.", $("g-name"));
	if (kind === "unique") body.count = Number($("g-count").value);
	if (kind === "shared") body.cap = Number($("g-cap").value);
	if (kind === "list") body.fans = $("g-fans").value.split(/[\s,]+/).filter(Boolean);
	if (kind === "list" && body.fans.length === 0) return groupError("Enter the fan ids, one a line.", $("g-fans"));
	const button = $("group-button");
	button.disabled = true;
	try {
		const path = `/api/admin/drops/${encodeURIComponent(drop.id)}/code-groups`;
		if (kind === "unique") {
			// The codes exist in this one answer only: asked for as the CSV, and handed to the browser as a download.
			const res = await adminApi(path, { method: "POST", body, headers: { Accept: "text/csv" }, raw: true });
			const url = URL.createObjectURL(await res.blob());
			const a = el("a", { href: url, download: `codes-${drop.id}-${body.windowId}.csv` });
			document.body.append(a);
			a.click();
			a.remove();
			setTimeout(() => URL.revokeObjectURL(url), 30_000);
			text("groups-status", `${body.name}: ${plural(body.count, "code")} made and downloaded as a CSV. Keep that file: the engine keeps only the codes’ hashes and cannot show them again.`);
		} else {
			const group = await adminApi(path, { method: "POST", body });
			text("groups-status", kind === "shared" ? `${group.name}: the shared code is ${group.codes[0]}, for up to ${formatNumber(group.cap)} fans. Note it now: it is shown this once.` : `${group.name}: ${plural(group.size, "fan")} listed.`);
		}
		$("g-name").value = "";
		$("g-fans").value = "";
		await refreshPresales(adminApi, drop, isCurrent);
	} catch (err) {
		if (err.status === 401) return;
		const input = { count: $("g-count"), cap: $("g-cap"), fans: $("g-fans"), name: $("g-name") }[err.details?.field] ?? null;
		groupError(`The group was not made: ${err.message}`, input);
	} finally {
		button.disabled = false;
	}
}

/** A list file's ids into the box (a header row named like "fan" or "fanId" left out), so the promoter sees them before the group is made. */
async function readFansFile() {
	const file = $("g-fans-file").files?.[0];
	if (!file) return;
	const ids = (await file.text()).split(/\r?\n/).map((line) => line.split(",")[0].trim()).filter((id) => id !== "" && !/^fan[ _]?id$|^fan$/i.test(id));
	$("g-fans").value = ids.join("\n");
	text("groups-status", `${plural(ids.length, "fan id")} read from ${file.name}.`);
}

export function wirePresales() {
	$("g-fans-file").addEventListener("change", () => void readFansFile());
	$("g-window").addEventListener("change", kindsFor);
	$("g-kind").addEventListener("change", showKind);
	$("group-form").addEventListener("submit", createGroup);
}
