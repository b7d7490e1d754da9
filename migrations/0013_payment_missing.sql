-- When the post-sale follow-up found an order's payment not taken at its provider: from then on its tickets admit
-- nobody at the gate and are given no token at the order's read (tickets are signed at the read, before the
-- follow-up has confirmed the payment).
ALTER TABLE orders ADD COLUMN payment_missing_at TEXT;
