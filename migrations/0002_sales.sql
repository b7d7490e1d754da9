-- Sales written by the Queue consumer. order_id is the idempotency key: a
-- message delivered twice inserts nothing the second time.
CREATE TABLE orders (
  order_id TEXT PRIMARY KEY,
  drop_id TEXT NOT NULL,
  shard INTEGER NOT NULL,
  fan_id TEXT NOT NULL,
  hold_id TEXT NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity >= 1),
  unit_price_cents INTEGER NOT NULL,
  total_cents INTEGER NOT NULL,
  currency TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  recorded_at TEXT NOT NULL
);

-- The promoter's sales list and export walk a drop's orders in time order.
CREATE INDEX orders_by_drop ON orders (drop_id, created_at, order_id);

CREATE TABLE tickets (
  code TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders (order_id),
  drop_id TEXT NOT NULL,
  seq INTEGER NOT NULL
);

CREATE INDEX tickets_by_order ON tickets (order_id, seq);
CREATE INDEX tickets_by_drop ON tickets (drop_id);
