// The machine the fans' requests leave from. On Cloudflare every fan has its own, so a
// request leaves when the fan makes it. A local load run's fans share the runner's, on the
// same two cores as the engine, and wait for it in the order made: modelled as a rate
// (requests a second in all, each 1 / rate seconds after the one before), or, for the
// calibration, as the requests a real run's machine answered in each second of that run
// (its report's timeline). The second is what a local run's pace is made of: the engine's
// own speed on the machine, which falls when its after-sale work (the Queue's consumer, D1,
// the ticketing Workflows) shares the cores and pauses when the process does, none of which
// the simulated objects model at Cloudflare's CPU per call.

import { percentile } from "../loadtest/lib/node-client.mjs";

export interface ClientModel {
	/** Requests a second through one machine, or 0. */
	rate: number;
	/**
	 * Or the requests a real run's machine answered in each second since the drop was made,
	 * empty for none: the machine sends at most that many in that second, in the order made,
	 * and past the series' end at its 95th percentile.
	 */
	rates: number[];
}

export class FansMachine {
	/** When the machine is next free to send. */
	private freeAt = 0;
	/** Past the end of `rates`: its 95th percentile of the seconds that answered any (nearest rank, as the load runner's). */
	private readonly afterRates: number;

	constructor(
		private readonly model: ClientModel,
		private readonly now: () => number,
		private readonly at: (time: number, run: () => void) => void,
	) {
		const busy = model.rates.filter((r) => r > 0).sort((a, b) => a - b);
		this.afterRates = percentile(busy, 95) ?? 0;
	}

	/** Whether every request leaves when made (each fan its own machine). */
	get own(): boolean {
		return this.model.rate === 0 && this.afterRates === 0;
	}

	/** `request` runs when the machine lets it leave: at once, or after the requests made before it. */
	send(request: () => void): void {
		if (this.own) return request();
		const now = this.now();
		let start = Math.max(now, this.freeAt);
		let rate = this.rateAt(start);
		// A second the real machine answered nothing in (its process paused): the request waits for the next that answered.
		while (rate === 0) {
			start = (Math.floor(start / 1000) + 1) * 1000;
			rate = this.rateAt(start);
		}
		this.freeAt = start + 1000 / rate;
		if (start === now) request();
		else this.at(start, request);
	}

	private rateAt(time: number): number {
		if (this.afterRates === 0) return this.model.rate;
		const second = Math.floor(time / 1000);
		return second < this.model.rates.length ? this.model.rates[second]! : this.afterRates;
	}
}

/**
 * A load run's answers in each second since the drop was made, from its report's timeline
 * (every status class), up to its last second that answered any: the timeline is sized
 * before the run, so the seconds after its end are empty, not a pause.
 */
export function answersPerSecond(timeline: { bucketSeconds: number; buckets: number; statuses: Record<string, number[]> }): number[] {
	const out: number[] = [];
	for (let b = 0; b < timeline.buckets; b++) {
		let n = 0;
		for (const counts of Object.values(timeline.statuses)) n += counts[b] ?? 0;
		for (let s = 0; s < timeline.bucketSeconds; s++) out.push(n / timeline.bucketSeconds);
	}
	while (out.length > 0 && out[out.length - 1] === 0) out.pop();
	return out;
}
