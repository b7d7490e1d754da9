// Statements over many ids are cut in pieces that stay inside the Durable Object
// SQLite limit of 100 bound parameters, the statement's own parameters included
// (found by the full suite: 101 parameters refused "too many SQL variables", so a
// giver with 100 or more acks to forget refused every transfer, answering "try again").
import { describe, expect, it } from "vitest";
import { createDrop } from "./support/drops";
import { shardStub } from "./support/shards";

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("the ledger's statements over many ids", () => {
	it("takes 150 acks in one give, and still gives", async () => {
		const drop = await createDrop({ capacity: 100, shards: 2 });
		const giver = shardStub(drop.id, 0);
		expect(await giver.give({ transferId: "", toShard: 1, amount: 0, acks: ids(150, "t_0_1_ack") })).toMatchObject({ amount: 0 });
		expect((await giver.give({ transferId: "t_0_1_real", toShard: 1, amount: 3, acks: ids(150, "t_0_1_more") })).amount).toBe(3);
	});

	it("marks 150 sales to send again in one call", async () => {
		const drop = await createDrop({ capacity: 100, shards: 1 });
		expect(await shardStub(drop.id, 0).resendSales({ orderIds: ids(150, "o_0_none"), minAgeMs: 0 })).toBe(0);
	});
});
