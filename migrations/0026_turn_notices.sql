-- A fan waiting in a drop's line may leave an address to be told by email when
-- a returned ticket's turn comes to them (POST /api/drops/:id/notify): one row
-- per place in the line, a repeat replacing the address. The pacer's write
-- after a tick sends the notices of each batch offered returned tickets and
-- marks them sent (sent_at). `page` is the drop page's address as the fan's
-- request reached it, the link the mail gives (the engine knows no origin of
-- its own). The primary key serves the send's read of a batch's positions.
CREATE TABLE turn_notices (
  drop_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  fan_id TEXT NOT NULL,
  email TEXT NOT NULL,
  locale TEXT NOT NULL,
  page TEXT NOT NULL,
  created_at TEXT NOT NULL,
  sent_at TEXT,
  PRIMARY KEY (drop_id, position)
);
