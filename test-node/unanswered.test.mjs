// Requests left unanswered: the Node runner's client counts, per step, the
// requests that got no answer within its timeout (against a server that holds
// some forever), and k6's drop report reads the same count per step from the
// summary k6 hands to handleSummary; either way the run fails and its HTML
// report says so. Runs under Node's test runner (`npm test` starts it first).
import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";
import { k6Report } from "../loadtest/lib/k6-report.js";
import { knobsFrom } from "../loadtest/lib/journey.js";
import { createHttpClient } from "../loadtest/lib/node-client.mjs";
import { renderReport, reportVerdict } from "../loadtest/lib/report-html.js";
import { UNANSWERED_METRIC, unansweredFailure, unansweredText, unansweredThresholds } from "../loadtest/lib/unanswered.js";

/** Answers /fast at once and never answers /hang (the socket stays open). */
async function holdingServer() {
	const held = [];
	const server = http.createServer((req, res) => {
		if (req.url === "/hang") held.push(res);
		else res.end("{}");
	});
	await new Promise((r) => server.listen(0, "127.0.0.1", r));
	return {
		baseUrl: `http://127.0.0.1:${server.address().port}`,
		close: () => {
			for (const res of held) res.destroy();
			server.closeAllConnections();
			return new Promise((r) => server.close(r));
		},
	};
}

test("the Node runner's client counts requests with no answer within its timeout, per step", async () => {
	const server = await holdingServer();
	const client = createHttpClient({ baseUrl: server.baseUrl, connections: 8, timeoutMs: 300 });
	try {
		const effect = (path, step) => ({ method: "GET", url: server.baseUrl + path, headers: {}, body: null, step });
		const answers = await Promise.all([
			client.request(effect("/hang", "status")),
			client.request(effect("/hang", "status")),
			client.request(effect("/hang", "join")),
			client.request(effect("/fast", "join")),
			client.request(effect("/fast", "status")),
		]);
		assert.deepEqual(
			answers.map((a) => a.status),
			[0, 0, 0, 200, 200],
		);
		assert.deepEqual(client.recorder.unanswered, { status: 2, join: 1 });
		assert.equal(client.timeoutMs, 300);
		assert.equal(unansweredText(client.recorder.unanswered), "3 (status 2, join 1)");
		assert.equal(unansweredFailure(client.recorder.unanswered, 0.3), "unanswered requests: 3 (status 2, join 1) got no answer within 0.3 s");
		assert.equal(unansweredFailure({}, 30), null);
	} finally {
		client.close();
		await server.close();
	}
});

test("k6's drop report fails a run with requests unanswered, per step, and its page says so", () => {
	const knobs = knobsFrom({ TICKETS: "40", FANS: "200" });
	const counter = (count) => ({ type: "counter", contains: "default", values: { count, rate: count / 30 } });
	const gaugeOf = (value) => ({ type: "gauge", contains: "default", values: { value, min: value, max: value } });
	const steps = ["join", "status", "hold"];
	const metrics = {
		http_reqs: counter(900),
		audit_sold: gaugeOf(40),
		audit_capacity: gaugeOf(40),
		audit_orders: gaugeOf(20),
		audit_recorded: gaugeOf(20),
		audit_balanced: gaugeOf(1),
		[UNANSWERED_METRIC]: counter(0),
	};
	// k6 keeps every submetric a threshold names: drop.js declares one per step.
	for (const step of steps) metrics[`${UNANSWERED_METRIC}{step:${step}}`] = counter(0);
	const meta = { knobs, scenario: "spike", bucketSeconds: 1, buckets: 10, lines: 1, shards: 2, thresholdSpecs: [], expectSoldOut: true, steps, requestTimeoutSeconds: 30, at: "" };
	const data = { metrics, setup_data: { dropId: "d_k6", lines: 1, createdAt: 0, opensAt: 5000 }, state: { testRunDurationMs: 30000 } };

	const clean = k6Report(data, meta);
	assert.deepEqual(clean.unanswered, {});
	assert.deepEqual(clean.failures, []);
	assert.equal(reportVerdict(clean).passed, true);
	assert.match(renderReport(clean), /<tr data-check="unanswered" data-ok="true"/);

	metrics[UNANSWERED_METRIC] = counter(7);
	metrics[`${UNANSWERED_METRIC}{step:status}`] = counter(6);
	metrics[`${UNANSWERED_METRIC}{step:join}`] = counter(1);
	const lossy = k6Report(data, meta);
	assert.deepEqual(lossy.unanswered, { join: 1, status: 6 });
	assert.deepEqual(lossy.failures, ["unanswered requests: 7 (status 6, join 1) got no answer within 30 s"]);
	const verdict = reportVerdict(lossy);
	assert.equal(verdict.passed, false);
	const html = renderReport(lossy);
	assert.match(html, /<tr data-check="unanswered" data-ok="false"/);
	assert.match(html, /data-verdict="failed"/);
	assert.match(html, /unanswered requests: 7 \(status 6, join 1\)/);
});

test("k6's thresholds fail a run on any unanswered request and keep each step's count for the report", () => {
	assert.deepEqual(unansweredThresholds(["join", "status"]), {
		unanswered_requests: ["count==0"],
		"unanswered_requests{step:join}": ["count==0"],
		"unanswered_requests{step:status}": ["count==0"],
	});
});
