// The recipient's page for a ticket transfer (/transfer#<transferId>.<secret>): reads
// the offer with the link's secret, accepts it, and from then on shows the ticket
// (its rotating code, as the fan page draws it) read with the key the accept
// answered, kept on this device. The link's secret stops showing the ticket once
// accepted: whoever made the link knows it too.
import { $, api, show, storage, text } from "/common.js";
import { chooseLocale, errorText, t, translatePage } from "/i18n.js";
import { ticketItems } from "/tickets.js";

const KEYS = "transfer-keys";
const local = storage("local");

/** 32 random bytes, URL-safe base64: the key this device reads the received ticket with. */
function newKey() {
	const bytes = crypto.getRandomValues(new Uint8Array(32));
	return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function keys() {
	try {
		return JSON.parse(local.get(KEYS) ?? "{}");
	} catch {
		return {};
	}
}

function fail(err) {
	const box = $("accept-error");
	box.textContent = errorText(err);
	show(box, true);
}

/** The recipient's ticket, drawn as the fan page draws an order's. */
async function showTicket(held) {
	const order = { passes: [held.ticket], gate: held.gate };
	const { items } = await ticketItems(order);
	$("tickets").replaceChildren(...items);
	text("ticket-note", t("accept.accepted"));
	show($("accept"), false);
	show($("s-ticket"), true);
}

async function start() {
	translatePage();
	$("lang").addEventListener("change", (e) => chooseLocale(e.target.value));
	const [transferId, secret] = location.hash.slice(1).split(".");
	if (!transferId || !secret) return text("offer", t("accept.badLink"));
	const holderKey = keys()[transferId];
	if (holderKey) {
		try {
			return await showTicket(await api(`/api/transfers/${encodeURIComponent(transferId)}/ticket`, { token: holderKey }));
		} catch (err) {
			// 404: the accept with this key never landed; the offer is read again below.
			if (err.status !== 404) return fail(err);
		}
	}
	let offer;
	try {
		offer = await api(`/api/transfers/${encodeURIComponent(transferId)}`, { token: secret });
	} catch (err) {
		return fail(err);
	}
	text("offer", t("accept.offer", { drop: offer.drop.name }));
	if (offer.transfer.state !== "pending") return fail({ code: `transfer_${offer.transfer.state}` });
	if (!offer.open) return text("offer", t("accept.closed"));
	const button = $("accept");
	show(button, true);
	button.addEventListener("click", async () => {
		button.disabled = true;
		try {
			// The key is made and kept here before asking: an accept whose answer is lost is asked again with it
			// (the engine answers the same ticket), and a reload reads the ticket with it.
			const key = holderKey ?? newKey();
			local.set(KEYS, JSON.stringify({ ...keys(), [transferId]: key }));
			const got = await api(`/api/transfers/${encodeURIComponent(transferId)}/accept`, { method: "POST", token: secret, body: { holderKey: key } });
			await showTicket(got);
			$("h-ticket").setAttribute("tabindex", "-1");
			$("h-ticket").focus();
		} catch (err) {
			fail(err);
			button.disabled = false;
		}
	});
}

void start();
