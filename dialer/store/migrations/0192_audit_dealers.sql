-- The audit log per dealer (issue #16, docs/audit.md "Dealers"). Every row names the dealer it
-- concerns: the acting person's, or for a group-wide person, the command line or the dialer itself
-- the dealer of the target where there is one; NULL is a group-level row (a failed login of an
-- unknown name, a backup of the whole store), which only group-wide people see.
--   dealer_id  the dealer whose people see the row.
--   encoding   how the row's hash was made: 1 = [id, at, actor, action, target, detail, prev_hash]
--              (every row written before this migration: their hashes stay as they were),
--              2 = the same array with dealer_id appended (every row written since), so a new row
--              whose dealer is changed, or whose encoding is set back to 1, no longer gives its hash.
-- The rows already written are given a dealer here, from what they name: the acting login's dealer,
-- else (a user's login or change made on the command line) the dealer of the user it concerns, else
-- dealer 1 when the store has no other dealer. Their hash never covered a dealer; the chain still
-- proves every other field of theirs.
ALTER TABLE audit_log ADD COLUMN dealer_id INTEGER REFERENCES dealers (id);
ALTER TABLE audit_log ADD COLUMN encoding INTEGER NOT NULL DEFAULT 1 CHECK (encoding IN (1, 2));

DROP TRIGGER audit_log_no_update;

UPDATE audit_log SET dealer_id = COALESCE(
    (SELECT MIN(u.dealer_id) FROM users u WHERE u.name = audit_log.actor OR 'web:' || u.name = audit_log.actor),
    (SELECT MIN(u.dealer_id) FROM users u
      WHERE u.name = audit_log.target AND (audit_log.action LIKE 'user.%' OR audit_log.action LIKE 'login%')),
    CASE WHEN (SELECT COUNT(*) FROM dealers) = 1 THEN (SELECT MIN(id) FROM dealers) END
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE INDEX audit_log_by_dealer ON audit_log (dealer_id, id);
