-- PostgreSQL twin of migrations/0170_pbx_leases.sql (read it for the columns' meaning).
CREATE TABLE pbx_leases (
    pbx         TEXT PRIMARY KEY CHECK (length(pbx) BETWEEN 1 AND 40),
    node        TEXT NOT NULL CHECK (length(node) BETWEEN 1 AND 200),
    acquired_at TEXT NOT NULL,
    renewed_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL CHECK (expires_at > renewed_at)
);

ALTER TABLE attempts ADD COLUMN pbx TEXT;
ALTER TABLE campaign_leads ADD COLUMN claimed_pbx TEXT;
