// The promoter page's queue figures: the drop's totals (joined, admitted, waiting,
// conversion, fans who left without buying after holding or without, time in queue,
// time from admission to purchase, returns), a chart of arrivals and
// admissions per minute, and the same minutes as a table (its twin for a screen reader
// or a copy). All from GET /api/admin/drops/:id/queue-stats, the route the load
// report reads too, so a rehearsal and a real drop read alike.
import { $, formatMoney, formatNumber, formatTime, plural, text } from "/common.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attrs = {}, textContent = null) {
	const el = document.createElementNS(SVG, name);
	for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
	if (textContent !== null) el.textContent = textContent;
	return el;
}

function cell(tag, value) {
	const el = document.createElement(tag);
	el.textContent = value;
	if (tag === "th") el.scope = "row";
	return el;
}

const seconds = (s) => (s === null || s === undefined ? "–" : `${formatNumber(s)} s`);
const percent = (r) => (r === null ? "–" : `${(r * 100).toFixed(1)} %`);

/** Reads the figures and draws them, unless another drop is on screen by then; `adminApi` is the page's API call with its credential. */
export async function refreshQueue(adminApi, drop, isCurrent) {
	const stats = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}/queue-stats`);
	if (isCurrent()) renderQueue(stats);
	return stats;
}

/** Before a drop's figures arrive (another drop chosen): nothing of the last one stays on screen. */
export function clearQueue() {
	for (const dd of $("queue-figures").querySelectorAll("dd")) dd.textContent = "–";
	$("queue-chart").replaceChildren();
	$("queue-rows").replaceChildren();
	text("queue-caption", "Waiting for the queue’s figures.");
}

function renderQueue(stats) {
	const t = stats.totals;
	const figures = {
		joined: formatNumber(t.joined),
		admitted: formatNumber(t.admitted),
		waiting: formatNumber(t.waiting),
		buyers: formatNumber(t.buyers),
		conversion: percent(t.conversion),
		left: `${formatNumber(t.leftWithoutBuying)}${t.leftWithoutBuyingExact ? "" : " so far"}`,
		"left-held": `${formatNumber(t.leftAfterHolding)}${t.leftWithoutBuyingExact ? "" : " so far"}`,
		"left-never": `${formatNumber(t.leftWithoutHolding)}${t.leftWithoutBuyingExact ? "" : " so far"}`,
		shoppers: formatNumber(t.shoppers),
		"purchase-p50": seconds(t.purchase?.p50),
		"purchase-p90": seconds(t.purchase?.p90),
		"purchase-max": seconds(t.purchase?.max),
		"wait-p50": seconds(t.wait?.p50),
		"wait-p90": seconds(t.wait?.p90),
		"wait-max": seconds(t.wait?.max),
		returns: `${plural(t.refundedTickets, "ticket")} refunded (${formatMoney(t.refundsCents, stats.currency)}), ${plural(t.expiredTickets, "ticket")} from holds run out`,
	};
	for (const [key, value] of Object.entries(figures)) text(`q-${key}`, value);
	drawQueueChart(stats.minutes);
	$("queue-rows").replaceChildren(
		...stats.minutes.map((m) => {
			const tr = document.createElement("tr");
			tr.append(
				cell("th", formatTime(Date.parse(m.minute))),
				...[m.arrivals, m.admitted, m.turnsEnded].map((n) => cell("td", formatNumber(n))),
				...[m.wait?.p50, m.wait?.p90, m.wait?.max].map((s) => cell("td", seconds(s))),
				...[m.buyers, m.tickets].map((n) => cell("td", formatNumber(n))),
				cell("td", formatMoney(m.salesCents, stats.currency)),
				cell("td", formatNumber(m.refundedTickets)),
				cell("td", formatNumber(m.shoppers)),
				...[m.purchase?.p50, m.purchase?.p90, m.purchase?.max].map((s) => cell("td", seconds(s))),
				...[m.expiredHolds, m.expiredTickets].map((n) => cell("td", formatNumber(n))),
			);
			return tr;
		}),
	);
}

/** Bars per minute: arrivals beside admissions, on one scale. */
function drawQueueChart(minutes) {
	const W = 640, H = 220, left = 52, right = 16, top = 16, bottom = 40;
	const nodes = [];
	const most = Math.max(1, ...minutes.map((m) => Math.max(m.arrivals, m.admitted)));
	const y = (v) => H - bottom - (v / most) * (H - top - bottom);
	for (const v of [0, Math.round(most / 2), most]) {
		nodes.push(svg("line", { class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v) }));
		nodes.push(svg("text", { x: left - 8, y: y(v) + 4, "text-anchor": "end" }, formatNumber(v)));
	}
	nodes.push(svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: H - bottom }));
	nodes.push(svg("line", { class: "axis", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
	if (minutes.length === 0) {
		nodes.push(svg("text", { class: "empty", x: (left + W - right) / 2, y: (top + H - bottom) / 2, "text-anchor": "middle" }, "Nobody in line yet"));
		text("queue-caption", "Nobody has joined or been admitted yet.");
	} else {
		const slot = (W - left - right) / minutes.length;
		const bar = Math.max(1, Math.min(24, slot / 2 - 2));
		minutes.forEach((m, i) => {
			const x = left + i * slot + slot / 2;
			nodes.push(svg("rect", { class: "bar-arrivals", x: x - bar, y: y(m.arrivals), width: bar, height: H - bottom - y(m.arrivals) }));
			nodes.push(svg("rect", { class: "bar-admitted", x, y: y(m.admitted), width: bar, height: H - bottom - y(m.admitted) }));
		});
		const first = Date.parse(minutes[0].minute);
		const last = Date.parse(minutes.at(-1).minute);
		nodes.push(svg("text", { x: left, y: H - bottom + 18 }, formatTime(first)));
		if (minutes.length > 1) nodes.push(svg("text", { x: W - right, y: H - bottom + 18, "text-anchor": "end" }, formatTime(last)));
		const arrivals = minutes.reduce((s, m) => s + m.arrivals, 0);
		const admitted = minutes.reduce((s, m) => s + m.admitted, 0);
		text(
			"queue-caption",
			`Per minute from ${formatTime(first)} to ${formatTime(last)}: ${plural(arrivals, "arrival")} after the opening (light bars) and ${formatNumber(admitted)} admitted (dark bars). The table below has every figure.`,
		);
	}
	nodes.push(svg("text", { x: left, y: H - 4 }, "minute"));
	$("queue-chart").replaceChildren(...nodes);
}
