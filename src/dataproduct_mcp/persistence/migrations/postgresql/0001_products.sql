-- 0001: data products, their tags, and text search (pg_trgm: case-insensitive substrings, the
-- meaning of SQLite's trigram FTS). Times are timestamptz.
CREATE TABLE products (
    seq            BIGSERIAL PRIMARY KEY,          -- creation order (keyset paging)
    id             TEXT NOT NULL UNIQUE,
    tenant         TEXT NOT NULL,
    ord_id         TEXT NOT NULL,
    name           TEXT NOT NULL,
    owner          TEXT NOT NULL,
    status         TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    content_hash   TEXT NOT NULL,
    body           TEXT NOT NULL,                  -- the whole DataProduct as JSON
    search_text    TEXT,                           -- lower(name, title, descriptions, tags, keywords); NULL once deleted
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    deleted_at     TIMESTAMPTZ
);
-- One live product per tenant and ORD id (namespace + name + major version).
CREATE UNIQUE INDEX products_live_identity ON products (tenant, ord_id) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_seq ON products (tenant, seq) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_owner ON products (tenant, owner, seq) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_status ON products (tenant, status, seq) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_deleted ON products (tenant, deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE product_tags (
    product_seq BIGINT NOT NULL REFERENCES products (seq) ON DELETE CASCADE,
    tenant      TEXT NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (tenant, tag, product_seq)
);

-- The trigram index needs the pg_trgm extension. Where the role may not create it, searches
-- still work (a LIKE scan of the tenant's products) and the server logs a warning at start.
DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported OR object_not_in_prerequisite_state THEN
        RAISE WARNING 'pg_trgm is not available (%); product search will scan', SQLERRM;
    END;
    SELECT n.nspname INTO trgm_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format(
            'CREATE INDEX products_search_trgm ON products USING gin (search_text %I.gin_trgm_ops)'
            ' WHERE deleted_at IS NULL', trgm_schema);
    END IF;
END
$$;
