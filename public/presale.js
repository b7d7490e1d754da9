// The fan page's sale windows (a drop's presales before its general sale): which
// window is open and until when, which opens next, who each is for, when the
// general sale opens, and the code field a window that takes codes asks for. The
// engine decides every join (docs/api.md, "Sale windows and codes"); this only
// says the same rules in the fan's words, so a fan knows before pressing Join
// whether they need a code, and reads a refusal next to the field it is about.
import { $, show, text } from "/common.js";
import { errorText, formatDateTime, t } from "/i18n.js";

/** The refusals a join's code meets: said under the code field, not only in the page's alert. */
export const CODE_REFUSALS = new Set(["code_required", "code_invalid", "code_used", "code_exhausted", "code_revoked"]);

const startOf = (w) => Date.parse(w.opensAt);
const endOf = (w) => Date.parse(w.closesAt);

/** The window open at `at` (ms) and the next one not open yet; windows never overlap, so at most one is open. */
export function windowsAt(presales, at) {
	const list = presales ?? [];
	return { open: list.find((w) => startOf(w) <= at && at < endOf(w)) ?? null, next: list.find((w) => at < startOf(w)) ?? null };
}

/**
 * What the code field is for at `at`: `required` while a window that takes codes is open
 * (without one the engine answers code_required); `optional` before such a window opens,
 * when no window is open (a fan with its code waits in its pre-queue, one without joins the
 * general sale); null otherwise (a list window's fans join without one, as the engine does).
 */
export function codeNeed(presales, at) {
	const { open } = windowsAt(presales, at);
	if (open !== null) return open.access === "list" ? null : { need: "required", window: open };
	const upcoming = (presales ?? []).find((w) => w.access !== "list" && at < startOf(w));
	return upcoming === undefined ? null : { need: "optional", window: upcoming };
}

/** The window a join goes to, as the engine decides it: the open one, else with a code the next that takes one. */
export function windowForJoin(presales, at, withCode) {
	const { open } = windowsAt(presales, at);
	if (open !== null || !withCode) return open;
	return (presales ?? []).find((w) => w.access !== "list" && at < startOf(w)) ?? null;
}

/** Who a window is for, in words: its access ("registration" for a registered window). */
export const accessWords = (w) => t(`presale.for.${w.access}`, { name: w.name });

/** The next moment (ms) a window opens or closes after `at`: the page reads the drop again then. */
export function nextBoundary(presales, at) {
	const times = (presales ?? []).flatMap((w) => [startOf(w), endOf(w)]).filter((x) => x > at);
	return times.length === 0 ? null : Math.min(...times);
}

/** Draws the windows' block and the code field of the intro for the moment `at`. */
export function renderWindows(drop, at) {
	const presales = drop.presales ?? [];
	show("windows-block", presales.length > 0);
	const need = drop.status === "scheduled" ? codeNeed(presales, at) : null;
	show("code-block", need !== null);
	if (presales.length === 0) return;
	const { open, next } = windowsAt(presales, at);
	show("window-open", open !== null);
	if (open !== null) text("window-open", `${t("presale.open", { name: open.name, when: formatDateTime(open.closesAt) })} ${accessWords(open)}`);
	show("window-next", next !== null);
	if (next !== null) text("window-next", `${t("presale.next", { name: next.name, when: formatDateTime(next.opensAt) })} ${accessWords(next)}`);
	text("window-general", t("presale.general", { when: formatDateTime(drop.opensAt) }));
	if (need === null) return;
	const input = $("code");
	input.required = need.need === "required";
	input.setAttribute("aria-required", String(need.need === "required"));
	text("code-label", t(need.need === "required" ? "code.labelRequired" : "code.label", { name: need.window.name }));
	text("code-hint", t(need.need === "required" ? "code.hintRequired" : "code.hintOptional", { name: need.window.name }));
}

/** The code the fan typed, or undefined when the field is hidden or empty (the engine then decides without one). */
export function typedCode() {
	if ($("code-block").hidden) return undefined;
	const value = $("code").value.trim();
	return value === "" ? undefined : value;
}

/** A join's refusal of its code, said under the field, which gets the focus; false for any other refusal, or where no field is shown. */
export function codeRefused(err) {
	// A list window asks for no code: a fan not on its list reads the refusal in the page's alert.
	if (!CODE_REFUSALS.has(err?.code) || $("code-block").hidden) return false;
	const input = $("code");
	text("code-error", errorText(err));
	show("code-error", true);
	input.setAttribute("aria-invalid", "true");
	input.focus();
	return true;
}

/** Clears the field's refusal (a new join is on its way). */
export function clearCodeError() {
	show("code-error", false);
	text("code-error", "");
	$("code").removeAttribute("aria-invalid");
}
