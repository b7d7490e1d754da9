// Stripe's word on a payment that waited on the fan's bank (3-D Secure):
// `payment_intent.succeeded` and `payment_intent.payment_failed`, told to the
// shard that keeps the hold, found from the intent's idempotency key (which the
// shard made: `<drop>:<hold>:<attempt>`, in the intent's metadata). The shard acts
// only on a charge that waited on the fan, once: every other payment's event (one
// the purchase itself settled) changes nothing there.
import { getDrop } from "../drops/store";
import { shardOfId } from "../shared/ids";
import { shardStub } from "../shared/names";

const PAYMENT_EVENTS = new Set(["payment_intent.succeeded", "payment_intent.payment_failed"]);

/** The charge key's parts: the drop, the hold and the attempt. */
const CHARGE_KEY = /^(.{1,200}):(h_\d{1,2}_[A-Za-z0-9_-]{16}):(\d{1,6})$/;

/** Tells the hold's shard what became of a PaymentIntent; answers whether the event was one of ours. */
export async function applyPaymentEvent(env: Env, type: string, object: Record<string, unknown>): Promise<boolean> {
	if (!PAYMENT_EVENTS.has(type) || object.object !== "payment_intent" || typeof object.id !== "string") return false;
	const metadata = object.metadata !== null && typeof object.metadata === "object" ? (object.metadata as Record<string, unknown>) : {};
	const key = typeof metadata.idempotency_key === "string" ? metadata.idempotency_key : "";
	const match = CHARGE_KEY.exec(key);
	if (match === null) return false;
	const [, dropId, holdId] = match as unknown as [string, string, string];
	const drop = await getDrop(env.DB, dropId);
	const shard = drop === null ? null : shardOfId(holdId, "h", drop.shards);
	if (shard === null) return false;
	await shardStub(env, dropId, shard).paymentEvent({ holdId, key, paymentId: object.id, method: "stripe", succeeded: type === "payment_intent.succeeded" });
	return true;
}
