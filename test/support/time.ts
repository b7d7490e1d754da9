// Durations, and times relative to now as the API takes them.

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** The ISO time `h` hours from now (negative: ago). */
export const inHours = (h: number) => new Date(Date.now() + h * HOUR).toISOString();
