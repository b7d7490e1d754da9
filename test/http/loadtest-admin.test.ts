// The load runners' promoter side (loadtest/lib/journey.js: create the drop,
// read the audit and the sales, as loadtest/drop.js under k6 and
// loadtest/node-runner.mjs run them) works with the operator's token and with
// a promoter's owner key in ADMIN_TOKEN alike, through the Worker as deployed.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULTS, createDrop, dropBody, readAudit, runAsync, ticketsByFan, waitForDrain } from "../../loadtest/lib/journey.js";
import { admittedFan, newHold, purchase } from "../support/fans";
import { createPromoter } from "../support/tenants";
import { BASE, callWorker } from "../support/worker";

type Effect = { method: string; url: string; headers: Record<string, string>; body: string | null };

async function send(effect: Effect) {
	const res = await callWorker(effect.url.slice(BASE.length), { method: effect.method, headers: effect.headers, body: effect.body ?? undefined });
	return { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers) };
}

/** The runner's client contract (request, batch, sleep, now) over the Worker's fetch handler. */
const workerClient = {
	request: send,
	batch: (effects: Effect[]) => Promise.all(effects.map(send)),
	sleep: (ms: number) => new Promise((r) => setTimeout(r, Math.min(ms, 50))),
	now: () => Date.now(),
};

describe("the load runners' admin calls", () => {
	for (const who of ["the operator's token", "a promoter's owner key"]) {
		it(`create, audit and read the sales with ${who}`, async () => {
			const adminToken = who.startsWith("a promoter") ? (await createPromoter("Load runner")).apiKey : env.ADMIN_TOKEN;
			const cfg = { baseUrl: BASE, adminToken };
			const knobs = { ...DEFAULTS, tickets: 10, shards: 1, maxPerFan: 2, leadSeconds: -1, batchSize: 100, intervalMs: 250, activeMultiple: 20 };
			const drop = await runAsync(createDrop(workerClient, cfg, dropBody(knobs, Date.now())), workerClient);
			expect(drop.id).toMatch(/^d_/);
			const access = await admittedFan(drop.id, "runner-fan");
			const hold = await newHold(drop.id, access, 2);
			expect((await purchase(drop.id, access, hold.holdId)).status).toBe(201);
			const audit = await runAsync(waitForDrain(workerClient, cfg, drop.id, 20_000), workerClient);
			expect(audit.settled).toBe(true);
			expect(audit.ok).toBe(true);
			expect((await runAsync(readAudit(workerClient, cfg, drop.id, 30), workerClient)).totals.sold).toBe(2);
			expect(await runAsync(ticketsByFan(workerClient, cfg, drop.id), workerClient)).toEqual({ "runner-fan": 2 });
		});
	}
});
