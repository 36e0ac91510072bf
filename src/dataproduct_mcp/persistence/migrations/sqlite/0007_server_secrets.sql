-- 0007: server secrets (e.g. the key that signs page cursors): random bytes created on first use,
-- shared by every process on this database.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at TEXT NOT NULL
);
