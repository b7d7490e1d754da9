// Load accounting: every Durable Object counts the requests it serves, so a
// load run can name the hottest object and how many calls each fan cost it.
import type { Sql } from "./sql";

export type ObjectKind = "room" | "line" | "shard";

export interface ObjectLoad {
	kind: ObjectKind;
	index: number;
	requests: number;
	/** The requests by the method that served them, for the objects that name them (the shards). */
	methods?: Record<string, number>;
}

/** A counter kept in the object's own SQLite, so a restart does not forget what was served. */
export class RequestCounter {
	constructor(private readonly sql: Sql) {
		sql.run(`CREATE TABLE IF NOT EXISTS served (id INTEGER PRIMARY KEY CHECK (id = 1), requests INTEGER NOT NULL)`);
		sql.run(`INSERT OR IGNORE INTO served (id, requests) VALUES (1, 0)`);
	}

	/** By method, in memory only (a second write per request would cost more than it tells): since the object last started. */
	private readonly methods = new Map<string, number>();

	/**
	 * One more request served; written with whatever else the request writes. A named
	 * method is counted apart too, so a load run can say where an object's requests come from.
	 */
	count(method?: string): void {
		this.sql.run(`UPDATE served SET requests = requests + 1 WHERE id = 1`);
		if (method !== undefined) this.methods.set(method, (this.methods.get(method) ?? 0) + 1);
	}

	/** The requests served by each named method since this instance started (a restart starts them again). */
	byMethod(): Record<string, number> {
		return Object.fromEntries([...this.methods].sort(([a], [b]) => a.localeCompare(b)));
	}

	get requests(): number {
		return this.sql.number(`SELECT requests FROM served WHERE id = 1`);
	}
}

export interface LoadReport {
	fans: number;
	objects: ObjectLoad[];
	hottest: (ObjectLoad & { perFan: number }) | null;
}

/** The busiest object and its requests per fan who joined. */
export function loadReport(fans: number, objects: ObjectLoad[]): LoadReport {
	let hottest: ObjectLoad | null = null;
	for (const o of objects) if (hottest === null || o.requests > hottest.requests) hottest = o;
	return {
		fans,
		objects,
		hottest: hottest === null ? null : { ...hottest, perFan: fans === 0 ? 0 : Math.round((hottest.requests / fans) * 10_000) / 10_000 },
	};
}
