// The simulated D1 and the sales consumer in the simulator: the D1 adapter runs the
// engine's own statements over the repository's migrations (a batch all or nothing), a
// run's D1 holds every order once, each a shard's order, with its rows stamped on the
// simulated clock; bugs planted in the consumer through the simulator's test hook (acks
// before it writes, a second row for a sale delivered again, a consumer that never
// stores) are caught; an outage of D1 is retried and ends with every order in D1.
// Runs under Node's test runner.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { loadSimulator, loadSqlJs, loadTypeScript } from "../sim/bundle.mjs";
import { renderReport } from "../loadtest/lib/report-html.js";

let sim;
let d1;
let sqlJs;
before(async () => {
	[sim, sqlJs, d1] = await Promise.all([
		loadSimulator(),
		loadSqlJs(),
		loadTypeScript({
			contents: `export { SimD1, statementsOf } from "./sim/d1";
				export { EventQueue } from "./sim/events";
				export { saleStatements } from "./src/sales/consumer";
				export { recordedOrderIds, recordedTotals } from "./src/sales/store";
				export { insertDropStatement, getDrop } from "./src/drops/store";
				export { parseCreateDrop } from "./src/drops/rules";`,
		}),
	]);
});

const run = (input, hooks) => sim.simulate(sim.simConfig(input), sim.sqlJs, hooks);

/** A sale as a shard's outbox sends it. */
const sale = (n, extra = {}) => ({
	v: 1,
	orderId: `o_${n}`,
	dropId: "d_test",
	shard: 0,
	fanId: `fan-${n}`,
	holdId: `h_${n}`,
	quantity: 2,
	unitPriceCents: 5000,
	totalCents: 10000,
	currency: "usd",
	paymentId: `pay_${n}`,
	tickets: [`t_${n}_a`, `t_${n}_b`],
	createdAt: "2030-01-01T00:00:01.000Z",
	...extra,
});

function freshD1(down = () => false) {
	const events = new d1.EventQueue();
	return { events, db: new d1.SimD1(sqlJs, events, 5, down) };
}

test("the D1 adapter: the migrations applied, the drop's row by the engine's own statement read back by getDrop, the consumer's statements store a sale once however often it comes", async () => {
	const { db } = freshD1();
	const DB = db.direct();
	try {
		const drop = { ...d1.parseCreateDrop({ name: "A drop", capacity: 100, maxPerFan: 4, opensAt: "2030-01-01T00:00:10.000Z" }, Date.UTC(2030, 0, 1)), id: "d_test", createdAt: "2030-01-01T00:00:00.000Z", updatedAt: "2030-01-01T00:00:00.000Z", promoterId: null };
		const [inserted] = await DB.batch([d1.insertDropStatement(DB, drop)]);
		assert.equal(inserted.meta.changes, 1);
		const back = await d1.getDrop(DB, "d_test");
		assert.equal(back.capacity, 100);
		assert.equal(back.maxPerFan, 4);
		assert.equal(back.opensAt, drop.opensAt);

		const first = await DB.batch(d1.saleStatements(DB, [sale(1), sale(2)]));
		assert.equal(first[0].meta.changes, 2, "two order rows");
		assert.equal(first[1].meta.changes, 4, "four tickets");
		// The same sales again (a message delivered twice): nothing new.
		const again = await DB.batch(d1.saleStatements(DB, [sale(1), sale(2)]));
		assert.equal(again[0].meta.changes, 0);
		assert.equal(again[1].meta.changes, 0);
		assert.deepEqual(await d1.recordedTotals(DB, "d_test"), { orders: 2, tickets: 4 });
		assert.deepEqual([...(await d1.recordedOrderIds(DB, ["o_1", "o_2", "o_3"]))].sort(), ["o_1", "o_2"]);

		// first(column), raw(), and what D1 refuses to bind.
		assert.equal(await DB.prepare(`SELECT COUNT(*) AS n FROM tickets WHERE order_id = ?`).bind("o_1").first("n"), 2);
		assert.equal(await DB.prepare(`SELECT 1 AS n FROM orders WHERE order_id = ?`).bind("none").first(), null);
		assert.deepEqual(await DB.prepare(`SELECT order_id, quantity FROM orders ORDER BY order_id`).raw({ columnNames: true }), [["order_id", "quantity"], ["o_1", 2], ["o_2", 2]]);
		await assert.rejects(() => DB.prepare(`SELECT 1 AS n`).first("m"), /D1_COLUMN_NOTFOUND/);
		assert.throws(() => DB.prepare(`SELECT ?`).bind(undefined), /D1_TYPE_ERROR/);
		assert.throws(() => DB.prepare(`SELECT 1`).bind(...Array.from({ length: 101 }, (_, i) => i)), /too many SQL variables/);
	} finally {
		db.close();
	}
});

test("the D1 adapter's batch is all or nothing: one failing statement writes none of the others", async () => {
	const { db } = freshD1();
	const DB = db.direct();
	try {
		const statements = [...d1.saleStatements(DB, [sale(1), sale(2)]), DB.prepare(`INSERT INTO orders (order_id) VALUES (?)`).bind("o_broken")];
		await assert.rejects(() => DB.batch(statements), /NOT NULL/);
		assert.deepEqual(await d1.recordedTotals(DB, "d_test"), { orders: 0, tickets: 0 });
		assert.equal(await DB.prepare(`SELECT COUNT(*) AS n FROM tickets`).first("n"), 0);
		// Without the failing statement the same batch writes.
		await DB.batch(d1.saleStatements(DB, [sale(1), sale(2)]));
		assert.deepEqual(await d1.recordedTotals(DB, "d_test"), { orders: 2, tickets: 4 });
	} finally {
		db.close();
	}
});

test("the engine's D1 binding answers on the simulated clock (a hop, then a millisecond a statement at its one writer), is refused while D1 is down, and notes each order row written when it was", async () => {
	let down = false;
	const { events, db } = freshD1(() => down);
	const DB = db.binding();
	try {
		let answeredAt = null;
		DB.batch(d1.saleStatements(DB, [sale(1)])).then(() => (answeredAt = events.now));
		await events.runUntil(60_000);
		// Five statements at 1 ms each, served after them, answered a 5 ms hop later.
		assert.equal(answeredAt, 10);
		assert.equal(db.writtenAt.get("o_1"), 5);
		assert.equal(db.queries, 5);
		down = true;
		let refused = null;
		DB.batch(d1.saleStatements(DB, [sale(2)])).catch((err) => (refused = err));
		await events.runUntil(120_000);
		assert.match(String(refused), /D1_ERROR/);
		assert.equal(db.refused, 1);
		assert.equal(db.writtenAt.has("o_2"), false);
		assert.equal(await db.direct().prepare(`SELECT COUNT(*) AS n FROM orders`).first("n"), 1);
	} finally {
		db.close();
	}
});

test("migrations split into statements at each semicolon outside strings, quoted names and comments", () => {
	assert.deepEqual(d1.statementsOf("CREATE TABLE a (x TEXT DEFAULT ';'); -- a comment; here\nINSERT INTO a VALUES ('it''s; fine');\n/* ; */\n-- tail;"), [
		"CREATE TABLE a (x TEXT DEFAULT ';');",
		" -- a comment; here\nINSERT INTO a VALUES ('it''s; fine');",
	]);
});

/** The run's D1 as it was at the end of the run (its database is closed once the run ends). */
function keepD1(into) {
	return (sales) => {
		const close = sales.close.bind(sales);
		sales.close = () => {
			const q = (text) => sales.d1.storage.sql.exec(text).toArray();
			into.rows = q(`SELECT COUNT(*) AS n, COUNT(DISTINCT order_id) AS ids, COUNT(DISTINCT hold_id) AS holds, MIN(recorded_at) AS first, MAX(recorded_at) AS last FROM orders`)[0];
			into.tickets = q(`SELECT COUNT(*) AS n FROM tickets`)[0].n;
			into.follow = sales.followUps.bodies.length;
			into.sales = sales;
			close();
		};
	};
}

test("a run's D1 holds every order once, each with its tickets, stamped on the simulated clock; Date is the platform's again after the run", async () => {
	const kept = {};
	const result = await run({ seed: 3, fans: 3000, tickets: 1500, shards: 4 }, { sales: keepD1(kept) });
	const text = result.lines.join("\n");
	const orders = Number(/in (\d+) orders/.exec(text)[1]);
	assert.ok(orders > 100, text);
	assert.equal(kept.rows.n, orders);
	assert.equal(kept.rows.ids, orders);
	assert.equal(kept.rows.holds, orders);
	assert.equal(kept.tickets, 1500, "every ticket sold is in D1");
	assert.equal(kept.follow, orders, "one follow-up queued per order");
	// The consumer's `new Date()`: the simulated clock (2030-01-01 plus the run's time), not the wall clock.
	assert.match(kept.rows.first, /^2030-01-01T00:0/);
	assert.match(kept.rows.last, /^2030-01-01T00:/);
	assert.ok(new Date().getUTCFullYear() < 2030 && Math.abs(Date.now() - new Date().getTime()) < 60_000);
	assert.match(text, new RegExp(`D1: ${orders} order rows, each written once and each a shard's order \\(drop, fan, quantity, payment: ${orders} checked as written\\)`));
	assert.match(text, /sale-to-ticket, to the order's row written in D1: .* over \d+ orders/);
	assert.equal(Number(/written in D1: .* over (\d+) orders/.exec(text)[1]), orders);
});

test("planted in the consumer: acking a batch before writing it loses the sales a D1 outage refuses, and the run says which; the same seed holds without it", async () => {
	const faults = sim.parseFaults("all");
	const plant = (sales) => {
		const consume = sales.queue.consumer;
		sales.queue.consumer = async (batch, env) => {
			for (const m of batch.messages) m.ack();
			await consume(batch, env);
		};
	};
	await assert.rejects(
		// Seed 50: an outage window falls on the sale (3 of the consumer's D1 calls refused).
		() => run({ seed: 50, fans: 3000, tickets: 1500, shards: 4, faults }, { sales: plant }),
		(err) => err instanceof sim.InvariantBroken && /sales of shard \d never reached D1/.test(err.what),
	);
	const clean = await run({ seed: 50, fans: 3000, tickets: 1500, shards: 4, faults });
	assert.match(clean.lines.join("\n"), /\([1-9]\d* D1 calls refused while down\)/);
});

test("planted in the consumer: a sale delivered again written under a second row (an idempotency key per delivery) is caught as an order in D1 twice when the Queue delivers a batch twice", async () => {
	const plant = (sales) => {
		const consume = sales.queue.consumer;
		const seen = new Set();
		sales.queue.consumer = (batch, env) => {
			const messages = batch.messages.map((m) => {
				const body = { ...m.body, sales: m.body.sales.map((s) => (seen.has(s.orderId) ? { ...s, orderId: `${s.orderId}-again`, tickets: s.tickets.map((t) => `${t}-again`) } : s)) };
				for (const s of m.body.sales) seen.add(s.orderId);
				return { ...m, body, ack: () => m.ack(), retry: (o) => m.retry(o) };
			});
			return consume({ ...batch, messages }, env);
		};
	};
	await assert.rejects(
		() => run({ seed: 47, fans: 3000, tickets: 1500, shards: 4, faults: sim.parseFaults("message") }, { sales: plant }),
		(err) => err instanceof sim.InvariantBroken && /hold \S+ is in D1 2 times/.test(err.what),
	);
	// Without the plant the batches delivered twice store each sale once.
	const clean = await run({ seed: 47, fans: 3000, tickets: 1500, shards: 4, faults: sim.parseFaults("message") });
	assert.match(clean.lines.join("\n"), /\b[1-9]\d* batches delivered twice/);
});

test("a consumer that never stores: its messages are retried to the dead-letter queue and the run reports the sales lost", async () => {
	const plant = (sales) => {
		sales.queue.consumer = async () => {
			throw new Error("planted: D1 write never made");
		};
	};
	await assert.rejects(
		() => run({ seed: 5, fans: 600, tickets: 100, shards: 2 }, { sales: plant }),
		(err) => err instanceof sim.InvariantBroken && /lost: its message went to the dead-letter queue/.test(err.what),
	);
});

test("a message's retry waits the delay it asks on the simulated clock: a consumer that puts every first delivery off by 30 s has every sale in D1 30 s or more after it was made", async () => {
	const plant = (sales) => {
		const consume = sales.queue.consumer;
		sales.queue.consumer = async (batch, env) => {
			if (batch.messages.every((m) => m.attempts === 1)) return batch.messages.forEach((m) => m.retry({ delaySeconds: 30 }));
			await consume(batch, env);
		};
	};
	const result = await run({ seed: 5, fans: 600, tickets: 100, shards: 2 }, { sales: plant });
	const text = result.lines.join("\n");
	const [, median, , max] = /written in D1: median ([\d.]+) s, p90 ([\d.]+) s, max ([\d.]+) s/.exec(text).map(Number);
	const orders = Number(/in (\d+) orders/.exec(text)[1]);
	assert.ok(median >= 30 && max < 35, text);
	assert.match(text, new RegExp(`D1: ${orders} order rows`));
	assert.match(text, /[1-9]\d* messages retried/);
});

test("a D1 outage is retried: the consumer's batches refused while D1 is down come back and every order ends in D1, the seed replaying the same", async () => {
	const kept = {};
	const input = { seed: 50, fans: 3000, tickets: 1500, shards: 4, faults: sim.parseFaults("all") };
	const result = await run(input, { sales: keepD1(kept) });
	const text = result.lines.join("\n");
	const orders = Number(/in (\d+) orders/.exec(text)[1]);
	const retried = Number(/(\d+) messages retried \((\d+) D1 calls refused/.exec(text)[1]);
	assert.ok(retried > 0 && kept.sales.d1.refused > 0, text);
	assert.equal(kept.rows.n, orders);
	assert.equal(kept.rows.holds, orders);
	assert.match(text, /0 to the dead-letter queue/);
	// The refused sales waited for their retries: later than any batch's 1 s.
	assert.ok(Number(/written in D1: .* max ([\d.]+) s/.exec(text)[1]) > 1.0, text);
	const again = await run(input);
	assert.deepEqual(again.lines, result.lines);
});

test("the run's report carries the sale to its row in D1 and D1's figures, as the summary says them, and its page shows them", async () => {
	const result = await run({ seed: 3, fans: 1500, tickets: 300, shards: 4, lines: 2 }, { report: true });
	const text = result.lines.join("\n");
	const sim1 = result.report.simulation;
	const [, median, p90, max, orders] = /written in D1: median ([\d.]+) s, p90 ([\d.]+) s, max ([\d.]+) s over (\d+) orders/.exec(text).map(Number);
	assert.equal(sim1.saleToTicket.orders, orders);
	assert.deepEqual([sim1.saleToTicket.medianMs / 1000, sim1.saleToTicket.p90Ms / 1000, sim1.saleToTicket.maxMs / 1000].map((x) => x.toFixed(3)), [median, p90, max].map((x) => x.toFixed(3)));
	assert.ok(sim1.saleToTicket.medianMs > sim1.saleToQueue.medianMs);
	assert.equal(sim1.d1.queries, Number(/ (\d+) queries, the busiest second/.exec(text)[1]));
	assert.equal(sim1.d1.batches, Number(/ (\d+) consumer batches/.exec(text)[1]));
	assert.equal(sim1.d1.followUps, orders);
	const html = renderReport(result.report);
	assert.match(html, /sale to its row in D1 p50/);
	assert.doesNotMatch(html, /its D1 write is not simulated/);
});

test("the Queue's published limits: a sales message past 128 KB, or a sendBatch past 100 messages, breaks the run", async () => {
	const big = { v: 2, sales: [sale(1, { tickets: Array.from({ length: 2 }, () => "x".repeat(70_000)) })] };
	const many = Array.from({ length: 101 }, (_, i) => ({ body: { v: 2, sales: [sale(i)] } }));
	for (const [messages, what] of [[[{ body: big }], /a sales message of \d+ bytes, past the Queue's 131072/], [many, /a sendBatch of 101 messages/]]) {
		await assert.rejects(
			() => run({ seed: 5, fans: 600, tickets: 100, shards: 2 }, { sales: (sales) => void sales.queue.send(messages).catch(() => undefined) }),
			(err) => err instanceof sim.InvariantBroken && what.test(err.what),
		);
	}
	// The outbox's own sends stay inside them: a run holds.
	await run({ seed: 5, fans: 600, tickets: 100, shards: 2 });
});

test("D1's queries per invocation: a consumer invocation past the 1,000 it may make breaks the run; the engine's consumer stays far inside", async () => {
	const plant = (sales) => {
		const consume = sales.queue.consumer;
		sales.queue.consumer = async (batch, env) => {
			for (let i = 0; i < 1000; i++) await env.DB.prepare(`SELECT 1 AS one`).first();
			await consume(batch, env);
		};
	};
	await assert.rejects(
		() => run({ seed: 5, fans: 600, tickets: 100, shards: 2 }, { sales: plant }),
		(err) => err instanceof sim.InvariantBroken && /a sales consumer invocation made 10\d\d D1 queries, past the 1000/.test(err.what),
	);
	const clean = await run({ seed: 5, fans: 600, tickets: 100, shards: 2 });
	const most = Number(/at most (\d+) in one invocation \(of 1000\)/.exec(clean.lines.join("\n"))[1]);
	assert.ok(most > 0 && most <= 20, clean.lines.join("\n"));
});

test("D1 down alone for minutes: the sales consumer's retries run out and its messages are dead-lettered; the dead-letter consumer (the engine's) has their shards send them again once D1 answers, and every sale ends in D1; one that only acks them loses the sales, and the run says so", async () => {
	// Seed 7 draws a long D1 outage while the sales are made (sim/provider.ts, FAULT_RATES.longOutage).
	const input = { seed: 7, fans: 3000, tickets: 1000, shards: 4, faults: ["d1"] };
	let sales;
	const resent = [];
	const result = await run(input, {
		sales: (s) => {
			sales = s;
			const engine = s.dlq.consumer;
			s.dlq.consumer = async (batch, env) => {
				const getByName = env.INVENTORY.getByName;
				env.INVENTORY.getByName = (name) => {
					const stub = getByName(name);
					return { resendSales: async (input) => { const n = await stub.resendSales(input); resent.push(n); return n; } };
				};
				return engine(batch, env);
			};
		},
	});
	const text = result.lines.join("\n");
	assert.match(text, /D1 long outage 1/);
	assert.ok(sales.queue.deadLetters.length > 0, "the consumer's retries ran out: messages dead-lettered");
	assert.equal(sales.dlq.taken, sales.queue.deadLetters.length);
	assert.equal(sales.dlq.acked, sales.dlq.taken, "every dead letter done");
	assert.equal(sales.dlq.givenUp.length, 0);
	assert.ok(resent.reduce((a, n) => a + n, 0) > 0, `shards marked sales to send again (${resent.join(", ")})`);
	// Every sale in D1, each once: the end's checks held.
	assert.match(text, /every sale in D1 by the engine's comparison of order ids/);
	assert.equal(sales.rows(), Number(/in (\d+) orders/.exec(text)[1]));
	// Planted: a dead-letter consumer that acks what it is given and asks no shard.
	await assert.rejects(run(input, { sales: (s) => (s.dlq.consumer = async (batch) => batch.ackAll()) }), (e) => e instanceof sim.InvariantBroken && /lost: its message went to the dead-letter queue and D1 never got it/.test(e.what));
});
