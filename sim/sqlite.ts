// A Durable Object's SQLite for the simulator: Cloudflare's `SqlStorage` (exec with
// bindings, a cursor with toArray, one and rowsWritten) and `transactionSync` over
// one sql.js database (SQLite compiled to WebAssembly), so the engine's cores run
// here on the same SQL they run on in workerd. One database per simulated object.
// sql.js is loaded by the caller (it reads its .wasm from node_modules) and handed in.

/** The part of sql.js's module the adapter uses (sql.js ships no types; @types/sql.js is not installed). */
export interface SqlJsStatement {
	bind(values: unknown[]): boolean;
	step(): boolean;
	getAsObject(): Record<string, unknown>;
	getColumnNames(): string[];
	reset(): void;
	free(): boolean;
}
export interface SqlJsDatabase {
	prepare(sql: string): SqlJsStatement;
	run(sql: string): unknown;
	getRowsModified(): number;
	close(): void;
}
export interface SqlJs {
	Database: new () => SqlJsDatabase;
}

/** What an object's storage gives its cores: `sql` for `new Sql(...)`, and `transactionSync` for their transactions. */
export interface SimStorage {
	sql: SqlStorage;
	transactionSync<T>(fn: () => T): T;
	/** Statements run, for the report. */
	readonly statements: number;
	close(): void;
}

/** Only these statements write rows: any other leaves sqlite3_changes() at the last write's count, so it counts 0. */
const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

class Cursor<T extends Record<string, SqlStorageValue>> {
	private index = 0;
	constructor(
		private readonly rows: T[],
		readonly columnNames: string[],
		readonly rowsWritten: number,
	) {}

	get rowsRead(): number {
		return this.rows.length;
	}

	next(): { done?: false; value: T } | { done: true; value?: never } {
		const value = this.rows[this.index++];
		return value === undefined ? { done: true } : { value };
	}

	toArray(): T[] {
		const rest = this.rows.slice(this.index);
		this.index = this.rows.length;
		return rest;
	}

	one(): T {
		const rows = this.toArray();
		if (rows.length !== 1) throw new Error(`Expected exactly one result from SQL query, but got ${rows.length === 0 ? "no" : rows.length} results.`);
		return rows[0]!;
	}

	*raw<U extends SqlStorageValue[]>(): IterableIterator<U> {
		for (const row of this.toArray()) yield this.columnNames.map((c) => row[c]) as U;
	}

	*[Symbol.iterator](): IterableIterator<T> {
		yield* this.toArray();
	}
}

/** Workers' SQL values in, sql.js's out: an ArrayBuffer is bound as bytes, and bytes come back as an ArrayBuffer. */
const bound = (v: unknown) => (v instanceof ArrayBuffer ? new Uint8Array(v) : v === undefined ? null : v);
const returned = (v: unknown): SqlStorageValue => (v instanceof Uint8Array ? (v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer) : (v as SqlStorageValue));

/** A fresh in-memory database with Cloudflare's storage API over it. */
export function sqliteStorage(sqlJs: SqlJs): SimStorage {
	const db = new sqlJs.Database();
	// sql.js keeps the database as a file in Emscripten's in-memory file system; a rollback journal
	// kept there too costs a file write per change. In memory it still undoes a transaction the same.
	db.run("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF");
	// Each query is prepared once: the cores send the same few dozen texts again and again.
	const prepared = new Map<string, SqlJsStatement>();
	let statements = 0;
	let depth = 0;
	const exec = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): Cursor<T> => {
		statements++;
		let statement = prepared.get(query);
		if (statement === undefined) {
			statement = db.prepare(query);
			prepared.set(query, statement);
		}
		try {
			statement.bind(bindings.map(bound));
			const rows: T[] = [];
			while (statement.step()) {
				const row = statement.getAsObject();
				for (const k in row) row[k] = returned(row[k]);
				rows.push(row as T);
			}
			return new Cursor(rows, statement.getColumnNames(), WRITES.test(query) ? db.getRowsModified() : 0);
		} finally {
			statement.reset();
		}
	};
	const sql = { exec, get databaseSize() { return 0; } } as unknown as SqlStorage;
	return {
		sql,
		// As workerd's: all or nothing, nested calls as savepoints inside the outer one.
		transactionSync<T>(fn: () => T): T {
			const name = `sim_tx_${depth++}`;
			db.run(`SAVEPOINT ${name}`);
			try {
				const result = fn();
				db.run(`RELEASE ${name}`);
				return result;
			} catch (err) {
				db.run(`ROLLBACK TO ${name}`);
				db.run(`RELEASE ${name}`);
				throw err;
			} finally {
				depth--;
			}
		},
		get statements() {
			return statements;
		},
		close() {
			for (const s of prepared.values()) s.free();
			db.close();
		},
	};
}
