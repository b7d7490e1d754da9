// D1 for the simulator: the D1 API the engine's code uses (prepare, bind, first, all,
// run, raw, batch: a batch all or nothing) over a sql.js database (sim/sqlite.ts, the
// objects' adapter; its tables in the main schema, each run's a copy of one database the
// migrations were applied to once) with the repository's migrations/, so the sales consumer's
// own statements run here unchanged. Two ports over one database: the engine's, which
// queues each call at D1's one writer (about 1,000 queries a second at 1 ms each, so a
// call takes 1 ms a statement) a network hop away and fails while the `d1` fault has
// it down; and the simulator's own checks', answered at once and never down.
// The simulator's sums of what was written (the orders, by a trigger) are its own table.
import type { EventQueue } from "./events";
import { SimObject } from "./objects";
import { type SimStorage, type SqlJs, sqliteStorage } from "./sqlite";

/** The repository's migrations/, in order (sim/bundle.mjs reads them into the bundle). */
declare const SIM_MIGRATIONS: readonly { name: string; sql: string }[];

/** D1's figures: one writer, about 1,000 queries a second at 1 ms each; 100 bound parameters a statement. */
export const D1_QUERY_MS = 1;
export const D1_QUERIES_PER_SECOND = 1000;
export const D1_MAX_BINDINGS = 100;
/** Queries one Worker invocation may make (D1 on the Workers Paid plan; 50 on Free). */
export const D1_QUERIES_PER_INVOCATION = 1000;

type Row = Record<string, SqlStorageValue>;

/** What a query's answer says about itself, as D1's `meta` does (the fields the engine reads, and their neighbours). */
interface Meta {
	changes: number;
	changed_db: boolean;
	rows_read: number;
	rows_written: number;
	duration: number;
	last_row_id: number;
	size_after: number;
}

/** How a port runs the work of one call: `statements` queries, then `work` against the database. */
type Runner = <T>(statements: number, method: string, work: () => T) => Promise<T>;

/**
 * Splits a migration file into its statements: at each `;` outside a string, a quoted
 * name or a comment (the migrations hold no trigger, whose body has `;` of its own).
 */
export function statementsOf(script: string): string[] {
	const out: string[] = [];
	let start = 0;
	let i = 0;
	while (i < script.length) {
		const c = script[i]!;
		if (c === "-" && script[i + 1] === "-") {
			const end = script.indexOf("\n", i);
			i = end === -1 ? script.length : end + 1;
		} else if (c === "/" && script[i + 1] === "*") {
			const end = script.indexOf("*/", i + 2);
			i = end === -1 ? script.length : end + 2;
		} else if (c === "'" || c === '"' || c === "`" || c === "[") {
			const close = c === "[" ? "]" : c;
			let j = i + 1;
			for (;;) {
				const k = script.indexOf(close, j);
				if (k === -1) {
					j = script.length;
					break;
				}
				// A quote doubled is the quote itself, inside the string.
				if (close !== "]" && script[k + 1] === close) j = k + 2;
				else {
					j = k + 1;
					break;
				}
			}
			i = j;
		} else if (c === ";") {
			out.push(script.slice(start, i + 1));
			i++;
			start = i;
		} else i++;
	}
	out.push(script.slice(start));
	// What is left once comments are gone is a statement; a file's tail of comments is none.
	return out.filter((s) => s.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, "").trim().replace(/;$/, "").trim() !== "");
}

/** The database with every migration applied, made once per sql.js (a thread's): each run's D1 opens a copy. */
const images = new WeakMap<SqlJs, Uint8Array>();

function migrated(sqlJs: SqlJs): Uint8Array {
	let image = images.get(sqlJs);
	if (image === undefined) {
		// Its tables in the main schema, so the file's bytes carry them (an object's are in temp, which a file has not).
		const storage = sqliteStorage(sqlJs, { tables: "main" });
		for (const m of SIM_MIGRATIONS) for (const s of statementsOf(m.sql)) storage.sql.exec(s).toArray();
		image = storage.export();
		storage.close();
		images.set(sqlJs, image);
	}
	return image;
}

/** D1 refuses `undefined` and takes a boolean as 0 or 1; the rest binds as SQLite's adapter binds it. */
function boundValue(value: unknown, index: number, query: string): unknown {
	if (value === undefined) throw new Error(`D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined' (parameter ${index + 1} of: ${query.slice(0, 80)})`);
	if (typeof value === "boolean") return value ? 1 : 0;
	if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
	return value;
}

class Statement {
	constructor(
		private readonly d1: Port,
		readonly query: string,
		readonly values: unknown[],
	) {}

	bind(...values: unknown[]): Statement {
		if (values.length > D1_MAX_BINDINGS) throw new Error(`D1_ERROR: too many SQL variables (${values.length}, D1 takes ${D1_MAX_BINDINGS})`);
		return new Statement(this.d1, this.query, values.map((v, i) => boundValue(v, i, this.query)));
	}

	/** Runs it against the database now: its rows, columns and what it wrote. */
	execute(): { rows: Row[]; columns: string[]; meta: Meta } {
		const cursor = this.d1.db.storage.sql.exec<Row>(this.query, ...(this.values as SqlStorageValue[]));
		const rows = cursor.toArray();
		const changes = cursor.rowsWritten;
		return { rows, columns: cursor.columnNames, meta: { changes, changed_db: changes > 0, rows_read: rows.length, rows_written: changes, duration: D1_QUERY_MS, last_row_id: 0, size_after: 0 } };
	}

	result(): { success: true; results: Row[]; meta: Meta } {
		const { rows, meta } = this.execute();
		return { success: true, results: rows, meta };
	}

	first<T = Row>(column?: string): Promise<T | null> {
		return this.d1.run(1, "first", () => {
			const { rows, columns } = this.execute();
			const row = rows[0];
			if (row === undefined) return null;
			if (column === undefined) return row as T;
			if (!columns.includes(column)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
			return row[column] as T;
		});
	}

	all<T = Row>(): Promise<{ success: true; results: T[]; meta: Meta }> {
		return this.d1.run(1, "all", () => this.result() as { success: true; results: T[]; meta: Meta });
	}

	run<T = Row>(): Promise<{ success: true; results: T[]; meta: Meta }> {
		return this.d1.run(1, "run", () => this.result() as { success: true; results: T[]; meta: Meta });
	}

	raw<T = unknown[]>(options?: { columnNames?: boolean }): Promise<T[]> {
		return this.d1.run(1, "raw", () => {
			const { rows, columns } = this.execute();
			const values = rows.map((r) => columns.map((c) => r[c]));
			return (options?.columnNames === true ? [columns, ...values] : values) as T[];
		});
	}
}

/** A binding of the database: the engine's (timed, faulty) or the checks' (at once). */
class Port {
	constructor(
		readonly db: SimD1,
		readonly run: Runner,
	) {}

	prepare(query: string): Statement {
		return new Statement(this, query, []);
	}

	/** All the statements in one transaction: any that fails undoes the others, and the call fails. */
	batch(statements: Statement[]): Promise<{ success: true; results: Row[]; meta: Meta }[]> {
		return this.run(statements.length, "batch", () => this.db.storage.transactionSync(() => statements.map((s) => s.result())));
	}

	exec(query: string): Promise<{ count: number; duration: number }> {
		const statements = statementsOf(query);
		return this.run(statements.length, "exec", () => {
			for (const s of statements) this.db.storage.sql.exec(s).toArray();
			return { count: statements.length, duration: statements.length * D1_QUERY_MS };
		});
	}

	withSession(): this {
		return this;
	}
}

export class SimD1 {
	readonly storage: SimStorage;
	/** D1 as a service: one writer, each call's statements at D1_QUERY_MS each, counted per second as an object's requests. */
	readonly object: SimObject;
	/** When each order row was first written (simulated ms): the sale's ticket exists from then. */
	readonly writtenAt = new Map<string, number>();
	/** Calls refused because D1 was down. */
	refused = 0;
	/** The engine's queries (a batch's statements each) in each simulated second, and in all. */
	private readonly queriesPerSecond: number[] = [];
	queries = 0;
	/** Told the ids of order rows a call of the engine's just wrote (the run's checks). */
	onOrdersWritten: (orderIds: string[]) => void = () => undefined;

	constructor(
		sqlJs: SqlJs,
		private readonly events: EventQueue,
		private readonly hopMs: number,
		private readonly down: () => boolean,
	) {
		this.storage = sqliteStorage(sqlJs, { tables: "main", from: migrated(sqlJs) });
		// The simulator's note of every order row inserted, whatever wrote it (a trigger's write is no change the statement reports).
		this.storage.sql.exec(`CREATE TEMP TABLE sim_orders_written (order_id TEXT NOT NULL)`).toArray();
		this.storage.sql.exec(`CREATE TEMP TRIGGER sim_order_written AFTER INSERT ON orders BEGIN INSERT INTO sim_orders_written (order_id) VALUES (NEW.order_id); END`).toArray();
		this.object = new SimObject("d1", "D1", events);
	}

	/**
	 * The engine's binding (env.DB): each call queued at D1's writer, answered a hop later; refused
	 * while D1 is down. `counted` is told each call's queries (an invocation's own binding counts them).
	 */
	binding(counted: (queries: number) => void = () => undefined): D1Database {
		const events = this.events;
		const run: Runner = (statements, method, work) =>
			new Promise((resolve, reject) => {
				counted(statements);
				if (this.down()) {
					this.refused++;
					return events.after(this.hopMs, () => {
						events.touched = true;
						reject(new Error("D1_ERROR: Network connection lost."));
					});
				}
				const second = Math.floor(events.now / 1000);
				while (this.queriesPerSecond.length <= second) this.queriesPerSecond.push(0);
				this.queriesPerSecond[second]! += statements;
				this.queries += statements;
				this.object.call(
					statements * D1_QUERY_MS,
					() => {
						const version = this.storage.version;
						let r: { ok: true; value: unknown } | { ok: false; error: unknown };
						try {
							r = { ok: true, value: work() };
						} catch (error) {
							r = { ok: false, error };
						}
						// Outside the call's own failure: a broken invariant stops the run, it is no error of D1's.
						if (r.ok && this.storage.version !== version) this.written();
						return r;
					},
					(r) => {
						events.touched = true;
						if (r.ok) resolve(r.value as never);
						else reject(r.error);
					},
					this.hopMs,
					undefined,
					method,
				);
			});
		return new Port(this, run) as unknown as D1Database;
	}

	/** The checks' binding: the same database, answered at once (a microtask), never down, counted nowhere. */
	direct(): D1Database {
		const run: Runner = (_statements, _method, work) => new Promise((resolve) => resolve(work()));
		return new Port(this, run) as unknown as D1Database;
	}

	/** Order rows inserted since the last look: noted with the time, and handed to the checks. */
	private written(): void {
		const rows = this.storage.sql.exec<{ order_id: string }>(`SELECT order_id FROM sim_orders_written`).toArray();
		if (rows.length === 0) return;
		this.storage.sql.exec(`DELETE FROM sim_orders_written`).toArray();
		const ids = rows.map((r) => r.order_id);
		for (const id of ids) if (!this.writtenAt.has(id)) this.writtenAt.set(id, this.events.now);
		this.onOrdersWritten(ids);
	}

	/** The busiest second's queries and when (ms since the drop was made). */
	peak(): { queries: number; at: number } {
		let best = { queries: 0, at: 0 };
		this.queriesPerSecond.forEach((n, s) => {
			if (n > best.queries) best = { queries: n, at: s * 1000 };
		});
		return best;
	}

	close(): void {
		this.storage.close();
	}
}
