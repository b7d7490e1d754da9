// The fan API's holds and purchases: a hold, asked of the fan's home shard (for
// seats and slots it judges the fan's limits and the units' shard decides the
// units), its purchase on the hold's shard in one call (quote, charge, order), and
// its release. Each takes the access token of the fan's turn, for this drop.
import { type IRequest, Router } from "itty-router";
import type { Hold, PaymentAction, Purchase } from "../contract/fan-answers";
import { HoldBody, IdempotencyKey, PurchaseBody } from "../contract/requests";
import { holdRefusal } from "../waiting-room/access-grant";
import { holdRequest, holdRequestText } from "../drops/ticket-types";
import { homeShard } from "../inventory/drop-shards";
import { claimTargets } from "../inventory/named-holds";
import { ApiError, notFound } from "../shared/errors";
import { shardOfId } from "../shared/ids";
import { paymentProvider } from "../payments/providers";
import { config } from "../shared/config";
import { shardStub } from "../shared/names";
import { type Outcome, unwrap } from "../shared/outcome";
import { readJson } from "../shared/request";
import { invalidToken, signOrderToken } from "../shared/tokens";
import { requireKnownDrop } from "../drops/known-drops";
import { type WindowRule, presaleById, windowRule } from "../drops/presales";
import { parse } from "../shared/validation";
import { accessFor, dropIdOf, watermark } from "./fan-request";
import type { HoldView } from "../inventory/ledger-store";
import type { PurchaseView } from "../inventory/charges";

type Args = [Env, ExecutionContext];

export const fanHoldRoutes = Router<IRequest, Args>({ base: "/api" });

fanHoldRoutes.post("/drops/:id/holds", async (request, env, ctx) => {
	const dropId = dropIdOf(request);
	const access = await accessFor(request, env, dropId);
	const key = request.headers.get("idempotency-key");
	if (key === null) throw new ApiError(400, "missing_idempotency_key", `Send an "Idempotency-Key" header with each new hold.`);
	if (!IdempotencyKey.safeParse(key).success) {
		throw new ApiError(400, "invalid_idempotency_key", `"Idempotency-Key" must be 1 to 128 letters, digits or . _ : -`);
	}
	const body = parse(HoldBody, await readJson(request));
	const w = await watermark(env, dropId, ctx);
	// The copy may be a second old: the shard, which the cancel tells at once, decides too.
	unwrap(holdRefusal(w, access.position, Date.now()));
	const asked = holdRequest(body, w.ticketTypes);
	// No sold-out shortcut from the cached flag here: the shard answers, so a replayed key gets its
	// first answer and the per-fan limit is judged the same way before and after the last sale.
	const home = homeShard(access.fanId, access.shards);
	const shard = shardStub(env, dropId, home);
	// A window's token: the home shard judges the window's types, per-fan cap and its part of the window's capacity.
	const window = access.window === undefined ? null : await saleWindowRule(env, dropId, access.window, home, access.shards);
	// The hold ends with the fan's turn at the latest: past it, they could neither buy nor release it.
	const outcome =
		asked.kind === "primary"
			? await shard.hold({ fanId: access.fanId, quantity: asked.quantity, idempotencyKey: key, notAfter: access.exp * 1000, window, position: access.position })
			: // Named units: the fan's home shard judges their limits, the units' shard decides the units (src/inventory/named-holds.ts).
				await shard.holdNamed({
					fanId: access.fanId,
					idempotencyKey: key,
					notAfter: access.exp * 1000,
					request: holdRequestText(asked),
					typeId: asked.typeId,
					quantity: asked.quantity,
					seats: asked.kind === "seats" ? asked.seats : null,
					targets: await claimTargets(env, dropId, asked, access.shards, ctx),
					window,
				});
	const hold = unwrap(outcome as Outcome<HoldView>);
	return Response.json(hold satisfies Hold, { status: 201, headers: outcome.ok && outcome.replayed ? { "Idempotent-Replayed": "true" } : {} });
});

/** The rules of the window a token names, as the fan's home shard is told them (the drop's windows never change once made). */
async function saleWindowRule(env: Env, dropId: string, windowId: string, home: number, shards: number): Promise<WindowRule> {
	const window = presaleById((await requireKnownDrop(env, dropId)).presales, windowId);
	// Signed by the engine for a window this drop no longer lists: not a token for here.
	if (window === null) throw invalidToken();
	return windowRule(window, home, shards);
}

fanHoldRoutes.post("/drops/:id/holds/:holdId/purchase", async (request, env) => {
	const dropId = dropIdOf(request);
	const access = await accessFor(request, env, dropId);
	const shardIndex = shardOfId(request.params.holdId ?? "", "h", access.shards);
	if (shardIndex === null) throw notFound("hold");
	const { payment, email, locale } = parse(PurchaseBody, await readJson(request));
	// One call: the hold's shard quotes, charges, and turns the hold into an order (or refunds). Only it knows
	// the price, so it refuses a method this Worker does not take (and checks again), unless the hold costs nothing.
	const methodTaken = paymentProvider(env, payment.method).ok;
	// notAfter: a payment waiting on the fan's bank keeps the hold no longer than the turn. admittedAt: when the turn
	// began, for the queue figures; a token from before it was carried had a full access time before its expiry.
	const admittedAt = access.admittedAt ?? access.exp * 1000 - config(env).accessTokenSeconds * 1000;
	const outcome = await shardStub(env, dropId, shardIndex).purchase({ holdId: request.params.holdId!, fanId: access.fanId, payment, methodTaken, notAfter: access.exp * 1000, admittedAt, ...(email === undefined ? {} : { email }), ...(locale === undefined ? {} : { locale }) });
	const answer = unwrap(outcome as Outcome<PurchaseView>);
	// 3-D Secure: the fan's page finishes the payment with Stripe.js; asking again answers this, or the outcome.
	if ("clientSecret" in answer) return Response.json(answer satisfies PaymentAction, { status: 202 });
	const order = answer;
	// The buyer's lasting key to this order, for reading it after their turn has ended. Its
	// year runs from the purchase, so a replay answers the same claims (signed afresh).
	const orderToken = await signOrderToken(env, { dropId, fanId: access.fanId, orderId: order.orderId }, Date.parse(order.createdAt));
	return Response.json({ ...order, orderToken } satisfies Purchase, { status: 201, headers: outcome.ok && outcome.replayed ? { "Idempotent-Replayed": "true" } : {} });
});

fanHoldRoutes.delete("/drops/:id/holds/:holdId", async (request, env) => {
	const dropId = dropIdOf(request);
	const access = await accessFor(request, env, dropId);
	const shardIndex = shardOfId(request.params.holdId ?? "", "h", access.shards);
	if (shardIndex === null) throw notFound("hold");
	unwrap(await shardStub(env, dropId, shardIndex).release({ holdId: request.params.holdId!, fanId: access.fanId }));
	return new Response(null, { status: 204 });
});
