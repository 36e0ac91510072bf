-- 0001: data products, their tags, and full-text search (trigram: case-insensitive substrings).
CREATE TABLE products (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    tenant         TEXT NOT NULL,
    ord_id         TEXT NOT NULL,
    name           TEXT NOT NULL,
    owner          TEXT NOT NULL,
    status         TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    content_hash   TEXT NOT NULL,
    body           TEXT NOT NULL,          -- the whole DataProduct as JSON
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    deleted_at     TEXT
);
-- One live product per tenant and ORD id (namespace + name + major version).
CREATE UNIQUE INDEX products_live_identity ON products (tenant, ord_id) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_seq ON products (tenant, seq) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_owner ON products (tenant, owner, seq) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_status ON products (tenant, status, seq) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_deleted ON products (tenant, deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE product_tags (
    product_seq INTEGER NOT NULL REFERENCES products (seq) ON DELETE CASCADE,
    tenant      TEXT NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (tenant, tag, product_seq)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE products_fts USING fts5 (text, tokenize = 'trigram');
