// The promoter page's orders after the sale: each order's buyer, time, tickets and
// status, a search (email, order id or ticket code) and pages past the first 50, a refund (whole,
// kept off sale or, for general admission, put back on sale) after a confirmation,
// a retry for a failed one, each action's error by its button, the drop's refunds
// with their totals, and the drop's cancellation. admin.js hands over its API call
// (with the admin token) and the drop on screen.
import { $, formatDateTime, formatMoney, formatNumber, formatTime, plural, show, text } from "/common.js";
import { confirmStep } from "/confirm.js";

const REFUND_STATE_TEXT = { pending: "pending at the provider", refunded: "refunded", failed: "failed at the provider" };
const STATUS_TEXT = { paid: "Paid", ticketed: "Ticketed", receipt_sent: "Receipt sent", refunded: "Refunded", failed: "Failed" };

let adminApi = null;
let dropOnScreen = null;
let busy = false;
/** The drop's state changed here (a cancel): admin.js reads the drop again. */
let onCancelled = async () => {};
/** The last cancel answer's orders left, by drop: a cancelled drop offers to finish its refunds while some are. */
const leftByDrop = new Map();
/** A refund was made here: admin.js reads the totals again. */
let onRefunded = () => {};
/**
 * What the list shows, for which drop: the search (null: every order) and the pages read so far,
 * each with the cursor it was read from and the one after it. A search is read when it is asked
 * for, not in the live loop; the live loop reads again only the first and the last page.
 */
const PAGE = 50;
let listing = { dropId: null, q: null, pages: [], at: null };

export function initOrders(call, cancelledHook, refundedHook = () => {}) {
	adminApi = call;
	onCancelled = cancelledHook;
	onRefunded = refundedHook;
	// Submitting runs the search once; submitting it again is how it is run afresh.
	$("orders-search").addEventListener("submit", (event) => {
		event.preventDefault();
		const q = $("orders-q").value.trim();
		listing = { ...listing, q: q === "" ? null : q, pages: [] };
		if (dropOnScreen) void refreshOrders(dropOnScreen, { announce: true }).catch(ordersFailed);
	});
	$("orders-clear").addEventListener("click", () => {
		$("orders-q").value = "";
		listing = { ...listing, q: null, pages: [] };
		if (dropOnScreen) void refreshOrders(dropOnScreen, { announce: true }).catch(ordersFailed);
		$("orders-q").focus();
	});
	$("orders-more").addEventListener("click", () => {
		if (dropOnScreen) void showMore(dropOnScreen).catch(ordersFailed);
	});
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
	// The cancel changed every order: the list is read afresh from its first page.
	listing = { ...listing, pages: [] };
	await refreshOrders(dropOnScreen ?? drop).catch(() => {});
}

/** The cancel's progress, by its button; its box is a status region, so each step is read out once. */
function progress(message) {
	text("cancel-progress-text", message);
}

function ordersFailed(err) {
	if (err.status === 401) return;
	text("orders-error", `Could not load the orders: ${err.message}`);
	show("orders-error", true);
}

/** One page of the orders (the search's, or all) from a cursor: what it holds and the cursor after it. */
async function readPage(id, q, cursor, limit = PAGE) {
	const query = new URLSearchParams({ limit: String(limit) });
	if (q !== null) query.set("q", q);
	if (cursor) query.set("cursor", cursor);
	const page = await adminApi(`/api/admin/drops/${id}/sales?${query}`);
	return { cursor, sales: page.sales, next: page.nextCursor };
}

/** The orders on screen, in order, each once (an order reaching D1 late can move into an earlier page). */
function shownSales() {
	const seen = new Set();
	return listing.pages.flatMap((p) => p.sales).filter((s) => !seen.has(s.orderId) && seen.add(s.orderId));
}

/**
 * The drop's orders and its refunds, redrawn unless the promoter is in the middle of an action.
 * A new drop or search reads its first page; otherwise (the live loop) a search is left as it
 * was found, and the whole list reads again only its first page and its last (where new orders
 * arrive), never every page already shown.
 */
export async function refreshOrders(drop, { announce = false } = {}) {
	dropOnScreen = drop;
	if (busy || adminApi === null) return;
	if (listing.dropId !== drop.id) {
		listing = { dropId: drop.id, q: null, pages: [], at: null };
		$("orders-q").value = "";
	}
	const before = listing;
	const { q, pages } = before;
	const id = encodeURIComponent(drop.id);
	const again = pages.length === 0 ? [0] : q !== null ? [] : [...new Set([0, pages.length - 1])];
	const [read, refunds] = await Promise.all([
		Promise.all(again.map((i) => readPage(id, q, pages[i]?.cursor ?? null))),
		adminApi(`/api/admin/drops/${id}/refunds?limit=50`),
	]);
	if (dropOnScreen?.id !== drop.id || busy) return;
	// A search or "Show more" answered meanwhile: this read is older than what is on screen.
	if (listing === before) {
		const next = pages.length === 0 ? [] : [...pages];
		again.forEach((i, k) => (next[i] = read[k]));
		listing = { ...before, pages: next, at: again.length > 0 ? new Date() : before.at };
		drawListing(drop, announce);
	}
	renderRefunds(drop, refunds);
}

/** The next page after the last one shown, added below it: nothing shown already is read again. */
async function showMore(drop) {
	const before = listing;
	const last = before.pages.at(-1);
	if (!last?.next || busy) return;
	const page = await readPage(encodeURIComponent(drop.id), before.q, last.next);
	if (listing.dropId !== before.dropId || listing.q !== before.q || listing.pages.at(-1) !== last) return;
	listing = { ...listing, pages: [...listing.pages, page] };
	drawListing(drop, true);
}

/** An order read again by its id (a key lookup), after an action on it, wherever it sits in the list. */
async function rereadOrder(drop, orderId) {
	const { sales } = await readPage(encodeURIComponent(drop.id), orderId, null, 1);
	const fresh = sales.find((s) => s.orderId === orderId);
	if (!fresh || listing.dropId !== drop.id) return;
	listing = { ...listing, pages: listing.pages.map((p) => ({ ...p, sales: p.sales.map((s) => (s.orderId === orderId ? fresh : s)) })) };
	drawListing(drop, false);
}

function drawListing(drop, announce) {
	const { q, at } = listing;
	const sales = shownSales();
	const more = listing.pages.at(-1)?.next != null;
	show("orders-error", false);
	renderOrders(drop, sales);
	show("orders-more", more);
	show("orders-clear", q !== null);
	const found = q === null ? plural(sales.length, "order") : `${plural(sales.length, "order")} found for “${q}”`;
	const when = q !== null && at ? ` at ${formatTime(at)} (search again to look afresh)` : "";
	text("orders-count", sales.length === 0 ? "" : `${found}${when}${more ? ", more below" : ""}.`);
	text("orders-empty", q === null ? "No orders recorded yet." : `No order matches “${q}”.`);
	if (announce) text("orders-live", sales.length === 0 ? $("orders-empty").textContent : `Showing ${found}.`);
	// A cancelled drop with an order on screen not refunded yet (one that reached the sales after the cancel) offers to finish.
	if (drop.status === "cancelled" && !leftByDrop.get(drop.id) && sales.some((s) => s.status !== "refunded")) {
		leftByDrop.set(drop.id, sales.filter((s) => s.status !== "refunded").length);
		cancelMoves(drop, document.body.dataset.reads === "true");
	}
}

/**
 * Redraws a list item by item, keyed, reusing the items already there: the live refresh
 * then keeps focus on a button and an order's error by its button, instead of remaking them.
 */
function redraw(list, items, keyOf, draw) {
	const old = new Map([...list.children].map((li) => [li.dataset.key, li]));
	const next = items.map((item) => {
		const key = keyOf(item);
		const li = old.get(key) ?? document.createElement("li");
		li.dataset.key = key;
		draw(li, item);
		return li;
	});
	const unchanged = next.length === list.children.length && next.every((li, i) => list.children[i] === li);
	if (!unchanged) list.replaceChildren(...next);
}

/** An item's parts: what it is, its buttons (remade only when they change), and its error, an alert by them. */
function parts(li) {
	if (!li.firstChild) {
		const what = document.createElement("span");
		const buttons = document.createElement("span");
		buttons.className = "item-actions";
		const error = document.createElement("p");
		error.className = "field-error";
		error.setAttribute("role", "alert");
		error.hidden = true;
		li.append(what, buttons, error);
	}
	const [what, buttons, error] = li.children;
	return { what, buttons, error };
}

/** Sets an item's buttons ([label, aria-label, what it does]) unless the same ones are there already. */
function setButtons(holder, wanted) {
	const signature = wanted.map(([label, ariaLabel]) => `${label}|${ariaLabel}`).join("\n");
	if (holder.dataset.signature === signature) return;
	holder.dataset.signature = signature;
	holder.replaceChildren(...wanted.map(([label, ariaLabel, onClick]) => button(label, ariaLabel, onClick)));
}

/** Errors of order actions, by the list item they belong to ("order:<id>", "refund:<id>"): shown by the button that caused them. */
const errors = new Map();

function showItemError(li, key) {
	const { error } = parts(li);
	const message = errors.get(key) ?? "";
	text(error, message);
	show(error, message !== "");
}

/** What is left to refund of an order: its tickets not refunded yet, at its price. */
function leftToRefund(sale) {
	const tickets = sale.quantity - sale.refundedTickets;
	return { tickets, amount: formatMoney(sale.unitPriceCents * tickets, sale.currency) };
}

/** Each order as last read: a button kept across refreshes acts on what the order is now. */
const latest = new Map();

function renderOrders(drop, sales) {
	show("orders-empty", sales.length === 0);
	for (const sale of sales) latest.set(sale.orderId, sale);
	redraw($("orders"), sales, (sale) => `order:${sale.orderId}`, (li, sale) => {
		li.dataset.orderId = sale.orderId;
		li.dataset.status = sale.status;
		const { what, buttons } = parts(li);
		drawOrder(what, drop, sale);
		const wanted = [];
		if (sale.status === "failed") wanted.push(["Retry", `Retry order ${sale.orderId}`, (e) => act(drop, sale, "retry", e.currentTarget)]);
		if (sale.status !== "refunded") {
			wanted.push(["Refund", `Refund order ${sale.orderId}`, (e) => act(drop, sale, "refund", e.currentTarget)]);
			// Only general admission spread over the shards goes back on sale (a seat or a slot's place does not: the
			// engine answers 422 restock_unsupported), and nothing goes back on sale once the drop is cancelled.
			if (sale.ticketType === null && drop.status !== "cancelled") {
				wanted.push(["Refund and resell", `Refund and resell order ${sale.orderId}`, (e) => act(drop, sale, "resell", e.currentTarget)]);
			}
		}
		setButtons(buttons, wanted);
		showItemError(li, `order:${sale.orderId}`);
	});
}

/** An order in words: its id and status, then who bought it, when, and which tickets (type, slot, seats) for how much. */
function drawOrder(what, drop, sale) {
	const refunded = sale.refundedTickets > 0 && sale.status !== "refunded" ? `, ${sale.refundedTickets} refunded` : "";
	const type = sale.ticketType === null ? null : (drop.ticketTypes?.find((t) => t.id === sale.ticketType)?.name ?? sale.ticketType);
	const units = [type, sale.slot ? `slot ${sale.slot}` : null, sale.seats.length > 0 ? `${sale.seats.length === 1 ? "seat" : "seats"} ${sale.seats.join(", ")}` : null].filter(Boolean);
	const signature = JSON.stringify([sale.status, sale.refundedTickets, sale.email, units]);
	if (what.dataset.signature === signature) return;
	what.dataset.signature = signature;
	const head = document.createElement("strong");
	head.textContent = `${sale.orderId} · ${STATUS_TEXT[sale.status] ?? sale.status}${refunded}`;
	const detail = document.createElement("span");
	detail.className = "order-detail";
	const time = document.createElement("time");
	time.dateTime = sale.createdAt;
	time.textContent = formatDateTime(sale.createdAt);
	detail.append(
		`${sale.email ?? "no email given"} · `,
		time,
		` · ${plural(sale.quantity, "ticket")}${units.length ? ` (${units.join("; ")})` : ""} · ${formatMoney(sale.totalCents, sale.currency)}`,
	);
	what.className = "order-what";
	what.replaceChildren(head, detail);
}

function renderRefunds(drop, answer) {
	const t = answer.totals;
	text("refund-totals", t.refunds === 0 ? "No refunds." : `${plural(t.refunds, "refund")}: ${plural(t.tickets, "ticket")}, ${formatMoney(t.amountCents, drop.currency)}.`);
	redraw($("refunds"), answer.refunds, (r) => `refund:${r.refundId}`, (li, r) => {
		const { what, buttons } = parts(li);
		text(what, `${r.orderId} · ${plural(r.tickets, "ticket")} · ${formatMoney(r.amountCents, r.currency)} · ${REFUND_STATE_TEXT[r.state] ?? r.state}${r.detail ? ` (${r.detail})` : ""}${r.restock ? (r.restocked ? " · back on sale" : " · going back on sale") : ""}`);
		// A refund the provider failed is asked again by repeating the order's refund.
		setButtons(buttons, r.state === "failed" ? [["Retry refund", `Retry the refund of order ${r.orderId}`, (e) => act(drop, r, "retry-refund", e.currentTarget, `refund:${r.refundId}`)]] : []);
		showItemError(li, `refund:${r.refundId}`);
	});
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

/** What each order action sends, and how its confirmation and its error name it. */
const ACTIONS = {
	retry: { path: "retry", body: undefined, verb: "retry" },
	refund: { path: "refund", body: { restock: false }, verb: "refund" },
	resell: { path: "refund", body: { restock: true }, verb: "refund and resell" },
	"retry-refund": { path: "refund", body: { restock: false }, verb: "retry the refund of" },
};

/** The confirmation a refund needs, naming what it does; a retry changes no money and is not asked. */
function confirmRefund(sale, action, opener) {
	const { tickets, amount } = leftToRefund(sale);
	const count = plural(tickets, "ticket");
	const them = tickets === 1 ? "It stops" : "They stop";
	const after =
		action === "resell"
			? `${them} working at the gate and go${tickets === 1 ? "es" : ""} back on sale for other fans.`
			: `${them} working at the gate and stay${tickets === 1 ? "s" : ""} off sale.`;
	return confirmStep({
		title: action === "resell" ? `Refund order ${sale.orderId} and resell its tickets?` : `Refund order ${sale.orderId}?`,
		body: `The buyer gets ${amount} back for ${count}. ${after} This cannot be undone.`,
		confirm: action === "resell" ? `Refund ${count} and resell` : `Refund ${count}`,
		keep: "Keep the order",
		opener,
	});
}

async function act(drop, item, action, opener, key = `order:${item.orderId}`) {
	if (busy) return;
	const { orderId } = item;
	if (key.startsWith("order:")) item = latest.get(orderId) ?? item;
	if ((action === "refund" || action === "resell") && !(await confirmRefund(item, action, opener))) return;
	const { path, body, verb } = ACTIONS[action];
	busy = true;
	errors.delete(key);
	const li = opener.closest("li");
	if (li) showItemError(li, key);
	try {
		const answer = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}/orders/${encodeURIComponent(orderId)}/${path}`, { method: "POST", ...(body ? { body } : {}) });
		text("orders-live", action === "retry" ? `Order ${orderId} is being retried.` : `Order ${orderId}: ${formatNumber(answer.refundedTickets)} ticket(s) refunded.`);
		if (action !== "retry") onRefunded();
	} catch (err) {
		errors.set(key, `Could not ${verb} order ${orderId}: ${err.message}`);
		if (li) showItemError(li, key);
	} finally {
		busy = false;
	}
	await rereadOrder(drop, orderId).catch(() => {});
	await refreshOrders(drop).catch(() => {});
	// Focus stays by the action: its button if the order still offers it, else the order's line.
	if (!opener.isConnected || opener.hidden) {
		const line = $("orders").querySelector(`li[data-key="${CSS.escape(`order:${orderId}`)}"]`);
		if (line) {
			line.setAttribute("tabindex", "-1");
			line.focus();
		}
	} else if (document.activeElement === document.body) opener.focus();
}
