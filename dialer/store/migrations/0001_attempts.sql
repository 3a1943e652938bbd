-- The durable record of every call attempt, inbound and outbound.
--
-- An outbound row is committed (state 'pending') BEFORE the Originate is sent, so a
-- crash can never leave a call the store does not know about; rows whose outcome is
-- still NULL after a restart are the ones reconciliation must settle.
-- state and outcome hold dialer.calls.outcome values; they are checked in Python, not
-- here, so adding an outcome to the vocabulary never needs a table rebuild.
-- Times are UTC text, 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (dialer.store.timestamps).
-- lead_id / campaign_id carry no foreign key: those tables come from later migrations.
CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY,
    call_id      TEXT    NOT NULL UNIQUE,          -- the Originate ChannelId; every event's Linkedid
    direction    TEXT    NOT NULL
        CONSTRAINT attempts_direction CHECK (direction IN ('outbound', 'inbound')),
    number       TEXT                              -- E.164; NULL only for a withheld inbound caller
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
    CONSTRAINT attempts_outbound_number CHECK (direction = 'inbound' OR number IS NOT NULL),
    CONSTRAINT attempts_ended_with_outcome CHECK ((outcome IS NULL) = (ended_at IS NULL))
);

-- Reconciliation and line counting look only at calls in flight: a partial index
-- stays as small as the number of live calls however long the history grows.
CREATE INDEX attempts_in_flight ON attempts (direction, created_at) WHERE outcome IS NULL;
CREATE INDEX attempts_by_number ON attempts (number, created_at);
CREATE INDEX attempts_by_lead ON attempts (lead_id, created_at) WHERE lead_id IS NOT NULL;
CREATE INDEX attempts_by_created ON attempts (created_at);
