-- The follow-up claims an order's receipt before sending it (src/after-sale/follow-up.ts):
-- a claim with no send recorded is never sent again on its own.
ALTER TABLE orders ADD COLUMN receipt_claimed_at TEXT;
