-- Registrations for a registered sale window, and its draw. Each window's seed is
-- committed (its SHA-256 public) no later than its first registration and revealed
-- by the draw; the draw's result row is written once (its primary key refuses a
-- second draw's whole batch). A registration keeps the fan's email (the engine must
-- write to it), the hash of its verification code, and, between the draw and its
-- email only, an invited fan's code in the clear (then NULL: the code group keeps
-- its hash).
CREATE TABLE presale_draws (
  drop_id TEXT NOT NULL,
  window_id TEXT NOT NULL,
  seed TEXT NOT NULL,
  seed_commitment TEXT NOT NULL,
  committed_at TEXT NOT NULL,
  PRIMARY KEY (drop_id, window_id)
);

CREATE TABLE presale_draw_results (
  drop_id TEXT NOT NULL,
  window_id TEXT NOT NULL,
  drawn_at TEXT NOT NULL,
  registered INTEGER NOT NULL,
  invited INTEGER NOT NULL,
  group_id TEXT NOT NULL,
  PRIMARY KEY (drop_id, window_id)
);

CREATE TABLE registrations (
  id TEXT PRIMARY KEY,
  drop_id TEXT NOT NULL,
  window_id TEXT NOT NULL,
  email_key TEXT NOT NULL,
  email TEXT NOT NULL,
  locale TEXT NOT NULL,
  fan_id TEXT,
  code_hash TEXT NOT NULL,
  code_sent_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  verified_at TEXT,
  created_at TEXT NOT NULL,
  invited INTEGER,
  invite_code TEXT,
  told_at TEXT,
  UNIQUE (drop_id, window_id, email_key)
);

CREATE UNIQUE INDEX registrations_by_fan ON registrations (drop_id, window_id, fan_id) WHERE fan_id IS NOT NULL;
CREATE INDEX registrations_verified ON registrations (drop_id, window_id, verified_at, id);
CREATE INDEX registrations_to_tell ON registrations (drop_id, window_id, told_at) WHERE invited IS NOT NULL AND told_at IS NULL;
