-- A drop's joins spread over line objects (issue 11). Drops made before this had one waiting room and no lines: 1.
ALTER TABLE drops ADD COLUMN lines INTEGER NOT NULL DEFAULT 1 CHECK (lines BETWEEN 1 AND 256);
