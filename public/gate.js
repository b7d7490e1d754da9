// The gate scanner at /gate: signs in with a gate key, registers this browser as a
// gate device (a P-256 key pair made here, its private half kept non-extractable in
// IndexedDB), downloads the drop's ticket list, and checks each code itself: the
// token's ES256 signature against the engine's keys, the rotating code's window and
// code against the ticket's secret, and not admitted before on this device. Online,
// an admission goes through the engine's scan (once across every gate); offline it
// is admitted here, signed, kept in localStorage and uploaded when the network is
// back. It counts admissions for this device and for its gate (the gate's count at
// the last list download, with this device's admissions since). Everything shown
// goes in by textContent. The page itself opens offline after one online visit
// (public/sw.js).
import { $, api, keepPageOffline, show, text } from "/common.js";
import { counterCode } from "/rotating-code.js";

const STATE = "tgate:state";
const enc = new TextEncoder();
let state = null;
let gateKey = sessionStorage.getItem("tgate:key");
let privateKey = null;

const save = () => localStorage.setItem(STATE, JSON.stringify(state));

function fromBase64url(s) {
	const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
	return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
const toBase64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** The device's private key, kept as a CryptoKey in IndexedDB: the browser can use it, no script can read it out. */
function keyStore(mode, fn) {
	return new Promise((resolve, reject) => {
		const open = indexedDB.open("tgate", 1);
		open.onupgradeneeded = () => open.result.createObjectStore("keys");
		open.onerror = () => reject(open.error);
		open.onsuccess = () => {
			const tx = open.result.transaction("keys", mode);
			const req = fn(tx.objectStore("keys"));
			tx.oncomplete = () => resolve(req.result);
			tx.onerror = () => reject(tx.error);
		};
	});
}

async function signIn(event) {
	event.preventDefault();
	show("signin-error", false);
	const dropId = $("drop-id").value.trim();
	gateKey = $("gate-key").value.trim();
	try {
		const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
		const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
		const publicKey = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
		const made = await api(`/api/admin/drops/${encodeURIComponent(dropId)}/gate/devices`, { method: "POST", token: gateKey, body: { name: $("device-name").value.trim(), gate: $("gate-name").value.trim(), publicKey } });
		await keyStore("readwrite", (s) => s.put(pair.privateKey, made.device.id));
		privateKey = pair.privateKey;
		sessionStorage.setItem("tgate:key", gateKey);
		state = { dropId, device: made.device, list: made.list, local: {}, pending: [], counts: { admitted: 0, refused: 0 }, sinceList: 0 };
		save();
		enter();
	} catch (err) {
		text("signin-error", `Could not register this device: ${err.message}`);
		show("signin-error", true);
	}
}

function enter() {
	show("s-signin", false);
	show("s-scan", true);
	render();
	startCamera();
	$("code").focus();
}

function render() {
	text("list-meta", `${state.device.name} at drop ${state.dropId}: ${state.list.tickets.length} tickets in the list from ${new Date(state.list.generatedAt).toLocaleTimeString()}.`);
	text("n-admitted", state.counts.admitted);
	text("n-refused", state.counts.refused);
	text("n-pending", state.pending.length);
	// A list kept from before gates were counted has no gate until its next download.
	text("gate-label", state.list.gate?.name ?? "");
	text("n-gate", (state.list.gate?.admitted ?? 0) + (state.sinceList ?? 0));
	text("net", navigator.onLine ? "Online" : "Offline: scans are kept and sent when the network is back");
}

function verdict(admit, headline, reason) {
	const el = $("verdict");
	el.className = `verdict ${admit ? "admit" : "refuse"}`;
	const small = document.createElement("small");
	small.textContent = reason;
	el.replaceChildren(document.createTextNode(headline), small);
}

/** The token's claims when the engine signed it for this drop; null otherwise. */
async function verifyToken(token) {
	const parts = token.split(".");
	if (parts.length !== 3) return null;
	try {
		const header = JSON.parse(new TextDecoder().decode(fromBase64url(parts[0])));
		const payload = JSON.parse(new TextDecoder().decode(fromBase64url(parts[1])));
		const jwk = state.list.keys.find((k) => k.kid === header.kid);
		if (!jwk || header.alg !== "ES256" || header.typ !== "ticket+jwt") return null;
		const key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
		const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, fromBase64url(parts[2]), enc.encode(`${parts[0]}.${parts[1]}`));
		const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
		return ok && aud.includes(`drop:${state.dropId}`) ? payload : null;
	} catch {
		return null;
	}
}

/** The offline check: a refusal reason, or the ticket to admit. */
async function check(scanned) {
	const parts = scanned.split("~");
	const claims = await verifyToken(parts[0]);
	if (claims === null) return { reason: "Not a ticket for this drop." };
	const ticket = state.list.tickets.find((t) => t.code === claims.tid);
	if (!ticket) return { reason: "Not in this device’s list: sync, or check it online.", code: claims.tid };
	if (ticket.state === "refunded") return { reason: "This ticket was refunded.", code: ticket.code };
	if (ticket.state === "transferred") return { reason: "This ticket was transferred to someone else; the new holder has their own.", code: ticket.code };
	if (ticket.state === "listed") return { reason: "This ticket is listed for resale; it admits nobody while it is.", code: ticket.code };
	const mine = state.local[ticket.code];
	if (mine) return { reason: `Already admitted on this device at ${new Date(mine).toLocaleTimeString()}.`, code: ticket.code };
	if (ticket.state === "used") return { reason: "Already admitted at another gate.", code: ticket.code };
	if (parts.length === 1) {
		if (!state.list.staticQr) return { reason: "A fixed QR code does not admit here: ask for the live ticket.", code: ticket.code };
		return { admit: ticket };
	}
	const window = Number(parts[1]);
	const now = Math.floor(Date.now() / 1000 / state.list.stepSeconds);
	if (parts.length !== 3 || !Number.isInteger(window)) return { reason: "Not a ticket code.", code: ticket.code };
	if (Math.abs(window - now) > state.list.skewWindows) return { reason: "This code is not current: a copy, a screenshot, or a wrong clock.", code: ticket.code };
	if ((await counterCode(ticket.secret, window)) !== parts[2]) return { reason: "This code was not made by this ticket.", code: ticket.code };
	return { admit: ticket };
}

async function signedScan(ticket, result, reason) {
	const scan = { scanId: `s${crypto.randomUUID().replace(/-/g, "")}`, ticket, at: new Date().toISOString(), result };
	const message = ["gate-scan", state.dropId, state.device.id, scan.scanId, scan.ticket, scan.at, scan.result].join("\n");
	scan.signature = toBase64url(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, enc.encode(message)));
	if (reason) scan.reason = reason.slice(0, 80);
	return scan;
}

async function onScan(scanned) {
	const found = await check(scanned.trim());
	if (found.admit) {
		const code = found.admit.code;
		if (navigator.onLine) {
			try {
				await api(`/api/admin/drops/${encodeURIComponent(state.dropId)}/scan`, { method: "POST", token: gateKey, body: { ticket: scanned.trim(), device: state.device.id } });
			} catch (err) {
				if (err.status !== 0) return refuse(err.message, code, false);
				// The network went as we asked: the offline check stands, and the scan is uploaded later.
				state.pending.push(await signedScan(code, "admitted"));
			}
		} else state.pending.push(await signedScan(code, "admitted"));
		state.local[code] = Date.now();
		state.counts.admitted += 1;
		state.sinceList = (state.sinceList ?? 0) + 1;
		save();
		verdict(true, "ADMIT", `Ticket ${code}.`);
	} else await refuse(found.reason, found.code, true);
	render();
}

async function refuse(reason, code, record) {
	state.counts.refused += 1;
	if (record && code) state.pending.push(await signedScan(code, "refused", reason));
	save();
	verdict(false, "REFUSE", reason);
	render();
}

/** Uploads what is waiting (50 at a time), then downloads the list again; quiet when offline. */
async function sync() {
	if (!state || !navigator.onLine) return render();
	const base = `/api/admin/drops/${encodeURIComponent(state.dropId)}/gate/devices/${encodeURIComponent(state.device.id)}`;
	try {
		while (state.pending.length > 0) {
			const batch = state.pending.slice(0, 50);
			await api(`${base}/scans`, { method: "POST", token: gateKey, body: { scans: batch } });
			state.pending = state.pending.slice(batch.length);
			save();
		}
		// The list's count holds this device's admissions uploaded so far; those made while it downloads stay counted here.
		const counted = state.sinceList ?? 0;
		state.list = await api(`${base}/list`, { token: gateKey });
		state.sinceList = Math.max(0, (state.sinceList ?? 0) - counted);
		save();
		text("sync-status", `Synced at ${new Date().toLocaleTimeString()}.`);
	} catch (err) {
		text("sync-status", `Not synced: ${err.message}`);
	}
	render();
}

/** The camera where the browser can read QR codes itself; the typed field always. */
async function startCamera() {
	if (!("BarcodeDetector" in window) || !navigator.mediaDevices?.getUserMedia) return;
	try {
		const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
		const video = $("camera");
		video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
		show(video, true);
		await video.play();
		let last = "";
		const tick = async () => {
			const codes = await detector.detect(video).catch(() => []);
			const value = codes[0]?.rawValue;
			if (value && value !== last) {
				last = value;
				await onScan(value);
			}
			setTimeout(tick, 300);
		};
		tick();
	} catch {
		// No camera, or refused: the typed field stays.
	}
}

keepPageOffline("/gate");
$("signin").addEventListener("submit", signIn);
$("typed").addEventListener("submit", async (event) => {
	event.preventDefault();
	const value = $("code").value;
	$("code").value = "";
	if (value.trim()) await onScan(value);
	$("code").focus();
});
$("sync").addEventListener("click", () => void sync());
addEventListener("online", () => void sync());
addEventListener("offline", render);
setInterval(() => void sync(), 30_000);

state = JSON.parse(localStorage.getItem(STATE) ?? "null");
if (state && gateKey) {
	keyStore("readonly", (s) => s.get(state.device.id)).then((key) => {
		privateKey = key ?? null;
		if (privateKey) enter();
	});
}
