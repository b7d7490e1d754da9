// Reading a request: bounded JSON and text bodies, and the bearer credential.
import { ApiError } from "./errors";

export const MAX_BODY_BYTES = 16 * 1024;

const tooLarge = (bytes: number) => new ApiError(413, "body_too_large", `The body must be at most ${bytes} bytes.`);
const unsupportedType = () => new ApiError(415, "unsupported_media_type", "Send the body as application/json.");

/**
 * Reads a JSON body: 413 past the limit (declared or actual), 415 when a body
 * comes without a JSON content type, 400 when it is missing or does not parse.
 * With `optional`, no body at all (whatever the headers say) reads as undefined.
 */
export async function readJson(
	request: Request,
	{ optional = false, maxBytes = MAX_BODY_BYTES, largeIf }: { optional?: boolean; maxBytes?: number; largeIf?: (body: unknown) => boolean } = {},
): Promise<unknown> {
	const declared = request.headers.get("content-length");
	if (declared !== null && Number(declared) > maxBytes) {
		throw new ApiError(413, "body_too_large", `The body must be at most ${maxBytes} bytes.`);
	}
	const type = request.headers.get("content-type");
	const isJson = type !== null && /^application\/json\s*(;|$)/i.test(type);
	if (type !== null && !isJson) throw unsupportedType();
	// Without a content type only an empty body is acceptable, so it is read (bounded) to see.
	// Loose: itty's request proxy may show a missing body as undefined rather than null.
	const text = request.body == null ? "" : await readBounded(request.body, maxBytes);
	if (text.length === 0) {
		if (optional) return undefined;
		throw new ApiError(400, "missing_body", "A JSON body is required.");
	}
	if (!isJson) throw unsupportedType();
	// Past the usual bound only a body `largeIf` accepts may pass (a drop with its seats); anything else is 413.
	const large = text.length > MAX_BODY_BYTES / 3 && new TextEncoder().encode(text).byteLength > MAX_BODY_BYTES;
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		if (large) throw tooLarge(MAX_BODY_BYTES);
		throw new ApiError(400, "invalid_json", "The body is not valid JSON.");
	}
	if (large && !largeIf?.(body)) throw tooLarge(MAX_BODY_BYTES);
	return body;
}

/** A body as text, refused with 413 past `maxBytes`. */
export async function readBounded(body: ReadableStream<Uint8Array>, maxBytes = MAX_BODY_BYTES): Promise<string> {
	const reader = body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > maxBytes) {
			await reader.cancel();
			throw new ApiError(413, "body_too_large", `The body must be at most ${maxBytes} bytes.`);
		}
		chunks.push(value);
	}
	const all = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		all.set(chunk, offset);
		offset += chunk.byteLength;
	}
	try {
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(all);
	} catch {
		throw new ApiError(400, "invalid_json", "The body is not valid UTF-8.");
	}
}

export function bearerToken(request: Request): string | null {
	const header = request.headers.get("authorization");
	if (header === null) return null;
	const match = /^Bearer\s+(\S{1,4096})\s*$/i.exec(header);
	return match ? match[1]! : null;
}
