-- 0010: the ODCS data contract attached to a product (import_contract). One row per product: the
-- document as canonical JSON (at most 1 MiB of contract text, checked before it gets here) and its
-- sha256, which the product's `contract.sha256` names. Written in the product's unit of work.
CREATE TABLE product_contracts (
    product_seq BIGINT PRIMARY KEY REFERENCES products (seq) ON DELETE CASCADE,
    tenant      TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    document    TEXT NOT NULL,
    attached_at TIMESTAMPTZ NOT NULL
);
