-- PostgreSQL twin of migrations/0100_one_identity.sql (read it for why): users.mobile, a unique
-- agent identity, owner_aliases, and leads filed under an agent's login moved to their identity.
ALTER TABLE users ADD COLUMN mobile TEXT;
CREATE UNIQUE INDEX users_agent ON users (agent) WHERE agent IS NOT NULL;

CREATE TABLE owner_aliases (
    alias       TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);

-- The event carries the server's UTC time in the store's fixed-width form (as SQLite's strftime
-- writes it: milliseconds, then three zeros).
INSERT INTO lead_events (lead_id, kind, at, actor, data)
SELECT l.id, 'owner_renamed', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"000Z"'), 'dialer',
       jsonb_build_object('from', l.owner, 'to', u.agent, 'reason', 'login')
FROM leads l JOIN users u ON u.name = l.owner
WHERE u.role = 'agent' AND u.agent IS NOT NULL AND u.agent != u.name
  AND NOT EXISTS (SELECT 1 FROM users v WHERE v.agent = l.owner);

UPDATE leads SET owner = (SELECT u.agent FROM users u WHERE u.name = leads.owner)
WHERE owner IN (SELECT u.name FROM users u WHERE u.role = 'agent' AND u.agent IS NOT NULL AND u.agent != u.name)
  AND NOT EXISTS (SELECT 1 FROM users v WHERE v.agent = leads.owner);
