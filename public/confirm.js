// A confirm step for what cannot be taken back (a refund, tickets given back): a
// modal <dialog> that names what will happen, with the safe choice focused first.
// Escape or the safe button backs out; focus returns to the button that asked.
// Shared by the fan page and the promoter page; no dependencies.

/** The dialog on screen, if any, and how to settle it. */
let current = null;

/**
 * Asks before acting: answers true when the person chose `confirm`, false when they
 * backed out (the safe button, Escape, or `closeConfirm` because the page moved on).
 */
export function confirmStep({ title, body, confirm, keep, opener = document.activeElement }) {
	closeConfirm();
	const dialog = document.createElement("dialog");
	dialog.className = "confirm";
	dialog.id = "confirm-dialog";
	dialog.setAttribute("aria-labelledby", "confirm-title");
	dialog.setAttribute("aria-describedby", "confirm-body");
	const heading = Object.assign(document.createElement("h2"), { id: "confirm-title", textContent: title });
	const text = Object.assign(document.createElement("p"), { id: "confirm-body", textContent: body });
	// method="dialog": either button closes the dialog with its value as the answer, no script needed per button.
	const form = Object.assign(document.createElement("form"), { method: "dialog" });
	const safe = Object.assign(document.createElement("button"), { type: "submit", value: "keep", className: "secondary", textContent: keep });
	const act = Object.assign(document.createElement("button"), { type: "submit", value: "confirm", className: "danger", textContent: confirm });
	safe.autofocus = true;
	const actions = Object.assign(document.createElement("div"), { className: "actions" });
	actions.append(safe, act);
	form.append(actions);
	dialog.append(heading, text, form);
	document.body.append(dialog);
	return new Promise((resolve) => {
		const settle = () => {
			if (current?.dialog !== dialog) return;
			current = null;
			dialog.remove();
			// Back where the person was: the button that asked, while it is still on the page.
			if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
			resolve(dialog.returnValue === "confirm");
		};
		current = { dialog, settle };
		dialog.addEventListener("close", settle);
		dialog.returnValue = "";
		dialog.showModal();
		safe.focus();
	});
}

/** Backs out of the dialog on screen (the page moved on under it): its question no longer stands. */
export function closeConfirm() {
	if (current === null) return;
	const { dialog, settle } = current;
	dialog.returnValue = "";
	if (dialog.open) dialog.close();
	settle();
}
