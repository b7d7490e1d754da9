-- The Stripe webhook finds the order an event names by its payment id
-- (src/refunds.ts recordProviderRefund): an index, so an event never scans every order.
CREATE INDEX orders_by_payment ON orders (payment_id);

-- A refund made at Stripe before its sale reached D1 names a payment no order has yet: the event is
-- kept marked, and the sales consumer applies it when the order arrives (src/refunds.ts).
ALTER TABLE payment_events ADD COLUMN unmatched_refund INTEGER NOT NULL DEFAULT 0;
CREATE INDEX payment_events_unmatched_refunds ON payment_events (payment_id) WHERE unmatched_refund = 1;
