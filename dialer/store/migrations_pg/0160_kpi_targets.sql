-- PostgreSQL twin of migrations/0160_kpi_targets.sql (read it for the columns' meaning).
CREATE TABLE kpi_targets (
    month   TEXT NOT NULL CHECK (length(month) = 7),
    kpi     TEXT NOT NULL CHECK (kpi IN ('follow_up_rate', 'invite_to_store_rate', 'deals', 'contacts_captured')),
    target  DOUBLE PRECISION NOT NULL CHECK (target > 0),
    set_by  TEXT NOT NULL,
    set_at  TEXT NOT NULL,
    PRIMARY KEY (month, kpi)
);
