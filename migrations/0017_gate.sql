-- The gate: each drop's gate key (the per-ticket secrets of rotating codes are the
-- HMAC of a ticket's code under it, so nothing is stored per ticket) and whether the
-- static QR code still admits. Written on first use, one row per drop.
CREATE TABLE drop_gates (
  drop_id TEXT PRIMARY KEY,
  gate_key TEXT NOT NULL,
  static_qr INTEGER NOT NULL DEFAULT 1,
  updated_at TEXT NOT NULL
);
