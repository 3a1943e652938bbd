-- Console users and their sessions (dialer/auth/, dialer/web/, docs/web.md).
--
-- users          one login per person. role is dialer.access.policy.Role; agent is the identity the
--                person's calls, recordings and owned leads are filed under (agents only).
--   password_hash  scrypt, self-describing (dialer/auth/passwords.py); never the password.
--   disabled_at    set: the login is refused and existing sessions end; the row stays for the history.
-- web_sessions   one row per logged-in browser. The cookie holds a random token; only its SHA-256 is
--                stored, so a copy of the database does not hand out live sessions.
--   csrf          the synchronizer token every state-changing request of this session must carry.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    role           TEXT    NOT NULL CHECK (role IN ('agent', 'supervisor', 'qa', 'sales_manager', 'admin')),
    agent          TEXT,
    password_hash  TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    disabled_at    TEXT
);

CREATE TABLE web_sessions (
    token_hash    TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    csrf          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    last_seen_at  TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL
);

CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
