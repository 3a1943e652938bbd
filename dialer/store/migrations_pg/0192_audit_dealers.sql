-- PostgreSQL twin of migrations/0192_audit_dealers.sql (read it for the columns and the old rows' dealer).
ALTER TABLE audit_log ADD COLUMN dealer_id BIGINT REFERENCES dealers (id);
ALTER TABLE audit_log ADD COLUMN encoding INTEGER NOT NULL DEFAULT 1 CHECK (encoding IN (1, 2));

ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;

UPDATE audit_log SET dealer_id = COALESCE(
    (SELECT MIN(u.dealer_id) FROM users u WHERE u.name = audit_log.actor OR 'web:' || u.name = audit_log.actor),
    (SELECT MIN(u.dealer_id) FROM users u
      WHERE u.name = audit_log.target AND (audit_log.action LIKE 'user.%' OR audit_log.action LIKE 'login%')),
    CASE WHEN (SELECT COUNT(*) FROM dealers) = 1 THEN (SELECT MIN(id) FROM dealers) END
);

ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;

CREATE INDEX audit_log_by_dealer ON audit_log (dealer_id, id);
