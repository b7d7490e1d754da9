-- Ticket transfers: a holder (with the order token) hands one ticket to someone else.
-- The accept link's secret and the recipient's key are kept only as SHA-256 hashes.
-- On accept the ticket's row takes a new code (so a new rotating-code secret) and
-- the transfer that made it; the old code lives on here, refused at the gate.
CREATE TABLE ticket_transfers (
  transfer_id TEXT PRIMARY KEY,
  drop_id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  from_code TEXT NOT NULL,
  to_code TEXT,
  accept_hash TEXT NOT NULL,
  holder_hash TEXT,
  state TEXT NOT NULL CHECK (state IN ('pending', 'cancelled', 'accepted')),
  created_at TEXT NOT NULL,
  cancelled_at TEXT,
  accepted_at TEXT
);

-- At most one open transfer per ticket: a second one while the first waits is refused by the index itself.
CREATE UNIQUE INDEX ticket_transfers_one_pending ON ticket_transfers (from_code) WHERE state = 'pending';
CREATE INDEX ticket_transfers_by_order ON ticket_transfers (order_id, created_at);
-- The gate's lookups: an old code's accepted transfer, and a drop's transferred codes for the device list.
CREATE INDEX ticket_transfers_accepted ON ticket_transfers (drop_id, from_code) WHERE state = 'accepted';

-- The accepted transfer whose recipient holds the ticket now (NULL: the buyer does).
ALTER TABLE tickets ADD COLUMN transfer_id TEXT;

-- The promoter's transfer rules per drop: on or off, and an optional deadline. No row: on, no deadline.
CREATE TABLE drop_transfer_rules (
  drop_id TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL DEFAULT 1,
  deadline TEXT,
  updated_at TEXT NOT NULL
);

-- The activity log also names a fan's own acts on a drop (a transfer made, cancelled,
-- accepted): SQLite cannot widen a CHECK in place, so the table is made again.
CREATE TABLE activity_new (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  promoter_id TEXT,
  actor TEXT NOT NULL CHECK (actor IN ('operator', 'key', 'fan')),
  key_id TEXT,
  key_label TEXT,
  action TEXT NOT NULL,
  drop_id TEXT,
  detail TEXT NOT NULL,
  at TEXT NOT NULL
);
INSERT INTO activity_new (seq, promoter_id, actor, key_id, key_label, action, drop_id, detail, at)
  SELECT seq, promoter_id, actor, key_id, key_label, action, drop_id, detail, at FROM activity;
DROP TABLE activity;
ALTER TABLE activity_new RENAME TO activity;
CREATE INDEX activity_by_promoter ON activity (promoter_id, seq DESC);
