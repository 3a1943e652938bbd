-- PostgreSQL twin of migrations/0090_phone_accounts.sql (read it for the columns' meaning).
CREATE TABLE phone_accounts (
    endpoint    TEXT PRIMARY KEY,
    ha1         TEXT NOT NULL CHECK (length(ha1) = 32),
    created_at  TEXT NOT NULL,
    changed_at  TEXT
);
