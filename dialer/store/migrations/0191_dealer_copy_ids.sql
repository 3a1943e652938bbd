-- Moving a dealer's SQLite store into the group database (dialer store copy, dialer/store/dealer_copy.py,
-- docs/store.md "Moving a dealer in"): which row of this database each copied row of a dealer's store
-- became. Every row gets this database's id (other dealers' rows are here already) and every reference is
-- translated through this map; a second run copies only what is new or changed since, because the map
-- says what was copied. A batch's rows and their map rows are written in one transaction.
--   dealer     the dealer code given to the copy (--dealer)
--   tbl        the table, as named in both stores
--   source_id  the row's id in the dealer's store; target_id its id here
CREATE TABLE dealer_copy_ids (
    dealer     TEXT    NOT NULL,
    tbl        TEXT    NOT NULL,
    source_id  INTEGER NOT NULL,
    target_id  INTEGER NOT NULL,
    PRIMARY KEY (dealer, tbl, source_id)
);

CREATE UNIQUE INDEX dealer_copy_ids_target ON dealer_copy_ids (tbl, target_id);
