-- When the buyer's turn began, as the purchase knew it from the fan's access: the queue figures' time from
-- admission to purchase is read from the orders written anyway (src/sales/queue-figures.ts). Null for orders
-- recorded before it was kept, and those are left out of that figure.
ALTER TABLE orders ADD COLUMN admitted_at TEXT;

-- The drop's IANA time zone: the fan page, the emails and the promoter page show its times in it.
-- Drops made before it show theirs in UTC, as they did.
ALTER TABLE drops ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
