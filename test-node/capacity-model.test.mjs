// The capacity model's ticket path: which platform limit binds first and the
// time from a drop's first sale to its last ticket, checked by hand arithmetic.
import assert from "node:assert/strict";
import { test } from "node:test";
import { D1_LIMITS, QUEUE_MESSAGES_PER_SECOND, SALE_JSON_BYTES, capacityModel, ticketPathModel, ticketPathRows } from "../scripts/lib/capacity-model.mjs";

test("the shards bind first when they sell slower than the Queue and D1 take: last ticket one batch wait and one write after the last sale", () => {
	const r = ticketPathModel({ tickets: 50_000, ticketsPerOrder: 2, sellPerSecond: 5_000, d1BatchMs: 50 });
	assert.equal(r.orders, 25_000);
	assert.equal(r.bindsFirst, "shards");
	assert.deepEqual(r.stages.map((s) => s.perSecond), [5_000, QUEUE_MESSAGES_PER_SECOND * 25, 50_000]);
	assert.equal(r.sellSeconds, 5);
	// 25,000 orders at 5,000/s, then the consumer's 1 s batch wait and the 50 ms write.
	assert.equal(r.lastTicketSeconds, 6.1);
	// Before: 100 Workflow instances a second, 250 s for 25,000 orders. Now the follow-up keeps pace with the sales.
	assert.equal(r.perOrderWorkflowSeconds, 251.1);
	assert.equal(r.followUp.perSecond, 5_000);
	assert.equal(r.followUp.seconds, 6.1);
});

test("D1's one writer binds when its batch is slow, and a batch holds what the 2 MB value limit lets it", () => {
	const r = ticketPathModel({ tickets: 500_000, ticketsPerOrder: 2, sellPerSecond: 100_000, d1BatchMs: 500 });
	assert.equal(r.d1.salesPerBatchByMessages, 2_500);
	assert.equal(r.d1.salesPerBatchByValue, Math.floor(D1_LIMITS.valueBytes / SALE_JSON_BYTES));
	assert.equal(r.d1.salesPerBatch, 2_500);
	assert.ok(r.d1.boundParametersPerStatement <= D1_LIMITS.boundParameters);
	assert.ok(r.d1.queriesPerInvocation <= D1_LIMITS.queriesPerInvocation);
	assert.equal(r.bindsFirst, "D1");
	// 2,500 sales per 500 ms: 5,000 a second; 250,000 orders in 50 s, plus 1.5 s.
	assert.equal(r.lastTicketSeconds, 51.5);
	// One sale per message (nothing packed): the Queue's 5,000 messages a second bind instead.
	const unpacked = ticketPathModel({ tickets: 500_000, ticketsPerOrder: 2, sellPerSecond: 100_000, d1BatchMs: 20, messagesPerSale: 1 });
	assert.equal(unpacked.bindsFirst, "sales Queue");
	assert.equal(unpacked.d1.salesPerBatch, 100);
	// 250,000 orders at 5,000 messages a second, plus 1.02 s, to a tenth.
	assert.equal(unpacked.lastTicketSeconds, 51);
});

test("email sending below the follow-up Queue's rate binds the receipts, never the ticket", () => {
	const r = ticketPathModel({ tickets: 5_000, ticketsPerOrder: 2, sellPerSecond: 5_000, emailsPerSecond: 10 });
	assert.equal(r.followUp.limitedBy, "email sending");
	// 2,500 orders at 10 a second, plus 1.05 s; the tickets at the shards' pace, to a tenth.
	assert.equal(r.followUp.seconds, 251.1);
	assert.equal(r.lastTicketSeconds, 1.6);
});

test("the model gives the three drop sizes from the shards' measured rate, and names the ticket path in its verdict", () => {
	const rows = ticketPathRows({ sellPerSecond: 1_000, ticketsPerOrder: 2.5 });
	assert.deepEqual(rows.map((r) => [r.tickets, r.orders]), [[5_000, 2_000], [50_000, 20_000], [500_000, 200_000]]);
	const m = capacityModel({ holdCpuMs: 1, purchaseCpuMs: 1.5, ticketsPerOrder: 2, ticketShards: 16 });
	// 2.5 ms per buyer over 2 calls: 800 calls a second per shard by CPU, 400 buyers; 16 shards sell 6,400 a second.
	assert.equal(m.tickets.sellPerSecond, 6_400);
	assert.equal(m.tickets.rows[2].orders, 250_000);
	assert.equal(m.tickets.rows[2].lastTicketSeconds, Math.round((250_000 / 6_400 + 1.05) * 10) / 10);
	assert.ok(m.verdict.some((v) => v.startsWith("tickets: 500,000 tickets from 16 shards")));
});
