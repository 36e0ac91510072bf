-- 0009: the reverse of input_ports, for downstream lineage ("which products name this one?").
-- One row per live product and input port, written with the product in its unit of work (like
-- product_tags; none once deleted). `ref` is the port as domain/lineage.py port_ref keys it: a
-- product id (a UUID) lower-cased, anything else (an ORD id) as written.
CREATE TABLE product_inputs (
    product_seq INTEGER NOT NULL REFERENCES products (seq) ON DELETE CASCADE,
    tenant      TEXT NOT NULL,
    ref         TEXT NOT NULL,
    PRIMARY KEY (tenant, ref, product_seq)
) WITHOUT ROWID;
CREATE INDEX product_inputs_by_product ON product_inputs (product_seq);
-- The ports of the products stored before this migration (the same keys as port_ref).
INSERT OR IGNORE INTO product_inputs (product_seq, tenant, ref)
SELECT p.seq, p.tenant,
       CASE WHEN trim(j.value) GLOB '[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]' THEN lower(trim(j.value)) ELSE trim(j.value) END
  FROM products p, json_each(p.body, '$.input_ports') j
 WHERE p.deleted_at IS NULL AND j.type = 'text';
