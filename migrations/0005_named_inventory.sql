-- Named inventory (issue 14): ticket types, reserved seats and timeslots.
-- A drop's types without their seats (JSON); NULL for a drop made before types: one general type.
ALTER TABLE drops ADD COLUMN ticket_types TEXT;

-- Each order is of one type (NULL: the general admission spread over the shards), and of one slot at most.
ALTER TABLE orders ADD COLUMN ticket_type TEXT;
ALTER TABLE orders ADD COLUMN slot_id TEXT;

-- Each ticket names its type and, when seated, its seat. A seat is sold at most once per drop:
-- a second ticket for it cannot be stored (the consumer's batch fails and goes to the dead-letter queue).
ALTER TABLE tickets ADD COLUMN ticket_type TEXT;
ALTER TABLE tickets ADD COLUMN seat_id TEXT;
CREATE UNIQUE INDEX tickets_one_per_seat ON tickets (drop_id, seat_id) WHERE seat_id IS NOT NULL;

-- The seats of a drop's seated types, as the promoter gave them: a hold that names seats
-- without their section finds it here, and a seat id is unique in its drop.
CREATE TABLE seats (
  drop_id TEXT NOT NULL,
  seat_id TEXT NOT NULL,
  ticket_type TEXT NOT NULL,
  section TEXT NOT NULL,
  row_name TEXT NOT NULL,
  number INTEGER NOT NULL,
  PRIMARY KEY (drop_id, seat_id)
);
