-- PostgreSQL twin of migrations/0041_sms_smsc_ids_may_repeat.sql.
DROP INDEX sms_parts_smsc;
CREATE INDEX sms_parts_smsc ON sms_parts (smsc_id) WHERE smsc_id IS NOT NULL;
