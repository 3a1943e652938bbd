-- SMS (dialer/sms/, docs/sms.md). dialer/store/sms.py is the only code that reads or writes these tables.
--
-- sms_waves          one row per repurchase wave: the selection, the cadence parameters and the decision.
-- sms_messages       the SMS outbox: every message is written here BEFORE anything is sent.
--   status           queued -> sending -> sent -> delivered | failed; dead = given up (see last_error).
--   ambiguous        1 while a part's submit went out without an answer (link lost mid-submit):
--                    the message is held, never resent blindly, until a receipt reconciles it.
--   dedupe_key       makes a message idempotent per cause (e.g. the confirmation of one booked visit).
-- sms_parts          one row per SMS part; status sending is written and committed before submit_sm.
--   client_ref       16-bit reference sent as user_message_reference; receipts echo it.
-- sms_inbound        every message customers sent us, matched to a lead and our latest message or not.
-- sms_opt_outs       numbers that opted out without being a lead (honoured by every later SMS).
-- sms_call_tasks     the hand-off to calling: "call this lead, with this priority, from then on".
--                    The campaign hopper reads open rows (taken_at IS NULL) and marks them taken.
-- Times are the store's UTC text (dialer/store/timestamps.py).

CREATE TABLE sms_waves (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    template       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    selection      TEXT NOT NULL CHECK (json_valid(selection)),
    wait_hours     REAL NOT NULL CHECK (wait_hours >= 0),
    min_reply_rate REAL NOT NULL CHECK (min_reply_rate BETWEEN 0 AND 1),
    handoff        TEXT NOT NULL CHECK (handoff IN ('non_repliers', 'all', 'interested')),
    phase          TEXT NOT NULL CHECK (phase IN ('sending', 'waiting', 'handed_off', 'closed')),
    sent_at        TEXT,
    decide_at      TEXT,
    decided_at     TEXT,
    reply_rate     REAL
);

CREATE TABLE sms_messages (
    id          INTEGER PRIMARY KEY,
    template    TEXT,                                -- NULL: free text typed by a person
    promotional INTEGER NOT NULL CHECK (promotional IN (0, 1)),
    lead_id     INTEGER REFERENCES leads (id),
    wave_id     INTEGER REFERENCES sms_waves (id),
    to_e164     TEXT NOT NULL,
    body        TEXT NOT NULL,
    coding      INTEGER NOT NULL,
    parts       INTEGER NOT NULL CHECK (parts >= 1),
    status      TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'dead')),
    ambiguous   INTEGER NOT NULL DEFAULT 0 CHECK (ambiguous IN (0, 1)),
    dedupe_key  TEXT UNIQUE,
    actor       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    not_before  TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  TEXT,
    sent_at     TEXT,
    delivered_at TEXT
);
CREATE INDEX sms_messages_ready ON sms_messages (not_before) WHERE status = 'queued';
CREATE INDEX sms_messages_to ON sms_messages (to_e164, created_at);
CREATE INDEX sms_messages_lead ON sms_messages (lead_id, created_at);
CREATE INDEX sms_messages_wave ON sms_messages (wave_id);
CREATE INDEX sms_messages_status ON sms_messages (status);

CREATE TABLE sms_parts (
    message_id    INTEGER NOT NULL REFERENCES sms_messages (id),
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    client_ref    INTEGER NOT NULL CHECK (client_ref BETWEEN 0 AND 65535),
    status        TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed')),
    smsc_id       TEXT,
    submitted_at  TEXT,
    receipt_at    TEXT,
    receipt_state TEXT,
    PRIMARY KEY (message_id, seq)
);
CREATE UNIQUE INDEX sms_parts_smsc ON sms_parts (smsc_id) WHERE smsc_id IS NOT NULL;
CREATE INDEX sms_parts_sending ON sms_parts (client_ref) WHERE status = 'sending';

CREATE TABLE sms_inbound (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    sender   TEXT NOT NULL,            -- E.164 when the number parsed, else as the gateway wrote it
    text     TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('opt_out', 'interested', 'other')),
    lead_id  INTEGER REFERENCES leads (id),
    reply_to INTEGER REFERENCES sms_messages (id)
);
CREATE INDEX sms_inbound_lead ON sms_inbound (lead_id, at);
CREATE INDEX sms_inbound_reply_to ON sms_inbound (reply_to);
CREATE INDEX sms_inbound_unmatched ON sms_inbound (at) WHERE lead_id IS NULL;

CREATE TABLE sms_opt_outs (
    e164 TEXT PRIMARY KEY,
    at   TEXT NOT NULL,
    text TEXT NOT NULL
);

CREATE TABLE sms_call_tasks (
    id         INTEGER PRIMARY KEY,
    lead_id    INTEGER NOT NULL REFERENCES leads (id),
    priority   INTEGER NOT NULL,
    due_at     TEXT NOT NULL,
    reason     TEXT NOT NULL CHECK (reason IN ('sms_interested', 'cadence_handoff')),
    wave_id    INTEGER REFERENCES sms_waves (id),
    created_at TEXT NOT NULL,
    taken_at   TEXT,
    taken_by   TEXT
);
-- One open task per lead and reason: a customer who replies "1" twice is called once.
CREATE UNIQUE INDEX sms_call_tasks_open ON sms_call_tasks (lead_id, reason) WHERE taken_at IS NULL;
CREATE INDEX sms_call_tasks_queue ON sms_call_tasks (priority DESC, due_at) WHERE taken_at IS NULL;
