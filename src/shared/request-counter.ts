// Load accounting: every Durable Object counts the requests it serves, so a
// load run can name the hottest object and how many calls each fan cost it.
import type { Sql } from "./sql";

export type ObjectKind = "room" | "line" | "shard";

export interface ObjectLoad {
	kind: ObjectKind;
	index: number;
	requests: number;
	/** The requests by the method that served them, for the objects that name them (the pacer, the shards). */
	methods?: Record<string, number>;
	/** How many times the object started (a restart loses what it kept in memory), where counted. */
	starts?: number;
}

/** An object's requests in all and by the method that served them, and how many times it has started. */
export interface MethodLoad {
	requests: number;
	methods: Record<string, number>;
	starts: number;
}

/** A counter kept in the object's own SQLite, so a restart does not forget what was served. */
export class RequestCounter {
	constructor(private readonly sql: Sql) {
		sql.run(`CREATE TABLE IF NOT EXISTS served (id INTEGER PRIMARY KEY CHECK (id = 1), requests INTEGER NOT NULL)`);
		sql.run(`INSERT OR IGNORE INTO served (id, requests) VALUES (1, 0)`);
		// The count by method lives in the same row, so a request still writes one row, not two.
		if (sql.number(`SELECT COUNT(*) FROM pragma_table_info('served') WHERE name = 'methods'`) === 0) {
			sql.run(`ALTER TABLE served ADD COLUMN methods TEXT NOT NULL DEFAULT '{}'`);
			sql.run(`ALTER TABLE served ADD COLUMN starts INTEGER NOT NULL DEFAULT 0`);
		}
		// Made once per start of the object: a restart forgets what the object kept in memory.
		sql.run(`UPDATE served SET starts = starts + 1 WHERE id = 1`);
	}

	/**
	 * One more request served; written with whatever else the request writes. A named
	 * method is counted apart too, so a load run can say where an object's requests come from.
	 */
	count(method?: string): void {
		if (method === undefined) this.sql.run(`UPDATE served SET requests = requests + 1 WHERE id = 1`);
		else {
			const path = `$.${method}`;
			this.sql.run(`UPDATE served SET requests = requests + 1, methods = json_set(methods, ?, COALESCE(json_extract(methods, ?), 0) + 1) WHERE id = 1`, path, path);
		}
	}

	/** The requests served, in all and by each named method, and how many times the object has started: one read, so they agree. */
	byMethod(): MethodLoad {
		const row = this.sql.first<{ requests: number; methods: string; starts: number }>(`SELECT requests, methods, starts FROM served WHERE id = 1`);
		const stored = JSON.parse(row?.methods ?? "{}") as Record<string, number>;
		return { requests: row?.requests ?? 0, methods: Object.fromEntries(Object.entries(stored).sort(([a], [b]) => a.localeCompare(b))), starts: row?.starts ?? 0 };
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
