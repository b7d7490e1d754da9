// A seated type's seats as CSV: PUT /api/admin/drops/:id/ticket-types/:typeId/seats,
// before the opening. The whole upload is checked first (every error names its line);
// nothing is stored unless all of it is good.
import type { IRequest } from "itty-router";
import { type DropConfig, LIMITS, typesOf } from "../drops/rules";
import { replaceSeatsInD1 } from "../drops/store";
import { ApiError, notFound } from "../shared/errors";
import { replaceSeats } from "../inventory/drop-shards";
import { unwrap } from "../shared/outcome";
import { CsvLineError, TYPE_LIMITS, parseSeatsCsv, sectionsOf } from "../drops/ticket-types";
import { forgetWatermark } from "../waiting-room/watermark-cache";
import { configureRooms } from "../waiting-room/window-rooms";
import { readBounded } from "../shared/request";

/** The most a create body may carry when it lists ticket types (100,000 seats as JSON fit). */
export const CREATE_MAX_BYTES = 8 * 1024 * 1024;

/** Whether a create body may pass the usual 16 KiB: only one that carries ticket types. */
export const carriesTicketTypes = (body: unknown): boolean =>
	typeof body === "object" && body !== null && Array.isArray((body as { ticketTypes?: unknown }).ticketTypes);

/** A CSV line's refusal with its line number in the answer, so a page can point at it. */
export function withCsvLine<T>(fn: () => T): T {
	try {
		return fn();
	} catch (err) {
		if (err instanceof CsvLineError) throw new ApiError(err.status, err.code, err.message, { field: err.field, line: err.line });
		throw err;
	}
}

export async function replaceSeatsRoute(request: IRequest, env: Env, drop: DropConfig, typeId: string, now: number): Promise<DropConfig> {
	const types = typesOf(drop);
	const type = types.find((t) => t.id === typeId);
	if (type === undefined) throw notFound("ticket type");
	if (type.kind !== "seated") throw new ApiError(422, "not_seated", `Ticket type "${typeId}" is not seated.`, { field: "typeId" });
	const contentType = request.headers.get("content-type");
	if (contentType === null || !/^text\/csv\s*(;|$)/i.test(contentType)) throw new ApiError(415, "unsupported_media_type", "Send the seats as text/csv.");
	const declared = request.headers.get("content-length");
	if (declared !== null && Number(declared) > TYPE_LIMITS.csvBytes) {
		throw new ApiError(413, "body_too_large", `The body must be at most ${TYPE_LIMITS.csvBytes} bytes.`);
	}
	const opened = (at: number) => {
		if (Date.parse(drop.opensAt) <= at) throw new ApiError(422, "already_open", "The drop has opened; its seats can no longer change.", { field: "opensAt" });
	};
	opened(now);
	const csv = request.body == null ? "" : await readBounded(request.body, TYPE_LIMITS.csvBytes);
	// Seats of the drop's other seated types: an id may not repeat, and the drop keeps at most 100,000.
	const others = await env.DB.prepare(`SELECT seat_id FROM seats WHERE drop_id = ? AND ticket_type != ?`).bind(drop.id, typeId).all<{ seat_id: string }>();
	const taken = new Set(others.results.map((r) => r.seat_id));
	const seats = withCsvLine(() => parseSeatsCsv(csv, "body", taken));
	if (taken.size + seats.length > TYPE_LIMITS.seats) {
		throw new ApiError(422, "too_many_seats", `A drop has at most ${TYPE_LIMITS.seats.toLocaleString("en")} seats.`, { field: "body" });
	}
	const nextTypes = types.map((t) => (t.id === typeId ? { ...t, capacity: seats.length, sections: sectionsOf(seats, "body") } : t));
	const capacity = nextTypes.reduce((a, t) => a + t.capacity, 0);
	if (capacity < LIMITS.capacity.min) throw new ApiError(422, "no_tickets", "The drop needs at least one ticket.", { field: "body" });
	if (drop.shards > capacity) throw new ApiError(422, "out_of_range", `The drop's ${drop.shards} shards need at least as many tickets.`, { field: "body" });
	const next: DropConfig = { ...drop, capacity, ticketTypes: nextTypes, updatedAt: new Date(now).toISOString() };
	// Asked again now the body is in (a big one takes seconds): a drop that opened meanwhile may have
	// holds on these seats, and replacing the shards' seats then left some replaced, some not, and D1 neither.
	opened(Date.now());
	// Shards first (replacing is idempotent, so a retry after a failure finishes the job), then the pacer, then D1.
	await replaceSeats(env, next, typeId, seats);
	await configureRooms(env, next);
	await replaceSeatsInD1(env.DB, next, typeId, seats);
	await forgetWatermark(drop.id);
	return next;
}
