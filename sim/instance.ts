// One instance of a simulated object (a shard, the pacer) over its object's storage:
// the storage as the instance's code reaches it, and a gate on the answers it awaits.
// Once the object restarts, the old instance's storage throws and its answers are never
// delivered, so whatever it would have done after an await stops there, as an isolate
// that is gone does nothing more. The storage itself (and its stored alarm) is kept.
import type { SimObject } from "./objects";
import type { SimStorage } from "./sqlite";

/** What code of an instance that restarted meets when it touches storage again: it stops there. */
export class Restarted extends Error {
	constructor(what: string) {
		super(`${what} restarted`);
	}
}

export interface Instance {
	/** Whether this instance is still the object's (no restart since it was built). */
	alive(): boolean;
	/** The storage's SQL as this instance reaches it. */
	sql: SqlStorage;
	/** The storage's transactionSync as this instance reaches it. */
	transaction: <T>(fn: () => T) => T;
	/** An answer to this instance: never delivered once it is gone. */
	gate<T>(promise: Promise<T>): Promise<T>;
}

export function instanceOf(object: SimObject, storage: SimStorage): Instance {
	const generation = object.generation;
	const alive = () => object.generation === generation;
	const dead = () => new Restarted(object.name);
	const exec = storage.sql.exec.bind(storage.sql);
	const sql = {
		exec: (query: string, ...bindings: unknown[]) => {
			if (!alive()) throw dead();
			return exec(query, ...(bindings as SqlStorageValue[]));
		},
		get databaseSize() {
			return 0;
		},
	} as unknown as SqlStorage;
	const transaction = <T>(fn: () => T) => {
		if (!alive()) throw dead();
		return storage.transactionSync(fn);
	};
	const gate = <T>(promise: Promise<T>): Promise<T> =>
		new Promise<T>((resolve, reject) =>
			promise.then(
				(v) => alive() && resolve(v),
				(e: unknown) => alive() && reject(e),
			),
		);
	return { alive, sql, transaction, gate };
}
