// The promoter API: drops, live stats, sales and the audit; promoters, their
// keys and the activity log. Every route goes through authorizeAdmin
// (src/tenants/auth.ts): the operator's token or a promoter's key, its role, and
// the drop of a /drops/:id path scoped to the key's promoter.
import { type IRequest, Router } from "itty-router";
import { type Principal, activityStatement, authorizeAdmin, dropOf, principalOf, recordActivity } from "../tenants/auth";
import { changedFields, dropChangeEntries } from "../tenants/activity";
import type { ActivityPage, AdminDrop, AdminDropView, ApiKeyMinted, DevMailList, DropCancelled, DropList, KeyList, Me, OrderRefunds, OrderRetry, PromoterCreated, PromoterList, RefundList, SalesPage } from "../contract/admin-answers";
import type { AuditReport, Reconciled } from "../contract/audit-answers";
import { type Role, keyHash, newApiKey } from "../tenants/api-keys";
import { ActivityQuery, AuditQuery, CancelBody, CreatePromoterBody, DevMailQuery, KEY_ID, KeysQuery, ListDropsQuery, ListPromotersQuery, MintKeyBody, PROMOTER_ID, PatchPromoterBody, RefundBody, RefundsQuery, SalesQuery, nextCursor, parseQuery } from "../contract/requests";
import { retryOrder } from "../after-sale/retry";
import { devMail } from "../after-sale/receipts";
import { cancelDrop, listRefunds, refundOrder } from "../after-sale/refunds";
import { auditDrop } from "../sales/audit";
import { randomId } from "../shared/ids";
import { config } from "../shared/config";
import { type DropConfig, applyDropPatch, hasClosed, newDropId, parseCreateDropWithSeats } from "../drops/rules";
import { insertDropStatement, listDrops, newDropSeatStatements, updateDropStatement } from "../drops/store";
import { ApiError, notFound } from "../shared/errors";
import { initShards, inventoryTotals } from "../inventory/drop-shards";
import { CREATE_MAX_BYTES, carriesTicketTypes, replaceSeatsRoute, withCsvLine } from "./seats-upload";
import { unwrap } from "../shared/outcome";
import { reconcileDrop } from "../sales/reconcile";
import { recordedTotals, salesCsvStream, salesPage } from "../sales/store";
import { forgetWatermark } from "../waiting-room/watermark-cache";
import { roomStub } from "../shared/names";
import { type ApiKeyInfo, type Promoter, activityPage, getKey, getPromoter, insertKeyStatement, insertPromoterStatement, listKeys, listPromoters, openDropCount, revokeKeyStatement, updatePromoterStatement } from "../tenants/store";
import { parse } from "../shared/validation";
import { readJson } from "../shared/request";

type Args = [Env, ExecutionContext];

export const adminRouter = Router<IRequest, Args>({ base: "/api/admin" });

adminRouter.all("*", authorizeAdmin);

const promoterIdOf = (principal: Principal) => (principal.kind === "key" ? principal.promoterId : null);

const openDropsLimit = (openDrops: number) =>
	new ApiError(409, "open_drops_limit", `This promoter may have at most ${openDrops} drops open at once; close one (closesAt) first.`, { openDrops });

/** 409 when the promoter already has its limit of drops not yet closed (none for the operator's drops). */
async function checkOpenDrops(env: Env, promoterId: string | null, stamp: string): Promise<number | null> {
	if (promoterId === null) return null;
	const openDrops = (await getPromoter(env.DB, promoterId))?.limits.openDrops ?? null;
	if (openDrops !== null && (await openDropCount(env.DB, promoterId, stamp)) >= openDrops) throw openDropsLimit(openDrops);
	return openDrops;
}

adminRouter.post("/drops", async (request, env) => {
	const principal = principalOf(request);
	const now = Date.now();
	// Up to 16 KiB; a body with ticketTypes (and its seats) up to CREATE_MAX_BYTES.
	const body = await readJson(request, { maxBytes: CREATE_MAX_BYTES, largeIf: carriesTicketTypes });
	const { drop: fields, seats } = withCsvLine(() => parseCreateDropWithSeats(body, now));
	const stamp = new Date(now).toISOString();
	// A drop belongs to the promoter whose key made it; the operator's own drops belong to none.
	const promoterId = promoterIdOf(principal);
	const drop: DropConfig = { id: newDropId(), ...fields, createdAt: stamp, updatedAt: stamp, promoterId };
	const openDrops = await checkOpenDrops(env, promoterId, stamp);
	// The objects first: a drop listed in D1 is always ready for fans.
	await initShards(env, drop, seats);
	const { seedCommitment } = unwrap(await roomStub(env, drop.id).configure(drop));
	// The count and the insert are one statement (two creations at once cannot both take the last place);
	// the loser's objects stay configured but unreachable, as nothing calls an object D1 does not list.
	const [inserted] = await env.DB.batch([
		insertDropStatement(env.DB, drop, openDrops),
		// Seats are written only if the drop's row was (the limit may refuse it).
		...newDropSeatStatements(env.DB, drop, seats),
		activityStatement(env, principal, { action: "drop.created", promoterId, dropId: drop.id, detail: { name: drop.name, capacity: drop.capacity, opensAt: drop.opensAt }, at: stamp }, true),
	]);
	if (inserted!.meta.changes === 0) throw openDropsLimit(openDrops ?? 0);
	return Response.json({ ...drop, seedCommitment } satisfies AdminDrop, { status: 201, headers: { Location: `/api/admin/drops/${drop.id}` } });
});

adminRouter.get("/drops", async (request, env) => {
	const { limit, cursor } = parseQuery(ListDropsQuery, request.query);
	const principal = principalOf(request);
	const scope = principal.kind === "key" ? principal.promoterId : undefined;
	const drops = await listDrops(env.DB, limit, cursor ? { createdAt: cursor[0], id: cursor[1] } : null, scope);
	const last = drops.at(-1);
	return { drops, nextCursor: nextCursor(drops, limit, last ? [last.createdAt, last.id] : null) } satisfies DropList;
});

adminRouter.get("/drops/:id", async (request, env) => dropView(env, dropOf(request)));

adminRouter.patch("/drops/:id", async (request, env) => {
	const drop = dropOf(request);
	const now = Date.now();
	const next = applyDropPatch(drop, await readJson(request), now);
	// Opening a closed drop again takes a place among the promoter's open drops: taken in D1 first, in one
	// statement with the count (two reopenings at once cannot both take the last place), before any object hears of it.
	const openDrops = hasClosed(drop, now) && !hasClosed(next, now) ? await checkOpenDrops(env, drop.promoterId, next.updatedAt) : null;
	if (openDrops !== null) {
		const taken = await updateDropStatement(env.DB, next, openDrops).run();
		if (taken.meta.changes === 0) throw openDropsLimit(openDrops);
		try {
			await saveDrop(env, principalOf(request), drop, next);
		} catch (err) {
			// The objects did not take it: the place is given back, and the drop stays as it was.
			await updateDropStatement(env.DB, drop).run().catch(() => undefined);
			throw err;
		}
	} else {
		await saveDrop(env, principalOf(request), drop, next);
	}
	return dropView(env, next);
});

/** A changed drop to its objects first, then D1 with its activity entries. */
async function saveDrop(env: Env, principal: Principal, drop: DropConfig, next: DropConfig): Promise<void> {
	if (next.holdSeconds !== drop.holdSeconds) await initShards(env, next);
	unwrap(await roomStub(env, drop.id).configure(next));
	await env.DB.batch([
		updateDropStatement(env.DB, next),
		...dropChangeEntries(drop, next).map((change) =>
			activityStatement(env, principal, { ...change, promoterId: drop.promoterId, dropId: drop.id, at: next.updatedAt }),
		),
	]);
	await forgetWatermark(drop.id);
}

adminRouter.get("/drops/:id/sales", async (request, env) => {
	const drop = dropOf(request);
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
			ticketType: r.ticket_type,
			slot: r.slot_id,
			seats: r.seats ? r.seats.split(" ") : [],
		})),
		nextCursor: nextCursor(rows, limit, last ? [last.created_at, last.order_id] : null),
	} satisfies SalesPage;
});

adminRouter.get("/drops/:id/audit", async (request, env) => {
	const drop = dropOf(request);
	const { graceSeconds } = parseQuery(AuditQuery, request.query);
	return (await auditDrop(env, drop, graceSeconds)) satisfies AuditReport;
});

// Sales sent over 10 minutes ago and still missing from D1 are sent again now (the cron does the same every 30 minutes).
adminRouter.post("/drops/:id/reconcile", async (request, env) => {
	const drop = dropOf(request);
	const result = await reconcileDrop(env, drop);
	if (result.resent > 0) {
		await activityStatement(env, principalOf(request), { action: "drop.reconciled", promoterId: drop.promoterId, dropId: drop.id, detail: { resent: result.resent } }).run();
	}
	return result satisfies Reconciled;
});

// ── After the sale (issue 15): refunds, cancellation, failed orders, the dev mailbox ──

adminRouter.post("/drops/:id/orders/:orderId/refund", async (request, env) => {
	const drop = dropOf(request);
	const { tickets, restock } = parse(RefundBody, (await readJson(request, { optional: true })) ?? {});
	const refunded = await refundOrder(env, drop, request.params.orderId ?? "", { ...(tickets === undefined ? {} : { codes: tickets }), restock: restock ?? false });
	// Written once the provider has refunded; a repeat that changed nothing records nothing.
	if (refunded.changed) {
		await recordActivity(env, request, {
			action: "order.refunded",
			promoterId: drop.promoterId,
			dropId: drop.id,
			detail: { orderId: refunded.orderId, tickets: tickets ?? "all", restock: restock ?? false, refundedTickets: refunded.refundedTickets },
		});
	}
	return refunded satisfies OrderRefunds;
});

adminRouter.get("/drops/:id/refunds", async (request, env) => {
	const drop = dropOf(request);
	const { limit, cursor } = parseQuery(RefundsQuery, request.query);
	const { last, count: _count, ...page } = await listRefunds(env.DB, drop.id, limit, cursor ? { createdAt: cursor[0], refundId: cursor[1] } : null);
	return { ...page, nextCursor: nextCursor(page.refunds, limit, last ? [last.created_at, last.refund_id] : null) } satisfies RefundList;
});

adminRouter.post("/drops/:id/cancel", async (request, env) => {
	const drop = dropOf(request);
	const { restock } = parse(CancelBody, (await readJson(request, { optional: true })) ?? {});
	// No more admissions: the drop is paused before its orders are refunded.
	if (!drop.paused) await saveDrop(env, principalOf(request), drop, applyDropPatch(drop, { paused: true }, Date.now()));
	const { first, ...cancelled } = await cancelDrop(env, drop, restock ?? false);
	if (first || cancelled.refundedOrders > 0 || !drop.paused) {
		await recordActivity(env, request, {
			action: "drop.cancelled",
			promoterId: drop.promoterId,
			dropId: drop.id,
			detail: { restock: restock ?? false, refundedOrders: cancelled.refundedOrders, ordersLeft: cancelled.ordersLeft },
		});
	}
	return cancelled satisfies DropCancelled;
});

adminRouter.post("/drops/:id/orders/:orderId/retry", async (request, env) => {
	const drop = dropOf(request);
	const retried = await retryOrder(env, drop.id, request.params.orderId ?? "");
	await recordActivity(env, request, { action: "order.retried", promoterId: drop.promoterId, dropId: drop.id, detail: { orderId: retried.orderId } });
	return retried satisfies OrderRetry;
});

adminRouter.get("/dev/mail", async (request, env) => {
	if (config(env).receipts.sender !== "dev") throw new ApiError(404, "not_found", "The dev mailbox is on only with RECEIPT_SENDER = \"dev\".");
	const { orderId, limit } = parseQuery(DevMailQuery, request.query);
	return { mail: await devMail(env.DB, orderId ?? null, limit) } satisfies DevMailList;
});

// A seated type's seats as CSV, before the opening (issue 14; src/http/seats-upload.ts).
adminRouter.put("/drops/:id/ticket-types/:typeId/seats", async (request, env) => {
	const drop = dropOf(request);
	const typeId = request.params.typeId ?? "";
	const next = await replaceSeatsRoute(request, env, drop, typeId, Date.now());
	await recordActivity(env, request, { action: "drop.seats_uploaded", promoterId: drop.promoterId, dropId: drop.id, detail: { ticketType: typeId, capacity: { from: drop.capacity, to: next.capacity } } });
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

// Promoters, their keys and the activity log (issue 17). Who may call each
// route is decided in authorizeAdmin (src/tenants/auth.ts): the promoter routes
// are the operator's; keys and the activity log are scoped to a key's promoter.

const promoterPath = (raw: string | undefined): string => {
	if (raw === undefined || !PROMOTER_ID.test(raw)) throw notFound("promoter");
	return raw;
};

/** A new key for a promoter: its row's statement, the key's view, and the key itself (shown once). */
async function mintKey(env: Env, promoterId: string, label: string, role: Role, at: string) {
	const { id, apiKey } = newApiKey();
	const key: ApiKeyInfo = { id, promoterId, label, role, createdAt: at, revokedAt: null };
	return { key, apiKey, statement: insertKeyStatement(env.DB, key, await keyHash(apiKey)) };
}

/**
 * The promoter a keys or activity request is about: a key's own (naming another is 404,
 * as if it did not exist); the operator names one (`required`), or means every promoter (null).
 */
async function promoterInScope(env: Env, principal: Principal, named: string | undefined, required: boolean): Promise<string | null> {
	if (principal.kind === "key") {
		if (named !== undefined && named !== principal.promoterId) throw notFound("promoter");
		return principal.promoterId;
	}
	if (named === undefined) {
		if (required) throw new ApiError(400, "missing_field", `"promoterId" is required from the operator.`, { field: "promoterId" });
		return null;
	}
	if (!PROMOTER_ID.test(named) || (await getPromoter(env.DB, named)) === null) throw notFound("promoter");
	return named;
}

adminRouter.post("/promoters", async (request, env) => {
	const body = parse(CreatePromoterBody, await readJson(request));
	const at = new Date().toISOString();
	const limits = { joinsPerMinute: null, adminRequestsPerMinute: null, openDrops: null, ...body.limits };
	const promoter: Promoter = { id: randomId("p_"), name: body.name, limits, createdAt: at, updatedAt: at };
	const first = await mintKey(env, promoter.id, "owner", "owner", at);
	const principal = principalOf(request);
	await env.DB.batch([
		insertPromoterStatement(env.DB, promoter),
		first.statement,
		activityStatement(env, principal, { action: "promoter.created", promoterId: promoter.id, detail: { name: promoter.name, limits }, at }),
		activityStatement(env, principal, { action: "key.minted", promoterId: promoter.id, detail: { keyId: first.key.id, label: "owner", role: "owner" }, at }),
	]);
	return Response.json({ ...promoter, apiKey: first.apiKey, key: first.key } satisfies PromoterCreated, { status: 201 });
});

adminRouter.get("/promoters", async (request, env) => {
	const { limit, cursor } = parseQuery(ListPromotersQuery, request.query);
	const promoters = await listPromoters(env.DB, limit, cursor ? { createdAt: cursor[0], id: cursor[1] } : null);
	const last = promoters.at(-1);
	return { promoters, nextCursor: nextCursor(promoters, limit, last ? [last.createdAt, last.id] : null) } satisfies PromoterList;
});

adminRouter.patch("/promoters/:promoterId", async (request, env) => {
	const before = await getPromoter(env.DB, promoterPath(request.params.promoterId));
	if (before === null) throw notFound("promoter");
	const body = parse(PatchPromoterBody, await readJson(request));
	if (body.name === undefined && (body.limits === undefined || Object.keys(body.limits).length === 0)) {
		throw new ApiError(400, "empty_patch", "Send at least one field to change.", { field: "body" });
	}
	const after: Promoter = { ...before, name: body.name ?? before.name, limits: { ...before.limits, ...body.limits }, updatedAt: new Date().toISOString() };
	const changes = { ...changedFields(before, after, ["name"]), ...changedFields(before.limits, after.limits, ["joinsPerMinute", "adminRequestsPerMinute", "openDrops"]) };
	await env.DB.batch([
		updatePromoterStatement(env.DB, after),
		activityStatement(env, principalOf(request), { action: "promoter.updated", promoterId: after.id, detail: { changes }, at: after.updatedAt }),
	]);
	return after;
});

adminRouter.get("/me", async (request, env) => {
	const principal = principalOf(request);
	if (principal.kind === "operator") return { kind: "operator", promoter: null, key: null } satisfies Me;
	return {
		kind: "key",
		promoter: await getPromoter(env.DB, principal.promoterId),
		key: { id: principal.keyId, label: principal.label, role: principal.role },
	} satisfies Me;
});

adminRouter.post("/keys", async (request, env) => {
	const principal = principalOf(request);
	const body = parse(MintKeyBody, await readJson(request));
	const promoterId = (await promoterInScope(env, principal, body.promoterId, true))!;
	const at = new Date().toISOString();
	const minted = await mintKey(env, promoterId, body.label, body.role, at);
	await env.DB.batch([
		minted.statement,
		activityStatement(env, principal, { action: "key.minted", promoterId, detail: { keyId: minted.key.id, label: body.label, role: body.role }, at }),
	]);
	return Response.json({ ...minted.key, apiKey: minted.apiKey } satisfies ApiKeyMinted, { status: 201 });
});

adminRouter.get("/keys", async (request, env) => {
	const { promoterId } = parseQuery(KeysQuery, request.query);
	const scope = (await promoterInScope(env, principalOf(request), promoterId, true))!;
	return { keys: await listKeys(env.DB, scope) } satisfies KeyList;
});

adminRouter.delete("/keys/:keyId", async (request, env) => {
	const principal = principalOf(request);
	const keyId = request.params.keyId;
	const key = keyId !== undefined && KEY_ID.test(keyId) ? await getKey(env.DB, keyId) : null;
	if (key === null || (principal.kind === "key" && key.promoterId !== principal.promoterId)) throw notFound("key");
	// Revoking a revoked key changes nothing and records nothing.
	if (key.revokedAt !== null) return key;
	const at = new Date().toISOString();
	await env.DB.batch([
		revokeKeyStatement(env.DB, key.id, at),
		activityStatement(env, principal, { action: "key.revoked", promoterId: key.promoterId, detail: { keyId: key.id, label: key.label, role: key.role }, at }),
	]);
	return { ...key, revokedAt: at };
});

adminRouter.get("/activity", async (request, env) => {
	const { limit, cursor, promoterId } = parseQuery(ActivityQuery, request.query);
	const scope = await promoterInScope(env, principalOf(request), promoterId, false);
	const before = cursor ? Number(cursor[1]) : null;
	if (before !== null && !Number.isSafeInteger(before)) throw new ApiError(400, "invalid_cursor", `"cursor" is not one this API gave out.`, { field: "cursor" });
	const entries = await activityPage(env.DB, scope, limit, before);
	const last = entries.at(-1);
	return { entries, nextCursor: nextCursor(entries, limit, last ? [last.at, String(last.seq)] : null) } satisfies ActivityPage;
});
