-- The sales manager's monthly KPI targets (dialer/domain/kpi/targets.py, docs/kpi.md "Monthly targets").
--   month   YYYY-MM, the dealer's local month.
--   kpi     which KPI (follow_up_rate, invite_to_store_rate, deals, contacts_captured).
--   target  a percentage (0-100] for a rate, a whole count for the others.
--   set_by / set_at: who set the current value and when; every change is also in the audit log.
CREATE TABLE kpi_targets (
    month   TEXT NOT NULL CHECK (length(month) = 7),
    kpi     TEXT NOT NULL CHECK (kpi IN ('follow_up_rate', 'invite_to_store_rate', 'deals', 'contacts_captured')),
    target  REAL NOT NULL CHECK (target > 0),
    set_by  TEXT NOT NULL,
    set_at  TEXT NOT NULL,
    PRIMARY KEY (month, kpi)
);
