// The functions of Node's crypto the tests use: the webhook test verifies signatures
// as a receiver would, the draw test hashes a revealed seed as anyone would
// (nodejs_compat gives the tests the real module); the tests' types are the
// Workers', without @types/node, so these are declared here.
declare module "node:crypto" {
	interface Hmac {
		update(data: string): Hmac;
		digest(): Uint8Array;
	}
	export function createHmac(algorithm: "sha256", key: string): Hmac;
	interface Hash {
		update(data: string, encoding: "utf8"): Hash;
		digest(encoding: "hex"): string;
	}
	export function createHash(algorithm: "sha256"): Hash;
	export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}
