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

export function initOrders(call) {
	adminApi = call;
	$("cancel-drop-button").addEventListener("click", () => {
		if (dropOnScreen !== null) void cancelDrop(dropOnScreen);
	});
}

/** Cancels the drop on screen: paused, then every order refunded (off sale), a page of orders per call. */
async function cancelDrop(drop) {
	if (!window.confirm(`Cancel “${drop.name}”? Admission stops and every order is refunded. This cannot be undone.`)) return;
	busy = true;
	show("orders-error", false);
	try {
		let answer = null;
		// Orders the cancel cannot refund, with why: once every order left is one of them, calling again will not help.
		const stuck = new Map();
		for (let round = 0; round < 200 && (answer === null || answer.ordersLeft > 0); round++) {
			answer = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}/cancel`, { method: "POST", body: { restock: false } });
			for (const o of answer.left) stuck.set(o.orderId, o.message);
			text("orders-live", `Cancelling: ${formatNumber(answer.ordersLeft)} order(s) left to refund.`);
			if (answer.refundedOrders === 0 && answer.ordersLeft <= stuck.size) break;
		}
		const why = [...stuck].slice(0, 3).map(([orderId, message]) => `${orderId}: ${message}`).join(" ");
		text("orders-live", answer.ordersLeft === 0 ? "The drop is cancelled and every order refunded." : `${formatNumber(answer.ordersLeft)} order(s) still to refund: cancel again. ${why}`);
	} catch (err) {
		text("orders-error", `Could not cancel the drop: ${err.message}`);
		show("orders-error", true);
	} finally {
		busy = false;
	}
	await refreshOrders(drop).catch(() => {});
}

/** The drop's first 50 orders and its refunds, redrawn unless the promoter is in the middle of an action. */
export async function refreshOrders(drop) {
	dropOnScreen = drop;
	if (busy || adminApi === null) return;
	const id = encodeURIComponent(drop.id);
	const [sales, refunds] = await Promise.all([adminApi(`/api/admin/drops/${id}/sales?limit=50`), adminApi(`/api/admin/drops/${id}/refunds?limit=50`)]);
	if (dropOnScreen?.id !== drop.id || busy) return;
	renderOrders(drop, sales.sales);
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
