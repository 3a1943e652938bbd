-- PostgreSQL twin of migrations/0085_doss_outbox_transfer.sql: kinds 'transfer' and 'reactivation';
-- the CHECK is altered in place.
ALTER TABLE doss_outbox DROP CONSTRAINT doss_outbox_kind;
ALTER TABLE doss_outbox ADD CONSTRAINT doss_outbox_kind
    CHECK (kind IN ('disposition', 'milestone', 'transfer', 'reactivation'));
