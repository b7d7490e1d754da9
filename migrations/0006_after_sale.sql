-- Issue 15: after the sale. Each order's Workflow moves its status
-- (paid -> ticketed -> receipt_sent; refunded; failed) and records why a step failed.
ALTER TABLE orders ADD COLUMN status TEXT NOT NULL DEFAULT 'paid';
ALTER TABLE orders ADD COLUMN status_detail TEXT;
ALTER TABLE orders ADD COLUMN status_at TEXT;
ALTER TABLE orders ADD COLUMN refunded_tickets INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN receipt_to TEXT;
ALTER TABLE orders ADD COLUMN receipt_sent_at TEXT;
-- Workflow runs started for the order: 0 until the sales consumer starts the first
-- (so a duplicate message starts none), one more per promoter retry.
ALTER TABLE orders ADD COLUMN workflow_runs INTEGER NOT NULL DEFAULT 0;
-- The cron finds orders whose Workflow never started (their message gave up after the D1 write).
CREATE INDEX orders_without_workflow ON orders (recorded_at) WHERE workflow_runs = 0;
CREATE INDEX orders_by_status ON orders (drop_id, status);

-- A ticket's signed token (issued by the Workflow), its one admission at the gate, and its refund.
ALTER TABLE tickets ADD COLUMN token TEXT;
ALTER TABLE tickets ADD COLUMN scanned_at TEXT;
ALTER TABLE tickets ADD COLUMN refund_id TEXT;

-- Refunds: written (pending) with the tickets they take back in one batch, then asked
-- of the provider under the refund id as its idempotency key, then marked refunded.
CREATE TABLE refunds (
  refund_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders (order_id),
  drop_id TEXT NOT NULL,
  shard INTEGER NOT NULL,
  tickets INTEGER NOT NULL CHECK (tickets >= 1),
  amount_cents INTEGER NOT NULL,
  currency TEXT NOT NULL,
  restock INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'pending',
  provider_refund_id TEXT,
  restocked_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX refunds_by_drop ON refunds (drop_id, created_at, refund_id);
CREATE INDEX refunds_by_order ON refunds (order_id);
CREATE INDEX refunds_by_state ON refunds (state, updated_at);

-- A cancelled drop: every order refunded, a page at a time.
CREATE TABLE drop_cancellations (
  drop_id TEXT PRIMARY KEY,
  cancelled_at TEXT NOT NULL
);

-- Stripe webhook events already acted on: a replayed event changes nothing.
CREATE TABLE payment_events (
  event_id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  payment_id TEXT,
  received_at TEXT NOT NULL
);

-- The dev receipt sender's mailbox (RECEIPT_SENDER = "dev"): GET /api/admin/dev/mail reads it.
CREATE TABLE dev_mail (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id TEXT NOT NULL,
  to_address TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX dev_mail_by_order ON dev_mail (order_id);
