-- Face-value resale: a holder (with the order token) lists a ticket; its unit goes back to the
-- shards' stock, and when a buyer's paid order needs that unit the oldest open listing is sold:
-- the seller's ticket is refunded (face value less the promoter's fee, through the refunds table,
-- so the provider is asked once under the refund's id and the cron finishes what a crash left).

-- The promoter's resale rules per drop: off until switched on; the fee in cents or in percent (one of them).
CREATE TABLE drop_resale_rules (
  drop_id TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL DEFAULT 0,
  fee_cents INTEGER NOT NULL DEFAULT 0 CHECK (fee_cents >= 0),
  fee_percent INTEGER NOT NULL DEFAULT 0 CHECK (fee_percent BETWEEN 0 AND 100),
  updated_at TEXT NOT NULL
);

-- open: on offer, its unit back in the stock (once restocked_at); sold: a buyer's order took the unit and the
-- seller's refund (refund_id) was written in the same batch; withdrawn: taken back by its holder; returned: unsold
-- when the drop closed, the ticket the seller's again; cancelled: the drop was cancelled, or the provider refunded
-- the seller's payment, while it was open (its unit stays in the stock, which sells nothing more or counts it freed).
CREATE TABLE resale_listings (
  listing_id TEXT PRIMARY KEY,
  drop_id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  code TEXT NOT NULL,
  shard INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'sold', 'withdrawn', 'returned', 'cancelled')),
  price_cents INTEGER NOT NULL,
  fee_cents INTEGER NOT NULL,
  currency TEXT NOT NULL,
  created_at TEXT NOT NULL,
  restocked_at TEXT,
  ended_at TEXT,
  buyer_order_id TEXT,
  refund_id TEXT
);

-- At most one open listing per ticket, by the index itself.
CREATE UNIQUE INDEX resale_listings_one_open ON resale_listings (code) WHERE state = 'open';
-- The oldest open listing of a drop first (FIFO), and a drop's listings for the audit.
CREATE INDEX resale_listings_by_drop ON resale_listings (drop_id, state, created_at, listing_id);
CREATE INDEX resale_listings_by_order ON resale_listings (order_id, created_at);
-- A sold listing's refund is the seller's, once: no two listings name one refund.
CREATE UNIQUE INDEX resale_listings_refund ON resale_listings (refund_id) WHERE refund_id IS NOT NULL;

-- The open listing of a ticket (NULL: none): the gate refuses it and no transfer takes it meanwhile.
ALTER TABLE tickets ADD COLUMN listing_id TEXT;
