-- PostgreSQL twin of migrations/0086_doss_outbox_sms_reply.sql: kind 'sms_reply'; the CHECK is altered in place.
ALTER TABLE doss_outbox DROP CONSTRAINT doss_outbox_kind;
ALTER TABLE doss_outbox ADD CONSTRAINT doss_outbox_kind
    CHECK (kind IN ('disposition', 'milestone', 'transfer', 'reactivation', 'sms_reply'));
