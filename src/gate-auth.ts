// Who may scan tickets at a drop's gate. One function, so the credential can
// change (issue 17's gate-role API keys) without touching the scan. For now the
// credential is the GATE_TOKEN secret as a bearer token: not the admin token,
// which a gate device never holds. No GATE_TOKEN: nobody can scan.
import { config } from "./config";
import { ApiError, bearerToken, timingSafeEqualStrings } from "./http";

export async function authorizeGate(request: Request, env: Env, _dropId: string): Promise<void> {
	const token = bearerToken(request);
	const expected = config(env).gateToken;
	if (expected === null || token === null || !(await timingSafeEqualStrings(token, expected))) {
		throw new ApiError(401, "unauthorized", "A valid gate credential is required.", {}, { "WWW-Authenticate": 'Bearer realm="gate"' });
	}
}
