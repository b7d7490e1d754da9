-- Admissions counted per gate: a device is registered at a named gate (an
-- entrance: its devices' admissions are counted together); devices registered
-- before gates had names are at "Main gate", the name a registration without one
-- takes.
ALTER TABLE gate_devices ADD COLUMN gate TEXT NOT NULL DEFAULT 'Main gate';

-- Scans a device made and uploaded, each signed by the device (via 'device'), and
-- the online admissions a device asked the engine's scan for (via 'online', no
-- signature: the gate's credential vouched for it, and the ticket's own row holds
-- the admission): one row per device and scan id, so an upload repeated is
-- written once. What the per-device and per-gate counts read. SQLite cannot drop
-- a NOT NULL in place, so the table is rebuilt with its rows.
CREATE TABLE gate_scans_next (
  device_id TEXT NOT NULL,
  scan_id TEXT NOT NULL,
  drop_id TEXT NOT NULL,
  ticket TEXT NOT NULL,
  scanned_at TEXT NOT NULL,
  result TEXT NOT NULL,
  reason TEXT,
  signature TEXT,
  via TEXT NOT NULL DEFAULT 'device',
  uploaded_at TEXT NOT NULL,
  PRIMARY KEY (device_id, scan_id)
);
INSERT INTO gate_scans_next (device_id, scan_id, drop_id, ticket, scanned_at, result, reason, signature, via, uploaded_at)
  SELECT device_id, scan_id, drop_id, ticket, scanned_at, result, reason, signature, 'device', uploaded_at FROM gate_scans;
DROP TABLE gate_scans;
ALTER TABLE gate_scans_next RENAME TO gate_scans;
CREATE INDEX gate_scans_admitted ON gate_scans (drop_id, ticket) WHERE result = 'admitted';
