-- The cron's pass over cancelled drops goes round them: each drop it takes a page of
-- gets the next turn number, and the drops it took least recently (never first) come
-- first, so a drop with an order that cannot be refunded never keeps the others out.
ALTER TABLE drop_cancellations ADD COLUMN swept_turn INTEGER;
