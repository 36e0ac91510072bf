-- 0007: server secrets (the key that signs paging cursors, ...): random bytes made on first use
-- and stored, so restarts and every process on the database share them. Never derived from a path.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at TEXT NOT NULL
);
