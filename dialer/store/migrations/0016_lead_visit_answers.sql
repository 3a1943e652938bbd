-- A booked visit's follow-through (#13): the customer's confirmation by SMS (visit_confirmed_at; NULL:
-- not yet) and two more reasons to be due: visit_unconfirmed (reminded, no confirmation: call) and
-- no_show (the visit day ended without a visit: call the next morning). due_kind's CHECK predates
-- them and SQLite cannot alter a CHECK, so the table is rebuilt the documented way (create new,
-- copy, drop, rename; foreign keys are off while migrating) with the same columns, constraints and
-- indexes as 0010 plus the new column and kinds.
CREATE TABLE leads_new (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL,
    source             TEXT NOT NULL CHECK (source IN ('hq', 'web', 'low_intent', 'defeated', 'base_customer', 'referral', 'inbound')),
    state              TEXT NOT NULL CHECK (state IN ('new', 'following', 'invited', 'visited', 'deal', 'defeated', 'reactivated', 'invalid')),
    created_at         TEXT NOT NULL,
    created_by         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    model              TEXT,
    intent             TEXT CHECK (intent IN ('H', 'A', 'B', 'C')),
    current_car        TEXT,
    purchase_date      TEXT,
    owner              TEXT,
    owned_at           TEXT,
    consent            INTEGER CHECK (consent IN (0, 1)),
    opt_out_at         TEXT,
    issued_at          TEXT,
    handed_over_at     TEXT,
    first_contact_at   TEXT,
    last_contact_at    TEXT,
    callback_at        TEXT,
    visit_at           TEXT,
    visit_reminded_at  TEXT,
    visit_confirmed_at TEXT,
    defeat_reason      TEXT,
    note               TEXT,
    due_at             TEXT,
    due_kind           TEXT CHECK (due_kind IN ('first_follow_up', 'callback', 'visit_reminder', 'cadence',
                                                'visit_unconfirmed', 'no_show')),
    CHECK ((due_at IS NULL) = (due_kind IS NULL)),
    CHECK ((owner IS NULL) = (owned_at IS NULL))
);

INSERT INTO leads_new (id, name, source, state, created_at, created_by, updated_at, model, intent, current_car,
    purchase_date, owner, owned_at, consent, opt_out_at, issued_at, handed_over_at, first_contact_at, last_contact_at,
    callback_at, visit_at, visit_reminded_at, defeat_reason, note, due_at, due_kind)
SELECT id, name, source, state, created_at, created_by, updated_at, model, intent, current_car,
    purchase_date, owner, owned_at, consent, opt_out_at, issued_at, handed_over_at, first_contact_at, last_contact_at,
    callback_at, visit_at, visit_reminded_at, defeat_reason, note, due_at, due_kind FROM leads;

DROP TABLE leads;

ALTER TABLE leads_new RENAME TO leads;

CREATE INDEX leads_due ON leads (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX leads_owner ON leads (owner);
CREATE INDEX leads_state ON leads (state);
CREATE INDEX leads_created ON leads (created_at);
CREATE INDEX leads_name_model ON leads (name, model);
