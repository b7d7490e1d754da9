// What the activity log says about a change: pure, so what a PATCH records is
// decided (and tested) apart from D1. Writing an entry is in src/tenants/auth.ts
// (activityStatement, recordActivity), next to the principal it names.
import type { DropConfig } from "../drops/rules";

export interface ActivityChange {
	action: string;
	detail: Record<string, unknown>;
}

type Changes = Record<string, { from: unknown; to: unknown }>;

/** The fields that differ between two plain records (nested objects compared whole). */
export function changedFields<T extends object>(before: T, after: T, fields: (keyof T & string)[]): Changes {
	const out: Changes = {};
	for (const field of fields) {
		if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) out[field] = { from: before[field], to: after[field] };
	}
	return out;
}

const DROP_FIELDS: (keyof DropConfig & string)[] = ["name", "opensAt", "closesAt", "admission", "holdSeconds", "paused", "lines", "timeZone"];

/**
 * The entries a change to a drop records: a new opening time is a reschedule, `paused`
 * a pause or a resume, any other field an update; one entry for each kind present, each
 * with only its own fields. Nothing changed: no entry.
 */
export function dropChangeEntries(before: DropConfig, after: DropConfig): ActivityChange[] {
	const all = changedFields(before, after, DROP_FIELDS);
	const entries: ActivityChange[] = [];
	const take = (action: string, fields: string[]) => {
		const changes = Object.fromEntries(Object.entries(all).filter(([field]) => fields.includes(field)));
		if (Object.keys(changes).length > 0) entries.push({ action, detail: { changes } });
	};
	take("drop.rescheduled", ["opensAt"]);
	if (all.paused) take(after.paused ? "drop.paused" : "drop.resumed", ["paused"]);
	take("drop.updated", DROP_FIELDS.filter((f) => f !== "opensAt" && f !== "paused"));
	return entries;
}
