-- The activity log also names what the engine itself did on a drop's line after
-- its sell-out (the sell-out, each batch of fans offered returned tickets), as
-- actor 'engine' with no key: SQLite cannot widen a CHECK in place, so the table
-- is made again, every entry kept with its number. The index by drop serves the
-- guard that writes each such entry once whatever the pacer repeats.
CREATE TABLE activity_new (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  promoter_id TEXT,
  actor TEXT NOT NULL CHECK (actor IN ('operator', 'key', 'fan', 'engine')),
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
CREATE INDEX activity_by_drop ON activity (drop_id, action);
