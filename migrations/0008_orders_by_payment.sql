-- The Stripe webhook finds the order an event names by its payment id
-- (src/refunds.ts recordProviderRefund): an index, so an event never scans every order.
CREATE INDEX orders_by_payment ON orders (payment_id);
