// Fixed-window request counters, held in memory by the object that sees every
// join of a drop, and who a client is counted as (an IPv6 client as its /64, in
// every limit alike). Pure: the caller passes the time.
import { BoundedMap } from "./bounded-map";

export interface RateDecision {
	allowed: boolean;
	/** Seconds until the window resets, for `Retry-After`. */
	retryAfter: number;
}

export class RateLimiter {
	private readonly windows: BoundedMap<string, { start: number; count: number }>;

	constructor(
		private readonly windowMs = 60_000,
		maxKeys = 50_000,
	) {
		this.windows = new BoundedMap(maxKeys);
	}

	take(key: string, limit: number, now: number): RateDecision {
		if (limit <= 0) return { allowed: true, retryAfter: 0 };
		let w = this.windows.get(key);
		if (w === undefined || now - w.start >= this.windowMs) {
			if (this.windows.size >= this.windows.limit) this.dropEnded(now);
			w = { start: now, count: 0 };
			this.windows.set(key, w);
		}
		const retryAfter = Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
		if (w.count >= limit) return { allowed: false, retryAfter };
		w.count++;
		return { allowed: true, retryAfter: 0 };
	}

	/** Forgets the windows that have ended; if every window is still live, the map drops the oldest. */
	private dropEnded(now: number): void {
		for (const [key, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(key);
	}
}

export const isLoopback = (ip: string | null) => ip === "127.0.0.1" || ip === "::1" || ip === "::ffff:127.0.0.1";

/** The address an IP is counted under: itself for IPv4, its first four groups (the /64) for IPv6. */
export function clientKey(ip: string): string {
	if (!ip.includes(":") || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) return ip.replace(/^::ffff:/i, "");
	const [head = "", tail] = ip.toLowerCase().split("::", 2);
	const left = head === "" ? [] : head.split(":");
	const right = tail === undefined || tail === "" ? [] : tail.split(":");
	const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
	return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
