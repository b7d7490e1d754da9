// The promoter API's access codes for a drop's sale windows: a group of unique
// codes (answered once, as JSON or as a CSV download, and never again: the engine
// keeps only their hashes), one shared code with a cap, or a list of fan ids; each
// group's use; and its revoke. Changing them takes an owner key or the operator's
// token (authorizeAdmin's `change`); each change is in the activity log, in the
// same D1 batch as the change itself.
import { type IRequest, Router } from "itty-router";
import type { CodeGroupCreated, CodeGroupList, CodeGroupView } from "../contract/admin-answers";
import { CreateCodeGroupBody } from "../contract/requests";
import { ApiError, notFound } from "../shared/errors";
import { randomId } from "../shared/ids";
import { readJson } from "../shared/request";
import { parse } from "../shared/validation";
import { activityStatement, dropOf, principalOf } from "../tenants/auth";
import { MAX_GROUPS, getGroup, listGroups, newCodeGroup, revokeGroupStatement } from "../waiting-room/access-codes";

type Args = [Env, ExecutionContext];

export const adminCodeRoutes = Router<IRequest, Args>({ base: "/api/admin" });

/** A list of 10,000 fan ids of up to 128 characters, with room for the JSON around them. */
const CODE_GROUP_MAX_BYTES = 1_500_000;

const refuse = (code: string, field: string, message: string) => new ApiError(422, code, message, { field });

adminCodeRoutes.post("/drops/:id/code-groups", async (request, env) => {
	const drop = dropOf(request);
	const body = parse(CreateCodeGroupBody, await readJson(request, { maxBytes: CODE_GROUP_MAX_BYTES }));
	const window = drop.presales?.find((w) => w.id === body.windowId);
	if (window === undefined) throw refuse("unknown_window", "windowId", "The drop has no sale window with this id.");
	if (window.access === "registered") throw refuse("codes_issued_by_engine", "windowId", "A registered window's codes are issued by the engine to the fans drawn, not made by the promoter.");
	if ((window.access === "list") !== (body.kind === "list")) {
		throw refuse("kind_mismatch", "kind", window.access === "list" ? "This window lets in listed fans: its groups are lists." : "This window takes codes: its groups are unique or shared.");
	}
	const needed = body.kind === "unique" ? "count" : body.kind === "shared" ? "cap" : "fans";
	if (body[needed] === undefined) throw new ApiError(400, "missing_field", `"${needed}" is required for a ${body.kind} group.`, { field: needed });
	for (const other of ["count", "cap", "fans"] as const) {
		if (other !== needed && body[other] !== undefined) throw refuse("invalid_value", other, `"${other}" is not taken by a ${body.kind} group.`);
	}
	const createdAt = new Date().toISOString();
	const { group, codes, statements } = await newCodeGroup(env.DB, {
		id: randomId("cg_"),
		dropId: drop.id,
		windowId: window.id,
		kind: body.kind,
		name: body.name,
		...(body.count === undefined ? {} : { count: body.count }),
		...(body.cap === undefined ? {} : { cap: body.cap }),
		...(body.fans === undefined ? {} : { fans: body.fans }),
		issuedBy: "promoter",
		createdAt,
	});
	const [inserted] = await env.DB.batch([
		...statements,
		activityStatement(env, principalOf(request), {
			action: "codes.created",
			promoterId: drop.promoterId,
			dropId: drop.id,
			detail: { groupId: group.id, windowId: group.windowId, kind: group.kind, name: group.name, size: group.size, cap: group.cap },
			at: createdAt,
		}),
	]);
	// The group's own insert carries the limit: refused, its codes and the log entry found no group to join.
	if (inserted!.meta.changes === 0) throw new ApiError(409, "limit_reached", `A drop has at most ${MAX_GROUPS} code groups.`, { limit: MAX_GROUPS });
	if ((request.headers.get("accept") ?? "").includes("text/csv")) {
		return new Response(["code", ...codes].join("\r\n") + "\r\n", {
			status: 201,
			headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${group.id}.csv"`, "cache-control": "no-store" },
		});
	}
	return Response.json({ ...group, used: 0, codes } satisfies CodeGroupCreated, { status: 201, headers: { "cache-control": "no-store" } });
});

adminCodeRoutes.get("/drops/:id/code-groups", async (request, env) => {
	const drop = dropOf(request);
	return { groups: await listGroups(env.DB, drop.id) } satisfies CodeGroupList;
});

adminCodeRoutes.post("/drops/:id/code-groups/:groupId/revoke", async (request, env) => {
	const drop = dropOf(request);
	const groupId = request.params.groupId ?? "";
	const before = await getGroup(env.DB, drop.id, groupId);
	if (before === null) throw notFound("code group");
	if (before.revokedAt === null) {
		const at = new Date().toISOString();
		// Logged by the one call whose revoke wrote: a revoke repeated, or racing it, changes and logs nothing.
		const revoked = await revokeGroupStatement(env.DB, drop.id, groupId, at).run();
		if (revoked.meta.changes === 1) {
			await activityStatement(env, principalOf(request), { action: "codes.revoked", promoterId: drop.promoterId, dropId: drop.id, detail: { groupId, windowId: before.windowId, kind: before.kind, name: before.name, used: before.used }, at }).run();
		}
	}
	return (await getGroup(env.DB, drop.id, groupId))! satisfies CodeGroupView;
});
