// The promoter API: drops, live stats, sales and the audit. Every route needs
// the admin bearer token.
import { type IRequest, Router } from "itty-router";
import type { AdminDrop, AdminDropView, AuditReport, DropList, Reconciled, SalesPage } from "./api-answers";
import { AuditQuery, ListDropsQuery, SalesQuery, nextCursor, parseQuery } from "./api-schemas";
import { auditDrop } from "./audit";
import { config } from "./config";
import { type DropConfig, DROP_ID, applyDropPatch, newDropId, parseCreateDropWithSeats } from "./drops";
import { getDrop, insertDropWithSeats, listDrops, updateDrop } from "./drops-store";
import { ApiError, bearerToken, notFound, readJson, timingSafeEqualStrings } from "./http";
import { initShards, inventoryTotals } from "./inventory";
import { CREATE_MAX_BYTES, carriesTicketTypes, replaceSeatsRoute, withCsvLine } from "./seats-upload";
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
	// Up to 16 KiB; a body with ticketTypes (and its seats) up to CREATE_MAX_BYTES.
	const body = await readJson(request, { maxBytes: CREATE_MAX_BYTES, largeIf: carriesTicketTypes });
	const { drop: fields, seats } = withCsvLine(() => parseCreateDropWithSeats(body, now));
	const stamp = new Date(now).toISOString();
	const drop: DropConfig = { id: newDropId(), ...fields, createdAt: stamp, updatedAt: stamp };
	// The objects first: a drop listed in D1 is always ready for fans.
	await initShards(env, drop, seats);
	const { seedCommitment } = unwrap(await roomStub(env, drop.id).configure(drop));
	await insertDropWithSeats(env.DB, drop, seats);
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
	if (next.holdSeconds !== drop.holdSeconds) await initShards(env, next);
	unwrap(await roomStub(env, drop.id).configure(next));
	await updateDrop(env.DB, next);
	await forgetWatermark(drop.id);
	return dropView(env, next);
});

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
			ticketType: r.ticket_type,
			slot: r.slot_id,
			seats: r.seats ? r.seats.split(" ") : [],
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

// A seated type's seats as CSV, before the opening (issue 14; src/seats-upload.ts).
adminRouter.put("/drops/:id/ticket-types/:typeId/seats", async (request, env) => {
	const drop = await loadDrop(env, request.params.id);
	const next = await replaceSeatsRoute(request, env, drop, request.params.typeId ?? "", Date.now());
	return dropView(env, next);
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
