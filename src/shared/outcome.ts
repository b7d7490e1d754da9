// What a Durable Object answers over RPC: a value, or an expected failure with
// the HTTP status and contract code the Worker passes on. (Errors thrown over
// RPC lose their class, so expected failures travel as values.)
import { ApiError } from "./errors";

export type Outcome<T> =
	| { ok: true; value: T; replayed?: boolean }
	| { ok: false; status: number; code: string; message: string; details?: Record<string, unknown> };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });

export const fail = (status: number, code: string, message: string, details?: Record<string, unknown>): Outcome<never> => ({
	ok: false,
	status,
	code,
	message,
	...(details ? { details } : {}),
});

/** The value of a successful outcome; an expected failure becomes the matching ApiError. */
export function unwrap<T>(outcome: Outcome<T>): T {
	if (!outcome.ok) throw new ApiError(outcome.status, outcome.code, outcome.message, outcome.details ?? {});
	return outcome.value;
}

type Failure = Extract<Outcome<never>, { ok: false }>;

/** The failure of an outcome, or null. (RPC wraps results in types that defeat narrowing on `ok`.) */
export function failureOf(outcome: { ok: boolean }): Failure | null {
	return outcome.ok ? null : (outcome as Failure);
}
