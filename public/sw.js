// The service worker of the two pages that must open with the network off: the
// gate scanner (registered by /gate with the scope /gate) and a drop's fan page
// once it holds tickets (registered with the scope /drops/). Network first: every
// file it keeps is asked of the network each time, and the copy answers only when
// the network does not, so a deploy is seen at the next online load. It keeps
// only this origin's public page files (the pages, scripts, styles, catalogues,
// the icon), which anyone may download: never an /api/ answer (the fan's order
// with its ticket secrets and the gate's ticket list stay where the pages keep
// them, in the browser's storage) and never another origin's file.
const CACHE = "pages-1";

/** Fetched at install: the first online visit ran before this worker, so its files are asked for again here. */
const PAGE_FILES = [
	"/gate",
	"/gate.js",
	"/drop.html",
	"/fan.js",
	"/common.js",
	"/rotating-code.js",
	"/tickets.js",
	"/named.js",
	"/card.js",
	"/confirm.js",
	"/resale-ui.js",
	"/turn-mail.js",
	"/seat-words.js",
	"/zoned-time.js",
	"/transfer-ui.js",
	"/presale.js",
	"/registration.js",
	"/i18n.js",
	"/i18n/en.js",
	"/i18n/de.js",
	"/i18n/fr.js",
	"/i18n/es.js",
	"/i18n/ja.js",
	"/vendor/qrcode-generator.mjs",
	"/pages.css",
	"/favicon.svg",
];

/** The copy a request is kept under: every drop's page is the one drop.html; null for what is never kept. */
function keyOf(request) {
	const url = new URL(request.url);
	if (request.method !== "GET" || url.origin !== self.location.origin) return null;
	if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/.well-known/")) return null;
	if (/^\/drops\/[^/]+$/.test(url.pathname)) return "/drop.html";
	return PAGE_FILES.includes(url.pathname) ? url.pathname : null;
}

self.addEventListener("install", (event) => {
	event.waitUntil(
		(async () => {
			const cache = await caches.open(CACHE);
			// One file that fails now is fetched again at its next online use; it does not stop the rest.
			await Promise.all(PAGE_FILES.map((path) => cache.add(new Request(path, { cache: "no-cache" })).catch(() => {})));
			await self.skipWaiting();
		})(),
	);
});

self.addEventListener("activate", (event) => {
	event.waitUntil(
		(async () => {
			for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
			await self.clients.claim();
		})(),
	);
});

self.addEventListener("fetch", (event) => {
	const key = keyOf(event.request);
	if (key === null) return;
	event.respondWith(
		(async () => {
			try {
				const answer = await fetch(event.request);
				if (answer.ok && answer.type === "basic") {
					const copy = answer.clone();
					event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)));
				}
				return answer;
			} catch (err) {
				const kept = await caches.match(key, { cacheName: CACHE });
				if (kept) return kept;
				throw err;
			}
		})(),
	);
});
