-- 0007: server secrets (the key that signs paging cursors, ...): random bytes made on first use
-- and stored, so restarts and every replica on the database share them. Never derived from a DSN.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
