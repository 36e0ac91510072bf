-- 0002: find a product's tags by product (re-indexing on update and delete was a full scan).
CREATE INDEX product_tags_by_product ON product_tags (product_seq);
