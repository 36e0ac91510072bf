-- 0007: server secrets (e.g. the key that signs page cursors): random bytes created on first use,
-- shared by every replica on this database.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
