// Local secrets: a random admin token and an ES256 signing key, written to
// .dev.vars (git-ignored) the first time the engine starts.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";

/** A P-256 private JWK with its `kid`, as JWT_PRIVATE_JWK expects. */
export function newSigningJwk(kid = `k-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString("hex")}`) {
	const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
	return { ...privateKey.export({ format: "jwk" }), kid, alg: "ES256" };
}

/** Writes .dev.vars if it is missing; returns true when it did. */
export function ensureDevVars(path) {
	if (existsSync(path)) return false;
	const lines = [
		"# Local secrets for wrangler dev. Never commit this file.",
		`ADMIN_TOKEN=${randomBytes(24).toString("base64url")}`,
		`JWT_PRIVATE_JWK='${JSON.stringify(newSigningJwk())}'`,
	];
	writeFileSync(path, lines.join("\n") + "\n", { mode: 0o600 });
	return true;
}

/** Enough of the dotenv format for .dev.vars: KEY=value, optionally quoted. */
export function parseDotenv(text) {
	const out = {};
	for (const line of text.split(/\r?\n/)) {
		const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
		if (!m) continue;
		let v = m[2];
		if ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"'))) v = v.slice(1, -1);
		out[m[1]] = v;
	}
	return out;
}
