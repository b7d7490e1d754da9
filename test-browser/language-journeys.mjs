// The fan page in the fan's language, in a real Chromium: a browser set to German
// and one set to Japanese (Accept-Language and navigator.languages, as Playwright's
// `locale` sets both) each join, wait, hold, pay and see their tickets, at desktop
// and phone sizes, every step in their language (headings, prices in the fan's
// locale, <html lang>), axe-core clean at each step (axe checks the lang too); and
// the language menu switches the page and keeps the choice across a reload. The
// purchase names the page's language, and the receipt the engine writes (the dev
// mailbox keeps it) is in it: subject, words, count, price and date. Each drop has
// its own time zone (Berlin, Tokyo): the page's opening time and the receipt's date
// are in it, the zone named in the fan's language. And a page turned right to left
// (as a catalogue for Arabic or Hebrew would turn it) lays out sanely at phone size.
import assert from "node:assert/strict";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, inSeconds, openPage } from "./journeys.mjs";

/** Each fan's drop happens somewhere: its times are shown in its zone, named as the fan's language names it. */
const ZONES = { de: "Europe/Berlin", ja: "Asia/Tokyo" };

/** "HH:MM" of a moment in a zone, and the zone's short name then in `lang` (summer and winter names differ). */
function wallClock(iso, timeZone, lang) {
	const clock = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
	const name = new Intl.DateTimeFormat(lang, { timeZone, timeZoneName: "short" }).formatToParts(new Date(iso)).find((p) => p.type === "timeZoneName").value;
	return { clock, name };
}

const WORDS = {
	de: { intro: "Stell dich an", open: "Der Verkauf läuft.", join: "In die Warteschlange", waiting: "Du stehst in der Warteschlange", turn: "Du bist dran", hold: "Tickets reservieren", held: "Deine Tickets sind reserviert", going: "Du bist dabei!", ready: "Deine Tickets sind fertig.", price: "25,00 €", option: "2 Tickets" },
	ja: { intro: "列に並ぶ", open: "販売中です。", join: "列に並ぶ", waiting: "列に並んでいます", turn: "あなたの番です", hold: "チケットを確保", held: "チケットを確保しました", going: "購入完了!", ready: "チケットの準備ができました。", price: "€25.00", option: "2枚" },
};

/** The receipt the engine wrote the fan (the dev mailbox keeps it), and what the page says once it went. */
const RECEIPT = {
	de: { sent: "Deine Tickets sind fertig; die Quittung ist in deinem Postfach.", subject: "Deine Tickets: Bestellung ", thanks: "Danke für deine Bestellung ", paid: /^2 Tickets, 50,00 € bezahlt am \d{1,2}\. \S+ \d{4} um \d\d:\d\d MES?Z\.$/m, ticket: "Ticket " },
	ja: { sent: "チケットの準備ができました。領収書をメールでお送りしました。", subject: "チケットのご案内:注文 ", thanks: "ご注文 ", paid: /^チケット2枚、\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d JSTに€50\.00をお支払いいただきました。$/m, ticket: "チケット" },
};

/** Intl's prices carry no-break spaces ("25,00 €"): compared as plain spaces. */
const spaced = (s) => s.replace(/\s+/g, " ").trim();

async function oneFan({ browser, base, api, adminToken, log }, lang, locale, size, options) {
	const words = WORDS[lang];
	const problems = [];
	const drop = await api.createDrop({
		name: `Browser test: ${lang} ${size}`,
		capacity: 10,
		maxPerFan: 2,
		opensAt: inSeconds(2),
		priceCents: 2500,
		currency: "EUR",
		admission: { batchSize: 5, intervalMs: 500, activeMultiple: 4 },
		holdSeconds: 120,
		timeZone: ZONES[lang],
	});
	const { context, page } = await openPage(browser, { ...options, locale, timezoneId: "America/New_York" }, problems);
	const label = `${lang} ${size}`;
	try {
		await page.goto(`${base}/drops/${drop.id}`);
		await page.getByRole("heading", { name: words.intro }).waitFor();
		assert.equal(await page.evaluate(() => document.documentElement.lang), lang, `${label}: <html lang>`);
		assert.equal(await page.evaluate(() => document.documentElement.dir), "ltr", `${label}: <html dir>`);
		assert.equal(await page.locator("#lang").inputValue(), lang, `${label}: the menu shows the language`);
		// The browser is in New York; the drop's opening is told in the drop's zone, named.
		const opening = spaced(await page.locator("#drop-meta").innerText());
		const { clock, name } = wallClock(drop.opensAt, ZONES[lang], lang);
		assert.ok(opening.includes(name) && (opening.includes(clock) || opening.includes(clock.replace(/^0/, ""))), `${label}: the opening in ${ZONES[lang]} (${clock} ${name}): "${opening}"`);
		await page.getByText(words.open).waitFor({ timeout: 20_000 });
		assert.equal(spaced(await page.locator("#intro-price").innerText()), words.price, `${label}: the price in the fan's locale`);
		await assertAccessible(page, `${label}: intro`, { log });

		await page.getByRole("button", { name: words.join }).click();
		await page.getByRole("heading", { name: words.turn }).or(page.getByRole("heading", { name: words.waiting })).first().waitFor();
		if (await page.getByRole("heading", { name: words.waiting }).isVisible()) await assertAccessible(page, `${label}: waiting`, { log });
		await page.getByRole("heading", { name: words.turn }).waitFor({ timeout: 30_000 });
		assert.ok((await page.title()).includes(lang === "de" ? "Du bist dran" : "あなたの番です"), `${label}: the title says the turn`);
		await page.locator("#quantity").selectOption("2");
		assert.ok((await page.locator("#quantity option:checked").innerText()).startsWith(words.option), `${label}: the count in words`);
		await assertAccessible(page, `${label}: choose`, { log });

		await page.getByRole("button", { name: words.hold }).click();
		await page.getByRole("heading", { name: words.held }).waitFor();
		assert.ok(spaced(await page.locator("#pay-button").innerText()).includes(lang === "de" ? "50,00 €" : "€50.00"), `${label}: the total in the fan's locale`);
		await assertAccessible(page, `${label}: pay`, { log });

		// At desktop size the fan asks for a receipt; the purchase names the page's language either way.
		const email = size === "desktop" ? `${lang}-fan@example.test` : null;
		if (email) await page.locator("#email").fill(email);
		const sent = page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/purchase"));
		await page.locator("#pay-button").click();
		assert.equal((await sent).postDataJSON().locale, lang, `${label}: the purchase names the fan's language`);
		await page.getByRole("heading", { name: words.going }).waitFor({ timeout: 20_000 });
		if (email) {
			const receipt = RECEIPT[lang];
			await page.locator("#order-status[data-status='receipt_sent']").waitFor({ timeout: 30_000 });
			await page.getByText(receipt.sent).waitFor();
			const orderId = (await page.locator("#order-id").textContent()).trim();
			const mail = (await api.call("GET", `/api/admin/dev/mail?orderId=${orderId}`, { token: adminToken, expect: 200 })).data.mail;
			assert.equal(mail.length, 1, `${label}: one receipt`);
			assert.equal(mail[0].to, email);
			assert.equal(mail[0].subject, `${receipt.subject}${orderId}`, `${label}: the receipt's subject in the fan's language`);
			const body = mail[0].body.replace(/[\u00a0\u202f]/g, " ");
			assert.ok(body.startsWith(`${receipt.thanks}${orderId}`), `${label}: the receipt thanks the fan in their language`);
			assert.match(body, receipt.paid, `${label}: the count, price and date in the fan's locale`);
			for (const code of await page.locator("#tickets li .code").allTextContents()) {
				assert.match(body, new RegExp(`^${receipt.ticket}\\d: ?${code.trim()}$`, "m"), `${label}: the receipt lists ${code}`);
			}
			log(`${label}: the receipt came in ${lang}: "${mail[0].subject}"`);
		} else {
			await page.getByText(words.ready).waitFor({ timeout: 30_000 });
		}
		assert.equal(await page.locator("#tickets li").count(), 2, `${label}: two tickets`);
		await assertAccessible(page, `${label}: tickets`, { log });

		// The menu switches the language, and the choice outlives a reload.
		await page.locator("#lang").selectOption("fr");
		await page.getByRole("heading", { name: "Vous y allez !" }).waitFor();
		assert.equal(await page.evaluate(() => document.documentElement.lang), "fr", `${label}: French after the menu`);
		await page.reload();
		await page.getByRole("heading", { name: "Vous y allez !" }).waitFor();
		await page.locator("#lang").selectOption("en");
		await page.getByRole("heading", { name: "You’re going!" }).waitFor();
		checkProblems(problems, label);
		log(`${label}: joined, waited, held, paid and saw the tickets in ${lang}`);
	} finally {
		await context.close();
	}
}

/**
 * The fan page turned right to left, as a catalogue for Arabic or Hebrew would turn it (a fan asking for
 * one today reads English, left to right): at phone size nothing runs off the side, the bar's parts swap
 * sides (the language menu at the inline end is now on the left), the intro's boxes start at the right,
 * and axe-core finds nothing.
 */
export async function fanPageRightToLeft({ browser, base, api, log }) {
	const problems = [];
	const drop = await api.createDrop({ name: "Browser test: right to left", capacity: 10, maxPerFan: 2, opensAt: inSeconds(3600), priceCents: 2500, currency: "EUR", timeZone: "Asia/Jerusalem" });
	const { context, page } = await openPage(browser, { ...PHONE, locale: "he-IL" }, problems);
	try {
		await page.goto(`${base}/drops/${drop.id}`);
		await page.getByRole("heading", { name: "Get in line" }).waitFor();
		assert.deepEqual(await page.evaluate(() => [document.documentElement.lang, document.documentElement.dir]), ["en", "ltr"], "Hebrew asked for: English words, left to right");
		const layout = () =>
			page.evaluate(() => {
				const box = (sel) => document.querySelector(sel).getBoundingClientRect();
				// Where the heading's words sit in its box: at its start side.
				const heading = [...document.querySelectorAll("h1, h2")].find((h) => h.textContent.includes("Get in line"));
				const words = document.createRange();
				words.selectNodeContents(heading);
				const w = words.getBoundingClientRect();
				const h = heading.getBoundingClientRect();
				return {
					overflow: document.scrollingElement.scrollWidth - window.innerWidth,
					brand: box(".brand").left,
					menu: box(".lang-menu").left,
					wordsFromLeft: w.left - h.left,
					wordsFromRight: h.right - w.right,
				};
			});
		const ltr = await layout();
		assert.ok(ltr.menu > ltr.brand, "left to right: the language menu after the brand");
		assert.ok(ltr.wordsFromLeft < 2 && ltr.wordsFromRight > 20, "left to right: the heading's words start at the left");
		await page.evaluate(() => {
			document.documentElement.dir = "rtl";
		});
		const rtl = await layout();
		assert.ok(rtl.overflow <= 0, `right to left: nothing runs off the side (${rtl.overflow} px)`);
		assert.ok(rtl.menu < rtl.brand, "right to left: the language menu moves to the left of the brand");
		assert.ok(rtl.wordsFromRight < 2 && rtl.wordsFromLeft > 20, "right to left: the heading's words start at the right");
		assert.ok(spaced(await page.locator("#drop-meta").innerText()).includes("GMT+2"), "the opening in Jerusalem's zone, named");
		await assertAccessible(page, "right to left, phone", { log });
		checkProblems(problems, "right to left");
		log("right to left: the fan page mirrors at phone size, nothing off the side, axe clean");
	} finally {
		await context.close();
	}
}

export async function fanInGermanAndJapanese(ctx) {
	for (const [lang, locale] of [
		["de", "de-DE"],
		["ja", "ja-JP"],
	])
		for (const [size, options] of [
			["desktop", DESKTOP],
			["phone", PHONE],
		])
			await oneFan(ctx, lang, locale, size, options);
}
