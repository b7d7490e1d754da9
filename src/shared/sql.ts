// A small typed helper over SqlStorage: every cursor is consumed at once, so
// no query result outlives the synchronous block that made it.

export type Row = Record<string, SqlStorageValue>;

export class Sql {
	constructor(private readonly storage: SqlStorage) {}

	all<T extends Row>(query: string, ...params: SqlStorageValue[]): T[] {
		return this.storage.exec<T>(query, ...params).toArray();
	}

	first<T extends Row>(query: string, ...params: SqlStorageValue[]): T | null {
		return this.all<T>(query, ...params)[0] ?? null;
	}

	/** The first column of the first row, as a number (0 when there is no row or it is NULL). */
	number(query: string, ...params: SqlStorageValue[]): number {
		const row = this.first(query, ...params);
		if (row === null) return 0;
		const value = Object.values(row)[0];
		return typeof value === "number" ? value : value === null ? 0 : Number(value);
	}

	/** Rows written, index entries included: test "did it change anything" with > 0, never === 1. */
	run(query: string, ...params: SqlStorageValue[]): number {
		const cursor = this.storage.exec(query, ...params);
		cursor.toArray();
		return cursor.rowsWritten;
	}
}
