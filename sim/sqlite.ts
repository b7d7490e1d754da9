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
	get(): unknown[];
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
	/** Moves with every write (and rollback): unchanged, the database reads as it did. */
	readonly version: number;
	close(): void;
}

/** Only these statements write rows: any other leaves sqlite3_changes() at the last write's count, so it counts 0. */
const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;
/** Plain reads, whose rows may be cached until the next write: anything else (a write, a pragma, a schema change) clears the cache. */
const READS = /^\s*SELECT\b/i;
/** A table the cores create: made a temp table (see sqliteStorage). */
const CREATE_TABLE = /\bCREATE\s+TABLE\b/gi;

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

/**
 * A fresh in-memory database with Cloudflare's storage API over it. Reads are served
 * from a cache of their rows (by text and bindings) until the database is next written
 * or a transaction rolled back: the same rows SQLite would return, without asking it,
 * so the cores decide exactly as they would. `version` moves with every write, so a
 * caller can tell the database has not changed since it last looked.
 */
export function sqliteStorage(sqlJs: SqlJs): SimStorage {
	const db = new sqlJs.Database();
	// sql.js keeps the database as a file in Emscripten's in-memory file system; a rollback journal
	// kept there too costs a file write per change. In memory it still undoes a transaction the same.
	// One connection owns the file, so it keeps its lock and page cache instead of checking the file
	// again at each statement.
	db.run("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA temp_store = MEMORY");
	// The tables go in the connection's temp schema, which lives in SQLite's own memory: a commit
	// then writes no pages through that file system at all (it halves the cost of a line's join).
	// Unqualified names find a temp table first and its indexes go with it, so every query the
	// cores send reads and writes the same rows as over a file.
	// Each query is prepared once: the cores send the same few dozen texts again and again.
	const prepared = new Map<string, { statement: SqlJsStatement; columns: string[] | null; read: boolean; write: boolean }>();
	const cache = new Map<string, { rows: Record<string, SqlStorageValue>[]; columns: string[] }>();
	let statements = 0;
	let version = 0;
	let depth = 0;
	const changed = () => {
		version++;
		if (cache.size > 0) cache.clear();
	};
	const exec = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): Cursor<T> => {
		statements++;
		let entry = prepared.get(query);
		if (entry === undefined) {
			entry = { statement: db.prepare(query.replace(CREATE_TABLE, "CREATE TEMP TABLE")), columns: null, read: READS.test(query), write: WRITES.test(query) };
			prepared.set(query, entry);
		}
		let key: string | null = null;
		if (entry.read) {
			key = bindings.length === 0 ? query : query + "\u0000" + bindings.map(keyOf).join("\u0000");
			const hit = cache.get(key);
			if (hit !== undefined) return new Cursor(hit.rows.map((r) => ({ ...r })) as T[], hit.columns, 0);
		} else changed();
		const statement = entry.statement;
		// A statement stepped to its end has let go of the database, and `bind` resets it (and
		// frees the last strings bound) before binding: no reset after each use, only after a
		// failure, which is a wasm call or three fewer a statement.
		try {
			if (bindings.length > 0) statement.bind(bindings.map(bound));
			const columns = (entry.columns ??= statement.getColumnNames());
			const rows: T[] = [];
			while (statement.step()) {
				const values = statement.get();
				const row: Record<string, SqlStorageValue> = {};
				for (let i = 0; i < columns.length; i++) row[columns[i]!] = returned(values[i]);
				rows.push(row as T);
			}
			if (key !== null) cache.set(key, { rows: rows.map((r) => ({ ...r })), columns });
			return new Cursor(rows, columns, entry.write ? db.getRowsModified() : 0);
		} catch (err) {
			statement.reset();
			throw err;
		}
	};
	// The savepoints' statements, prepared once per depth.
	const savepoints: { begin: SqlJsStatement; release: SqlJsStatement; rollback: SqlJsStatement }[] = [];
	const run = (statement: SqlJsStatement) => {
		try {
			statement.step();
		} catch (err) {
			statement.reset();
			throw err;
		}
	};
	const sql = { exec, get databaseSize() { return 0; } } as unknown as SqlStorage;
	return {
		sql,
		// As workerd's: all or nothing, nested calls as savepoints inside the outer one.
		transactionSync<T>(fn: () => T): T {
			const name = `sim_tx_${depth}`;
			const s = (savepoints[depth] ??= { begin: db.prepare(`SAVEPOINT ${name}`), release: db.prepare(`RELEASE ${name}`), rollback: db.prepare(`ROLLBACK TO ${name}`) });
			depth++;
			run(s.begin);
			try {
				const result = fn();
				run(s.release);
				return result;
			} catch (err) {
				changed();
				run(s.rollback);
				run(s.release);
				throw err;
			} finally {
				depth--;
			}
		},
		get statements() {
			return statements;
		},
		get version() {
			return version;
		},
		close() {
			for (const e of prepared.values()) e.statement.free();
			for (const s of savepoints) for (const st of [s.begin, s.release, s.rollback]) st.free();
			db.close();
		},
	};
}

/** A binding in a cache key: its type with it, so 1 and "1" are two keys; bytes by their content. */
function keyOf(v: unknown): string {
	if (v instanceof ArrayBuffer) return "b" + [...new Uint8Array(v)].join(",");
	return typeof v === "string" ? "s" + v : typeof v + String(v);
}
