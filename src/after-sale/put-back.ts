// Tickets back on sale at a shard (a refund's restock, a resale listing's unit), one
// sequence for both: the line for returned tickets is asked first, so the shard knows
// it the moment the tickets are back (inventory/returns-line.ts) and a sold-out drop's
// returned ticket goes to the next fan in line, never to whoever asks first; then the
// pacer forgets the sell-out and the Workers their copies of the watermark.
import { roomStub, shardStub } from "../shared/names";
import { forgetWatermark } from "../waiting-room/watermark-cache";

/** Puts `quantity` tickets back at `shard`, once per `id` (a repeat changes nothing). Throws when it must be tried again. */
export async function putBackOnSale(env: Env, dropId: string, shard: number, id: string, quantity: number): Promise<void> {
	const returns = await roomStub(env, dropId).returnsLine();
	const put = await shardStub(env, dropId, shard).restock({ refundId: id, quantity, returns });
	if (put.late === true) throw new Error("the restock came after the pacer's lease; it is tried again");
	await roomStub(env, dropId).reopen();
	await forgetWatermark(dropId);
}
