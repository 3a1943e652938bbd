-- An SMSC's message ids are unique only for a while (counters wrap, a restarted SMSC may reuse
-- them), so the index on sms_parts.smsc_id must not refuse a repeat: a receipt is matched to
-- the newest part with that id (dialer/store/sms.py apply_receipt).
DROP INDEX sms_parts_smsc;
CREATE INDEX sms_parts_smsc ON sms_parts (smsc_id) WHERE smsc_id IS NOT NULL;
