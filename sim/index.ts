// What sim/simulate.mjs runs: a drop's settings and the simulation of it.
export { simConfig, type SimConfig } from "./config";
export { simulate, InvariantBroken, type SimResult } from "./drop";
export { Inventory, type ShardHook } from "./shards";
export { SimShard } from "./shard";
export { sqliteStorage, type SqlJs } from "./sqlite";
export { FAULT_KINDS, FAULT_RATES, parseFaults, type FaultKind } from "./faults";
export { campaign, failureOf, involvedTrace, kindsStruck, replayCommand, seedRun, shrink, type Hooks } from "./campaign";
export { EPOCH, EventQueue } from "./events";
export { NO_ANSWER, SimObject } from "./objects";
export { FansMachine, answersPerSecond } from "./client";
