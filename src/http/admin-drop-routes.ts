// The promoter API's drops: create, list, read with live stats, change, and
// replace a seated type's seats. A change reaches the drop's objects before D1,
// so a drop D1 lists is always one its objects know; a promoter's limit of open
// drops is taken in D1 in one statement with its count. The cancel route changes
// its drop through saveDrop too.
import { type IRequest, Router } from "itty-router";
import type { AdminDrop, AdminDropView, DropList } from "../contract/admin-answers";
import { ListDropsQuery, nextCursor, parseQuery } from "../contract/requests";
import { type DropConfig, applyDropPatch, hasClosed, newDropId, parseCreateDropWithSeats } from "../drops/rules";
import { MOVES, dropState } from "../drops/lifecycle";
import { insertDropStatement, listDrops, newDropPresaleStatements, newDropSeatStatements, updateDropStatement } from "../drops/store";
import { initShards, inventoryTotals } from "../inventory/drop-shards";
import { recordedTotals } from "../sales/store";
import { ApiError } from "../shared/errors";
import { roomStub } from "../shared/names";
import { unwrap } from "../shared/outcome";
import { readJson } from "../shared/request";
import { dropChangeEntries } from "../tenants/activity";
import { type Principal, activityStatement, dropOf, principalOf, recordActivity } from "../tenants/auth";
import { getPromoter, openDropCount } from "../tenants/store";
import { forgetWatermark } from "../waiting-room/watermark-cache";
import { configureRooms } from "../waiting-room/window-rooms";
import { CREATE_MAX_BYTES, carriesTicketTypes, replaceSeatsRoute, withCsvLine } from "./seats-upload";

type Args = [Env, ExecutionContext];

export const adminDropRoutes = Router<IRequest, Args>({ base: "/api/admin" });

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

adminDropRoutes.post("/drops", async (request, env) => {
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
	const { seedCommitment } = await configureRooms(env, drop);
	// The count and the insert are one statement (two creations at once cannot both take the last place);
	// the loser's objects stay configured but unreachable, as nothing calls an object D1 does not list.
	const [inserted] = await env.DB.batch([
		insertDropStatement(env.DB, drop, openDrops),
		...newDropPresaleStatements(env.DB, drop),
		// Seats are written only if the drop's row was (the limit may refuse it).
		...newDropSeatStatements(env.DB, drop, seats),
		activityStatement(env, principal, { action: "drop.created", promoterId, dropId: drop.id, detail: { name: drop.name, capacity: drop.capacity, opensAt: drop.opensAt }, at: stamp }, true),
	]);
	if (inserted!.meta.changes === 0) throw openDropsLimit(openDrops ?? 0);
	return Response.json({ ...drop, seedCommitment } satisfies AdminDrop, { status: 201, headers: { Location: `/api/admin/drops/${drop.id}` } });
});

adminDropRoutes.get("/drops", async (request, env) => {
	const { limit, cursor } = parseQuery(ListDropsQuery, request.query);
	const principal = principalOf(request);
	const scope = principal.kind === "key" ? principal.promoterId : undefined;
	const drops = await listDrops(env.DB, limit, cursor ? { createdAt: cursor[0], id: cursor[1] } : null, scope);
	const last = drops.at(-1);
	return { drops, nextCursor: nextCursor(drops, limit, last ? [last.createdAt, last.id] : null) } satisfies DropList;
});

adminDropRoutes.get("/drops/:id", async (request, env) => dropView(env, dropOf(request)));

adminDropRoutes.patch("/drops/:id", async (request, env) => {
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

// A seated type's seats as CSV, before the opening (src/http/seats-upload.ts).
adminDropRoutes.put("/drops/:id/ticket-types/:typeId/seats", async (request, env) => {
	const drop = dropOf(request);
	const typeId = request.params.typeId ?? "";
	const next = await replaceSeatsRoute(request, env, drop, typeId, Date.now());
	await recordActivity(env, request, { action: "drop.seats_uploaded", promoterId: drop.promoterId, dropId: drop.id, detail: { ticketType: typeId, capacity: { from: drop.capacity, to: next.capacity } } });
	return dropView(env, next);
});

/** A changed drop to its objects first, then D1 with its activity entries. */
export async function saveDrop(env: Env, principal: Principal, drop: DropConfig, next: DropConfig): Promise<void> {
	if (next.holdSeconds !== drop.holdSeconds) await initShards(env, next);
	await configureRooms(env, next);
	await env.DB.batch([
		updateDropStatement(env.DB, next),
		...dropChangeEntries(drop, next).map((change) =>
			activityStatement(env, principal, { ...change, promoterId: drop.promoterId, dropId: drop.id, at: next.updatedAt }),
		),
	]);
	await forgetWatermark(drop.id);
}

/** The drop as the promoter sees it: its settings, its state and the moves it allows, the seed's commitment and live stats. */
export async function dropView(env: Env, drop: DropConfig): Promise<AdminDropView> {
	const stats = await dropStats(env, drop);
	const status = dropState(drop, stats.stats.remaining === 0 && stats.stats.held === 0, Date.now());
	return { ...drop, seedCommitment: stats.seedCommitment, status, moves: [...MOVES[status]], stats: stats.stats };
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
