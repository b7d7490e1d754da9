#!/usr/bin/env node
// `npm run test:browser`: the fan page and the promoter page in headless
// Chromium against a real engine.
//
// Starts its own engine through scripts/lib/engine.mjs (scripts/start.mjs on
// port TEST_BROWSER_PORT, default 8811, a fresh state directory, a random
// admin token; its output in screenshots/engine.log) with Stripe's local stand-in
// (scripts/lib/fake-stripe.mjs served on a free 127.0.0.1 port, its webhook sent to
// this engine) as its Stripe, and a test publishable key, so the fan page takes
// cards; drives
// Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium) with
// playwright-core, writes screenshots to screenshots/ and exits non-zero on
// any failure. UPDATE_DOCS_SCREENSHOTS=1 also refreshes docs/fan-page.png,
// docs/promoter-page.png and docs/load-test-report.png; TEST_BROWSER_ONLY=promoter
// runs only the journeys whose names contain that text.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { client } from "./api.mjs";
import { startEngine } from "../scripts/lib/engine.mjs";
import { serveFakeStripe } from "../scripts/lib/fake-stripe.mjs";
import { fanPaysByCardWithThreeDSecure } from "./card-journeys.mjs";
import { fanEdgeStates, fanJourney, fanPrequeueAndHoldExpiry, promoterJourney, promoterTeamJourney } from "./journeys.mjs";
import { loadTestReport } from "./report.mjs";
import { dropCancelledJourney } from "./cancel-journeys.mjs";
import { fanBuysTimeslot, fanPicksSeats, promoterTypesAndSeats } from "./named-journeys.mjs";
import { fanConfirmsGivingBackAndFixesEmail, promoterConfirmsOrderActions, promoterCreateFormErrors } from "./confirm-journeys.mjs";
import { fanBackOnline, fanFirstViewSlow } from "./network-journeys.mjs";
import { queueNumbersAgree } from "./queue-journeys.mjs";
import { seatMapDuringTurn, seatMapOnPhone } from "./seat-journeys.mjs";
import { promoterPagesReadWell } from "./promoter-pages-journeys.mjs";
import { promoterQueueFiguresAgree } from "./queue-stats-journeys.mjs";
import { fanSeesEachTypesPrice, fanSeesEveryTicketHeld, fanSoldOutNextStep } from "./fan-notes-journeys.mjs";
import { promoterWebhooks } from "./webhook-journeys.mjs";
import { loadRunQueueFiguresAgree } from "./loadrun-queue-journeys.mjs";
import { fanInGermanAndJapanese, fanPageRightToLeft } from "./language-journeys.mjs";
import { fanRotatingCodeOffline, gatePageOffline } from "./gate-journeys.mjs";
import { fanTicketsReloadOffline, gatePageReloadOffline, promoterGateSection } from "./gate-offline-journeys.mjs";
import { fanTransfersTicket } from "./transfer-journeys.mjs";
import { fanPresaleWithCode, promoterBuildsWindowsAndCodes } from "./presale-journeys.mjs";
import { fanRegistersIsDrawnAndJoins } from "./registration-journeys.mjs";
import { fanOfferedReturnedTicket } from "./returns-journeys.mjs";
import { fanResellsTicket } from "./resale-journeys.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.TEST_BROWSER_PORT ?? 8811);
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const shotsDir = join(root, "screenshots");
const docsDir = join(root, "docs");
const updateDocs = process.env.UPDATE_DOCS_SCREENSHOTS === "1";
const started = Date.now();

const log = (line) => process.stdout.write(`[browser ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);

if (!existsSync(executablePath)) {
	process.stderr.write(`Chromium is not at ${executablePath}: install it with "apt-get install -y chromium" or set CHROMIUM_PATH.\n`);
	process.exit(1);
}
mkdirSync(shotsDir, { recursive: true });
const downloadsDir = mkdtempSync(join(tmpdir(), "ticket-drop-downloads-"));
const gateToken = `gate-${randomBytes(12).toString("hex")}`;

let engine = null;
let browser = null;
let fakeStripe = null;
let failed = false;

async function cleanup() {
	await browser?.close().catch(() => {});
	browser = null;
	if (engine) {
		log(`stopping the engine (pid ${engine.pid})`);
		await engine.stop();
		engine = null;
	}
	await fakeStripe?.close();
	fakeStripe = null;
	rmSync(downloadsDir, { recursive: true, force: true });
}

// Whatever goes wrong, the engine this run started is stopped.
for (const event of ["unhandledRejection", "uncaughtException"]) {
	process.on(event, (err) => {
		process.stderr.write(`\n${event}: ${err?.stack ?? err}\n`);
		cleanup().finally(() => process.exit(1));
	});
}
for (const signal of ["SIGINT", "SIGTERM"]) {
	process.on(signal, () => {
		log(`${signal}: stopping`);
		cleanup().finally(() => process.exit(1));
	});
}

async function shot(page, name, { docs = null, fullPage = false } = {}) {
	const file = join(shotsDir, `${name}.png`);
	await page.screenshot({ path: file, fullPage });
	if (docs && updateDocs) {
		mkdirSync(docsDir, { recursive: true });
		copyFileSync(file, join(docsDir, docs));
	}
}

const only = process.env.TEST_BROWSER_ONLY ?? "";
const allJourneys = [
	["fan journey", fanJourney],
	["fan pre-queue and hold expiry", fanPrequeueAndHoldExpiry],
	["fan edge states", fanEdgeStates],
	["promoter journey", promoterJourney],
	["promoter team and roles", promoterTeamJourney],
	["load-test report", loadTestReport],
	// Ticket types, seats and timeslots (issue 14).
	["fan picks seats by pointer and by keyboard", fanPicksSeats],
	["fan buys a timeslot", fanBuysTimeslot],
	["promoter creates types and uploads seats", promoterTypesAndSeats],
	// A drop cancelled under a buyer, a waiting fan and the promoter (issues 23 and 29).
	["drop cancelled: fans told, promoter sees Cancelled", dropCancelledJourney],
	// Paying by card with Stripe.js, 3-D Secure finished and refused (issue 24).
	["fan pays by card: 3-D Secure confirmed, then refused", fanPaysByCardWithThreeDSecure],
	// Asked before what cannot be undone; errors by what caused them (issue 29).
	["confirm: promoter refunds asked first, errors by the button", promoterConfirmsOrderActions],
	["confirm: fan gives tickets back after asking; email error by its field", fanConfirmsGivingBackAndFixesEmail],
	["confirm: create form shows every field error, each clears once fixed", promoterCreateFormErrors],
	// A lost connection and a slow network (issue 29).
	["fan back online: the turn shows within 2 s", fanBackOnline],
	["fan first view on a slow network", fanFirstViewSlow],
	// The waiting view's place, fans ahead, bar and wait agree at every poll (issue 29).
	["queue numbers agree at every poll", queueNumbersAgree],
	// The seat map stays current in the turn, a refusal is an alert, the list is one Tab stop; on a phone: 24 px seats, key, stage, price, seats in words (issue 29).
	["seat map: stays current, refusal announced, few Tab presses", seatMapDuringTurn],
	["seat map on a phone: 24 px seats, key, stage, price, seats in words", seatMapOnPhone],
	// The promoter's pages: types, orders, totals, activity, keys and the audit, at desktop and phone (issue 29).
	["promoter pages read well at desktop and phone", promoterPagesReadWell],
	// The queue's figures on the promoter page are the API's, at desktop and phone (issue 28).
	["promoter queue figures match the API at desktop and phone", promoterQueueFiguresAgree],
	// A load run's queue figures: its JSON and HTML reports and the promoter page agree with the API for the run's drop (issue 28).
	["load run queue figures: report, promoter page and API agree", loadRunQueueFiguresAgree],
	// The fan page's smaller words: every ticket held, sold out's next step, prices per type, no fan id (issue 29).
	["fan notes: every ticket held, explained", fanSeesEveryTicketHeld],
	["fan notes: sold out offers tickets that come back", fanSoldOutNextStep],
	// The line outlives the sell-out: a fan joins after it, waits with their exact place, and is offered a returned ticket (issue 26).
	["returns: a fan joins after the sell-out, is offered a returned ticket and buys", fanOfferedReturnedTicket],
	["fan notes: each type's price in its own box", fanSeesEachTypesPrice],
	// Webhooks on the promoter page: added, secret once, delivered and signed, paused, resumed, resent (issue 28).
	["promoter webhooks: add, deliver, pause, resume, resend", promoterWebhooks],
	["fan languages: German and Japanese, desktop and phone", fanInGermanAndJapanese],
	["fan languages: right to left, phone", fanPageRightToLeft],
	// The fan's ticket is a rotating code that keeps changing with the network cut, and admits (issue 27).
	["gate: the fan's code rotates offline and admits", fanRotatingCodeOffline],
	// The gate page admits the fan's code offline, refuses it again on this device, and syncs when back online (issue 27).
	["gate page: offline admit, refuse again, sync", gatePageOffline],
	// The service worker: the fan's tickets and the gate page open again offline after one online visit.
	["gate: the fan's tickets reload offline and rotate", fanTicketsReloadOffline],
	["gate page: reload offline, admit, sync", gatePageReloadOffline],
	// The promoter's gate section: per gate and per device, one double entry, revoke, the fixed-QR switch.
	["promoter gate section: counts, double entry, revoke, fixed QR", promoterGateSection],
	["transfer: the buyer hands a ticket on, the recipient accepts, the old code refused", fanTransfersTicket],
	// A code presale and the general sale on the fan page: asked for a code, refused in words, admitted at the window's opening (issue 25).
	["presale: fan with a code, fan without, at phone size", fanPresaleWithCode],
	["presale: promoter builds windows, makes, counts and revokes code groups", promoterBuildsWindowsAndCodes],
	// A registered presale on the fan page: register, a wrong code refused, verified and kept across a reload, the draw shown and checkable, the drawn fan admitted with the mailed code.
	["registration: fan registers, is drawn, joins the registered window with the mailed code", fanRegistersIsDrawnAndJoins],
	["resale: the buyer lists a ticket, withdraws it, lists it again; another fan buys it", fanResellsTicket],
];
/** TEST_BROWSER_ONLY=<text>: only the journeys whose name contains it. */
const journeys = only ? allJourneys.filter(([name]) => name.includes(only)) : allJourneys;

const results = [];
try {
	log(`starting the engine on port ${port}`);
	// The gate's credential, so the fan journey can scan a ticket as a gate does.
	// Stripe for this run: the fake, which signs the webhook events it makes with this run's secret
	// and sends them to the engine, as Stripe does once the fan's bank has answered.
	const stripeSecretKey = `sk_test_${randomBytes(12).toString("hex")}`;
	const stripeWebhookSecret = `whsec_${randomBytes(16).toString("hex")}`;
	fakeStripe = await serveFakeStripe({ secretKey: stripeSecretKey, webhookSecret: stripeWebhookSecret, webhookUrl: `http://127.0.0.1:${port}/api/payments/stripe/webhook` });
	const stripe = { url: fakeStripe.url, publishableKey: `pk_test_${randomBytes(12).toString("hex")}` };
	const stripeVars = { STRIPE_SECRET_KEY: stripeSecretKey, STRIPE_WEBHOOK_SECRET: stripeWebhookSecret, STRIPE_API_BASE: fakeStripe.url, STRIPE_PUBLISHABLE_KEY: stripe.publishableKey };
	engine = await startEngine({ root, port, logFile: join(shotsDir, "engine.log"), vars: { GATE_TOKEN: gateToken, ...stripeVars } });
	log(`engine up at ${engine.baseUrl} (pid ${engine.pid})`);
	browser = await chromium.launch({
		executablePath,
		headless: true,
		args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--disable-sync", "--no-first-run"],
	});
	log(`Chromium ${browser.version()}`);
	const api = client(engine.baseUrl, engine.adminToken);
	for (const [name, journey] of journeys) {
		const t = Date.now();
		log(`— ${name}`);
		try {
			await journey({ browser, base: engine.baseUrl, api, adminToken: engine.adminToken, gateToken, stripe, shot, downloadsDir, root, shotsDir, log: (l) => log(`  ${l}`) });
			results.push([name, "passed", Date.now() - t]);
		} catch (err) {
			failed = true;
			results.push([name, "FAILED", Date.now() - t]);
			process.stderr.write(`\n${name} failed: ${err.stack ?? err}\n\n`);
			// What the pages showed when it failed, then a clean slate for the next journey.
			let i = 0;
			for (const context of browser.contexts()) {
				for (const page of context.pages()) {
					await page.screenshot({ path: join(shotsDir, `FAILED-${name.replace(/\W+/g, "-")}-${++i}.png`), fullPage: true }).catch(() => {});
				}
				await context.close().catch(() => {});
			}
			process.stderr.write(`engine output (last lines):\n${engine.output().slice(-2000)}\n`);
		}
	}
} catch (err) {
	failed = true;
	process.stderr.write(`\n${err.stack ?? err}\n`);
	if (engine) process.stderr.write(`\nengine output:\n${engine.output().slice(-4000)}\n`);
} finally {
	await cleanup();
}

for (const [name, outcome, ms] of results) log(`${outcome.padEnd(6)} ${name} (${(ms / 1000).toFixed(1)} s)`);
log(`screenshots in ${shotsDir}`);
const passed = results.filter(([, outcome]) => outcome === "passed").length;
process.stdout.write(`browser: ${passed} passed, ${journeys.length - passed} failed\n`);
if (failed || results.length !== journeys.length) {
	log("FAILED");
	process.exit(1);
}
log("all browser journeys passed");
