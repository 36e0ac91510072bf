-- 0003: durable tasks (contract §9). Workers claim with a lease; an expired lease means the
-- worker died and the task can be claimed again. Times are ISO 8601 UTC text of fixed width
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ), so they compare correctly as strings.
CREATE TABLE tasks (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order (keyset paging)
    id               TEXT NOT NULL UNIQUE,
    tenant           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    params           TEXT NOT NULL,                       -- JSON object
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress         REAL NOT NULL DEFAULT 0,
    message          TEXT,
    result           TEXT,                                -- JSON
    error            TEXT,                                -- JSON {code, message, ...}
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    run_after        TEXT,                                -- not claimable before (retry back-off)
    lease_owner      TEXT,
    lease_expires_at TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    trace_id         TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT
);
-- Claiming: the oldest queued task, or a running one whose lease expired.
CREATE INDEX tasks_claim_queued ON tasks (seq) WHERE status = 'queued';
CREATE INDEX tasks_claim_expired ON tasks (lease_expires_at) WHERE status = 'running';
-- Listing a tenant's tasks, newest first, optionally by status.
CREATE INDEX tasks_tenant_seq ON tasks (tenant, seq);
CREATE INDEX tasks_tenant_status_seq ON tasks (tenant, status, seq);
-- Pruning finished history.
CREATE INDEX tasks_finished_at ON tasks (finished_at) WHERE finished_at IS NOT NULL;
