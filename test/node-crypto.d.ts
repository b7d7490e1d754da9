// The two functions of Node's crypto the webhook test verifies signatures with, as
// a receiver would (nodejs_compat gives the tests the real module); the tests'
// types are the Workers', without @types/node, so these are declared here.
declare module "node:crypto" {
	interface Hmac {
		update(data: string): Hmac;
		digest(): Uint8Array;
	}
	export function createHmac(algorithm: "sha256", key: string): Hmac;
	export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}
