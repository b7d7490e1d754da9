-- Webhooks: a promoter's endpoints and the outbox of their deliveries. A delivery row is
-- written in the same D1 batch as the change it reports (an order stored, ticketed,
-- refunded or failed; a drop cancelled, sold out or opened), one per endpoint that wants
-- the event, so a change is never reported without having happened, nor lost once it has.
-- The WEBHOOKS Queue then carries each delivery to its endpoint (src/after-sale/webhook-delivery.ts).
CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  promoter_id TEXT NOT NULL REFERENCES promoters (id),
  -- NULL: every drop of the promoter.
  drop_id TEXT,
  url TEXT NOT NULL,
  -- A JSON array of the event types it wants.
  events TEXT NOT NULL,
  -- The signing secret (whsec_…), answered once when the endpoint is made.
  secret TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused')),
  paused_reason TEXT,
  -- When its current run of failures began (NULL after any success): a day of failing pauses it.
  failing_since TEXT,
  -- When it became what `state` says (made, paused or resumed): the promoter page shows "paused since".
  state_since TEXT NOT NULL,
  -- Its latest failed attempt, kept after a success too, so the page can say what last went wrong and when.
  last_failure_at TEXT,
  last_failure TEXT,
  created_at TEXT NOT NULL
);

CREATE INDEX webhook_endpoints_by_promoter ON webhook_endpoints (promoter_id, created_at, id);

CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
  -- The event's own id, the same for every endpoint and every resend: receivers dedupe on it.
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  -- What orders the endpoint's deliveries: an order's id, or a drop's for drop events.
  order_key TEXT NOT NULL,
  -- The event body as sent (JSON), fixed when the change happened.
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER,
  last_error TEXT,
  created_at TEXT NOT NULL,
  -- When the dispatcher last put it on the Queue (NULL: not yet, or to be put on again).
  queued_at TEXT,
  -- Set while an attempt is on its way (cleared when its outcome is recorded): two copies of a message never send at once.
  claimed_at TEXT,
  first_attempt_at TEXT,
  last_attempt_at TEXT,
  delivered_at TEXT,
  UNIQUE (endpoint_id, event_id)
);

-- Outbox order is the rowid (never reused: rows are never deleted): a later delivery of the same
-- endpoint and order_key waits for the earlier ones.
CREATE INDEX webhook_deliveries_by_key ON webhook_deliveries (endpoint_id, order_key);
CREATE INDEX webhook_deliveries_to_queue ON webhook_deliveries (queued_at) WHERE status = 'pending';
