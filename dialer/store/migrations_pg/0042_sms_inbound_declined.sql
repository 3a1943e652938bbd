-- PostgreSQL twin of migrations/0042_sms_inbound_declined.sql: kind 'declined'; the CHECK is altered in place.
ALTER TABLE sms_inbound DROP CONSTRAINT sms_inbound_kind;
ALTER TABLE sms_inbound ADD CONSTRAINT sms_inbound_kind CHECK (kind IN ('opt_out', 'interested', 'declined', 'other'));
