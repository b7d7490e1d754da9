// Who may scan tickets at a drop's gate: a promoter's `gate` (or `owner`) key for a
// drop of that promoter (src/tenants/auth.ts authorizeGateKey: staff 403, another
// promoter's drop 404, unknown or revoked 401), or the deployment's GATE_TOKEN
// secret for any drop (the operator's own drops have no promoter). Never the admin
// token: a gate device should not hold a credential that can change drops.
import { type Principal, authorizeGateKey } from "./auth";
import { looksLikeApiKey } from "./api-keys";
import { config } from "../shared/config";
import { ApiError } from "../shared/errors";
import { bearerToken } from "../shared/request";
import { timingSafeEqualStrings } from "../shared/crypto";

/** Who holds the gate credential: the key, or the operator for GATE_TOKEN (what the activity log names). */
export async function authorizeGate(request: Request, env: Env, dropId: string): Promise<Principal> {
	const token = bearerToken(request);
	if (token !== null && looksLikeApiKey(token)) return (await authorizeGateKey(request, env, dropId))!;
	const expected = config(env).gateToken;
	if (expected === null || token === null || !(await timingSafeEqualStrings(token, expected))) {
		throw new ApiError(401, "unauthorized", "A valid gate credential is required.", {}, { "WWW-Authenticate": 'Bearer realm="gate"' });
	}
	return { kind: "operator" };
}
