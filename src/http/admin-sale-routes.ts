// The promoter API's sales and checks: the drop's sales from D1 (JSON pages, or
// the whole export as streamed CSV), the audit of every invariant on live data,
// and sending again the sales D1 still lacks.
import { type IRequest, Router } from "itty-router";
import type { SalesPage } from "../contract/admin-answers";
import type { AuditReport, Reconciled } from "../contract/audit-answers";
import type { QueueStats } from "../contract/queue-answers";
import { AuditQuery, QueueStatsQuery, SalesQuery, nextCursor, parseQuery } from "../contract/requests";
import { auditDrop } from "../sales/audit";
import { queueStats, queueStatsCsv } from "../sales/queue-figures";
import { reconcileDrop } from "../sales/reconcile";
import { salesCsvStream, salesPage } from "../sales/store";
import { activityStatement, dropOf, principalOf } from "../tenants/auth";

type Args = [Env, ExecutionContext];

export const adminSaleRoutes = Router<IRequest, Args>({ base: "/api/admin" });

adminSaleRoutes.get("/drops/:id/sales", async (request, env) => {
	const drop = dropOf(request);
	// The CSV is the whole export (of what `q` finds, if given): its request is not held to the JSON pages' limit and cursor.
	const { format, q: csvSearch } = parseQuery(SalesQuery.pick({ format: true, q: true }), request.query);
	const wantsCsv = (request.headers.get("accept") ?? "").includes("text/csv") || format === "csv";
	if (wantsCsv) {
		return new Response(salesCsvStream(env.DB, drop.id, undefined, csvSearch ?? null), {
			headers: {
				"Content-Type": "text/csv; charset=utf-8",
				"Content-Disposition": `attachment; filename="sales-${drop.id}${csvSearch === undefined ? "" : "-search"}.csv"`,
			},
		});
	}
	const { limit, cursor, q } = parseQuery(SalesQuery, request.query);
	const rows = await salesPage(env.DB, drop.id, limit, cursor ? { createdAt: cursor[0], orderId: cursor[1] } : null, q ?? null);
	const last = rows.at(-1);
	return {
		dropId: drop.id,
		sales: rows.map((r) => ({
			orderId: r.order_id,
			createdAt: r.created_at,
			recordedAt: r.recorded_at,
			fanId: r.fan_id,
			email: r.receipt_to,
			quantity: r.quantity,
			unitPriceCents: r.unit_price_cents,
			totalCents: r.total_cents,
			currency: r.currency,
			paymentId: r.payment_id,
			shard: r.shard,
			tickets: r.tickets ? r.tickets.split(" ") : [],
			status: r.status,
			refundedTickets: r.refunded_tickets,
			ticketType: r.ticket_type,
			slot: r.slot_id,
			seats: r.seats ? r.seats.split(" ") : [],
		})),
		nextCursor: nextCursor(rows, limit, last ? [last.created_at, last.order_id] : null),
	} satisfies SalesPage;
});

// The queue minute by minute, computed at read time from the pacer's batches and placements and D1's sales.
adminSaleRoutes.get("/drops/:id/queue-stats", async (request, env) => {
	const drop = dropOf(request);
	const { format } = parseQuery(QueueStatsQuery, request.query);
	const wantsCsv = format === "csv" || (format === undefined && (request.headers.get("accept") ?? "").includes("text/csv"));
	const stats = await queueStats(env, drop);
	if (wantsCsv) {
		return new Response(queueStatsCsv(stats), {
			headers: { "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="queue-${drop.id}.csv"` },
		});
	}
	return stats satisfies QueueStats;
});

adminSaleRoutes.get("/drops/:id/audit", async (request, env) => {
	const drop = dropOf(request);
	const { graceSeconds } = parseQuery(AuditQuery, request.query);
	return (await auditDrop(env, drop, graceSeconds)) satisfies AuditReport;
});

// Sales sent over 10 minutes ago and still missing from D1 are sent again now (the cron does the same every 30 minutes).
adminSaleRoutes.post("/drops/:id/reconcile", async (request, env) => {
	const drop = dropOf(request);
	const result = await reconcileDrop(env, drop);
	if (result.resent > 0) {
		await activityStatement(env, principalOf(request), { action: "drop.reconciled", promoterId: drop.promoterId, dropId: drop.id, detail: { resent: result.resent } }).run();
	}
	return result satisfies Reconciled;
});
