-- Promoters as tenants (issue 17). The operator (ADMIN_TOKEN) creates
-- promoters; each has API keys with a role, and every change a key or the
-- operator makes is in the activity log. Keys are kept only as the SHA-256 of
-- the whole key: they carry 256 random bits, so a fast hash is enough (no
-- dictionary to guess from), and the key itself is never stored.
CREATE TABLE promoters (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  -- Limits the operator sets; NULL: none beyond the deployment's.
  joins_per_minute INTEGER CHECK (joins_per_minute BETWEEN 1 AND 10000000),
  admin_per_minute INTEGER CHECK (admin_per_minute BETWEEN 1 AND 100000),
  open_drops INTEGER CHECK (open_drops BETWEEN 0 AND 100000),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE INDEX promoters_by_created ON promoters (created_at DESC, id DESC);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  promoter_id TEXT NOT NULL REFERENCES promoters (id),
  label TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'staff', 'gate')),
  key_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

CREATE INDEX api_keys_by_promoter ON api_keys (promoter_id, created_at, id);

-- Drops made by the operator, or before this migration, have no promoter: only the operator sees them.
ALTER TABLE drops ADD COLUMN promoter_id TEXT REFERENCES promoters (id);

-- The promoter's drop list walks its own drops newest first; the open-drops limit counts them.
CREATE INDEX drops_by_promoter ON drops (promoter_id, created_at DESC, id DESC);

-- Every change made through the admin API, by whom (a key's id and label, or the operator).
CREATE TABLE activity (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  promoter_id TEXT,
  actor TEXT NOT NULL CHECK (actor IN ('operator', 'key')),
  key_id TEXT,
  key_label TEXT,
  action TEXT NOT NULL,
  drop_id TEXT,
  detail TEXT NOT NULL,
  at TEXT NOT NULL
);

CREATE INDEX activity_by_promoter ON activity (promoter_id, seq DESC);
