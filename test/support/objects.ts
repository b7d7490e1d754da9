// Durable Objects restarted as the platform may restart them.
import { runInDurableObject } from "cloudflare:test";

/**
 * Restarts Durable Objects as the platform may (memory gone, requests inside them cut off,
 * storage kept) and waits until each answers again from a fresh instance.
 *
 * Why not abortAllDurableObjects() here: with requests in flight it leaves the test runner
 * unable to exit, and it also restarts the local Queue simulation, which (unlike the real
 * Queue) keeps its messages in memory. Tests use it only between requests. The abort is
 * deferred until the helper's own call has returned: aborting inside that call crashes workerd.
 */
export async function restartObjects(stubs: (() => DurableObjectStub)[], afterAbort?: () => void): Promise<void> {
	for (const stub of stubs) {
		await runInDurableObject(stub(), (_instance, state) => {
			setTimeout(() => {
				try {
					state.abort("restart (test)");
				} catch {
					// abort() throws into the aborted context by design.
				}
			}, 0);
		});
	}
	afterAbort?.();
	// A fresh stub each time: the first calls may still meet the instance being aborted.
	for (const stub of stubs) {
		for (let attempt = 0; ; attempt++) {
			try {
				await runInDurableObject(stub(), () => undefined);
				break;
			} catch (err) {
				if (attempt >= 20) throw err;
			}
		}
	}
}
