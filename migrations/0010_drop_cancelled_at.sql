-- A drop's cancel is part of its settings (its state machine's end state), kept on its row
-- so every reader of a drop sees it; drop_cancellations keeps the cancel's refund paging.
ALTER TABLE drops ADD COLUMN cancelled_at TEXT;
UPDATE drops SET cancelled_at = (SELECT cancelled_at FROM drop_cancellations c WHERE c.drop_id = drops.id);
