-- PostgreSQL twin of migrations/0191_dealer_copy_ids.sql (read it for the columns' meaning).
CREATE TABLE dealer_copy_ids (
    dealer     TEXT   NOT NULL,
    tbl        TEXT   NOT NULL,
    source_id  BIGINT NOT NULL,
    target_id  BIGINT NOT NULL,
    PRIMARY KEY (dealer, tbl, source_id)
);

CREATE UNIQUE INDEX dealer_copy_ids_target ON dealer_copy_ids (tbl, target_id);
