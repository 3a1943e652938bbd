-- A sales manager's transfer of a lead between employees, and a re-activation of a defeated
-- lead, are DOSS changes too: the import template carries the owner (负责人) and DOSS records
-- transfers between employees and re-activations. The
-- outbox's kind CHECK predates transfers; SQLite cannot alter a CHECK, so the table is
-- rebuilt the documented way (create new, copy, drop, rename; foreign keys are off while
-- migrating) with the same columns, constraints and indexes as 0020 plus kinds 'transfer' and 'reactivation'.
CREATE TABLE doss_outbox_new (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT    NOT NULL UNIQUE,
    lead_id         INTEGER NOT NULL REFERENCES leads (id),
    attempt_id      INTEGER,                      -- attempts.id of the call, NULL for showroom and manager events
    event_id        INTEGER NOT NULL REFERENCES lead_events (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('disposition', 'milestone', 'transfer', 'reactivation')),
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
