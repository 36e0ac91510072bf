-- 0005: the audit stream. Append-only: rows are inserted, never updated (a trigger refuses
-- UPDATE); rows older than the retention are deleted by scheduled maintenance.
CREATE TABLE audit_events (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    at              TIMESTAMPTZ NOT NULL,
    tenant          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    actor           TEXT,
    product_id      TEXT,
    ord_id          TEXT,
    before_revision INTEGER,
    after_revision  INTEGER,
    trace_id        TEXT,
    detail          TEXT NOT NULL
);
CREATE INDEX audit_by_tenant_time ON audit_events (tenant, at, seq);
CREATE INDEX audit_by_tenant_product ON audit_events (tenant, product_id, seq);
CREATE FUNCTION audit_events_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'raise_exception';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_update();
