// What k6 provides globally beyond @types/k6 (which leaves console to the DOM
// or Node libraries, both kept out of this check on purpose).
declare var console: {
	log(...data: unknown[]): void;
	info(...data: unknown[]): void;
	warn(...data: unknown[]): void;
	error(...data: unknown[]): void;
	debug(...data: unknown[]): void;
};
