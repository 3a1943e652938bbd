-- A customer's SMS answer to a booked visit ("不需要": the visit is called off, the lead goes back to
-- follow-up) is a DOSS state change too, neither a call's disposition nor the showroom's milestone:
-- kind 'sms_reply'. The kind CHECK is rebuilt the way 0085 did it (create new, copy, drop, rename;
-- foreign keys are off while migrating), same columns, constraints and indexes.
CREATE TABLE doss_outbox_new (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT    NOT NULL UNIQUE,
    lead_id         INTEGER NOT NULL REFERENCES leads (id),
    attempt_id      INTEGER,                      -- attempts.id of the call, NULL for showroom and manager events
    event_id        INTEGER NOT NULL REFERENCES lead_events (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('disposition', 'milestone', 'transfer', 'reactivation', 'sms_reply')),
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    actor           TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT,
    last_error      TEXT,
    delivered_at    TEXT,
    CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
    CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);

INSERT INTO doss_outbox_new SELECT id, idempotency_key, lead_id, attempt_id, event_id, kind, payload, actor, created_at,
    status, attempts, next_attempt_at, last_error, delivered_at FROM doss_outbox;

DROP TABLE doss_outbox;

ALTER TABLE doss_outbox_new RENAME TO doss_outbox;

CREATE INDEX doss_outbox_due ON doss_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX doss_outbox_dead ON doss_outbox (id) WHERE status = 'dead';
CREATE INDEX doss_outbox_created ON doss_outbox (created_at);
CREATE INDEX doss_outbox_lead ON doss_outbox (lead_id, id);
