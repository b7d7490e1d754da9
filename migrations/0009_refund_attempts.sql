-- Refunds finish by themselves: a refund left pending (its provider call failed) or
-- whose restock is due is tried again by the cron, no sooner than next_attempt_at,
-- which moves further out after each failed try (attempts). A refund the provider
-- failed later (Stripe's refund.failed) is 'failed', with why in detail; the promoter's
-- repeat of the refund asks the provider again under a new key (round).
ALTER TABLE refunds ADD COLUMN detail TEXT;
ALTER TABLE refunds ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN next_attempt_at TEXT;
UPDATE refunds SET next_attempt_at = updated_at WHERE state = 'pending' OR (restock = 1 AND restocked_at IS NULL);
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE state = 'pending' OR (restock = 1 AND restocked_at IS NULL);

-- A cancel goes round its drop's orders a page at a time from where the last call stopped,
-- so orders it cannot refund never fill every page.
ALTER TABLE drop_cancellations ADD COLUMN next_order_id TEXT;
