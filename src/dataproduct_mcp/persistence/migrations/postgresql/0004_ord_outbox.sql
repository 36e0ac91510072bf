-- 0004: the ORD publication outbox (contract §8). One row per product revision; the idempotency
-- key (product id + revision) is what the registry sees, so a revision is delivered exactly once.
-- Rows are written in the same transaction as the publish-ord task that delivers them; a row whose
-- task finished without delivering it is adopted by a new task (nothing queued is lost).
CREATE TABLE ord_outbox (
    seq              BIGSERIAL PRIMARY KEY,
    tenant           TEXT NOT NULL,
    product_id       TEXT NOT NULL,
    revision         INTEGER NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'rejected')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    task_id          TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX ord_outbox_task ON ord_outbox (task_id, seq) WHERE status = 'pending';
CREATE INDEX ord_outbox_pending ON ord_outbox (tenant, seq) WHERE status = 'pending';
CREATE INDEX ord_outbox_product ON ord_outbox (tenant, product_id, revision);
