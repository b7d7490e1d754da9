// The seller's side of face-value resale on the fan page's order view: a button
// per ticket that may be listed (behind a confirm step naming the face value and
// what comes back), a withdraw button (behind its own confirm step) while the
// listing is open, and what became of a listing once it ended. DOM by textContent.
import { confirmStep } from "/confirm.js";
import { api } from "/common.js";
import { errorText, formatMoney, t } from "/i18n.js";

/** The order's listings and whether a ticket may be listed now; null when they cannot be read (the controls are left out). */
export async function orderListings(order, orderToken) {
	if (!orderToken || !order.orderId) return null;
	try {
		return await api(`/api/orders/${encodeURIComponent(order.orderId)}/listings`, { token: orderToken });
	} catch {
		return null;
	}
}

/** Each ticket's open listing by its code, so the transfer controls leave a listed ticket alone. */
export function openListings(resale) {
	return new Map((resale?.listings ?? []).filter((l) => l.state === "open").map((l) => [l.ticket, l]));
}

/**
 * Adds each ticket's resale controls to its list item (`items` in the order of `order.passes`). `changed` is
 * called after a listing is made or withdrawn, to read the order again.
 */
export function addResaleControls(items, order, resale, orderToken, changed) {
	if (!orderToken || !order.passes || resale === null) return;
	const open = openListings(resale);
	// The latest listing of each ticket that ended, for what became of it.
	const ended = new Map(resale.listings.filter((l) => l.state !== "open").map((l) => [l.ticket, l]));
	order.passes.forEach((pass, i) => {
		const li = items[i];
		if (!li) return;
		const box = document.createElement("div");
		box.className = "resale";
		const note = Object.assign(document.createElement("p"), { className: "meta resale-note" });
		note.setAttribute("aria-live", "polite");
		const listing = open.get(pass.code);
		const past = ended.get(pass.code);
		const money = (l) => formatMoney(l.payoutCents, l.currency);
		if (listing) {
			note.textContent = t("resale.listed", { payout: money(listing) });
			const withdraw = button(t("resale.withdraw"));
			withdraw.addEventListener("click", async () => {
				const sure = await confirmStep({ title: t("resale.withdrawTitle"), body: t("resale.withdrawBody"), confirm: t("resale.withdrawConfirm"), keep: t("resale.withdrawKeep"), opener: withdraw });
				if (!sure) return;
				withdraw.disabled = true;
				try {
					await api(`/api/orders/${encodeURIComponent(order.orderId)}/listings/${encodeURIComponent(listing.listingId)}`, { method: "DELETE", token: orderToken });
					note.textContent = t("resale.withdrawn");
					changed();
				} catch (err) {
					note.textContent = errorText(err);
					withdraw.disabled = false;
				}
			});
			box.append(note, withdraw);
		} else if (past?.state === "sold") {
			note.textContent = t("resale.sold", { payout: money(past) });
			box.append(note);
		} else if (pass.state === "valid" && pass.token && !pass.transfer && resale.resale.open) {
			if (past?.state === "returned") note.textContent = t("resale.returned");
			const start = button(t("resale.start", { n: i + 1 }));
			start.addEventListener("click", async () => {
				const price = order.unitPriceCents ?? 0;
				const fee = Math.min(price, resale.resale.feeCents + Math.floor((price * resale.resale.feePercent) / 100));
				const body = t("resale.confirmBody", { price: formatMoney(price, order.currency), payout: formatMoney(price - fee, order.currency) });
				const sure = await confirmStep({ title: t("resale.confirmTitle"), body, confirm: t("resale.confirm"), keep: t("resale.keep"), opener: start });
				if (!sure) return;
				start.disabled = true;
				try {
					await api(`/api/orders/${encodeURIComponent(order.orderId)}/tickets/${encodeURIComponent(pass.code)}/resale`, { method: "POST", token: orderToken });
					changed();
				} catch (err) {
					note.textContent = errorText(err);
					start.disabled = false;
				}
			});
			box.append(start, note);
		} else if (past?.state === "returned") {
			note.textContent = t("resale.returned");
			box.append(note);
		} else return;
		li.append(box);
	});
}

const button = (label) => Object.assign(document.createElement("button"), { type: "button", className: "secondary", textContent: label });
