// A job a shard runs one at a time, such as sending its outbox or delivering the
// endings it owes: a call while it runs waits for that run, and makes it go round
// once more, since what it was called for may have come after the run looked.

export class SerialJob {
	private running: Promise<void> | null = null;
	private again = false;

	/** A run that throws is logged with `warning`, and `retryLater` asks the alarm to take the work up (it stays stored). */
	constructor(
		private readonly job: () => Promise<void>,
		private readonly warning: string,
		private readonly retryLater: () => void,
	) {}

	run(): Promise<void> {
		if (this.running) {
			this.again = true;
			return this.running;
		}
		this.running = (async () => {
			try {
				do {
					this.again = false;
					await this.job();
				} while (this.again);
			} catch (err) {
				console.warn(this.warning, err);
				this.retryLater();
			} finally {
				this.running = null;
			}
		})();
		return this.running;
	}
}
