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
	getBlob(column: number): Uint8Array;
	getColumnNames(): string[];
	reset(): void;
	free(): boolean;
}
export interface SqlJsDatabase {
	prepare(sql: string): SqlJsStatement;
	run(sql: string): unknown;
	getRowsModified(): number;
	export(): Uint8Array;
	close(): void;
}
export interface SqlJs {
	Database: new (image?: Uint8Array) => SqlJsDatabase;
}

/**
 * SQLite's C functions as sql.js exports them from its WebAssembly (and its string
 * helpers). Statements are stepped, bound and read through these directly: sql.js's own
 * Statement methods reach the same functions through `cwrap`, whose argument conversion
 * cost more than SQLite's own work on the cores' small statements.
 */
interface SqliteC {
	_sqlite3_reset(stmt: number): number;
	_sqlite3_clear_bindings(stmt: number): number;
	_sqlite3_step(stmt: number): number;
	_sqlite3_bind_int(stmt: number, index: number, value: number): number;
	_sqlite3_bind_double(stmt: number, index: number, value: number): number;
	_sqlite3_bind_text(stmt: number, index: number, text: number, bytes: number, destructor: number): number;
	_sqlite3_bind_blob(stmt: number, index: number, blob: number, bytes: number, destructor: number): number;
	_sqlite3_data_count(stmt: number): number;
	_sqlite3_column_type(stmt: number, column: number): number;
	_sqlite3_column_double(stmt: number, column: number): number;
	_sqlite3_column_text(stmt: number, column: number): number;
	_sqlite3_column_bytes(stmt: number, column: number): number;
	_sqlite3_changes(db: number): number;
	_sqlite3_errmsg(db: number): number;
	_sqlite3_sql(stmt: number): number;
	_malloc(bytes: number): number;
	_free(pointer: number): void;
	/** With `ignoreNul`, a NUL within `maxBytes` is read as a character, not as the end. */
	UTF8ToString(pointer: number, maxBytes?: number, ignoreNul?: boolean): string;
	lengthBytesUTF8(text: string): number;
	stringToNewUTF8(text: string): number;
	writeArrayToMemory(bytes: Uint8Array, pointer: number): void;
}

const SQLITE_ROW = 100;
const SQLITE_DONE = 101;
/** sqlite3_bind_text's destructor: SQLite copies the bytes, so they are freed at once. */
const SQLITE_TRANSIENT = -1;
const COLUMN_INTEGER = 1;
const COLUMN_FLOAT = 2;
const COLUMN_TEXT = 3;
const COLUMN_BLOB = 4;

/**
 * The C handle inside one of sql.js's objects: the numeric property that SQLite itself
 * says is `statement` (its text read back through sqlite3_sql), found rather than named,
 * since sql.js's bundle renames its private fields.
 */
function statementHandle(c: SqliteC, statement: SqlJsStatement, text: string): number {
	for (const value of Object.values(statement)) {
		if (typeof value === "number" && value >= 65536 && c.UTF8ToString(c._sqlite3_sql(value)) === text) return value;
	}
	throw new Error("sim/sqlite.ts: no SQLite statement handle found in sql.js's Statement (sql.js's layout changed)");
}

/** What an object's storage gives its cores: `sql` for `new Sql(...)`, and `transactionSync` for their transactions. */
export interface SimStorage {
	sql: SqlStorage;
	transactionSync<T>(fn: () => T): T;
	/** Statements run, for the report. */
	readonly statements: number;
	/** Moves with every write (and rollback): unchanged, the database reads as it did. */
	readonly version: number;
	/** The database file's bytes (its main schema), to open copies from; the storage is only closed after. */
	export(): Uint8Array;
	close(): void;
}

/**
 * For a database that is not an object's: its tables in the main schema ("main"; an object's
 * go in temp, below), and opened as a copy of a file's bytes (`from`, another storage's export).
 */
export interface StorageOptions {
	tables?: "temp" | "main";
	from?: Uint8Array;
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

/** Bytes come back from sql.js as a Uint8Array, and to the cores as an ArrayBuffer, as Workers' SQL gives them. */
const returned = (v: unknown): SqlStorageValue => (v instanceof Uint8Array ? (v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer) : (v as SqlStorageValue));

/** A read looked up this often in the cache with fewer than one hit in READ_CACHE_MIN_HITS is read from SQLite from then on. */
const READ_CACHE_TRIAL = 256;
const READ_CACHE_MIN_HITS = 16;

interface Prepared {
	statement: SqlJsStatement;
	/** Its SQLite handle, stepped, bound and read directly (SqliteC). */
	handle: number;
	columns: string[] | null;
	read: boolean;
	write: boolean;
	/** For reads: whether their rows are cached, and how often the cache was asked and answered. */
	caching: boolean;
	lookups: number;
	hits: number;
	/** Makes a row object from its column values (rowMaker). */
	makeRow?: (values: SqlStorageValue[]) => Record<string, SqlStorageValue>;
}

/** A row's column values as read, before they are made its object; reused from row to row. */
const values: SqlStorageValue[] = [];

/** A row of `n` column values read as its object (rowMaker's, made once for the statement, when the row has every column). */
function makeRow(entry: Prepared, columns: string[], read: SqlStorageValue[], n: number): Record<string, SqlStorageValue> {
	return n === columns.length ? (entry.makeRow ??= rowMaker(columns))(read) : rowOf(columns, read, n);
}

/** A row as an object of its columns' names (a later column of the same name wins, in the first's place). */
function rowOf(columns: string[], read: SqlStorageValue[], n: number): Record<string, SqlStorageValue> {
	const row: Record<string, SqlStorageValue> = {};
	for (let i = 0; i < n; i++) row[columns[i]!] = read[i]!;
	return row;
}

/**
 * A statement's row maker: one object literal of its columns, compiled once, so every row of
 * the statement is made as one shape at once rather than a property at a time through a
 * lookup by name. The same object rowOf makes; a column named __proto__ is made by rowOf.
 */
function rowMaker(columns: string[]): (values: SqlStorageValue[]) => Record<string, SqlStorageValue> {
	if (columns.includes("__proto__")) return (read) => rowOf(columns, read, columns.length);
	return new Function("v", `return { ${columns.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(", ")} };`) as (values: SqlStorageValue[]) => Record<string, SqlStorageValue>;
}

/**
 * A fresh in-memory database with Cloudflare's storage API over it. Reads are served
 * from a cache of their rows (by text and bindings) until the database is next written
 * or a transaction rolled back: the same rows SQLite would return, without asking it,
 * so the cores decide exactly as they would. A read whose rows change between nearly
 * every two asks (a fan's row at their join) is not cached: keying and copying its rows
 * would cost more than the hits it would never get. `version` moves with every write,
 * so a caller can tell the database has not changed since it last looked.
 */
export function sqliteStorage(sqlJs: SqlJs, options: StorageOptions = {}): SimStorage {
	const c = sqlJs as unknown as SqliteC;
	const db = new sqlJs.Database(options.from);
	const temp = options.tables !== "main";
	const dbHandle = (db as unknown as { db: number }).db;
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
	const prepared = new Map<string, Prepared>();
	// A read's rows kept as their column values, made into fresh objects for each ask (a core may change what it is given).
	const cache = new Map<string, { read: SqlStorageValue[][]; columns: string[] }>();
	let statements = 0;
	let version = 0;
	let depth = 0;
	const changed = () => {
		version++;
		if (cache.size > 0) cache.clear();
	};
	const prepare = (query: string): Prepared => {
		const text = temp ? query.replace(CREATE_TABLE, "CREATE TEMP TABLE") : query;
		const statement = db.prepare(text);
		const read = READS.test(query);
		return { statement, handle: statementHandle(c, statement, text), columns: null, read, write: WRITES.test(query), caching: read, lookups: 0, hits: 0, makeRow: undefined };
	};
	const failed = (handle: number): Error => {
		const error = new Error(c.UTF8ToString(c._sqlite3_errmsg(dbHandle)));
		c._sqlite3_reset(handle);
		return error;
	};
	// Text is copied into WebAssembly's memory to bind it (SQLite copies it again, SQLITE_TRANSIENT):
	// an ASCII string (nearly all the cores bind: ids, keys, JSON) is encoded natively into one
	// scratch buffer kept for the storage, instead of sql.js's character-by-character length and
	// copy into a fresh malloc freed at once. Any other string takes sql.js's path, byte for byte.
	let scratch = 0;
	let scratchBytes = 0;
	const bindAscii = (handle: number, index: number, value: string): number => {
		const n = value.length;
		if (n > ascii.length) ascii = new Uint8Array(Math.max(n, 2 * ascii.length));
		const { read, written } = encoder.encodeInto(value, ascii);
		if (read !== n || written !== n) return -1;
		// Allocated even for "" (a NULL pointer would bind NULL, not the empty text).
		if (scratch === 0 || n > scratchBytes) {
			if (scratch !== 0) c._free(scratch);
			scratchBytes = Math.max(n, 2 * scratchBytes, 256);
			scratch = c._malloc(scratchBytes);
		}
		c.writeArrayToMemory(ascii.subarray(0, n), scratch);
		return c._sqlite3_bind_text(handle, index, scratch, n, SQLITE_TRANSIENT);
	};
	// As sql.js binds: a whole number as an integer, other numbers as doubles, null (and undefined) as NULL, bytes as a blob.
	const bind = (handle: number, index: number, value: unknown): void => {
		let rc: number;
		if (typeof value === "number") rc = value === (value | 0) ? c._sqlite3_bind_int(handle, index, value) : c._sqlite3_bind_double(handle, index, value);
		else if (typeof value === "string" && (rc = bindAscii(handle, index, value)) >= 0) {
			// bound as ASCII through the scratch buffer
		} else if (typeof value === "string") {
			const text = c.stringToNewUTF8(value);
			rc = c._sqlite3_bind_text(handle, index, text, c.lengthBytesUTF8(value), SQLITE_TRANSIENT);
			c._free(text);
		} else if (value === null || value === undefined) rc = c._sqlite3_bind_blob(handle, index, 0, 0, 0);
		else if (typeof value === "boolean") rc = c._sqlite3_bind_int(handle, index, value ? 1 : 0);
		else if (value instanceof ArrayBuffer || value instanceof Uint8Array) {
			const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : value;
			const blob = c._malloc(Math.max(1, bytes.length));
			c.writeArrayToMemory(bytes, blob);
			rc = c._sqlite3_bind_blob(handle, index, blob, bytes.length, SQLITE_TRANSIENT);
			c._free(blob);
		} else throw new Error(`sim/sqlite.ts: cannot bind ${typeof value}`);
		if (rc !== 0) throw failed(handle);
	};
	const exec = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): Cursor<T> => {
		statements++;
		let entry = prepared.get(query);
		if (entry === undefined) {
			entry = prepare(query);
			prepared.set(query, entry);
		}
		let key: string | null = null;
		if (entry.caching) {
			key = bindings.length === 0 ? query : query + "\u0000" + bindings.map(keyOf).join("\u0000");
			entry.lookups++;
			const hit = cache.get(key);
			if (hit !== undefined) {
				entry.hits++;
				const rows: T[] = [];
				for (const read of hit.read) rows.push(makeRow(entry, hit.columns, read, read.length) as T);
				return new Cursor(rows, hit.columns, 0);
			}
			if (entry.lookups >= READ_CACHE_TRIAL && entry.hits * READ_CACHE_MIN_HITS < entry.lookups) entry.caching = false;
		} else if (!entry.read) changed();
		const handle = entry.handle;
		// A statement stepped to its end steps again from the start by itself; one to be bound is
		// reset first (bindings are refused on a statement that has run), its old bindings cleared.
		if (bindings.length > 0) {
			c._sqlite3_reset(handle);
			c._sqlite3_clear_bindings(handle);
			for (let i = 0; i < bindings.length; i++) bind(handle, i + 1, bindings[i]);
		}
		const columns = (entry.columns ??= entry.statement.getColumnNames());
		const rows: T[] = [];
		const kept: SqlStorageValue[][] | null = key !== null && entry.caching ? [] : null;
		for (;;) {
			const rc = c._sqlite3_step(handle);
			if (rc === SQLITE_DONE) break;
			if (rc !== SQLITE_ROW) throw failed(handle);
			const n = c._sqlite3_data_count(handle);
			const read = kept === null ? values : new Array<SqlStorageValue>(n);
			for (let i = 0; i < n; i++) {
				const type = c._sqlite3_column_type(handle, i);
				read[i] =
					type === COLUMN_INTEGER || type === COLUMN_FLOAT
						? c._sqlite3_column_double(handle, i)
						: type === COLUMN_TEXT
							? c.UTF8ToString(c._sqlite3_column_text(handle, i), c._sqlite3_column_bytes(handle, i), true)
							: type === COLUMN_BLOB
								? returned(entry.statement.getBlob(i))
								: null;
			}
			rows.push(makeRow(entry, columns, read, n) as T);
			kept?.push(read);
		}
		if (kept !== null) cache.set(key!, { read: kept, columns });
		return new Cursor(rows, columns, entry.write ? c._sqlite3_changes(dbHandle) : 0);
	};
	// The savepoints' statements, prepared once per depth.
	const savepoints: { begin: number; release: number; rollback: number }[] = [];
	const savepointStatements: SqlJsStatement[] = [];
	const savepoint = (text: string): number => {
		const statement = db.prepare(text);
		savepointStatements.push(statement);
		return statementHandle(c, statement, text);
	};
	const run = (handle: number) => {
		if (c._sqlite3_step(handle) !== SQLITE_DONE) throw failed(handle);
	};
	const sql = { exec, get databaseSize() { return 0; } } as unknown as SqlStorage;
	return {
		sql,
		// As workerd's: all or nothing, nested calls as savepoints inside the outer one.
		transactionSync<T>(fn: () => T): T {
			const name = `sim_tx_${depth}`;
			const s = (savepoints[depth] ??= { begin: savepoint(`SAVEPOINT ${name}`), release: savepoint(`RELEASE ${name}`), rollback: savepoint(`ROLLBACK TO ${name}`) });
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
		// sql.js closes and opens the database again to read its file: the handles kept here are stale after.
		export() {
			return db.export();
		},
		close() {
			for (const e of prepared.values()) e.statement.free();
			for (const st of savepointStatements) st.free();
			if (scratch !== 0) c._free(scratch);
			db.close();
		},
	};
}

const encoder = new TextEncoder();
/** Text to bind, encoded (sqliteStorage's bindAscii); shared, as nothing runs between its encoding and its copy. */
let ascii = new Uint8Array(1024);

/** A binding in a cache key: its type with it, so 1 and "1" are two keys; bytes by their content. */
function keyOf(v: unknown): string {
	if (v instanceof ArrayBuffer) return "b" + [...new Uint8Array(v)].join(",");
	return typeof v === "string" ? "s" + v : typeof v + String(v);
}
