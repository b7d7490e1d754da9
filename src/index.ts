// Wiring only: the router, the Queue consumers, the cron and the Durable Object classes.
import { config } from "./shared/config";
import { router, toResponse } from "./http/router";
import { FOLLOW_UP_QUEUE, consumeFollowUps, queueMissedFollowUps } from "./after-sale/follow-up";
import { sweepRefunds } from "./after-sale/refund-sweep";
import { DRAW_CRON, drawDueWindows } from "./after-sale/draw-mail";
import { sweepResale } from "./after-sale/resale";
import { getDrop } from "./drops/store";
import { refundCancelledOrders } from "./after-sale/drop-cancel";
import { WEBHOOK_QUEUE, consumeWebhooks, dispatchWebhooks } from "./after-sale/webhook-delivery";
import { openedEventStatement } from "./after-sale/webhook-events";
import { consumeSales } from "./sales/consumer";
import { DEAD_SALES_QUEUE, consumeDeadSales } from "./sales/dead-letters";
import { reconcileRecentDrops } from "./sales/reconcile";
import { allowedOrigin, withCors, withSecurityHeaders } from "./http/headers";

export { InventoryShard } from "./inventory/inventory-shard";
export { WaitingLine } from "./waiting-room/waiting-line";
import { WaitingRoom as Pacer } from "./waiting-room/waiting-room";
import { turnTeller } from "./after-sale/turn-mail";

/** The pacer, handed the mail that tells a fan in line that a returned ticket's turn has come. */
export class WaitingRoom extends Pacer {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, turnTeller(env));
	}
}

export default {
	async fetch(request, env, ctx) {
		const response: Response = await router.fetch(request, env, ctx).catch(toResponse);
		const url = new URL(request.url);
		const isApi = url.pathname.startsWith("/api/") || url.pathname.startsWith("/.well-known/");
		// Only the fan page pays by card, and only a deployment with Stripe.js's key loads it.
		const settings = config(env);
		const stripe = !isApi && url.pathname.startsWith("/drops/") && settings.stripe !== null && settings.stripePublishableKey !== null;
		const secured = withSecurityHeaders(response, { page: !isApi, stripe, camera: url.pathname === "/gate" });
		return isApi ? withCors(secured, allowedOrigin(request, config(env).corsOrigins), config(env).corsOrigins) : secured;
	},
	async queue(batch, env) {
		if (batch.queue === DEAD_SALES_QUEUE) await consumeDeadSales(batch, env);
		else if (batch.queue === FOLLOW_UP_QUEUE) await consumeFollowUps(batch, env);
		else if (batch.queue === WEBHOOK_QUEUE) await consumeWebhooks(batch, env);
		else await consumeSales(batch, env);
	},
	async scheduled(controller, env) {
		// The minute's cron only draws registered windows and tells their fans; the rest runs every 30 minutes.
		if (controller.cron === DRAW_CRON) {
			const done = await drawDueWindows(env, controller.scheduledTime);
			// A draw wrote its presale.drawn deliveries in its own batch: sent now, not at the next half-hour.
			if (done.ok && done.value.drawn > 0) await dispatchWebhooks(env, controller.scheduledTime);
			return;
		}
		await reconcileRecentDrops(env);
		await queueMissedFollowUps(env);
		// Listings first: a sale a crash cut short writes its seller's refund, which the refund sweep then finishes.
		await sweepResale(env, controller.scheduledTime, (id) => getDrop(env.DB, id));
		await sweepRefunds(env, controller.scheduledTime);
		await refundCancelledOrders(env);
		// Drops opened meanwhile are announced, and deliveries never queued (or whose message was lost) queued.
		await dispatchWebhooks(env, controller.scheduledTime, openedEventStatement(env.DB, controller.scheduledTime));
	},
} satisfies ExportedHandler<Env, unknown>;
