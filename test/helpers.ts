import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import worker from "../src/index";
import type { DropConfig } from "../src/drops";
import { newFanSecret } from "../src/fan-secret";
import { SLOT_MS } from "../src/placement";
import { lineName, roomName } from "../src/names";
import type { WaitingRoom } from "../src/waiting-room";

export const BASE = "https://engine.test";

/**
 * A request to the Worker's fetch handler: the same module, router and bindings
 * SELF uses, minus the harness hop. SELF.fetch gets slower with every request a
 * test file makes (cloudflare/workers-sdk#15446), which the tests that fire
 * hundreds of requests cannot afford; a few tests keep SELF for the real path.
 */
export function callWorker(url: string, init: RequestInit = {}): Promise<Response> {
	return worker.fetch(new Request(url, init) as Request<unknown, IncomingRequestCfProperties>, env, createExecutionContext());
}

/** The Worker as deployed with parts of its configuration replaced: vars, or bindings by fakes. Waits for its background work. */
export async function callWithEnv(path: string, init: RequestInit = {}, overrides: Partial<Record<keyof Env, unknown>> = {}): Promise<Response> {
	const ctx = createExecutionContext();
	const request = new Request(`${BASE}${path}`, init) as Request<unknown, IncomingRequestCfProperties>;
	const res = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

export function adminFetch(path: string, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	if (!headers.has("authorization")) headers.set("authorization", `Bearer ${env.ADMIN_TOKEN}`);
	if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
	return callWorker(`${BASE}${path}`, { ...init, headers });
}

export interface DropJson {
	id: string;
	name: string;
	capacity: number;
	maxPerFan: number;
	opensAt: string;
	shards: number;
	holdSeconds: number;
	admission: { batchSize: number; intervalMs: number; activeMultiple: number };
	paused: boolean;
	stats?: Record<string, number>;
}

export async function createDrop(overrides: Record<string, unknown> = {}): Promise<DropJson> {
	const res = await adminFetch("/api/admin/drops", {
		method: "POST",
		body: JSON.stringify({
			name: "Test drop",
			capacity: 100,
			maxPerFan: 4,
			opensAt: new Date(Date.now() - 1000).toISOString(),
			shards: 1,
			admission: { batchSize: 1000, intervalMs: 250, activeMultiple: 20 },
			...overrides,
		}),
	});
	if (res.status !== 201) throw new Error(`createDrop: ${res.status} ${await res.text()}`);
	return (await res.json()) as DropJson;
}

export function fanFetch(path: string, token: string | null, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	if (token !== null) headers.set("authorization", `Bearer ${token}`);
	if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
	return callWorker(`${BASE}${path}`, { ...init, headers });
}

export interface JoinJson {
	queueToken: string;
	status: string;
	position: number | null;
	pollAfterMs: number;
	rejoined: boolean;
	fanSecret: string | null;
}

const fanSecrets = new Map<string, string>();

/**
 * The secret a test's fan sends with every join of a drop, as the fan page does: made
 * once per fan and drop, it becomes theirs at the first join and proves them at a rejoin.
 */
export function fanSecretOf(dropId: string, fanId: string): string {
	const key = `${dropId}\n${fanId}`;
	let secret = fanSecrets.get(key);
	if (secret === undefined) {
		secret = newFanSecret();
		fanSecrets.set(key, secret);
	}
	return secret;
}

/** The body of a fan's join: their id and their secret for this drop (none with `fanSecret: null`). */
export function joinBody(dropId: string, fanId: string, { fanSecret }: { fanSecret?: string | null } = {}): string {
	const secret = fanSecret === undefined ? fanSecretOf(dropId, fanId) : fanSecret;
	return JSON.stringify(secret === null ? { fanId } : { fanId, fanSecret: secret });
}

export function joinRequest(dropId: string, fanId: string, options: { fanSecret?: string | null } = {}): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/join`, null, { method: "POST", body: joinBody(dropId, fanId, options) });
}

export async function join(dropId: string, fanId: string, options: { fanSecret?: string | null } = {}): Promise<JoinJson> {
	const res = await joinRequest(dropId, fanId, options);
	if (res.status !== 201 && res.status !== 200) throw new Error(`join: ${res.status} ${await res.text()}`);
	return (await res.json()) as JoinJson;
}

/**
 * Waits (at most a slot) until the pacer's clock has reached the latest slot any
 * line has put a join in. The pacer seals slots up to the present one; a join that
 * reaches its line after the present slot was sealed goes into the next, which the
 * pacer can seal once its clock gets there. Then a tick places every join so far.
 */
export async function untilJoinsSealable(dropId: string): Promise<void> {
	const config = await runInDurableObject(roomStub(dropId), (_room, state) =>
		state.storage.sql.exec<{ json: string }>(`SELECT json FROM config`).toArray()[0]?.json,
	);
	if (config === undefined) return;
	const { lines } = JSON.parse(config) as DropConfig;
	let latest = -Infinity;
	for (let k = 0; k < lines; k++) {
		const slot = await runInDurableObject(lineStub(dropId, k), (_line, state) =>
			state.storage.sql.exec<{ slot: number | null }>(`SELECT MAX(slot) AS slot FROM slots`).one().slot,
		);
		if (slot !== null) latest = Math.max(latest, slot);
	}
	const ahead = await runInDurableObject(roomStub(dropId), (room: WaitingRoom) => room.clock() - Date.now());
	const wait = latest * SLOT_MS - (Date.now() + ahead);
	if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait + 1, 2 * SLOT_MS)));
}

/** Moves the pacer's clock `ms` further ahead of real time (it is never moved back). */
export function movePacerClock(room: WaitingRoom, ms: number): void {
	const ahead = Math.max(0, room.clock() - Date.now()) + ms;
	room.clock = () => Date.now() + ahead;
}

/**
 * Makes the pacer's calls of `method` on the objects of `binding` slow as its own
 * clock sees them: each answer arrives `delayMs()` later than it was asked for
 * (the clock is moved while the call is awaited), with no real waiting.
 */
export function slowPacerCalls(room: WaitingRoom, binding: "INVENTORY" | "WAITING_LINE", method: string, delayMs: () => number): void {
	const pacer = room as unknown as { env: Env };
	const real = pacer.env;
	const slowStub = (stub: object) =>
		new Proxy(stub, {
			get(target, prop) {
				if (prop !== method) return Reflect.get(target, prop);
				return async (...args: unknown[]) => {
					const delay = delayMs();
					// Called on the stub itself: an RPC method taken off its stub does not work.
					const answer: unknown = await (target as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args);
					movePacerClock(room, delay);
					return answer;
				};
			},
		});
	const namespace = real[binding];
	const slowNamespace = { getByName: (name: string) => slowStub(namespace.getByName(name)) };
	pacer.env = new Proxy(real, { get: (target, prop) => (prop === binding ? slowNamespace : Reflect.get(target, prop)) });
}

/**
 * The opening of a drop scheduled for later, as the pacer's clock sees it: the
 * lines close their pre-queues and the seed is revealed. The pacer's clock stays
 * that far ahead, so no real alarm changes anything while the test runs.
 */
export async function openRoom(dropId: string, opensAtMs: number): Promise<void> {
	await runInDurableObject(roomStub(dropId), async (room: WaitingRoom, state) => {
		movePacerClock(room, Math.max(0, opensAtMs + 1 - room.clock()));
		// Only the opening step of the tick: no slot sealed, no batch admitted yet.
		const config = JSON.parse(state.storage.sql.exec<{ json: string }>(`SELECT json FROM config`).one().json) as DropConfig;
		const opening = room as unknown as { open(drop: DropConfig): Promise<boolean> };
		if (!(await opening.open(config))) throw new Error("the drop did not open");
	});
}

export const roomStub = (dropId: string) => env.WAITING_ROOM.getByName(roomName(dropId));
export const lineStub = (dropId: string, line: number) => env.WAITING_LINE.getByName(lineName(dropId, line));

/**
 * Runs the waiting room's alarm handler now, past the spacing between batches,
 * and waits for it to finish. (runDurableObjectAlarm would return at once if
 * the real alarm, due now, had just fired in the background and was still running.)
 */
export async function admitBatch(dropId: string): Promise<void> {
	await untilJoinsSealable(dropId);
	await runInDurableObject(roomStub(dropId), async (room: WaitingRoom, state) => {
		// At most one batch per interval: move the last batch back so the next is due now.
		state.storage.sql.exec(`UPDATE pacer SET last_admission_at = last_admission_at - 3600000 WHERE last_admission_at IS NOT NULL`);
		await room.alarm();
	});
}

export async function status(dropId: string, queueToken: string): Promise<Record<string, unknown>> {
	const res = await fanFetch(`/api/drops/${dropId}/status`, queueToken);
	if (res.status !== 200) throw new Error(`status: ${res.status} ${await res.text()}`);
	return (await res.json()) as Record<string, unknown>;
}

/** Joins, admits and returns the fan's access token. */
export async function admittedFan(dropId: string, fanId: string): Promise<string> {
	const joined = await join(dropId, fanId);
	let s = await status(dropId, joined.queueToken);
	for (let i = 0; i < 5 && s.status !== "admitted"; i++) {
		await admitBatch(dropId);
		s = await status(dropId, joined.queueToken);
	}
	if (s.status !== "admitted") throw new Error(`fan ${fanId} not admitted: ${JSON.stringify(s)}`);
	return s.accessToken as string;
}

let keyCounter = 0;
export const newKey = () => `k-${Date.now()}-${++keyCounter}`;

export async function hold(dropId: string, accessToken: string, quantity: number, key = newKey()): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/holds`, accessToken, {
		method: "POST",
		headers: { "idempotency-key": key },
		body: JSON.stringify({ quantity }),
	});
}

export async function purchase(dropId: string, accessToken: string, holdId: string, token = "ok"): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/holds/${holdId}/purchase`, accessToken, {
		method: "POST",
		body: JSON.stringify({ payment: { method: "test", token } }),
	});
}

export async function errorCode(res: Response): Promise<string> {
	const body = (await res.json()) as { error?: { code?: string } };
	return body.error?.code ?? `(no error code, status ${res.status})`;
}

/** Waits, a millisecond at a time, until `condition` holds; fails after `ms` saying what it waited for. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, ms: number, why: string): Promise<void> {
	const deadline = Date.now() + ms;
	while (!(await condition())) {
		if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${why}`);
		await new Promise((resolve) => setTimeout(resolve, 1));
	}
}

/**
 * Runs the pacer's tick now, as its alarm would within a second: slots sealed,
 * the shards' totals gathered afresh and published (no batch unless one is due).
 */
export async function tickRoom(dropId: string): Promise<void> {
	await untilJoinsSealable(dropId);
	await runInDurableObject(roomStub(dropId), async (room: WaitingRoom, state) => {
		state.storage.sql.exec(`UPDATE pacer SET totals_at = NULL`);
		await room.alarm();
	});
}
