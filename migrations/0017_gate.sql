-- The gate: each drop's gate key (the per-ticket secrets of rotating codes are the
-- HMAC of a ticket's code under it, so nothing is stored per ticket) and whether the
-- static QR code still admits. Written on first use, one row per drop.
CREATE TABLE drop_gates (
  drop_id TEXT PRIMARY KEY,
  gate_key TEXT NOT NULL,
  static_qr INTEGER NOT NULL DEFAULT 1,
  updated_at TEXT NOT NULL
);

-- Gate devices: each registered for one drop with the public half of a P-256 key
-- pair it made itself (the private half never leaves the device). Revoked, its
-- uploads and list downloads are refused from then on; its past scans stay.
CREATE TABLE gate_devices (
  device_id TEXT PRIMARY KEY,
  drop_id TEXT NOT NULL,
  name TEXT NOT NULL,
  public_key TEXT NOT NULL,
  registered_at TEXT NOT NULL,
  registered_by TEXT NOT NULL,
  last_sync_at TEXT,
  revoked_at TEXT
);

CREATE INDEX gate_devices_by_drop ON gate_devices (drop_id, registered_at);

-- Scans a device made (offline or not) and uploaded, each signed by the device:
-- one row per device and scan id, so an upload repeated is written once.
CREATE TABLE gate_scans (
  device_id TEXT NOT NULL,
  scan_id TEXT NOT NULL,
  drop_id TEXT NOT NULL,
  ticket TEXT NOT NULL,
  scanned_at TEXT NOT NULL,
  result TEXT NOT NULL,
  reason TEXT,
  signature TEXT NOT NULL,
  uploaded_at TEXT NOT NULL,
  PRIMARY KEY (device_id, scan_id)
);

CREATE INDEX gate_scans_admitted ON gate_scans (drop_id, ticket) WHERE result = 'admitted';

-- Which device's synced scan admitted a ticket first (NULL: the online scan did,
-- or nobody yet): what tells an online admission from a device's.
ALTER TABLE tickets ADD COLUMN scanned_device TEXT;
