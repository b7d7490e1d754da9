// The promoter API: drops, live stats, sales and the audit. Every route needs
// the admin bearer token.
import { type IRequest, Router } from "itty-router";
import type { AdminDrop, AdminDropView, AuditReport, DevMailList, DropCancelled, DropList, OrderRefunds, OrderRetry, Reconciled, RefundList, SalesPage } from "./api-answers";
import { AuditQuery, CancelBody, DevMailQuery, ListDropsQuery, RefundBody, RefundsQuery, SalesQuery, nextCursor, parseQuery } from "./api-schemas";
import { retryOrder } from "./order-retry";
import { devMail } from "./receipts";
import { cancelDrop, listRefunds, refundOrder } from "./refunds";
import { parse } from "./validation";
import { auditDrop } from "./audit";
import { config } from "./config";
import { type DropConfig, DROP_ID, applyDropPatch, newDropId, parseCreateDrop } from "./drops";
import { getDrop, insertDrop, listDrops, updateDrop } from "./drops-store";
import { ApiError, bearerToken, notFound, readJson, timingSafeEqualStrings } from "./http";
import { initShards, inventoryTotals } from "./inventory";
import { unwrap } from "./outcome";
import { reconcileDrop } from "./sales-reconcile";
import { recordedTotals, salesCsvStream, salesPage } from "./sales-store";
import { forgetWatermark } from "./watermark-cache";
import { roomStub } from "./names";

type Args = [Env, ExecutionContext];

export const adminRouter = Router<IRequest, Args>({ base: "/api/admin" });

async function requireAdmin(request: IRequest, env: Env): Promise<void> {
	const token = bearerToken(request);
	const expected = config(env).adminToken;
	if (!expected || token === null || !(await timingSafeEqualStrings(token, expected))) {
		throw new ApiError(401, "unauthorized", "A valid admin token is required.", {}, { "WWW-Authenticate": 'Bearer realm="admin"' });
	}
}

adminRouter.all("*", requireAdmin);

async function loadDrop(env: Env, id: string | undefined): Promise<DropConfig> {
	if (id === undefined || !DROP_ID.test(id)) throw notFound("drop");
	const drop = await getDrop(env.DB, id);
	if (drop === null) throw notFound("drop");
	return drop;
}

adminRouter.post("/drops", async (request, env) => {
	const now = Date.now();
	const fields = parseCreateDrop(await readJson(request), now);
	const stamp = new Date(now).toISOString();
	const drop: DropConfig = { id: newDropId(), ...fields, createdAt: stamp, updatedAt: stamp };
	// The objects first: a drop listed in D1 is always ready for fans.
	await initShards(env, drop);
	const { seedCommitment } = unwrap(await roomStub(env, drop.id).configure(drop));
	await insertDrop(env.DB, drop);
	return Response.json({ ...drop, seedCommitment } satisfies AdminDrop, { status: 201, headers: { Location: `/api/admin/drops/${drop.id}` } });
});

adminRouter.get("/drops", async (request, env) => {
	const { limit, cursor } = parseQuery(ListDropsQuery, request.query);
	const drops = await listDrops(env.DB, limit, cursor ? { createdAt: cursor[0], id: cursor[1] } : null);
	const last = drops.at(-1);
	return { drops, nextCursor: nextCursor(drops, limit, last ? [last.createdAt, last.id] : null) } satisfies DropList;
});

adminRouter.get("/drops/:id", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	return dropView(env, drop);
});

adminRouter.patch("/drops/:id", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	const next = applyDropPatch(drop, await readJson(request), Date.now());
	await saveDrop(env, drop, next);
	return dropView(env, next);
});

/** A changed drop to its objects first, then D1. */
async function saveDrop(env: Env, drop: DropConfig, next: DropConfig): Promise<void> {
	if (next.holdSeconds !== drop.holdSeconds) await initShards(env, next);
	unwrap(await roomStub(env, drop.id).configure(next));
	await updateDrop(env.DB, next);
	await forgetWatermark(drop.id);
}

adminRouter.get("/drops/:id/sales", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	// The CSV is the whole export: its request is not held to the JSON pages' limit and cursor.
	const { format } = parseQuery(SalesQuery.pick({ format: true }), request.query);
	const wantsCsv = (request.headers.get("accept") ?? "").includes("text/csv") || format === "csv";
	if (wantsCsv) {
		return new Response(salesCsvStream(env.DB, drop.id), {
			headers: {
				"Content-Type": "text/csv; charset=utf-8",
				"Content-Disposition": `attachment; filename="sales-${drop.id}.csv"`,
			},
		});
	}
	const { limit, cursor } = parseQuery(SalesQuery, request.query);
	const rows = await salesPage(env.DB, drop.id, limit, cursor ? { createdAt: cursor[0], orderId: cursor[1] } : null);
	const last = rows.at(-1);
	return {
		dropId: drop.id,
		sales: rows.map((r) => ({
			orderId: r.order_id,
			createdAt: r.created_at,
			recordedAt: r.recorded_at,
			fanId: r.fan_id,
			quantity: r.quantity,
			unitPriceCents: r.unit_price_cents,
			totalCents: r.total_cents,
			currency: r.currency,
			paymentId: r.payment_id,
			shard: r.shard,
			tickets: r.tickets ? r.tickets.split(" ") : [],
			status: r.status,
			refundedTickets: r.refunded_tickets,
		})),
		nextCursor: nextCursor(rows, limit, last ? [last.created_at, last.order_id] : null),
	} satisfies SalesPage;
});

adminRouter.get("/drops/:id/audit", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	const { graceSeconds } = parseQuery(AuditQuery, request.query);
	return (await auditDrop(env, drop, graceSeconds)) satisfies AuditReport;
});

// Sales sent over 10 minutes ago and still missing from D1 are sent again now (the cron does the same every 30 minutes).
adminRouter.post("/drops/:id/reconcile", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	return (await reconcileDrop(env, drop)) satisfies Reconciled;
});

// ── After the sale (issue 15): refunds, cancellation, failed orders, the dev mailbox ──

adminRouter.post("/drops/:id/orders/:orderId/refund", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	const { tickets, restock } = parse(RefundBody, (await readJson(request, { optional: true })) ?? {});
	return (await refundOrder(env, drop, request.params.orderId ?? "", { ...(tickets === undefined ? {} : { codes: tickets }), restock: restock ?? false })) satisfies OrderRefunds;
});

adminRouter.get("/drops/:id/refunds", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	const { limit, cursor } = parseQuery(RefundsQuery, request.query);
	const { last, count: _count, ...page } = await listRefunds(env.DB, drop.id, limit, cursor ? { createdAt: cursor[0], refundId: cursor[1] } : null);
	return { ...page, nextCursor: nextCursor(page.refunds, limit, last ? [last.created_at, last.refund_id] : null) } satisfies RefundList;
});

adminRouter.post("/drops/:id/cancel", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	const { restock } = parse(CancelBody, (await readJson(request, { optional: true })) ?? {});
	// No more admissions: the drop is paused before its orders are refunded.
	if (!drop.paused) await saveDrop(env, drop, applyDropPatch(drop, { paused: true }, Date.now()));
	return (await cancelDrop(env, drop, restock ?? false)) satisfies DropCancelled;
});

adminRouter.post("/drops/:id/orders/:orderId/retry", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	return (await retryOrder(env, drop.id, request.params.orderId ?? "")) satisfies OrderRetry;
});

adminRouter.get("/dev/mail", async (request, env) => {
	if (config(env).receipts.sender !== "dev") throw new ApiError(404, "not_found", "The dev mailbox is on only with RECEIPT_SENDER = \"dev\".");
	const { orderId, limit } = parseQuery(DevMailQuery, request.query);
	return { mail: await devMail(env.DB, orderId ?? null, limit) } satisfies DevMailList;
});

/** The drop as the promoter sees it: its settings, the seed's commitment and live stats. */
async function dropView(env: Env, drop: DropConfig): Promise<AdminDropView> {
	const stats = await dropStats(env, drop);
	return { ...drop, seedCommitment: stats.seedCommitment, stats: stats.stats };
}

async function dropStats(env: Env, drop: DropConfig) {
	const [room, inventory, recorded] = await Promise.all([
		roomStub(env, drop.id).stats(),
		inventoryTotals(env, drop.id, drop.shards),
		recordedTotals(env.DB, drop.id),
	]);
	return {
		seedCommitment: room.seedCommitment,
		stats: {
			joined: room.joined,
			waiting: room.waiting,
			admitted: room.admitted,
			held: inventory.held,
			sold: inventory.sold,
			remaining: inventory.remaining,
			recorded: recorded.orders,
			recordedTickets: recorded.tickets,
		},
	};
}
