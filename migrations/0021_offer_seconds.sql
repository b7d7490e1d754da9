-- After a sell-out, a returned ticket is offered to the next fan in line as an admission whose turn lasts this
-- long (src/waiting-room/batch-admission.ts): long enough to come back to from an email. Drops made before it
-- keep the default.
ALTER TABLE drops ADD COLUMN offer_seconds INTEGER NOT NULL DEFAULT 1800;
