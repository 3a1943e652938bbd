-- DOSS changes and their delivery (dialer/doss/, docs/doss.md).
--
-- doss_outbox  one row per lead change DOSS must hear about, written in the SAME transaction
--              as the lead's new state and its lead_events rows (the transactional outbox).
--              The row is also the record the import spreadsheet is cut from, so it is never
--              deleted: delivery only moves status pending -> delivered | dead.
--   idempotency_key  sent as the Idempotency-Key header; the receiver drops a key it has seen,
--                    which makes the push's at-least-once delivery harmless.
--   payload          the DossChange as JSON (dialer.doss.mapping.DossChange.to_payload) plus
--                    the lead's details at the time of the change (name, phone, source, owner).
--   attempts         failed and successful delivery tries so far.
--   next_attempt_at  the earliest time the push worker may try (again); NULL once delivered/dead.
-- Times are the store's UTC text (dialer/store/timestamps.py).
CREATE TABLE doss_outbox (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT    NOT NULL UNIQUE,
    lead_id         INTEGER NOT NULL REFERENCES leads (id),
    attempt_id      INTEGER,                      -- attempts.id of the call, NULL for showroom events
    event_id        INTEGER NOT NULL REFERENCES lead_events (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('disposition', 'milestone')),
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

-- The push worker's question "what is due now" is a range scan over pending rows only.
CREATE INDEX doss_outbox_due ON doss_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX doss_outbox_dead ON doss_outbox (id) WHERE status = 'dead';
-- The export cuts by day.
CREATE INDEX doss_outbox_created ON doss_outbox (created_at);
CREATE INDEX doss_outbox_lead ON doss_outbox (lead_id, id);
