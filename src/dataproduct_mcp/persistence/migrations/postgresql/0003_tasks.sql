-- 0003: durable tasks (contract §9). Workers claim with a lease (SELECT ... FOR UPDATE SKIP
-- LOCKED, so replicas never take the same task); an expired lease means the worker died and the
-- task can be claimed again.
CREATE TABLE tasks (
    seq              BIGSERIAL PRIMARY KEY,               -- creation order (keyset paging)
    id               TEXT NOT NULL UNIQUE,
    tenant           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    params           TEXT NOT NULL,                       -- JSON object
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress         DOUBLE PRECISION NOT NULL DEFAULT 0,
    message          TEXT,
    result           TEXT,                                -- JSON
    error            TEXT,                                -- JSON {code, message, ...}
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    run_after        TIMESTAMPTZ,                         -- not claimable before (retry back-off)
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    trace_id         TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ
);
-- Claiming: the oldest queued task, or a running one whose lease expired.
CREATE INDEX tasks_claim_queued ON tasks (seq) WHERE status = 'queued';
CREATE INDEX tasks_claim_expired ON tasks (lease_expires_at) WHERE status = 'running';
-- Listing a tenant's tasks, newest first, optionally by status.
CREATE INDEX tasks_tenant_seq ON tasks (tenant, seq);
CREATE INDEX tasks_tenant_status_seq ON tasks (tenant, status, seq);
-- Pruning finished history.
CREATE INDEX tasks_finished_at ON tasks (finished_at) WHERE finished_at IS NOT NULL;
