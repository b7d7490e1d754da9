// Work done once per isolate, on the first call, not at start-up: schemas and
// documents that cost milliseconds to build and that many isolates never need.

/** A build run on the first call only; later calls answer what it built, for the isolate's life. */
export function onFirstUse<T>(build: () => T): () => T {
	let built: T | null = null;
	return () => (built ??= build());
}
