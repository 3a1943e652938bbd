-- One suppression list (#19 finding 7): the numbers that get no call and no SMS, with why, from
-- where, when and who. It replaces the three lists that disagreed: dnc (calls only, CLI),
-- sms_opt_outs (SMS only) and leads.opt_out_at (a lead-wide mark from SMS replies and imports).
-- Every number of the three lands here, none is lost: a number on several lists keeps the
-- earliest entry, with the other lists' reasons appended. A lead's opt-out suppresses all of its
-- numbers (the person asked, whichever number they asked from).
--
-- e164 is E.164, or an SMS sender as the gateway wrote it when it was no number (short codes).
-- An entry taken off the list stays, stamped (lifted_*): one active entry per number at most.
CREATE TABLE suppressions (
    id          INTEGER PRIMARY KEY,
    e164        TEXT NOT NULL CHECK (length(e164) BETWEEN 1 AND 32),
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('sms_reply', 'call', 'inbound', 'import', 'console', 'cli')),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    lead_id     INTEGER REFERENCES leads (id),
    lifted_at   TEXT,
    lifted_by   TEXT,
    lift_reason TEXT,
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL) AND (lifted_at IS NULL) = (lift_reason IS NULL))
);
CREATE UNIQUE INDEX suppressions_active ON suppressions (e164) WHERE lifted_at IS NULL;
CREATE INDEX suppressions_at ON suppressions (at);

INSERT INTO suppressions (e164, reason, source, at, actor, lead_id)
SELECT d.e164, d.reason, 'cli', d.added_at, d.added_by, (SELECT p.lead_id FROM lead_phones p WHERE p.e164 = d.e164)
  FROM dnc d;

UPDATE suppressions SET reason = reason || ' / SMS ' || (SELECT o.text FROM sms_opt_outs o WHERE o.e164 = suppressions.e164),
                        at = min(at, (SELECT o.at FROM sms_opt_outs o WHERE o.e164 = suppressions.e164))
 WHERE e164 IN (SELECT e164 FROM sms_opt_outs);

INSERT INTO suppressions (e164, reason, source, at, actor, lead_id)
SELECT o.e164, 'SMS ' || o.text, 'sms_reply', o.at, 'sms', (SELECT p.lead_id FROM lead_phones p WHERE p.e164 = o.e164)
  FROM sms_opt_outs o
 WHERE NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.e164 = o.e164);

-- The lead's latest opt_out event says why and who (the SMS service writes actor 'sms').
CREATE TEMP TABLE lead_opt_outs AS
SELECT p.e164, l.id AS lead_id, l.opt_out_at AS at,
       coalesce((SELECT e.actor FROM lead_events e WHERE e.lead_id = l.id AND e.kind = 'opt_out' ORDER BY e.id DESC LIMIT 1), 'import') AS actor,
       coalesce((SELECT json_extract(e.data, '$.reason') FROM lead_events e WHERE e.lead_id = l.id AND e.kind = 'opt_out' ORDER BY e.id DESC LIMIT 1),
                'import') AS reason
  FROM leads l JOIN lead_phones p ON p.lead_id = l.id
 WHERE l.opt_out_at IS NOT NULL;

UPDATE suppressions SET reason = reason || ' / ' || (SELECT o.reason FROM lead_opt_outs o WHERE o.e164 = suppressions.e164),
                        at = min(at, (SELECT o.at FROM lead_opt_outs o WHERE o.e164 = suppressions.e164))
 WHERE e164 IN (SELECT e164 FROM lead_opt_outs);

INSERT INTO suppressions (e164, reason, source, at, actor, lead_id)
SELECT o.e164, o.reason, CASE WHEN o.actor = 'sms' THEN 'sms_reply' ELSE 'import' END, o.at, o.actor, o.lead_id
  FROM lead_opt_outs o
 WHERE NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.e164 = o.e164);

DROP TABLE lead_opt_outs;
DROP TABLE dnc;
DROP TABLE sms_opt_outs;
ALTER TABLE leads DROP COLUMN opt_out_at;
