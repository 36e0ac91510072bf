-- 0009: the reverse of input_ports, for downstream lineage ("which products name this one?").
-- One row per live product and input port, written with the product in its unit of work (like
-- product_tags; none once deleted). `ref` is the port as domain/lineage.py port_ref keys it: a
-- product id (a UUID) lower-cased, anything else (an ORD id) as written.
CREATE TABLE product_inputs (
    product_seq BIGINT NOT NULL REFERENCES products (seq) ON DELETE CASCADE,
    tenant      TEXT NOT NULL,
    ref         TEXT NOT NULL,
    PRIMARY KEY (tenant, ref, product_seq)
);
CREATE INDEX product_inputs_by_product ON product_inputs (product_seq);
-- The ports of the products stored before this migration (the same keys as port_ref).
INSERT INTO product_inputs (product_seq, tenant, ref)
SELECT DISTINCT p.seq, p.tenant,
       CASE WHEN btrim(port) ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
            THEN lower(btrim(port)) ELSE btrim(port) END
  FROM products p, json_array_elements_text(p.body::json -> 'input_ports') AS port
 WHERE p.deleted_at IS NULL
ON CONFLICT DO NOTHING;
