-- One identity per person (#13 item 1, docs/leads.md "Owners: one identity per person").
--
-- A person's work (the leads they own, their calls, dispositions, KPIs, SMS notices) is filed under one
-- string: their login's agent identity (users.agent; for agents the phone endpoint, default the login).
--
-- users.agent     now unique: two logins sharing an identity would share each other's leads and calls.
-- users.mobile    the person's own mobile (E.164), where the visit notice for their customers goes;
--                 it replaces the [consultants] table of the SMS template file.
-- owner_aliases   the names lead files write in 负责人 (王丽) for a user; the sales manager keeps the list
--                 (dialer users alias, /manage/owners). An import files such a row under the user's identity
--                 and reports a name that is neither an agent's login, identity nor alias.
ALTER TABLE users ADD COLUMN mobile TEXT;
CREATE UNIQUE INDEX users_agent ON users (agent) WHERE agent IS NOT NULL;

CREATE TABLE owner_aliases (
    alias       TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);

-- Leads an import filed under an agent's login while their identity is another name (the login zhang,
-- the identity agent1) move to the identity; the history says so. A migration has no clock: the event
-- carries the database's UTC time, written in the store's fixed-width form.
INSERT INTO lead_events (lead_id, kind, at, actor, data)
SELECT l.id, 'owner_renamed', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), 'dialer',
       json_object('from', l.owner, 'to', u.agent, 'reason', 'login')
FROM leads l JOIN users u ON u.name = l.owner
WHERE u.role = 'agent' AND u.agent IS NOT NULL AND u.agent != u.name
  AND NOT EXISTS (SELECT 1 FROM users v WHERE v.agent = l.owner);

UPDATE leads SET owner = (SELECT u.agent FROM users u WHERE u.name = leads.owner)
WHERE owner IN (SELECT u.name FROM users u WHERE u.role = 'agent' AND u.agent IS NOT NULL AND u.agent != u.name)
  AND NOT EXISTS (SELECT 1 FROM users v WHERE v.agent = leads.owner);
