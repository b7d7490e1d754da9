// The promoter's create form, checked field by field as the engine checks a new
// drop (src/drops/rules.ts, LIMITS): every problem the page can see is shown at
// once, each by its field, in plain words. The engine still decides; what only it
// can tell (an opening too far from its clock, a seat file's lines) comes back by
// its field too (admin.js, showServerError).
import { formatNumber } from "/common.js";
import { wallToIso } from "/zoned-time.js";

const whole = (what, min, max, required = false) => ({ kind: "whole", what, min, max, required });

/** The rule of each input of the create form, by its id. */
const RULES = {
	"f-name": { kind: "name" },
	"f-capacity": whole("The capacity", 1, 10_000_000, true),
	"f-maxPerFan": whole("The limit per fan", 1, 20, true),
	"f-opensAt": { kind: "time", required: true },
	"f-closesAt": { kind: "time", after: "f-opensAt" },
	"f-price": { kind: "money", max: 1_000_000 },
	"f-currency": { kind: "currency" },
	"f-shards": whole("The number of shards", 1, 64),
	"f-batchSize": whole("Fans per batch", 1, 10_000),
	"f-intervalMs": whole("The batch interval", 250, 600_000),
	"f-activeMultiple": whole("Shoppers per ticket left", 1, 20),
	"f-holdSeconds": whole("The hold time", 10, 3_600),
};

export const hasRule = (input) => Object.hasOwn(RULES, input.id);

/** The zone the create form's times are typed in: the drop's, as entered below them (the browser's while empty). */
export const createZone = () => document.getElementById("f-timeZone")?.value.trim() || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** A datetime-local value on the drop's wall clock: its instant, or NaN. */
function instant(value) {
	const iso = wallToIso(value, createZone());
	return iso === null ? NaN : Date.parse(iso);
}

/** What is wrong with an input's value, in plain words, or null (also for an input with no rule here). */
export function fieldProblem(input) {
	const rule = RULES[input.id];
	if (!rule) return null;
	const raw = input.value.trim();
	// A number field holding what is not a number reads as empty: the browser says so here.
	const unreadable = input.validity?.badInput === true;
	switch (rule.kind) {
		case "name":
			return raw === "" ? "Give the drop a name." : null;
		case "whole": {
			if (unreadable) return "Enter a number.";
			if (raw === "") return rule.required ? "Enter a number." : null;
			const n = Number(raw);
			return Number.isInteger(n) && n >= rule.min && n <= rule.max ? null : `${rule.what} must be a whole number between ${formatNumber(rule.min)} and ${formatNumber(rule.max)}.`;
		}
		case "money": {
			if (unreadable) return "Enter a price, such as 45.00.";
			if (raw === "") return null;
			if (!/^\d+(\.\d{1,2})?$/.test(raw)) return "Enter a price of 0 or more, with at most two decimals, such as 45.00.";
			return Number(raw) <= rule.max ? null : `The price must be at most ${formatNumber(rule.max)}.`;
		}
		case "currency":
			return raw === "" || /^[A-Za-z]{3}$/.test(raw) ? null : "Enter a three-letter currency code, such as USD or EUR.";
		case "time": {
			if (input.value === "") return rule.required || unreadable ? "Enter a date and time." : null;
			const at = instant(input.value);
			if (!Number.isFinite(at)) return "Enter a real date and time.";
			const other = rule.after ? document.getElementById(rule.after) : null;
			if (other && Number.isFinite(instant(other.value)) && at <= instant(other.value)) return "The closing time must be after the opening time.";
			return null;
		}
		default:
			return null;
	}
}
