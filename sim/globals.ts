// What the engine's code reads from the platform, replaced for one simulated run:
// `crypto.getRandomValues` and `crypto.randomUUID` (hold, order, transfer ids and
// ticket codes, src/shared/ids.ts) draw from the run's seed, `setTimeout` /
// `clearTimeout` (a stock transfer's waits and its peer's deadline) run on the
// simulated clock, and so does `Date` (the sales consumer stamps its rows with
// `new Date()` and `Date.now()`); workerd's `crypto.subtle.timingSafeEqual` (a line
// comparing a rejoining fan's secret, src/shared/fan-secret.ts), which Node lacks, is a
// plain comparison of the bytes (nothing here measures time). So the cores run unchanged
// and a seed replays every id, every wait and every time written. Installed for the run
// only; `restore` puts the platform's back.
import { randomStream, type EventQueue } from "./events";

export function installSimulatedGlobals(seed: number, events: EventQueue, warned: (message: string) => void): { restore(): void } {
	const c = crypto as unknown as Record<string, unknown>;
	const random = randomStream(seed, "ids");
	const bytes = <T extends ArrayBufferView | null>(array: T): T => {
		if (array === null) return array;
		const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
		for (let i = 0; i < view.length; i++) view[i] = Math.floor(random() * 256);
		return array;
	};
	const uuid = () => {
		const b = bytes(new Uint8Array(16));
		b[6] = (b[6]! & 0x0f) | 0x40;
		b[8] = (b[8]! & 0x3f) | 0x80;
		const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
		return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
	};
	const define = (name: string, value: unknown) => Object.defineProperty(c, name, { value, configurable: true, writable: true });
	define("getRandomValues", bytes);
	define("randomUUID", uuid);
	const subtle = crypto.subtle as unknown as Record<string, unknown>;
	const platformEqual = Object.getOwnPropertyDescriptor(subtle, "timingSafeEqual");
	Object.defineProperty(subtle, "timingSafeEqual", { value: sameBytes, configurable: true, writable: true });

	const g = globalThis as unknown as Record<string, unknown>;
	const platform = { setTimeout: g.setTimeout, clearTimeout: g.clearTimeout, Date: g.Date as DateConstructor };
	g.Date = simulatedDate(platform.Date, () => events.clock());
	const cleared = new Set<number>();
	let nextTimer = 1;
	g.setTimeout = (fn: (...args: unknown[]) => void, ms = 0, ...args: unknown[]) => {
		const id = nextTimer++;
		events.after(Math.max(0, ms), () => {
			if (cleared.delete(id)) return;
			events.touched = true;
			fn(...args);
		});
		return id;
	};
	g.clearTimeout = (id: number | undefined) => {
		if (id !== undefined) cleared.add(id);
	};
	// The engine's warnings (a send that failed, a peer that did not answer) go to the run's trace, not the output.
	const log = console as unknown as Record<string, unknown>;
	const platformWarn = log.warn;
	const platformError = log.error;
	const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
	log.warn = (...args: unknown[]) => warned(`warning: ${text(args)}`);
	// And its errors (the sales consumer's "D1 write failed; retrying" while D1 is down).
	log.error = (...args: unknown[]) => warned(`error: ${text(args)}`);
	// Work of an instance that restarted stops where it touches storage again: nobody awaits it.
	const proc = (globalThis as unknown as { process: { on(e: string, f: (r: unknown) => void): void; off(e: string, f: (r: unknown) => void): void } }).process;
	const orphaned = (reason: unknown) => {
		if (reason instanceof Error && reason.message.endsWith(" restarted")) return;
		events.failure ??= reason as Error;
	};
	proc.on("unhandledRejection", orphaned);
	return {
		restore() {
			log.warn = platformWarn;
			log.error = platformError;
			proc.off("unhandledRejection", orphaned);
			delete c.getRandomValues;
			delete c.randomUUID;
			if (platformEqual === undefined) delete subtle.timingSafeEqual;
			else Object.defineProperty(subtle, "timingSafeEqual", platformEqual);
			g.setTimeout = platform.setTimeout;
			g.clearTimeout = platform.clearTimeout;
			g.Date = platform.Date;
		},
	};
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
	if (a.byteLength !== b.byteLength) throw new TypeError("timingSafeEqual: the inputs differ in length");
	const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
	const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
	let differ = 0;
	for (let i = 0; i < x.length; i++) differ |= x[i]! ^ y[i]!;
	return differ === 0;
}

/**
 * `Date` on the run's clock: `new Date()` and `Date.now()` are the simulated time (the
 * cores' epoch plus the simulated ms); a Date of a given time, `Date.parse` and `Date.UTC`
 * are the platform's. A Date made before the run is still an instance of it.
 */
function simulatedDate(Platform: DateConstructor, clock: () => number): DateConstructor {
	class SimulatedDate extends Platform {
		constructor(...args: unknown[]) {
			if (args.length === 0) super(clock());
			else super(...(args as [number]));
		}

		static override now(): number {
			return clock();
		}

		static override [Symbol.hasInstance](value: unknown): boolean {
			return value instanceof Platform;
		}
	}
	return SimulatedDate as unknown as DateConstructor;
}
