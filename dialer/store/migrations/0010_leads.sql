-- Leads (dialer/leads/model.py is the vocabulary, dialer/store/leads.py the only writer).
--
-- leads         one row per lead; due_at/due_kind are computed by dialer.leads.deadlines
--               whenever a lead changes, so "what is due" is an index range scan.
-- lead_phones   every normalized number (E.164) of every lead. The primary key is the
--               duplicate rule made hard: a number belongs to at most one lead.
-- lead_events   the lead's full history, append-only (triggers refuse UPDATE and DELETE).
--               Other packages append their own kinds (DOSS state changes, call attempts
--               link by lead_id and put attempt_id in data).
-- lead_imports  one row per import run that changed something (or first saw a file),
--               with its rejected rows, for the report and the monthly clean-up.
-- Times are the store's UTC text (dialer/store/timestamps.py); dates are YYYY-MM-DD.

CREATE TABLE lead_imports (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    source      TEXT,
    rows_total  INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    merged      INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    conflicts   INTEGER NOT NULL
);
CREATE INDEX lead_imports_sha ON lead_imports (file_sha256);
CREATE INDEX lead_imports_at ON lead_imports (at);

CREATE TABLE lead_import_rejects (
    import_id INTEGER NOT NULL REFERENCES lead_imports (id),
    row       INTEGER NOT NULL,
    field     TEXT NOT NULL,   -- the header as the file wrote it
    col       TEXT NOT NULL,   -- the template column (dialer.leads.template.Column)
    value     TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX lead_import_rejects_import ON lead_import_rejects (import_id);

CREATE TABLE leads (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('hq', 'web', 'low_intent', 'defeated', 'base_customer', 'referral', 'inbound')),
    state             TEXT NOT NULL CHECK (state IN ('new', 'following', 'invited', 'visited', 'deal', 'defeated', 'reactivated', 'invalid')),
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    model             TEXT,
    intent            TEXT CHECK (intent IN ('H', 'A', 'B', 'C')),
    current_car       TEXT,
    purchase_date     TEXT,
    owner             TEXT,
    owned_at          TEXT,
    consent           INTEGER CHECK (consent IN (0, 1)),
    opt_out_at        TEXT,
    issued_at         TEXT,
    handed_over_at    TEXT,
    first_contact_at  TEXT,
    last_contact_at   TEXT,
    callback_at       TEXT,
    visit_at          TEXT,
    visit_reminded_at TEXT,
    defeat_reason     TEXT,
    note              TEXT,
    due_at            TEXT,
    due_kind          TEXT CHECK (due_kind IN ('first_follow_up', 'callback', 'visit_reminder', 'cadence')),
    CHECK ((due_at IS NULL) = (due_kind IS NULL)),
    CHECK ((owner IS NULL) = (owned_at IS NULL))
);
CREATE INDEX leads_due ON leads (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX leads_owner ON leads (owner);
CREATE INDEX leads_state ON leads (state);
CREATE INDEX leads_created ON leads (created_at);
CREATE INDEX leads_name_model ON leads (name, model);

CREATE TABLE lead_phones (
    e164     TEXT PRIMARY KEY,
    lead_id  INTEGER NOT NULL REFERENCES leads (id),
    kind     TEXT NOT NULL CHECK (kind IN ('mobile', 'landline'))
);
CREATE INDEX lead_phones_lead ON lead_phones (lead_id);

CREATE TABLE lead_events (
    id       INTEGER PRIMARY KEY,
    lead_id  INTEGER NOT NULL REFERENCES leads (id),
    kind     TEXT NOT NULL,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    data     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data))
);
CREATE INDEX lead_events_lead ON lead_events (lead_id, id);
CREATE INDEX lead_events_kind_at ON lead_events (kind, at);

CREATE TRIGGER lead_events_no_update BEFORE UPDATE ON lead_events
BEGIN
    SELECT RAISE(ABORT, 'lead_events is append-only');
END;

CREATE TRIGGER lead_events_no_delete BEFORE DELETE ON lead_events
BEGIN
    SELECT RAISE(ABORT, 'lead_events is append-only');
END;
