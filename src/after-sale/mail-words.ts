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
	"registration.subject": "Your code for {window}: {code}",
	"registration.code": "Your code to confirm your registration for {window} is {code}. It works for 30 minutes.",
	"registration.ignore": "If you did not register, ignore this email: nothing happens without the code.",
	"draw.invited.subject": "You are invited to {window}",
	"draw.invited": "You were drawn for {window}, which opens on {opensAt}. Your registration: {registrationId}.",
	"draw.code": "Your personal code: {code}. Join with it when the window opens; it admits one fan, the first who uses it.",
	"draw.notDrawn.subject": "The draw for {window}",
	"draw.notDrawn": "You were not drawn for {window} this time. Your registration: {registrationId}; anyone can check the draw on its public page.",
	"draw.waitlist": "The general sale opens on {generalOpensAt}: join its line on the drop's page any time before then and you are in its pre-queue, shuffled fairly with every fan who joined before the opening.",
	"turn.subject": "Your turn has come: {drop}",
	"turn.come": "A returned ticket for {drop} is offered to you: your turn in the line has come.",
	"turn.until": "Your turn lasts until {until}. Open the drop's page to buy it before then; after it the ticket goes to the next fan in line.",
	"turn.link": "The drop's page: {link}",
} satisfies Record<string, MailMessage>;

export type MailKey = keyof typeof en;
type Catalogue = Record<MailKey, MailMessage>;

const de: Catalogue = {
	"receipt.subject": "Deine Tickets: Bestellung {orderId}",
	"receipt.thanks": "Danke für deine Bestellung {orderId} (Verkauf {dropId}).",
	"receipt.paid": { one: "{n} Ticket, {amount} bezahlt am {date}.", other: "{n} Tickets, {amount} bezahlt am {date}." },
	"receipt.ticket": "Ticket {n}: {code}",
	"receipt.gate": "Zeig die QR-Codes auf deiner Bestellseite am Eingang: Jedes Ticket wird einmal eingelassen.",
	"registration.subject": "Dein Code für {window}: {code}",
	"registration.code": "Dein Code zur Bestätigung deiner Registrierung für {window} ist {code}. Er gilt 30 Minuten.",
	"registration.ignore": "Wenn du dich nicht registriert hast, ignoriere diese E-Mail: Ohne den Code passiert nichts.",
	"draw.invited.subject": "Du bist zu {window} eingeladen",
	"draw.invited": "Du wurdest für {window} gezogen, das am {opensAt} öffnet. Deine Registrierung: {registrationId}.",
	"draw.code": "Dein persönlicher Code: {code}. Tritt damit bei, sobald das Fenster öffnet; er lässt einen Fan ein, den ersten, der ihn nutzt.",
	"draw.notDrawn.subject": "Die Ziehung für {window}",
	"draw.notDrawn": "Du wurdest diesmal nicht für {window} gezogen. Deine Registrierung: {registrationId}; jeder kann die Ziehung auf ihrer öffentlichen Seite prüfen.",
	"draw.waitlist": "Der allgemeine Verkauf öffnet am {generalOpensAt}: Stell dich vorher jederzeit auf der Seite des Verkaufs an, dann bist du in seiner Vorwarteschlange, fair gemischt mit allen, die vor der Öffnung beigetreten sind.",
	"turn.subject": "Du bist dran: {drop}",
	"turn.come": "Ein zurückgegebenes Ticket für {drop} wird dir angeboten: Du bist in der Warteschlange an der Reihe.",
	"turn.until": "Dein Zug gilt bis {until}. Öffne die Seite des Verkaufs und kauf es bis dahin; danach geht das Ticket an den nächsten Fan in der Schlange.",
	"turn.link": "Die Seite des Verkaufs: {link}",
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
	"registration.subject": "Votre code pour {window} : {code}",
	"registration.code": "Votre code pour confirmer votre inscription à {window} est {code}. Il est valable 30 minutes.",
	"registration.ignore": "Si vous ne vous êtes pas inscrit, ignorez cet e-mail : rien ne se passe sans le code.",
	"draw.invited.subject": "Vous êtes invité à {window}",
	"draw.invited": "Vous avez été tiré au sort pour {window}, qui ouvre le {opensAt}. Votre inscription : {registrationId}.",
	"draw.code": "Votre code personnel : {code}. Rejoignez la file avec lui à l’ouverture ; il admet un seul fan, le premier qui l’utilise.",
	"draw.notDrawn.subject": "Le tirage au sort pour {window}",
	"draw.notDrawn": "Vous n’avez pas été tiré au sort pour {window} cette fois. Votre inscription : {registrationId} ; chacun peut vérifier le tirage sur sa page publique.",
	"draw.waitlist": "La vente générale ouvre le {generalOpensAt} : rejoignez sa file sur la page de la vente avant cette heure et vous serez dans sa pré-file, mélangé équitablement avec tous les fans arrivés avant l’ouverture.",
	"turn.subject": "C’est votre tour : {drop}",
	"turn.come": "Un billet rendu pour {drop} vous est proposé : votre tour dans la file est arrivé.",
	"turn.until": "Votre tour dure jusqu’au {until}. Ouvrez la page de la vente pour l’acheter avant ; ensuite, le billet passe au fan suivant dans la file.",
	"turn.link": "La page de la vente : {link}",
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
	"registration.subject": "Tu código para {window}: {code}",
	"registration.code": "Tu código para confirmar tu registro en {window} es {code}. Vale durante 30 minutos.",
	"registration.ignore": "Si no te registraste, ignora este correo: sin el código no pasa nada.",
	"draw.invited.subject": "Estás invitado a {window}",
	"draw.invited": "Has salido en el sorteo de {window}, que abre el {opensAt}. Tu registro: {registrationId}.",
	"draw.code": "Tu código personal: {code}. Únete con él cuando abra la ventana; admite a un solo fan, el primero que lo use.",
	"draw.notDrawn.subject": "El sorteo de {window}",
	"draw.notDrawn": "Esta vez no has salido en el sorteo de {window}. Tu registro: {registrationId}; cualquiera puede comprobar el sorteo en su página pública.",
	"draw.waitlist": "La venta general abre el {generalOpensAt}: únete a su fila en la página de la venta antes de esa hora y estarás en su precola, mezclado con justicia con todos los fans que llegaron antes de la apertura.",
	"turn.subject": "Te toca: {drop}",
	"turn.come": "Se te ofrece una entrada devuelta de {drop}: te ha llegado el turno en la fila.",
	"turn.until": "Tu turno dura hasta el {until}. Abre la página de la venta para comprarla antes; después, la entrada pasa al siguiente fan de la fila.",
	"turn.link": "La página de la venta: {link}",
};

const ja: Catalogue = {
	"receipt.subject": "チケットのご案内:注文 {orderId}",
	"receipt.thanks": "ご注文 {orderId}(販売 {dropId})ありがとうございます。",
	"receipt.paid": { other: "チケット{n}枚、{date}に{amount}をお支払いいただきました。" },
	"receipt.ticket": "チケット{n}:{code}",
	"receipt.gate": "入場口で注文ページのQRコードを提示してください。各チケットで入場できるのは1回です。",
	"registration.subject": "{window}の確認コード:{code}",
	"registration.code": "{window}への登録を確認するコードは{code}です。30分間有効です。",
	"registration.ignore": "登録した覚えがない場合は、このメールを無視してください。コードがなければ何も起きません。",
	"draw.invited.subject": "{window}にご招待します",
	"draw.invited": "{window}の抽選に当選しました。開始は{opensAt}です。登録番号:{registrationId}。",
	"draw.code": "あなた専用のコード:{code}。開始後にこのコードで参加してください。最初に使った1人だけが入れます。",
	"draw.notDrawn.subject": "{window}の抽選結果",
	"draw.notDrawn": "今回は{window}の抽選に当選しませんでした。登録番号:{registrationId}。抽選は公開ページで誰でも確認できます。",
	"draw.waitlist": "一般販売は{generalOpensAt}に始まります。それまでに販売ページで列に並べば、開始前に並んだ全員と公平にシャッフルされる事前待機列に入れます。",
	"turn.subject": "順番が来ました:{drop}",
	"turn.come": "{drop}の返却されたチケットをご案内します。列でのあなたの順番が来ました。",
	"turn.until": "あなたの順番は{until}までです。それまでに販売ページで購入してください。過ぎるとチケットは列の次の方に移ります。",
	"turn.link": "販売ページ:{link}",
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
