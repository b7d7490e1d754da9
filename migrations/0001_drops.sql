-- Drops scheduled by promoters. Times are ISO 8601 UTC strings.
CREATE TABLE drops (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  capacity INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 10000000),
  max_per_fan INTEGER NOT NULL CHECK (max_per_fan BETWEEN 1 AND 20),
  opens_at TEXT NOT NULL,
  closes_at TEXT,
  price_cents INTEGER NOT NULL DEFAULT 0,
  currency TEXT NOT NULL DEFAULT 'USD',
  shards INTEGER NOT NULL CHECK (shards BETWEEN 1 AND 64),
  batch_size INTEGER NOT NULL,
  interval_ms INTEGER NOT NULL,
  active_multiple INTEGER NOT NULL,
  hold_seconds INTEGER NOT NULL,
  paused INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE INDEX drops_by_opens_at ON drops (opens_at DESC, id);
