// The fan page's message catalogues (public/i18n/*.js): each has exactly
// English's keys, each plural message has every form its language's plural
// rules pick, each keeps English's {placeholders}, and every error code of
// docs/api.md that the fan page can meet has its words.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const LOCALES = ["en", "de", "fr", "es", "ja"];
const load = async (locale) => (await import(pathToFileURL(join(ROOT, "public/i18n", `${locale}.js`)).href)).default;
const placeholders = (message) => new Set([...(typeof message === "object" ? Object.values(message).join(" ") : message).matchAll(/\{(\w+)\}/g)].map((m) => m[1]));

/**
 * Codes of docs/api.md the fan page never meets: the promoter's routes (keys, patches, cursors,
 * drop settings, webhook endpoints, the gate's scan and its devices) and an engine fault that is never expected.
 */
const NOT_FAN = new Set(["unauthorized", "forbidden", "empty_patch", "invalid_cursor", "open_drops_limit", "payment_not_taken", "invalid_time", "already_open", "immutable_field", "lines_in_use", "unknown_pool", "invalid_url", "limit_reached", "code_expired", "invalid_code", "rotating_code_required", "device_revoked", "invalid_key", "invalid_signature", "unknown_ticket", "invalid_presales", "unknown_window", "codes_issued_by_engine", "kind_mismatch", "registration_open", "too_many_groups", "not_registered", "fee_conflict", "resale_unsupported"]);

test("the page's language list and the catalogues agree", () => {
	const source = readFileSync(join(ROOT, "public/i18n.js"), "utf8");
	assert.match(source, /export const LOCALES = \["en", "de", "fr", "es", "ja"\];/);
});

test("every catalogue has every key of English and no other", async () => {
	const en = await load("en");
	for (const locale of LOCALES) {
		const messages = await load(locale);
		assert.deepEqual(Object.keys(messages).filter((k) => !(k in en)), [], `${locale}: keys English does not have`);
		assert.deepEqual(Object.keys(en).filter((k) => !(k in messages)), [], `${locale}: keys missing`);
	}
});

test("every plural message has its language's forms, and every message English's placeholders", async () => {
	const en = await load("en");
	for (const locale of LOCALES) {
		const messages = await load(locale);
		// French and Spanish "many" is for round millions ("1 000 000 de billets"): t() says those with `other`.
		const forms = new Intl.PluralRules(locale).resolvedOptions().pluralCategories.filter((f) => f !== "many");
		for (const [key, message] of Object.entries(messages)) {
			assert.equal(typeof message === "object", typeof en[key] === "object", `${locale} ${key}: plural in one language only`);
			if (typeof message === "object") for (const form of forms) assert.equal(typeof message[form], "string", `${locale} ${key}: no "${form}" form`);
			assert.deepEqual([...placeholders(message)].sort(), [...placeholders(en[key])].sort(), `${locale} ${key}: placeholders differ from English`);
			assert.ok(typeof message === "object" || message.length > 0 || /End$|joiner$/.test(key), `${locale} ${key}: empty`);
		}
	}
});

test("every error code the fan page can meet in docs/api.md has words in English (and so in every catalogue)", async () => {
	const en = await load("en");
	const api = readFileSync(join(ROOT, "docs/api.md"), "utf8");
	// The error table of "Conventions and errors" and the typed hold's refusals.
	const table = api.slice(api.indexOf("| status | codes |"), api.indexOf("A repeated request that was answered"));
	const typed = api.slice(api.indexOf("Refusals of a typed hold"), api.indexOf("The audit gains"));
	const codes = new Set([...`${table}\n${typed}`.matchAll(/`([a-z][a-z0-9_]*)`/g)].map((m) => m[1]).filter((c) => c.includes("_") || ["internal", "empty", "unauthorized", "forbidden"].includes(c)));
	for (const known of ["sold_out", "drop_cancelled", "payment_declined", "seats_taken", "try_again"]) assert.ok(codes.has(known), `code scan found ${known}`);
	const missing = [...codes].filter((c) => !NOT_FAN.has(c) && !(`errors.${c}` in en));
	assert.deepEqual(missing, [], "error codes the fan page can meet with no words");
	// And no words for a code the API does not answer (the page's own `network` and `unknown`, and `internal`, said in the prose above the table, aside).
	const invented = Object.keys(en).filter((k) => k.startsWith("errors.")).map((k) => k.slice(7)).filter((c) => !codes.has(c) && !["network", "unknown", "internal"].includes(c));
	assert.deepEqual(invented, [], "error words for codes docs/api.md does not list");
});
