-- The audit and the reconcile walk a drop's order ids shard by shard, in id
-- order, a page at a time, to set them against each shard's own.
CREATE INDEX orders_by_shard ON orders (drop_id, shard, order_id);
