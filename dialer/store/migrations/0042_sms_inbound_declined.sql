-- A reply to a visit's confirmation or reminder that calls the visit off ("不需要") is kept as kind
-- 'declined' (it is not an opt-out). kind's CHECK predates it and SQLite cannot alter a CHECK, so the
-- table is rebuilt the documented way (create new, copy, drop, rename; foreign keys are off while
-- migrating) with the same columns, constraints and indexes as 0040 plus the kind.
CREATE TABLE sms_inbound_new (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    sender   TEXT NOT NULL,            -- E.164 when the number parsed, else as the gateway wrote it
    text     TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('opt_out', 'interested', 'declined', 'other')),
    lead_id  INTEGER REFERENCES leads (id),
    reply_to INTEGER REFERENCES sms_messages (id)
);

INSERT INTO sms_inbound_new SELECT id, at, sender, text, kind, lead_id, reply_to FROM sms_inbound;

DROP TABLE sms_inbound;

ALTER TABLE sms_inbound_new RENAME TO sms_inbound;

CREATE INDEX sms_inbound_lead ON sms_inbound (lead_id, at);
CREATE INDEX sms_inbound_reply_to ON sms_inbound (reply_to);
CREATE INDEX sms_inbound_unmatched ON sms_inbound (at) WHERE lead_id IS NULL;
