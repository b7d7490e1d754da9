// A simulated drop's settings: the load runner's knobs (loadtest/lib/journey.js
// DEFAULTS) where a fan's behaviour is concerned, the engine's defaults for the
// drop (src/drops/rules.ts), and the CPU per call the bench measured
// (docs/capacity.md) for what each object's request costs.
import { DEFAULT_ADMISSION, defaultLineCount, defaultShardCount } from "../src/drops/rules";
import type { FaultKind } from "./faults";

export interface SimConfig {
	seed: number;
	/** The fault kinds on for this run (sim/faults.ts): none by default. */
	faults: FaultKind[];
	fans: number;
	tickets: number;
	lines: number;
	shards: number;
	maxPerFan: number;
	batchSize: number;
	intervalMs: number;
	activeMultiple: number;
	holdSeconds: number;
	/** How long an admitted fan's turn lasts (the access token's life, ACCESS_TOKEN_SECONDS's default). */
	accessSeconds: number;
	/** The drop opens this long after the simulation starts; fans before it wait in the pre-queue. */
	opensAt: number;
	/** The window after the opening the last arrivals spread over (the load runner's arrival curve, loadtest/lib/journey.js). */
	spreadSeconds: number;
	abandonRate: number;
	declineRate: number;
	/** Share of fans who send their hold a second time under a new key. */
	retryRate: number;
	thinkMs: number;
	fanTimeoutSeconds: number;
	/** One network hop between the Worker and an object, and the watermark's cache age. */
	hopMs: number;
	watermarkLagMs: number;
	/** Data centers reading the watermark about once a second each (the capacity model assumes 300). */
	colos: number;
	/**
	 * Requests a second the fans' one shared machine sends in all, or 0: every fan has its
	 * own (Cloudflare). A local load run's fans share the runner's, on the engine's cores.
	 */
	clientRate: number;
	/** Or a real run's answers a second over time (sim/client.ts `rates`; the calibration's), empty for none. */
	clientRates: number[];
	/** The report `clientRates` was read from (`--client-from`), for a replay; "" for none. */
	clientFrom: string;
	/**
	 * Fans told "sold out" at a hold look at the drop and hold again when tickets come back, as
	 * the load runner's do (on for the calibration); off, they end there. Off by default: with
	 * it, a parked fan's poll can run in another order than its own event would among events of
	 * the same millisecond, which in the sell-out's endgame can change who gets a ticket back.
	 */
	waitForReturns: boolean;
	/**
	 * How much slower than set the pacer's alarms come (1 by default: on time): an alarm set `d` ms ahead runs
	 * after `d` times this. A loaded machine's come late (the calibration's: `wrangler dev` runs every object in
	 * one process on two cores, and its pacer kept its batches further apart than configured); the `alarm`
	 * fault's lateness comes on top.
	 */
	alarmSlowdown: number;
	/** CPU per call in ms, inside the object. */
	cpu: { join: number; seal: number; tick: number; read: number; look: number; hold: number; give: number; purchase: number; release: number };
}

/**
 * CPU per call from docs/capacity.md: a join at its line 1.17 ms (the capacity model's
 * figure); a hold and its purchase at a shard 6.35 ms together (2026-12-06), split as
 * the bench's rounds split them (0.96 : 2.03); the pacer's calls, a seal and a look at a
 * shard's totals are not measured apart and are taken as one simple request (1 ms).
 */
export const MEASURED_CPU_MS = { join: 1.17, seal: 1, tick: 1, read: 1, look: 1, hold: 2.04, give: 1, purchase: 4.31, release: 1 };

export function simConfig(input: Partial<Omit<SimConfig, "cpu">> & { seed: number }): SimConfig {
	const tickets = input.tickets ?? 5_000;
	return {
		faults: [],
		fans: 10_000,
		tickets,
		lines: defaultLineCount(tickets),
		shards: defaultShardCount(tickets),
		maxPerFan: 4,
		batchSize: DEFAULT_ADMISSION.batchSize,
		intervalMs: DEFAULT_ADMISSION.intervalMs,
		activeMultiple: DEFAULT_ADMISSION.activeMultiple,
		holdSeconds: 60,
		accessSeconds: 600,
		opensAt: 10_000,
		spreadSeconds: 20,
		abandonRate: 0.1,
		declineRate: 0.05,
		retryRate: 0.03,
		thinkMs: 1500,
		fanTimeoutSeconds: 600,
		hopMs: 5,
		watermarkLagMs: 1000,
		colos: 300,
		clientRate: 0,
		clientRates: [],
		clientFrom: "",
		waitForReturns: false,
		alarmSlowdown: 1,
		...input,
		cpu: { ...MEASURED_CPU_MS },
	};
}
