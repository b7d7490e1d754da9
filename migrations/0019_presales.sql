-- Presale windows and their access: the windows a drop was made with (JSON, one
-- row for a drop that has any, none for a drop without), each drop's code key (codes and listed fan ids are kept
-- only as HMAC-SHA256 under it), the promoter's code groups, the codes and listed
-- fans by hash, and the fans that used a shared code (its cap counts these).
CREATE TABLE drop_presales (
  drop_id TEXT PRIMARY KEY,
  presales TEXT NOT NULL
);

CREATE TABLE drop_code_keys (
  drop_id TEXT PRIMARY KEY,
  code_key TEXT NOT NULL
);

CREATE TABLE code_groups (
  id TEXT PRIMARY KEY,
  drop_id TEXT NOT NULL,
  window_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('unique', 'shared', 'list')),
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  cap INTEGER,
  issued_by TEXT NOT NULL CHECK (issued_by IN ('promoter', 'engine')),
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

CREATE INDEX code_groups_by_drop ON code_groups (drop_id, created_at, id);

-- One row per unique code, shared code or listed fan. A unique code's fan_id is the
-- first fan that used it; a listed fan's used_at is their first join.
CREATE TABLE access_codes (
  drop_id TEXT NOT NULL,
  hash TEXT NOT NULL,
  group_id TEXT NOT NULL,
  fan_id TEXT,
  used_at TEXT,
  PRIMARY KEY (drop_id, hash, group_id)
);

CREATE INDEX access_codes_by_group ON access_codes (group_id, used_at);

CREATE TABLE code_uses (
  group_id TEXT NOT NULL,
  fan_id TEXT NOT NULL,
  used_at TEXT NOT NULL,
  PRIMARY KEY (group_id, fan_id)
);
