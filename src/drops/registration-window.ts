// A registered sale window's registration, as the promoter describes it: when
// fans may register (opensAt, closesAt: over by the window's own opening, so the
// draw and its emails come before the window), and how many the draw invites.
// Which phase a window's registration is in at a moment. Pure.
import { ValidationError, int, object, time } from "../shared/validation";

/** The most fans one window's draw may invite: each gets a unique code, issued in one D1 batch. */
export const MAX_INVITES = 100_000;

export interface Registration {
	opensAt: string;
	closesAt: string;
	/** How many the draw invites from the verified registrations (all of them when fewer registered). */
	invites: number;
}

export const RegistrationBody = object({
	opensAt: time().meta({ description: "When fans may start to register (the seed is committed by the first registration at the latest)." }),
	closesAt: time().meta({ description: "When registration closes and the draw may run; at or before the window's opensAt." }),
	invites: int(1, MAX_INVITES).meta({ description: "How many fans the draw invites, each with a unique code by email." }),
});

/** The registration as kept, or null for a window that is not registered; refusals are the caller's 422 on the field. */
export function checkRegistration(
	w: { access: string; opensAt: string; registration?: Registration | undefined },
	at: string,
	fail: (field: string, message: string) => ValidationError,
): Registration | null {
	if (w.access !== "registered") {
		if (w.registration !== undefined) throw fail(`${at}.registration`, `Only a registered window takes "registration".`);
		return null;
	}
	const r = w.registration;
	if (r === undefined) throw fail(`${at}.registration`, `A registered window needs "registration": {opensAt, closesAt, invites}.`);
	if (Date.parse(r.closesAt) <= Date.parse(r.opensAt)) throw fail(`${at}.registration.closesAt`, `Registration's "closesAt" must be after its "opensAt".`);
	if (Date.parse(r.closesAt) > Date.parse(w.opensAt)) throw fail(`${at}.registration.closesAt`, `Registration must close by the window's "opensAt", so the draw comes first.`);
	return { opensAt: r.opensAt, closesAt: r.closesAt, invites: r.invites };
}

export type RegistrationPhase = "not_open" | "open" | "closed";

export function registrationPhase(r: Registration, now: number): RegistrationPhase {
	return now < Date.parse(r.opensAt) ? "not_open" : now < Date.parse(r.closesAt) ? "open" : "closed";
}
