-- PIPL rights (#19): erasure and retention.
--
-- erasures              one row per erased person: when, who, what was anonymized, and the
--                       number only as a slow salted digest (dialer/domain/privacy/erasure.py).
-- recording_erasures    recordings of an erased person still inside their evidence period:
--                       the retention run deletes each once due_at has passed.
-- lead_events           stays append-only, with one exception: an erasure or the retention run may
--                       strip what a person said or is (the keys below) from an event's data,
--                       and nothing else (dialer/store/privacy.py lists the same keys).
-- attempts              rebuilt the documented way (create new, copy, drop, rename; foreign keys
--                       are off while migrating) with the same columns and indexes as 0001/0002/0030,
--                       and one constraint widened: a finished outbound attempt may lose its number
--                       (erased); one being dialled still must have it.
CREATE TABLE erasures (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    salt          TEXT NOT NULL CHECK (length(salt) = 32),
    number_digest TEXT NOT NULL CHECK (length(number_digest) = 64),
    counts        TEXT NOT NULL CHECK (json_valid(counts))
);

CREATE TABLE recording_erasures (
    recording_id INTEGER PRIMARY KEY REFERENCES recordings (id),
    erasure_id   INTEGER NOT NULL REFERENCES erasures (id),
    due_at       TEXT NOT NULL
);
CREATE INDEX recording_erasures_due ON recording_erasures (due_at);

DROP TRIGGER lead_events_no_update;
CREATE TRIGGER lead_events_no_update BEFORE UPDATE ON lead_events
WHEN NOT (NEW.id = OLD.id AND NEW.lead_id = OLD.lead_id AND NEW.kind = OLD.kind AND NEW.at = OLD.at
          AND NEW.actor = OLD.actor
          AND NEW.data = json_remove(OLD.data, '$.reason', '$.text', '$.note', '$.name', '$.phones_added',
                                     '$.defeat_reason', '$.reply'))
BEGIN
    SELECT RAISE(ABORT, 'lead_events is append-only');
END;

CREATE TABLE attempts_new (
    id           INTEGER PRIMARY KEY,
    call_id      TEXT    NOT NULL UNIQUE,          -- the Originate ChannelId; every event's Linkedid
    direction    TEXT    NOT NULL
        CONSTRAINT attempts_direction CHECK (direction IN ('outbound', 'inbound')),
    number       TEXT                              -- E.164; NULL for a withheld inbound caller or once erased
        CONSTRAINT attempts_number_e164 CHECK (
            number IS NULL
            OR (number GLOB '+[1-9]*' AND length(number) BETWEEN 8 AND 16
                AND substr(number, 2) NOT GLOB '*[^0-9]*')
        ),
    lead_id      INTEGER,
    campaign_id  INTEGER,
    agent        TEXT,                             -- agent endpoint that took the call
    state        TEXT    NOT NULL,
    outcome      TEXT,                             -- NULL while the call is in flight
    hangup_cause INTEGER,                          -- Q.850 cause from Asterisk
    dial_status  TEXT,                             -- Dial()'s DIALSTATUS towards the customer
    detail       TEXT,                             -- free text: why this outcome
    created_at   TEXT    NOT NULL,
    started_at   TEXT,                             -- Originate sent
    answered_at  TEXT,
    connected_at TEXT,                             -- bridged to an agent
    ended_at     TEXT,
    recording    TEXT,                             -- path of the recording file
    CONSTRAINT attempts_outbound_number CHECK (direction = 'inbound' OR number IS NOT NULL OR outcome IS NOT NULL),
    CONSTRAINT attempts_ended_with_outcome CHECK ((outcome IS NULL) = (ended_at IS NULL))
);

-- SELECT *: a column another migration added first makes this copy fail loudly, never drops it.
INSERT INTO attempts_new SELECT * FROM attempts;

DROP TABLE attempts;

ALTER TABLE attempts_new RENAME TO attempts;

CREATE INDEX attempts_in_flight ON attempts (created_at) WHERE outcome IS NULL;
CREATE INDEX attempts_by_number ON attempts (number, created_at);
CREATE INDEX attempts_by_lead ON attempts (lead_id, created_at) WHERE lead_id IS NOT NULL;
CREATE INDEX attempts_by_created ON attempts (created_at);
CREATE INDEX attempts_in_flight_by_lead ON attempts (lead_id) WHERE outcome IS NULL AND lead_id IS NOT NULL;
