-- PostgreSQL twin of migrations/0016_lead_visit_answers.sql: the new column and due kinds.
-- PostgreSQL alters a CHECK in place, so no rebuild.
ALTER TABLE leads ADD COLUMN visit_confirmed_at TEXT;
ALTER TABLE leads DROP CONSTRAINT leads_due_kind;
ALTER TABLE leads ADD CONSTRAINT leads_due_kind CHECK (due_kind IN ('first_follow_up', 'callback', 'visit_reminder',
    'cadence', 'visit_unconfirmed', 'no_show'));
