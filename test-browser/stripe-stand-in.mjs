// A local stand-in for Stripe.js in the browser journeys: CI has no internet, so
// https://js.stripe.com/v3/ is answered by Playwright with a small script whose
// Stripe() offers what the fan page uses (public/card.js): elements().create("card")
// (a plain card-number field with its label), createPaymentMethod (Stripe's test
// cards by number, answered as their PaymentMethod ids) and handleNextAction (a
// test bank's check, "Complete" or "Fail", told to the fake Stripe's
// /_fake/complete-action, which sends the engine its signed webhook). The page's
// calls to https://api.stripe.com go, through Playwright, to the fake Stripe
// (scripts/lib/fake-stripe.mjs) the journeys' engine uses: the CSP the engine sets
// for Stripe is the one that lets them through.

/** Stripe's test card numbers, as the PaymentMethods the fake Stripe plays. */
export const TEST_CARDS = {
	threeDSecure: "4000 0027 6000 3184",
	visa: "4242 4242 4242 4242",
	declined: "4000 0000 0000 0002",
};

const SCRIPT = `(() => {
	const API = "https://api.stripe.com";
	const CARDS = { "4000002760003184": "pm_card_threeDSecure2Required", "4242424242424242": "pm_card_visa", "4000000000000002": "pm_card_chargeDeclined" };
	let input = null;
	const digits = () => (input ? input.value.replace(/\\D/g, "") : "");
	function bankCheck() {
		return new Promise((resolve) => {
			const dialog = document.createElement("dialog");
			dialog.setAttribute("aria-labelledby", "stand-in-bank-title");
			const title = document.createElement("h2");
			title.id = "stand-in-bank-title";
			title.textContent = "Test bank: confirm this payment";
			const pass = document.createElement("button");
			pass.type = "button";
			pass.textContent = "Complete authentication";
			const fail = document.createElement("button");
			fail.type = "button";
			fail.textContent = "Fail authentication";
			const done = (outcome) => { dialog.close(); dialog.remove(); resolve(outcome); };
			pass.addEventListener("click", () => done("succeed"));
			fail.addEventListener("click", () => done("fail"));
			dialog.append(title, pass, fail);
			document.body.append(dialog);
			dialog.showModal();
		});
	}
	window.Stripe = function Stripe(key) {
		if (!/^pk_test_/.test(key)) throw new Error("Stripe.js stand-in: expected a test publishable key, got " + key);
		const listeners = [];
		const card = {
			mount(selector) {
				const box = document.querySelector(selector);
				const label = document.createElement("label");
				label.htmlFor = "stand-in-card-number";
				label.textContent = "Card number";
				input = document.createElement("input");
				input.id = "stand-in-card-number";
				input.type = "text";
				input.inputMode = "numeric";
				input.autocomplete = "cc-number";
				input.addEventListener("input", () => {
					const known = Boolean(CARDS[digits()]);
					const error = !known && digits().length >= 16 ? { message: "Your card number is invalid." } : undefined;
					for (const f of listeners) f({ complete: known, error });
				});
				box.append(label, input);
			},
			on(type, f) { if (type === "change") listeners.push(f); },
			focus() { input?.focus(); },
		};
		return {
			elements() { return { create(type) { if (type !== "card") throw new Error("stand-in: card only"); return card; } }; },
			async createPaymentMethod({ type }) {
				const id = CARDS[digits()];
				if (type !== "card" || !id) return { error: { type: "validation_error", message: "Your card number is incomplete." } };
				return { paymentMethod: { id, object: "payment_method", type: "card" } };
			},
			async handleNextAction({ clientSecret }) {
				const paymentIntent = clientSecret.split("_secret_")[0];
				const outcome = await bankCheck();
				const res = await fetch(API + "/_fake/complete-action", { method: "POST", body: JSON.stringify({ paymentIntent, outcome }) });
				const body = await res.json();
				if (outcome === "succeed") return { paymentIntent: body.intent };
				return { error: { type: "card_error", code: "payment_intent_authentication_failure", message: "We are unable to authenticate your payment method.", payment_intent: body.intent } };
			},
		};
	};
})();`;

/** Serves the stand-in for Stripe.js to every page of `context`, and sends its Stripe API calls to the fake at `fakeUrl`. */
export async function useStripeStandIn(context, fakeUrl) {
	const calls = { script: 0, api: [] };
	await context.route(/^https:\/\/js\.stripe\.com\/v3\//, (route) => {
		calls.script++;
		return route.fulfill({ status: 200, contentType: "application/javascript", body: SCRIPT });
	});
	await context.route(/^https:\/\/api\.stripe\.com\//, async (route) => {
		const url = new URL(route.request().url());
		calls.api.push(url.pathname);
		const res = await fetch(fakeUrl + url.pathname + url.search, { method: route.request().method(), body: route.request().postData() ?? undefined });
		await route.fulfill({ status: res.status, contentType: "application/json", headers: { "access-control-allow-origin": "*" }, body: await res.text() });
	});
	return calls;
}
