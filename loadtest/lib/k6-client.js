// The journey's client object on k6: synchronous k6/http calls, k6's sleep,
// a Trend per step and k6 checks. Imported by loadtest/drop.js and
// loadtest/attack.js only (Node never loads this file).
import http from "k6/http";
import { check, sleep } from "k6";
import { Counter, Trend } from "k6/metrics";
import { K6_TIMEOUT_ERROR_CODE } from "./unanswered.js";

export const STEPS = ["join", "status", "hold", "purchase", "release", "drop", "order", "fairness", "admin"];

/** How long a request may go unanswered: the Node runner's timeout too (lib/node-client.mjs). */
export const REQUEST_TIMEOUT_SECONDS = 30;

/** One Trend per step (p50/p95/p99 in the summary); must be created in the init context. */
export function stepTrends() {
	/** @type {Record<string, Trend>} */
	const trends = {};
	for (const step of STEPS) trends[step] = new Trend("step_" + step, true);
	return trends;
}

/**
 * @param {Record<string, Trend>} trends
 * @param {Counter} unexpected  counts answers the contract does not allow
 * @param {(name: string, detail?: any) => void} [onEvent]
 * @param {(step: string, ms: number, status: number) => void} [onAnswer]  every answer (the report's per-second series)
 * @param {Counter} [unanswered]  counts, tagged {step}, requests with no answer within REQUEST_TIMEOUT (lib/unanswered.js)
 */
export function k6Client(trends, unexpected, onEvent, onAnswer, unanswered) {
	/** @param {{method: string, url: string, headers: Record<string, string>, body: string | null, step: string}} e */
	function params(e) {
		return { headers: e.headers, tags: { name: e.step }, timeout: REQUEST_TIMEOUT_SECONDS + "s" };
	}
	/** @param {import("k6/http").RefinedResponse<any>} res @param {string} step */
	function adapt(res, step) {
		const trend = trends[step];
		if (trend) trend.add(res.timings.duration);
		if (onAnswer) onAnswer(step, res.timings.duration, res.status);
		if (unanswered && res.status === 0 && res.error_code === K6_TIMEOUT_ERROR_CODE) unanswered.add(1, { step: step });
		return { status: res.status, body: typeof res.body === "string" ? res.body : null, headers: res.headers };
	}
	return {
		/** @param {{method: string, url: string, headers: Record<string, string>, body: string | null, step: string}} e */
		request(e) {
			return adapt(http.request(e.method, e.url, e.body, params(e)), e.step);
		},
		/** @param {{method: string, url: string, headers: Record<string, string>, body: string | null, step: string}[]} list */
		batch(list) {
			const responses = http.batch(
				list.map(function (e) {
					return { method: e.method, url: e.url, body: e.body, params: params(e) };
				}),
			);
			return responses.map(function (res, i) {
				return adapt(res, list[i].step);
			});
		},
		/** @param {number} ms */
		sleep(ms) {
			if (ms > 0) sleep(ms / 1000);
		},
		now() {
			return Date.now();
		},
		/** @param {string} name @param {boolean} ok @param {any} [detail] */
		check(name, ok, detail) {
			/** @type {Record<string, () => boolean>} */
			const sets = {};
			sets[name] = function () {
				return ok;
			};
			check(null, sets);
			if (!ok && detail) console.warn(name + ": " + JSON.stringify(detail));
		},
		/** @param {string} name @param {any} [detail] */
		event(name, detail) {
			if (name === "error") unexpected.add(1);
			if (onEvent) onEvent(name, detail);
		},
	};
}

/** Only the statuses the contract answers on a normal drop count as successful requests. @param {boolean} [hostile] */
export function expectContractStatuses(hostile) {
	// Hostile fans (the bots scenario) are refused on purpose: 401 forged tokens, 422 holds past the limit.
	if (hostile) http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 401, 402, 409, 410, 422, 429));
	else http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 402, 409, 410, 429));
}
