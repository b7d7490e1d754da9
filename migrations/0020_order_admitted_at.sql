-- When the buyer's turn began, as the purchase knew it from the fan's access: the queue figures' time from
-- admission to purchase is read from the orders written anyway (src/sales/queue-figures.ts). Null for orders
-- recorded before it was kept, and those are left out of that figure.
ALTER TABLE orders ADD COLUMN admitted_at TEXT;
