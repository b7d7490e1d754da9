// A fan's side of the API: joining (with the secret the fan page keeps),
// polling, being admitted, holding, buying and releasing.
import { expect } from "vitest";
import { newFanSecret } from "../../src/shared/fan-secret";
import { admitBatch } from "./room";
import { waitUntil } from "./wait";
import { type CallOptions, fanFetch } from "./worker";

export interface JoinJson {
	fanId: string;
	queueToken: string;
	status: string;
	position: number | null;
	pollAfterMs: number | null;
	rejoined: boolean;
	fanSecret: string | null;
	line: number;
	prequeuePlace: number | null;
	slot: number | null;
	slotIndex: number | null;
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

/** A join body with the fan's secret added, as the fan page sends it, when it names a fan and brings no secret of its own. */
export function withFanSecret(dropId: string, body: Record<string, unknown>): Record<string, unknown> {
	return typeof body.fanId === "string" && !("fanSecret" in body) ? { ...body, fanSecret: fanSecretOf(dropId, body.fanId) } : body;
}

/** The body of a fan's join: their id and their secret for this drop (none with `fanSecret: null`). */
export function joinBody(dropId: string, fanId: string, { fanSecret }: { fanSecret?: string | null } = {}): string {
	const secret = fanSecret === undefined ? fanSecretOf(dropId, fanId) : fanSecret;
	return JSON.stringify(secret === null ? { fanId } : { fanId, fanSecret: secret });
}

/** POST /join with exactly this body. */
export function postJoin(dropId: string, body: Record<string, unknown> | string, options: CallOptions = {}): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/join`, null, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) }, options);
}

export function joinRequest(dropId: string, fanId: string, options: CallOptions & { fanSecret?: string | null } = {}): Promise<Response> {
	const { fanSecret, ...call } = options;
	return postJoin(dropId, joinBody(dropId, fanId, { fanSecret }), call);
}

/** A join that must be taken (201, or 200 for a rejoin). */
export async function join(dropId: string, fanId: string, options: CallOptions & { fanSecret?: string | null } = {}): Promise<JoinJson> {
	const res = await joinRequest(dropId, fanId, options);
	if (res.status !== 201 && res.status !== 200) throw new Error(`join: ${res.status} ${await res.text()}`);
	return (await res.json()) as JoinJson;
}

/** A poll of the fan's status with their queue token, which must be answered. */
export async function status(dropId: string, queueToken: string, options: CallOptions = {}): Promise<Record<string, unknown>> {
	const res = await fanFetch(`/api/drops/${dropId}/status`, queueToken, {}, options);
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

/** Joins every fan, admits them in as few batches as it takes, and returns their access tokens by fan id. */
export async function admittedFans(dropId: string, fanIds: string[]): Promise<Map<string, string>> {
	const queueTokens = new Map<string, string>();
	for (let i = 0; i < fanIds.length; i += 100) {
		const chunk = fanIds.slice(i, i + 100);
		const joined = await Promise.all(chunk.map((fanId) => join(dropId, fanId)));
		chunk.forEach((fanId, k) => queueTokens.set(fanId, joined[k]!.queueToken));
	}
	const tokens = new Map<string, string>();
	for (let round = 0; round < 20 && tokens.size < fanIds.length; round++) {
		const before = tokens.size;
		await admitBatch(dropId);
		const pending = fanIds.filter((id) => !tokens.has(id));
		for (let i = 0; i < pending.length; i += 100) {
			const chunk = pending.slice(i, i + 100);
			const answers = await Promise.all(chunk.map((fanId) => status(dropId, queueTokens.get(fanId)!)));
			chunk.forEach((fanId, k) => {
				const s = answers[k]!;
				if (s.status === "admitted") tokens.set(fanId, s.accessToken as string);
			});
		}
		// Admission is paced by the stock left: a round that admits nobody will not be followed by one that does.
		if (tokens.size === before && round > 0) break;
	}
	if (tokens.size !== fanIds.length) throw new Error(`only ${tokens.size} of ${fanIds.length} fans were admitted`);
	return tokens;
}

export interface HoldJson {
	holdId: string;
	quantity: number;
	expiresAt: string;
}

export interface OrderJson {
	orderId: string;
	holdId: string;
	quantity: number;
	tickets: string[];
	totalCents: number;
}

let keyCounter = 0;
/** A fresh Idempotency-Key. */
export const newKey = () => `k-${Date.now()}-${++keyCounter}`;

export function hold(dropId: string, accessToken: string, quantity: number, key = newKey()): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/holds`, accessToken, {
		method: "POST",
		headers: { "idempotency-key": key },
		body: JSON.stringify({ quantity }),
	});
}

/**
 * A hold retried with its key the way a client does after 503 try_again: again after
 * a short pause while the answer is "try again", for at most `ms`. The first other answer.
 */
export async function holdUntilDecided(dropId: string, token: string, quantity: number, key: string, ms = 5_000): Promise<Response> {
	let decided: Response | null = null;
	await waitUntil(
		async () => {
			const res = await hold(dropId, token, quantity, key);
			if (res.status === 503) return false;
			decided = res;
			return true;
		},
		ms,
		"the hold to be decided (no longer try_again)",
		200,
	);
	return decided!;
}

/** A hold that must be made (201). */
export async function newHold(dropId: string, accessToken: string, quantity = 1, key = newKey()): Promise<HoldJson> {
	const res = await hold(dropId, accessToken, quantity, key);
	expect(res.status).toBe(201);
	return (await res.json()) as HoldJson;
}

/** A purchase paid with the test payment method; `token` "decline" is declined. */
export function purchase(dropId: string, accessToken: string, holdId: string, token = "ok", options: CallOptions = {}): Promise<Response> {
	return fanFetch(
		`/api/drops/${dropId}/holds/${holdId}/purchase`,
		accessToken,
		{ method: "POST", body: JSON.stringify({ payment: { method: "test", token } }) },
		options,
	);
}

export function releaseHold(dropId: string, accessToken: string, holdId: string): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/holds/${holdId}`, accessToken, { method: "DELETE" });
}
