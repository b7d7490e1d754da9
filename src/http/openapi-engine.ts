// The OpenAPI document's operations for the engine's own routes: its health, the
// public keys that verify its tokens, and the document itself. Rendered by openapi.ts. Pure.
import { type Operation, json } from "./openapi-operation";

export const ENGINE_OPERATIONS: Operation[] = [
	{
		operationId: "health",
		method: "GET",
		path: "/api/health",
		tag: "engine",
		summary: "Whether the Worker answers",
		answers: { 200: json("Health", "The Worker is up.") },
		errors: {},
	},
	{
		operationId: "jwks",
		method: "GET",
		path: "/.well-known/jwks.json",
		tag: "engine",
		summary: "The public keys (ES256) that verify every token the engine signs",
		answers: { 200: json("Jwks", "Cacheable for five minutes.") },
		errors: {},
	},
	{
		operationId: "openapi",
		method: "GET",
		path: "/api/openapi.json",
		tag: "engine",
		summary: "This document",
		answers: { 200: json("OpenApiDocument", "OpenAPI 3.1; public and cacheable for an hour.") },
		errors: {},
	},
];
