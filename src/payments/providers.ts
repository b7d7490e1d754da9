// Which payment provider serves a payment: the one a purchase names, if this
// deployment takes it, or the one that took an earlier payment, told by its id
// (a free order's needs none, on any deployment).
import { type RawSettings, config } from "../shared/config";
import { type Outcome, fail, ok } from "../shared/outcome";
import { FREE_PAYMENT_PREFIX, freeProvider } from "./free-provider";
import { stripeProvider } from "./stripe";
import type { PaymentProvider } from "./provider";
import { TEST_PAYMENT_PREFIX, testProvider } from "./test-provider";

/** The provider for a method, or 422 when this deployment does not take it. */
export function paymentProvider(env: RawSettings, method: string): Outcome<PaymentProvider> {
	const settings = config(env);
	if (method === "test" && settings.testPayments) return ok(testProvider);
	if (method === "stripe" && settings.stripe !== null) return ok(stripeProvider(settings.stripe));
	return methodUnavailable(method);
}

/** The refusal of a method this deployment does not take. */
export function methodUnavailable(method: string): Outcome<never> {
	return fail(422, "payment_method_unavailable", `This engine does not take "${method}" payments.`, { field: "payment.method" });
}

/** The provider that took a payment, told by its id ("free_…", "pay_test…" or Stripe's "pi_…"). */
export function paymentProviderOf(env: RawSettings, paymentId: string): Outcome<PaymentProvider> {
	if (paymentId.startsWith(FREE_PAYMENT_PREFIX)) return ok(freeProvider);
	return paymentProvider(env, paymentId.startsWith(TEST_PAYMENT_PREFIX) ? "test" : "stripe");
}
