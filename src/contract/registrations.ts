// What the registration routes take and answer: a fan's registration for a
// registered sale window (an email, the join's protections, the language its
// emails are written in), its verification with the mailed code, and the window's
// public draw (the commitment before, the seed, the registration ids and the ids
// invited after), which `npm run verify-fairness -- --draw` re-derives. Pure.
import * as z from "zod";
import { count, hex64, instant, nullable } from "./answer-parts";
import { LOCALES, TYPE_ID, idText } from "./requests";
import { object, oneOf, text } from "../shared/validation";
import { onFirstUse } from "../shared/on-first-use";

/** An address as a person types it: something@somewhere.tld, no spaces. Whether it receives mail is what the code proves. */
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;

const windowId = () => idText(TYPE_ID, "letters, digits, _ or -").optional().meta({ description: "The registered window; the drop's only registered window when left out." });

export const RegisterBody = object({
	window: windowId(),
	email: text(3, 254, { pattern: EMAIL, hint: "must be an email address" }).meta({ description: "Where the verification code, then the draw's news and any code, are sent." }),
	locale: oneOf(LOCALES).optional().meta({ description: "The language of the emails; English when left out." }),
	turnstileToken: text(1, 2048).optional().meta({ description: "Where a Turnstile challenge is configured." }),
	identityToken: text(1, 8192).optional().meta({ description: "In fan identity mode: the promoter's signed identity token (one registration per fan)." }),
});

export const VerifyRegistrationBody = object({
	window: windowId(),
	email: text(3, 254, { pattern: EMAIL, hint: "must be an email address" }),
	code: text(1, 16).meta({ description: "The 8 digits mailed to the address." }),
});

export const DrawQuery = z.object({
	window: idText(TYPE_ID, "letters, digits, _ or -").optional().meta({ description: "The registered window; the drop's only registered window when left out." }),
});

function build() {
	const RegistrationSent = z.strictObject({
		window: z.string(),
		status: z.literal("verification_sent").meta({ description: "The same answer whether the address is new, renewed or verified already, so it tells nobody who registered." }),
		expiresAt: instant().meta({ description: "When a code mailed now stops working." }),
		registrationClosesAt: instant(),
	});
	const RegistrationVerified = z.strictObject({
		registrationId: z.string().meta({ description: "The fan's opaque id in the draw's public list." }),
		window: z.string(),
		status: z.literal("verified"),
		verifiedAt: instant(),
		drawAt: instant().meta({ description: "When registration closes and the draw runs (the cron's next minute at the latest)." }),
	});
	const Draw = z.strictObject({
		dropId: z.string(),
		window: z.string(),
		algorithm: z.string(),
		registrationOpensAt: instant(),
		registrationClosesAt: instant(),
		invites: z.int().meta({ description: "How many the promoter asked the draw to invite." }),
		seedCommitment: hex64().meta({ description: "SHA-256 of the seed's 32 hex digits, committed no later than the first registration." }),
		committedAt: instant(),
		seed: nullable(z.string()).meta({ description: "Null until the draw." }),
		drawnAt: nullable(instant()),
		registered: nullable(count()).meta({ description: "Verified registrations the draw drew from." }),
		drawn: nullable(count()).meta({ description: "How many it invited: invites, or every registration when fewer." }),
		registrations: nullable(z.array(z.string())).meta({ description: "Every registration id drawn from, ascending; never an email." }),
		invited: nullable(z.array(z.string())).meta({ description: "The ids invited, ascending." }),
	});
	const DrawMade = z.strictObject({
		window: z.string(),
		made: z.boolean().meta({ description: "Whether this request made the draw (false: it had been made)." }),
		drawnAt: instant(),
		registered: count(),
		drawn: count(),
		groupId: z.string().meta({ description: "The code group of the invited fans' unique codes (issued by the engine)." }),
	});
	return { RegistrationSent, RegistrationVerified, Draw, DrawMade };
}

export const registrationAnswers = onFirstUse(build);

type Answer<K extends keyof ReturnType<typeof build>> = z.output<ReturnType<typeof build>[K]>;
export type RegistrationSent = Answer<"RegistrationSent">;
export type RegistrationVerified = Answer<"RegistrationVerified">;
export type DrawAnswer = Answer<"Draw">;
export type DrawMade = Answer<"DrawMade">;
