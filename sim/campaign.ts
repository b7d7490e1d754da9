// What follows a broken invariant, and a fault campaign. A failure is run again with
// its trace kept (the seed replays it exactly), and shrunk: each fault kind switched
// off in turn, and the fans halved, as long as the run still breaks an invariant, so
// the trace printed is of the smallest run that shows it; of that trace, the events
// that touched the objects and fans the failure names. A campaign runs one seed after
// another with every fault on and reports each seed that broke an invariant.
import { simConfig, type SimConfig } from "./config";
import { InvariantBroken, simulate } from "./drop";
import type { FaultKind, TraceEntry } from "./faults";
import type { Room } from "./room";
import type { ShardHook } from "./shards";
import type { SqlJs } from "./sqlite";

export type Hooks = { shard?: ShardHook; room?: (room: Room) => void };

/** The fewest fans a shrink goes down to (fewer and the drop is not itself any more). */
const MIN_FANS = 500;
/** Entries of the trace printed at most: the newest of those that touched what the failure names. */
const TRACE_LINES = 40;

/** The run's failure, or null when it held every invariant. Anything else thrown is not a finding: it is thrown on. */
export async function failureOf(config: SimConfig, sqlJs: SqlJs, hooks: Hooks, trace = false): Promise<InvariantBroken | null> {
	return (await seedRun(config, sqlJs, hooks, trace)).broken;
}

/** A campaign's seed: its failure (null: every invariant held), and the fault kinds that struck in it (none when it failed). */
export async function seedRun(config: SimConfig, sqlJs: SqlJs, hooks: Hooks, trace = false): Promise<{ broken: InvariantBroken | null; struck: FaultKind[] }> {
	try {
		const result = await simulate(config, sqlJs, { ...hooks, trace });
		return { broken: null, struck: kindsStruck(result.lines) };
	} catch (err) {
		if (err instanceof InvariantBroken) return { broken: err, struck: [] };
		throw err;
	}
}

/** What the summary's "faults injected" names, by the kind that injects it. */
const STRUCK: [RegExp, FaultKind][] = [
	[/\b(shard restarted (mid-request|between requests)|line restarted) [1-9]/, "restart"],
	[/\balarm (late|twice) [1-9]/, "alarm"],
	[/\b(give (lost|answer lost|twice|late)|fan's answer lost|line's join answer lost|shard's tell lost|sales batch delivered twice) [1-9]/, "message"],
	[/\bprovider (answered late|never answered) [1-9]/, "provider"],
	[/\bpacer restarted mid-tick [1-9]/, "pacer-restart"],
	[/\bpacer's call (lost|answer lost|late) [1-9]/, "pacer-calls"],
];

/**
 * The fault kinds that struck in a run, read from its summary: an outage of the sales Queue
 * only when it refused a send (a window after the sale ends touches nothing), or D1's long
 * outage alone, skew whenever it is on (every line's clock is set off from the start).
 */
export function kindsStruck(lines: string[]): FaultKind[] {
	const text = lines.join("\n");
	const injected = /^faults injected: (.*)$/m.exec(text)?.[1] ?? "";
	const struck = STRUCK.filter(([pattern]) => pattern.test(injected)).map(([, kind]) => kind);
	if (/^seed \d+: .*faults [a-z,]*\bskew\b/m.test(text)) struck.push("skew");
	if (/\(([1-9]\d*) sends refused while it was down\)/.test(text) || /\bD1 long outage [1-9]/.test(injected)) struck.push("d1");
	return struck;
}

/** The smallest run found that still breaks an invariant: fault kinds off one by one, then the fans halved. */
export async function shrink(config: SimConfig, sqlJs: SqlJs, hooks: Hooks, log: (line: string) => void = () => undefined): Promise<{ config: SimConfig; runs: number }> {
	let best = config;
	let runs = 0;
	for (const kind of config.faults) {
		const without = { ...best, faults: best.faults.filter((k) => k !== kind) };
		runs++;
		if ((await failureOf(without, sqlJs, hooks)) !== null) {
			best = without;
			log(`shrink: still fails without ${kind}`);
		} else log(`shrink: needs ${kind}`);
	}
	while (Math.floor(best.fans / 2) >= MIN_FANS) {
		const fewer = { ...best, fans: Math.floor(best.fans / 2) };
		runs++;
		if ((await failureOf(fewer, sqlJs, hooks)) === null) break;
		best = fewer;
		log(`shrink: still fails with ${best.fans} fans`);
	}
	return { config: best, runs };
}

/**
 * The events that show a failure: those that touched the shards, lines and fans its
 * message names (and the failure itself), the newest TRACE_LINES of them.
 */
export function involvedTrace(err: InvariantBroken): { lines: string[]; left: number } {
	const named = new Set<string>();
	for (const m of err.what.matchAll(/\b(shard \d+|line \d+|fan [\w-]+|pacer)\b/g)) named.add(m[1]!);
	const fans = [...err.what.matchAll(/\bfan (fan-[\w-]+)/g)].map((m) => `fan ${m[1]}`);
	for (const f of fans) named.add(f);
	const trace: TraceEntry[] = err.trace ?? [];
	const touching = trace.filter((e) => e.touches.length === 0 ? e.what.startsWith("invariant broken") : e.touches.some((t) => named.has(t)));
	const shown = touching.slice(-TRACE_LINES);
	// The last restart of an object involved explains what its memory lost: shown even when it came before the window.
	const restart = touching.findLast((e) => e.what.includes("restarted"));
	if (restart !== undefined && !shown.includes(restart)) shown.unshift(restart);
	return { lines: shown.map((e) => `${(e.at / 1000).toFixed(3).padStart(9)} s  ${e.what}`), left: touching.length - shown.length };
}

/** The settings `npm run simulate` takes besides the drop's size, as flag and config field: each is in a replay when it differs from its default. */
const REPLAYED_SETTINGS = [
	["max-per-fan", "maxPerFan"],
	["batch-size", "batchSize"],
	["interval-ms", "intervalMs"],
	["active-multiple", "activeMultiple"],
	["hold-seconds", "holdSeconds"],
	["colos", "colos"],
	["client-rate", "clientRate"],
	["alarm-slowdown", "alarmSlowdown"],
] as const;

/** The command that runs `config` again: the drop's size and faults always, and every other setting that differs from its default. */
export function replayCommand(config: SimConfig): string {
	const defaults = simConfig({ seed: config.seed, tickets: config.tickets });
	let command = `npm run simulate -- --seed ${config.seed} --fans ${config.fans} --tickets ${config.tickets} --lines ${config.lines} --shards ${config.shards} --faults ${config.faults.length === 0 ? "none" : config.faults.join(",")}`;
	for (const [flag, field] of REPLAYED_SETTINGS) if (config[field] !== defaults[field]) command += ` --${flag} ${config[field]}`;
	if (config.clientFrom !== "") command += ` --client-from ${shellWord(config.clientFrom)}`;
	if (config.waitForReturns) command += " --wait-for-returns";
	return command;
}

/** A path as one word of a shell command: as it is when nothing in it needs quoting. */
function shellWord(text: string): string {
	return /^[\w./,:=@+-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/** Seeds `first`.. `first + count − 1` of one drop, every fault on: the seeds that broke an invariant, and what broke. */
export async function campaign(base: Omit<SimConfig, "seed">, first: number, count: number, sqlJs: SqlJs, hooks: Hooks, progress: (seed: number, broken: InvariantBroken | null) => void = () => undefined): Promise<{ seed: number; what: string }[]> {
	const found: { seed: number; what: string }[] = [];
	for (let seed = first; seed < first + count; seed++) {
		const broken = await failureOf({ ...base, seed }, sqlJs, hooks);
		progress(seed, broken);
		if (broken !== null) found.push({ seed, what: broken.what });
	}
	return found;
}
