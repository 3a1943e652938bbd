-- Dealers as tenants (issue #16 item 3, docs/store.md "Dealers: one database, several dealers").
-- A dealer group keeps several dealers in one store. Every column named dealer_id is the owning
-- dealer of its row; the rows without one take their dealer from the row they belong to
-- (lead_events, campaign_leads, doss_outbox, sms_call_tasks through the lead; campaign_events
-- through the campaign; sms_parts through the message; qa_scores, recording_audit and
-- recording_erasures through the recording; call_handovers through the attempt's call;
-- lead_import_rejects through the import; sessions, TOTP, owner aliases through the user).
-- Dealer 1 is made here so a single dealer's store upgrades with nothing to do: every existing row
-- is dealer 1's, whose code is "main" (`[dealer] code`'s default); a node names its dealer on start.
--   code   a short lowercase name, unique in the group (shanghai-pudong), checked by the dealer feature.
--   name   what people read; the node of that dealer fills it from `[dealer] name`.
-- users.dealer_id NULL: a group-wide user (sees every dealer). The suppression list's entries
-- name the dealer whose people added them; a suppressed number stays undialled across the group.
-- lead_phones carries its lead's dealer so one number may be a lead of each dealer: its key is
-- (dealer_id, e164). KPI targets are set per dealer.
CREATE TABLE dealers (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

INSERT INTO dealers (id, code, name, created_at) VALUES (1, 'main', '', strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now'));

ALTER TABLE leads ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE lead_imports ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE campaigns ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE attempts ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE recordings ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE sms_messages ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE sms_inbound ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE sms_waves ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE promotions ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE phone_accounts ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE suppressions ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE listen_ins ADD COLUMN dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id);
ALTER TABLE users ADD COLUMN dealer_id INTEGER DEFAULT 1 REFERENCES dealers (id);

CREATE INDEX leads_dealer ON leads (dealer_id, state);
CREATE INDEX campaigns_dealer ON campaigns (dealer_id, status);
CREATE INDEX attempts_dealer ON attempts (dealer_id, created_at);
CREATE INDEX recordings_dealer ON recordings (dealer_id, started_at);

-- One number, one lead per dealer. The rowid (the order numbers were added in) is kept.
CREATE TABLE lead_phones_new (
    e164      TEXT NOT NULL,
    lead_id   INTEGER NOT NULL REFERENCES leads (id),
    kind      TEXT NOT NULL CHECK (kind IN ('mobile', 'landline')),
    dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id),
    PRIMARY KEY (dealer_id, e164)
);
INSERT INTO lead_phones_new (rowid, e164, lead_id, kind, dealer_id)
SELECT p.rowid, p.e164, p.lead_id, p.kind, l.dealer_id FROM lead_phones p JOIN leads l ON l.id = p.lead_id ORDER BY p.rowid;
DROP TABLE lead_phones;
ALTER TABLE lead_phones_new RENAME TO lead_phones;
CREATE INDEX lead_phones_lead ON lead_phones (lead_id);
CREATE INDEX lead_phones_e164 ON lead_phones (e164);

CREATE TABLE kpi_targets_new (
    month     TEXT NOT NULL CHECK (length(month) = 7),
    kpi       TEXT NOT NULL CHECK (kpi IN ('follow_up_rate', 'invite_to_store_rate', 'deals', 'contacts_captured')),
    target    REAL NOT NULL CHECK (target > 0),
    set_by    TEXT NOT NULL,
    set_at    TEXT NOT NULL,
    dealer_id INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id),
    PRIMARY KEY (dealer_id, month, kpi)
);
INSERT INTO kpi_targets_new (month, kpi, target, set_by, set_at, dealer_id)
SELECT month, kpi, target, set_by, set_at, 1 FROM kpi_targets;
DROP TABLE kpi_targets;
ALTER TABLE kpi_targets_new RENAME TO kpi_targets;
