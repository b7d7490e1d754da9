// The buyer's side of a ticket transfer on the fan page's order view: a button per
// ticket that may still be handed on (behind a confirm step), the accept link to
// send once made (kept on this device, since the engine keeps only its hash), and
// a cancel button until the recipient accepts. DOM by textContent.
import { confirmStep } from "/confirm.js";
import { api, storage } from "/common.js";
import { errorText, t } from "/i18n.js";

const LINKS = "transfer-links";
const local = storage("local");

/** The accept links made on this device, by transfer id. */
function links() {
	try {
		return JSON.parse(local.get(LINKS) ?? "{}");
	} catch {
		return {};
	}
}

function keepLink(transferId, url) {
	const all = links();
	all[transferId] = url;
	local.set(LINKS, JSON.stringify(all));
}

/**
 * Adds each ticket's transfer controls to its list item (`items` in the order of `order.passes`). `changed` is
 * called after a transfer is made or cancelled, to read the order again.
 */
export function addTransferControls(items, order, orderToken, changed) {
	if (!orderToken || !order.passes) return;
	order.passes.forEach((pass, i) => {
		const li = items[i];
		if (!li) return;
		const box = document.createElement("div");
		box.className = "transfer";
		const note = Object.assign(document.createElement("p"), { className: "meta transfer-note" });
		note.setAttribute("aria-live", "polite");
		if (pass.state === "transferred") {
			note.textContent = t("transfer.done");
			box.append(note);
		} else if (pass.transfer?.state === "pending") {
			note.textContent = t("transfer.pending");
			box.append(note);
			const url = links()[pass.transfer.transferId];
			if (url) box.append(linkField(url, i));
			const cancel = Object.assign(document.createElement("button"), { type: "button", className: "secondary", textContent: t("transfer.cancel") });
			cancel.addEventListener("click", async () => {
				cancel.disabled = true;
				try {
					await api(`/api/orders/${encodeURIComponent(order.orderId)}/transfers/${encodeURIComponent(pass.transfer.transferId)}`, { method: "DELETE", token: orderToken });
					note.textContent = t("transfer.cancelled");
					changed();
				} catch (err) {
					note.textContent = errorText(err);
					cancel.disabled = false;
				}
			});
			box.append(cancel);
		} else if (pass.state === "valid" && pass.token && !pass.listed && order.transfers?.open) {
			const start = Object.assign(document.createElement("button"), { type: "button", className: "secondary", textContent: t("transfer.start", { n: i + 1 }) });
			start.addEventListener("click", async () => {
				const sure = await confirmStep({ title: t("transfer.confirmTitle"), body: t("transfer.confirmBody"), confirm: t("transfer.confirm"), keep: t("transfer.keep"), opener: start });
				if (!sure) return;
				start.disabled = true;
				try {
					const made = await api(`/api/orders/${encodeURIComponent(order.orderId)}/tickets/${encodeURIComponent(pass.code)}/transfer`, { method: "POST", token: orderToken });
					keepLink(made.transfer.transferId, new URL(made.acceptPath, location.origin).href);
					changed();
				} catch (err) {
					note.textContent = errorText(err);
					start.disabled = false;
				}
			});
			box.append(start, note);
		} else return;
		li.append(box);
	});
}

/** The accept link, in a read-only field the buyer can select and copy. */
function linkField(url, i) {
	const id = `transfer-link-${i}`;
	const wrap = document.createElement("p");
	const label = Object.assign(document.createElement("label"), { htmlFor: id, textContent: t("transfer.linkLabel") });
	const input = Object.assign(document.createElement("input"), { id, type: "text", readOnly: true, value: url, className: "transfer-link" });
	input.addEventListener("focus", () => input.select());
	wrap.append(label, input);
	return wrap;
}
