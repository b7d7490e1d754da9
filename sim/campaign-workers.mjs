// A fault campaign spread over worker threads, one per core: each worker loads the
// simulator itself (its own bundle, its own sql.js) and runs the seeds it is handed,
// one at a time, asking for the next as it finishes, so a slow seed holds up no other.
// Each seed is a separate deterministic run, so what a seed finds does not depend on
// the worker that ran it; the results are reported in seed order whatever order they
// finish in, and the output is the same as one process running the seeds in turn.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { loadSimulator } from "./bundle.mjs";

/**
 * Seeds `first`..`first + count − 1` of `base` (a SimConfig without its seed, every fault
 * on) over `workers` threads. `progress(seed, broken, struck)` is called in seed order,
 * `broken` being `{ what, replay }` or null and `struck` the fault kinds that struck in the
 * seed; resolves to the seeds that broke an invariant.
 * `hooksModule`, for tests: the URL of a module whose `hooks` export each worker plants
 * (functions cannot be sent to a thread, a module can be imported by it).
 */
export function parallelCampaign(base, first, count, workers, progress = () => undefined, hooksModule = null) {
	return new Promise((resolve, reject) => {
		const results = new Map();
		const found = [];
		let reported = first;
		let next = first;
		let live = 0;
		const report = () => {
			while (results.has(reported)) {
				const { broken, struck } = results.get(reported);
				results.delete(reported);
				progress(reported, broken, struck);
				if (broken !== null) found.push({ seed: reported, what: broken.what });
				reported++;
			}
		};
		const threads = Math.max(1, Math.min(workers, count));
		for (let w = 0; w < threads; w++) {
			const worker = new Worker(new URL(import.meta.url), { workerData: { base, hooksModule } });
			live++;
			const give = () => {
				if (next < first + count) worker.postMessage(next++);
				else worker.postMessage(null);
			};
			worker.on("message", (message) => {
				if (message.ready !== true) {
					results.set(message.seed, message);
					report();
				}
				give();
			});
			worker.on("error", reject);
			worker.on("exit", (code) => {
				if (code !== 0) return reject(new Error(`a campaign worker exited with ${code}`));
				if (--live === 0) resolve(found);
			});
		}
	});
}

if (!isMainThread) {
	const sim = await loadSimulator();
	const hooks = workerData.hooksModule === null ? {} : (await import(workerData.hooksModule)).hooks;
	parentPort.on("message", async (seed) => {
		if (seed === null) return parentPort.close();
		const config = { ...workerData.base, seed };
		const { broken, struck } = await sim.seedRun(config, sim.sqlJs, hooks);
		parentPort.postMessage({ seed, struck, broken: broken === null ? null : { what: broken.what, replay: sim.replayCommand(config) } });
	});
	parentPort.postMessage({ ready: true });
}
