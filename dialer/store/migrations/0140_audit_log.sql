-- The audit log (dialer/audit/, dialer/domain/audit/model.py, docs/audit.md).
--
-- Append-only: who (actor: a console login, cli:<os user> or system) did what (action, one of
-- AuditAction) to what (target), when (at, UTC), with particulars (detail: canonical JSON, never a
-- secret, phone numbers masked). hash is the SHA-256 over the row's canonical encoding and prev_hash,
-- the hash of the row before it (64 zeros for the first), so a deleted or edited row breaks the chain.
-- The triggers refuse changes and deletions to every client of this file; someone who edits the
-- file directly can drop them, and that is what the chain and the structured log's audit.appended
-- lines show.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE
);

CREATE INDEX audit_log_by_action ON audit_log (action, id);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);
CREATE INDEX audit_log_by_time ON audit_log (at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
