// The promoter page's orders after the sale (issue 15): each order's status,
// a refund (whole, or kept off sale or put back on sale), a retry for a
// failed one, the drop's refunds with their totals, and the drop's cancellation. admin.js hands over
// its API call (with the admin token) and the drop on screen.
import { $, formatMoney, formatNumber, plural, show, text } from "/common.js";

const REFUND_STATE_TEXT = { pending: "pending at the provider", refunded: "refunded", failed: "failed at the provider" };
const STATUS_TEXT = { paid: "Paid", ticketed: "Ticketed", receipt_sent: "Receipt sent", refunded: "Refunded", failed: "Failed" };

let adminApi = null;
let dropOnScreen = null;
let busy = false;
/** The drop's state changed here (a cancel): admin.js reads the drop again. */
let onCancelled = async () => {};
/** The last cancel answer's orders left, by drop: a cancelled drop offers to finish its refunds while some are. */
const leftByDrop = new Map();

export function initOrders(call, cancelledHook) {
	adminApi = call;
	onCancelled = cancelledHook;
	$("cancel-drop-button").addEventListener("click", () => {
		if (dropOnScreen !== null) void cancelDrop(dropOnScreen);
	});
}

/**
 * The cancel control: "Cancel" while the drop's moves allow it; once cancelled, nothing
 * leaves that state, so the only thing offered is to finish refunding the orders a
 * cancel left (known from its last answer, or from unrefunded orders on screen).
 */
export function cancelMoves(drop, reads) {
	if (dropOnScreen?.id !== drop.id) {
		text("cancel-progress-text", "");
		$("cancel-left").replaceChildren();
	}
	dropOnScreen = drop;
	const button = $("cancel-drop-button");
	const cancelled = drop.status === "cancelled";
	const left = leftByDrop.get(drop.id) ?? 0;
	const offered = !reads && !busy && ((drop.moves ?? []).includes("cancel") || (cancelled && left > 0));
	show("cancel-drop-actions", offered || (busy && !reads));
	show("cancel-drop-hint", !reads && !cancelled);
	text(button, cancelled ? "Refund the orders still left" : "Cancel the drop and refund every order");
}

/** Cancels the drop on screen (after a confirmation), then calls again until no order is left to refund, showing its progress by the button. */
async function cancelDrop(drop) {
	const first = drop.status !== "cancelled";
	if (first && !window.confirm(`Cancel “${drop.name}”? Admission, holds and sales stop for good and every order is refunded. This cannot be undone.`)) return;
	busy = true;
	const button = $("cancel-drop-button");
	button.disabled = true;
	show("orders-error", false);
	$("cancel-left").replaceChildren();
	progress(first ? "Cancelling the drop…" : "Refunding the orders left…");
	let refunded = 0;
	let answer = null;
	// Orders the cancel cannot refund, with why: once every order left is one of them, calling again will not help.
	const stuck = new Map();
	try {
		for (let round = 0, unavailable = 0; round < 200 && (answer === null || answer.ordersLeft > 0); round++) {
			try {
				answer = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}/cancel`, { method: "POST", body: { restock: false } });
			} catch (err) {
				// The provider did not finish a refund of the page (the others are done): ask again, a few times.
				if (err.code !== "provider_unavailable" || ++unavailable > 5) throw err;
				progress(`Cancelled. The payment provider did not answer for one refund; trying again (${unavailable} of 5)…`);
				await new Promise((r) => setTimeout(r, (err.retryAfter ?? 1) * 1000));
				continue;
			}
			refunded += answer.refundedOrders;
			for (const o of answer.left) stuck.set(o.orderId, o);
			leftByDrop.set(drop.id, answer.ordersLeft);
			progress(`Cancelled. ${plural(refunded, "order")} refunded so far, ${plural(answer.ordersLeft, "order")} left to refund.`);
			if (answer.refundedOrders === 0 && answer.ordersLeft <= stuck.size) break;
		}
		if (answer.ordersLeft === 0) progress(`Cancelled, and every order refunded (${plural(refunded, "order")} by this cancel).`);
		else progress(`Cancelled. ${plural(answer.ordersLeft, "order")} could not be refunded yet:`);
		// Why each order left is left, by the button: the promoter sees what to do about it.
		$("cancel-left").replaceChildren(
			...[...stuck.values()].slice(0, 20).map((o) => {
				const li = document.createElement("li");
				li.dataset.orderId = o.orderId;
				li.dataset.code = o.code;
				li.textContent = `${o.orderId}: ${o.message}`;
				return li;
			}),
		);
	} catch (err) {
		progress(`Could not ${first ? "cancel the drop" : "finish the refunds"}: ${err.message}`);
		text("orders-error", `Could not cancel the drop: ${err.message}`);
		show("orders-error", true);
	} finally {
		busy = false;
		button.disabled = false;
	}
	await onCancelled();
	await refreshOrders(dropOnScreen ?? drop).catch(() => {});
}

/** The cancel's progress, by its button; its box is a status region, so each step is read out once. */
function progress(message) {
	text("cancel-progress-text", message);
}

/** The drop's first 50 orders and its refunds, redrawn unless the promoter is in the middle of an action. */
export async function refreshOrders(drop) {
	dropOnScreen = drop;
	if (busy || adminApi === null) return;
	const id = encodeURIComponent(drop.id);
	const [sales, refunds] = await Promise.all([adminApi(`/api/admin/drops/${id}/sales?limit=50`), adminApi(`/api/admin/drops/${id}/refunds?limit=50`)]);
	if (dropOnScreen?.id !== drop.id || busy) return;
	renderOrders(drop, sales.sales);
	// A cancelled drop with an order on screen not refunded yet (one that reached the sales after the cancel) offers to finish.
	if (drop.status === "cancelled" && !leftByDrop.get(drop.id) && sales.sales.some((s) => s.status !== "refunded")) {
		leftByDrop.set(drop.id, sales.sales.filter((s) => s.status !== "refunded").length);
		cancelMoves(drop, document.body.dataset.reads === "true");
	}
	renderRefunds(drop, refunds);
}

function renderOrders(drop, sales) {
	show("orders-empty", sales.length === 0);
	$("orders").replaceChildren(
		...sales.map((sale) => {
			const li = document.createElement("li");
			li.dataset.orderId = sale.orderId;
			li.dataset.status = sale.status;
			const what = document.createElement("span");
			const refunded = sale.refundedTickets > 0 && sale.status !== "refunded" ? `, ${sale.refundedTickets} refunded` : "";
			what.textContent = `${sale.orderId} · ${plural(sale.quantity, "ticket")} · ${formatMoney(sale.totalCents, sale.currency)} · ${STATUS_TEXT[sale.status] ?? sale.status}${refunded}`;
			li.append(what);
			if (sale.status === "failed") li.append(button("Retry", `Retry order ${sale.orderId}`, () => act(drop, sale.orderId, "retry")));
			if (sale.status !== "refunded") {
				li.append(button("Refund", `Refund order ${sale.orderId}`, () => act(drop, sale.orderId, "refund", { restock: false })));
				li.append(button("Refund and resell", `Refund order ${sale.orderId} and put its tickets back on sale`, () => act(drop, sale.orderId, "refund", { restock: true })));
			}
			return li;
		}),
	);
}

function renderRefunds(drop, answer) {
	const t = answer.totals;
	text("refund-totals", t.refunds === 0 ? "No refunds." : `${plural(t.refunds, "refund")}: ${plural(t.tickets, "ticket")}, ${formatMoney(t.amountCents, drop.currency)}.`);
	$("refunds").replaceChildren(
		...answer.refunds.map((r) => {
			const li = document.createElement("li");
			li.textContent = `${r.orderId} · ${plural(r.tickets, "ticket")} · ${formatMoney(r.amountCents, r.currency)} · ${REFUND_STATE_TEXT[r.state] ?? r.state}${r.detail ? ` (${r.detail})` : ""}${r.restock ? (r.restocked ? " · back on sale" : " · going back on sale") : ""}`;
			// A refund the provider failed is asked again by repeating the order's refund.
			if (r.state === "failed") li.append(" ", button("Retry refund", `Retry the refund of order ${r.orderId}`, () => act(drop, r.orderId, "refund", { restock: false })));
			return li;
		}),
	);
}

function button(label, ariaLabel, onClick) {
	const b = document.createElement("button");
	b.type = "button";
	b.className = "secondary small";
	b.textContent = label;
	b.setAttribute("aria-label", ariaLabel);
	b.addEventListener("click", onClick);
	// Every one of these changes something: a staff key (which only reads) does not see them.
	b.dataset.needs = "change";
	b.hidden = document.body.dataset.reads === "true";
	return b;
}

async function act(drop, orderId, what, body) {
	busy = true;
	show("orders-error", false);
	try {
		const path = `/api/admin/drops/${encodeURIComponent(drop.id)}/orders/${encodeURIComponent(orderId)}/${what}`;
		const answer = await adminApi(path, { method: "POST", ...(body ? { body } : {}) });
		text("orders-live", what === "retry" ? `Order ${orderId} is being retried.` : `Order ${orderId}: ${formatNumber(answer.refundedTickets)} ticket(s) refunded.`);
	} catch (err) {
		text("orders-error", `Could not ${what} order ${orderId}: ${err.message}`);
		show("orders-error", true);
	} finally {
		busy = false;
	}
	await refreshOrders(drop).catch(() => {});
}
