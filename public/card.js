// Paying by card on the fan page, with Stripe.js: loaded from Stripe's own host
// (Stripe requires it; the page's CSP allows it only where the deployment takes
// cards), and only once the fan pays by card, so a page that never does fetches
// nothing from Stripe. The card is typed into Stripe's card Element, a frame of
// Stripe's: the number never touches this page or the engine, which get a
// PaymentMethod id. A card whose bank asks the fan to confirm (3-D Secure) is
// finished with stripe.handleNextAction, which shows the bank's check.

import { locale, t } from "/i18n.js";

const STRIPE_JS = "https://js.stripe.com/v3/";

let loading = null;

/** Stripe.js, loaded once; a failed load may be tried again. */
function loadStripe(publishableKey) {
	loading ??= new Promise((resolve, reject) => {
		const started = () => (typeof window.Stripe === "function" ? resolve(window.Stripe(publishableKey)) : reject(new Error(t("card.notStarted"))));
		if (typeof window.Stripe === "function") return started();
		const script = document.createElement("script");
		script.src = STRIPE_JS;
		script.async = true;
		script.onload = started;
		script.onerror = () => reject(new Error(t("card.notLoaded")));
		document.head.append(script);
	}).catch((err) => {
		loading = null;
		throw err;
	});
	return loading;
}

/**
 * The card field, mounted into `mountId` once Stripe.js is there. `onChange(message)`
 * hears Stripe's word on what is typed: a message while the card is incomplete or wrong, null once it reads.
 * Answers { paymentMethod(), bankCheck(clientSecret) }.
 */
export async function cardField(publishableKey, mountId, onChange) {
	const stripe = await loadStripe(publishableKey);
	// Stripe writes its own messages (an incomplete number, a declined card) in the page's language.
	const card = stripe.elements({ locale }).create("card", { hidePostalCode: true });
	card.mount(`#${mountId}`);
	card.on("change", (event) => onChange(event.error ? event.error.message : null));
	return {
		/** The card as a PaymentMethod id (pm_…); throws with Stripe's message when the card does not read. */
		async paymentMethod() {
			const { paymentMethod, error } = await stripe.createPaymentMethod({ type: "card", card });
			if (error || !paymentMethod) throw new Error(error?.message ?? t("card.unreadable"));
			return paymentMethod.id;
		},
		/**
		 * The bank's check (3-D Secure), shown by Stripe.js: { confirmed: true } when the fan
		 * finished it, { confirmed: false, message } when the bank or the fan refused it.
		 */
		async bankCheck(clientSecret) {
			const { error } = await stripe.handleNextAction({ clientSecret });
			return error ? { confirmed: false, message: error.message ?? t("card.bankRefused") } : { confirmed: true };
		},
		focus() {
			card.focus();
		},
	};
}
