-- The buyer's language as the purchase named it, for the receipt (src/after-sale/receipts.ts). Null for orders
-- bought without one, and for every order recorded before it was kept: those are written to in English.
ALTER TABLE orders ADD COLUMN locale TEXT;
