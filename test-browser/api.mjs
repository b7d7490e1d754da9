// The engine's HTTP API from Node: the promoter's calls and fans that buy
// without a browser, to fill the queue and move the sold count.
import { randomBytes, randomUUID } from "node:crypto";

export function client(base, adminToken) {
	async function call(method, path, { token, body, headers = {}, expect } = {}) {
		const res = await fetch(base + path, {
			method,
			headers: {
				accept: "application/json",
				...(token ? { authorization: `Bearer ${token}` } : {}),
				...(body !== undefined ? { "content-type": "application/json" } : {}),
				...headers,
			},
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await res.text();
		let data = null;
		try {
			data = text ? JSON.parse(text) : null;
		} catch {
			throw new Error(`${method} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
		}
		if (expect !== undefined && !([expect].flat().includes(res.status))) {
			throw new Error(`${method} ${path} answered ${res.status}, expected ${expect}: ${text.slice(0, 300)}`);
		}
		return { status: res.status, data };
	}

	const admin = (method, path, options = {}) => call(method, path, { ...options, token: adminToken });
	const secrets = new Map();

	return {
		call,
		async createDrop(fields) {
			return (await admin("POST", "/api/admin/drops", { body: fields, expect: 201 })).data;
		},
		async dropStats(id) {
			return (await admin("GET", `/api/admin/drops/${id}`, { expect: 200 })).data.stats;
		},
		async publicDrop(id) {
			return (await call("GET", `/api/drops/${id}`, { expect: 200 })).data;
		},
		/** Joins as `fanId` with the fan's secret for the drop (made at its first join here), so a repeat is that fan's rejoin. */
		async join(dropId, fanId) {
			const key = `${dropId}\n${fanId}`;
			if (!secrets.has(key)) secrets.set(key, randomBytes(32).toString("base64url"));
			return (await call("POST", `/api/drops/${dropId}/join`, { body: { fanId, fanSecret: secrets.get(key) }, expect: [200, 201] })).data;
		},
		/** Polls the queue until the fan is admitted; answers the access token. */
		async waitAdmitted(dropId, queueToken, timeoutMs = 60_000) {
			const deadline = Date.now() + timeoutMs;
			let token = queueToken;
			while (Date.now() < deadline) {
				const { data } = await call("GET", `/api/drops/${dropId}/status`, { token, expect: [200, 503] });
				if (data?.queueToken) token = data.queueToken;
				if (data?.status === "admitted") return data.accessToken;
				if (data?.status && data.status !== "waiting") throw new Error(`fan status became ${data.status}`);
				await new Promise((r) => setTimeout(r, Math.min(data?.pollAfterMs ?? 500, 500)));
			}
			throw new Error("a fan was not admitted in time");
		},
		/** One fan's whole purchase: join, wait, hold (`{quantity}`, or `body`: a ticket type's units), pay. */
		async buy(dropId, fanId, quantity, body = { quantity }) {
			const joined = await this.join(dropId, fanId);
			const access = await this.waitAdmitted(dropId, joined.queueToken);
			const hold = (
				await call("POST", `/api/drops/${dropId}/holds`, {
					token: access,
					headers: { "idempotency-key": randomUUID() },
					body,
					expect: 201,
				})
			).data;
			return (
				await call("POST", `/api/drops/${dropId}/holds/${hold.holdId}/purchase`, {
					token: access,
					body: { payment: { method: "test", token: "ok" } },
					expect: 201,
				})
			).data;
		},
	};
}
