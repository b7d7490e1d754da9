// One of a drop's lines: takes the joins of the fans who hash to it, numbers
// them in join order, and tells the pacer how many joined in each slot when it
// seals them. A fan always lands on the same line, so a rejoin finds their
// place; no join touches any other object.
//
// This class is the I/O around the line's synchronous core (line-core.ts): its
// RPC methods, and the wake it sends a sleeping pacer.
import { DurableObject } from "cloudflare:workers";
import { RequestCounter } from "../shared/request-counter";
import type { Outcome } from "../shared/outcome";
import { Sql } from "../shared/sql";
import { roomStub } from "../shared/names";
import { type JoinInput, type LineAudit, type LineConfig, LineCore, type LineEntry, type LineJoin, type SealInput, type SealReport } from "./line-core";

export class WaitingLine extends DurableObject<Env> {
	private readonly core: LineCore;
	private readonly served: RequestCounter;
	/** The clock; tests move it, a deployed Worker cannot (instance fields are not RPC methods). */
	clock: () => number = () => Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const sql = new Sql(ctx.storage.sql);
		this.core = new LineCore(sql, (fn) => ctx.storage.transactionSync(fn));
		this.served = new RequestCounter(sql);
	}

	configure(config: LineConfig): void {
		this.served.count();
		this.core.configure(config);
	}

	/**
	 * A fan joins, or finds their place again by proving they are that fan. After the
	 * opening a join may owe the pacer a wake (it may be asleep): sent, not awaited.
	 */
	join(input: JoinInput): Outcome<LineJoin> {
		this.served.count();
		const { outcome, wakePacer } = this.core.join(input, this.clock());
		if (wakePacer) {
			roomStub(this.env, this.core.config()!.dropId)
				.wake()
				.catch((err: unknown) => console.warn("could not wake the pacer; its next look will find the join", err));
		}
		return outcome;
	}

	/** A fan's place, with their position once this line knows it (a fallback for fans the published placements no longer list). */
	locate(input: { fanId: string }): Outcome<LineEntry> {
		this.served.count();
		return this.core.locate(input.fanId);
	}

	/** The opening: the pre-queue closes (later joins get slots from `firstSlot` on), and its size goes to the pacer. */
	open(input: { firstSlot: number }): { prequeue: number } {
		this.served.count();
		return this.core.open(input.firstSlot);
	}

	/** Seals slots `from`..`through`: no join lands in them any more, and their counts go to the pacer. */
	seal(input: SealInput): SealReport {
		this.served.count();
		return this.core.seal(input, this.clock());
	}

	/** Fans who joined this line. */
	joined(): number {
		this.served.count();
		return this.core.joined();
	}

	audit(): LineAudit {
		this.served.count();
		return this.core.audit();
	}

	/** Whether anyone has joined: a drop's line count may change only while none has. */
	isEmpty(): boolean {
		this.served.count();
		return this.core.isEmpty();
	}

	/** Closes an empty line to joins while the pacer changes the line count (see LineCore.closeForLineChange). */
	closeForLineChange(input: { until: number }): boolean {
		this.served.count();
		return this.core.closeForLineChange(input.until);
	}

	load(): number {
		return this.served.requests;
	}
}
