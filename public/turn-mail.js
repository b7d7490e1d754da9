// The fan page's "Email me when my turn comes" form, shown while the fan waits in
// line for returned tickets after a sell-out: it sends the address (and the page's
// language) to POST /api/drops/:id/notify with the fan's queue token, and says the
// answer, or the refusal in an alert. What it keeps on the device, per drop, is only
// that it was asked and the address, so a reload shows the answer again. DOM by textContent.
import { $, api, show, storage, text } from "/common.js";
import { errorText, locale, t } from "/i18n.js";

const store = storage("local");
let dropId = "";
let queueToken = () => null;

const keyOf = () => `tdrop:turn-mail:${dropId}`;

/** The address asked for on this device, or null. */
function kept() {
	try {
		const value = JSON.parse(store.get(keyOf()) ?? "null");
		return value && typeof value.email === "string" ? value : null;
	} catch {
		return null;
	}
}

/** `token`: the fan's current queue token (it may be renewed once the fan is placed). */
export function setUpTurnMail({ id, token }) {
	dropId = id;
	queueToken = token;
	$("turn-mail-form").addEventListener("submit", send);
	$("turn-mail-change").addEventListener("click", () => {
		show("turn-mail-done", false);
		show("turn-mail-form", true);
		$("turn-mail-email").focus();
	});
}

/** Whether the block has been drawn on this page: later polls leave it alone, so nothing moves under the fan's typing. */
let drawn = false;

/** Draws the block: shown only while the fan is in line for returned tickets (`inReturnsLine`). */
export function renderTurnMail(inReturnsLine) {
	show("turn-mail", inReturnsLine);
	if (!inReturnsLine || drawn) return;
	drawn = true;
	const mine = kept();
	if (mine !== null) {
		$("turn-mail-email").value = mine.email;
		text("turn-mail-done-text", t("turnMail.kept", { email: mine.email }));
	}
	show("turn-mail-done", mine !== null);
	show("turn-mail-form", mine === null);
}

async function send(event) {
	event.preventDefault();
	const email = $("turn-mail-email").value.trim();
	const button = $("turn-mail-send");
	show("turn-mail-error", false);
	button.disabled = true;
	try {
		const answer = await api(`/api/drops/${encodeURIComponent(dropId)}/notify`, { method: "POST", token: queueToken(), body: { email, locale } });
		store.set(keyOf(), JSON.stringify({ email: answer.email }));
		$("turn-mail-email").removeAttribute("aria-invalid");
		text("turn-mail-done-text", t("turnMail.kept", { email: answer.email }));
		show("turn-mail-form", false);
		show("turn-mail-done", true);
		$("turn-mail-done").focus();
	} catch (err) {
		// The address at fault is said as such, and marked on its field.
		const badEmail = err.details?.field === "email";
		$("turn-mail-email").setAttribute("aria-invalid", String(badEmail));
		text("turn-mail-error", badEmail ? t("turnMail.badEmail") : err.code === "mail_unavailable" ? t("turnMail.noMail") : errorText(err));
		show("turn-mail-error", true);
		$("turn-mail-error").focus();
	} finally {
		button.disabled = false;
	}
}
