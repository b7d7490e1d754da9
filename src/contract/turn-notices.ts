// What POST /api/drops/:id/notify takes and answers: the address (and language)
// a fan waiting in a drop's line leaves to be told by email when a returned
// ticket's turn comes to them. Pure.
import * as z from "zod";
import { LOCALES } from "./requests";
import { object, oneOf, text } from "../shared/validation";
import { onFirstUse } from "../shared/on-first-use";

export const NoticeBody = object({
	// Validated as the purchase's receipt address is.
	email: text(3, 254, { pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/, hint: "must be an email address" }).meta({ description: "Where the mail goes when a returned ticket's turn comes to the fan." }),
	locale: oneOf(LOCALES).optional().meta({ description: "The mail's language; English when left out." }),
});

function build() {
	const TurnNotice = z.strictObject({
		position: z.int().meta({ description: "The fan's position: the place the notice is kept for (one address per place; a repeat replaces it)." }),
		email: z.string(),
	});
	return { TurnNotice };
}

export const turnNoticeAnswers = onFirstUse(build);

export type TurnNoticeAnswer = z.output<ReturnType<typeof build>["TurnNotice"]>;
