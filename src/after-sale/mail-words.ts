// The words of the engine's emails to fans, in every language it writes in: one
// catalogue per locale with the same keys as English (a test checks the keys, the
// placeholders and the plural forms), and a writer that fills a message's {names}
// and says numbers, prices and dates in the fan's locale with Intl (workerd has the
// full ICU data). The fan page's catalogues (public/i18n/) use the same voice: du in
// German, vous in French, tú in Spanish. Pure.
import { LOCALES, type Locale } from "../contract/requests";

/** A message, or its plural forms by Intl.PluralRules category (`other` always; the locale's every category). */
export type MailMessage = string | ({ other: string } & Partial<Record<Intl.LDMLPluralRule, string>>);

const en = {
	"receipt.subject": "Your tickets: order {orderId}",
	"receipt.thanks": "Thank you for your order {orderId} (drop {dropId}).",
	"receipt.paid": { one: "{n} ticket, {amount} paid on {date}.", other: "{n} tickets, {amount} paid on {date}." },
	"receipt.ticket": "Ticket {n}: {code}",
	"receipt.gate": "Show the QR codes on your order page at the gate; each ticket is admitted once.",
} satisfies Record<string, MailMessage>;

export type MailKey = keyof typeof en;
type Catalogue = Record<MailKey, MailMessage>;

const de: Catalogue = {
	"receipt.subject": "Deine Tickets: Bestellung {orderId}",
	"receipt.thanks": "Danke für deine Bestellung {orderId} (Verkauf {dropId}).",
	"receipt.paid": { one: "{n} Ticket, {amount} bezahlt am {date}.", other: "{n} Tickets, {amount} bezahlt am {date}." },
	"receipt.ticket": "Ticket {n}: {code}",
	"receipt.gate": "Zeig die QR-Codes auf deiner Bestellseite am Eingang: Jedes Ticket wird einmal eingelassen.",
};

const fr: Catalogue = {
	"receipt.subject": "Vos billets : commande {orderId}",
	"receipt.thanks": "Merci pour votre commande {orderId} (vente {dropId}).",
	"receipt.paid": {
		one: "{n} billet, total payé : {amount}, le {date}.",
		many: "{n} de billets, total payé : {amount}, le {date}.",
		other: "{n} billets, total payé : {amount}, le {date}.",
	},
	"receipt.ticket": "Billet {n} : {code}",
	"receipt.gate": "Présentez les QR codes de votre page de commande à l’entrée : chaque billet n’est admis qu’une fois.",
};

const es: Catalogue = {
	"receipt.subject": "Tus entradas: pedido {orderId}",
	"receipt.thanks": "Gracias por tu pedido {orderId} (venta {dropId}).",
	"receipt.paid": {
		one: "{n} entrada, total pagado: {amount}, el {date}.",
		many: "{n} de entradas, total pagado: {amount}, el {date}.",
		other: "{n} entradas, total pagado: {amount}, el {date}.",
	},
	"receipt.ticket": "Entrada {n}: {code}",
	"receipt.gate": "Enseña los códigos QR de la página de tu pedido en la entrada: cada entrada se admite una sola vez.",
};

const ja: Catalogue = {
	"receipt.subject": "チケットのご案内:注文 {orderId}",
	"receipt.thanks": "ご注文 {orderId}(販売 {dropId})ありがとうございます。",
	"receipt.paid": { other: "チケット{n}枚、{date}に{amount}をお支払いいただきました。" },
	"receipt.ticket": "チケット{n}:{code}",
	"receipt.gate": "入場口で注文ページのQRコードを提示してください。各チケットで入場できるのは1回です。",
};

export const MAIL_WORDS: Record<Locale, Catalogue> = { en, de, fr, es, ja };

/** The language to write in for a tag the purchase kept (or none): its language subtag if the engine writes in it, English otherwise. */
export function mailLocale(tag: string | null | undefined): Locale {
	const base = String(tag ?? "").toLowerCase().split(/[-_]/)[0];
	return (LOCALES as readonly string[]).includes(base!) ? (base as Locale) : "en";
}

/** What an email is written with: its locale's messages, and its numbers, prices and dates. */
export interface MailWriter {
	locale: Locale;
	/** The message under `key`, its plural form chosen by `count`, with `{name}` filled from params. */
	t(key: MailKey, params?: Record<string, string | number>, count?: number): string;
	number(n: number): string;
	money(cents: number, currency: string): string;
	/** A moment in the drop's time zone, the zone named as the locale names it ("14:05 UTC", "15:05 MEZ"). */
	date(iso: string): string;
}

/**
 * The writer for `locale`, its dates in `timeZone` (the drop's: the fan's own is not known when an email is
 * written, and the drop's is where the event happens). A zone Intl does not know is said in UTC.
 */
export function mailWriter(locale: Locale, timeZone = "UTC"): MailWriter {
	const words = MAIL_WORDS[locale];
	const plurals = new Intl.PluralRules(locale);
	const numbers = new Intl.NumberFormat(locale);
	const dateOptions: Intl.DateTimeFormatOptions = { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
	let dates: Intl.DateTimeFormat;
	try {
		dates = new Intl.DateTimeFormat(locale, { ...dateOptions, timeZone });
	} catch {
		dates = new Intl.DateTimeFormat(locale, { ...dateOptions, timeZone: "UTC" });
	}
	return {
		locale,
		t(key, params = {}, count) {
			const message = words[key];
			const chosen = typeof message === "string" ? message : (message[plurals.select(count ?? 0)] ?? message.other);
			return chosen.replace(/\{(\w+)\}/g, (all, name: string) => (name in params ? String(params[name]) : all));
		},
		number: (n) => numbers.format(n),
		money(cents, currency) {
			try {
				return new Intl.NumberFormat(locale, { style: "currency", currency }).format(cents / 100);
			} catch {
				// A code Intl refuses is still the sale's own: said as it is, after the amount.
				return `${new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(cents / 100)} ${currency}`;
			}
		},
		date: (iso) => dates.format(new Date(iso)),
	};
}
