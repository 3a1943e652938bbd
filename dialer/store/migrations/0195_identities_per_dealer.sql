-- Logins and agent identities per dealer (issue #16, docs/store.md "Dealers: one database, several dealers").
-- Every showroom has an admin and phones 8001-8008 on its own PBX, so a login, an agent identity (the
-- PJSIP endpoint an agent's phone registers with), a phone account, a presence and an owner alias are
-- unique within their dealer, no longer across the group:
--   users            login unique per dealer (users_dealer_name), a group-wide user's (dealer_id NULL)
--                    unique among group users (users_group_name); the users service also keeps a group
--                    user's login apart from every dealer user's, so a login at a node is never ambiguous.
--                    The agent identity likewise (users_agent per dealer, users_group_agent for the group).
--   phone_accounts   keyed (dealer_id, endpoint): each dealer's PBX numbers its own phones.
--   agent_presence   keyed (dealer_id, agent); an existing row is its agent's dealer's (identities were
--                    unique in the group until now), else dealer 1's.
--   owner_aliases    carries its user's dealer and is unique per dealer (a group user's alias: dealer 1's).
-- SQLite cannot drop a UNIQUE or PRIMARY KEY constraint, so these tables are rebuilt (the runner migrates
-- with foreign keys off and checks them before the commit); ids and rows are kept as they were, so a
-- single dealer's store upgrades with nothing to do.
CREATE TABLE users_new (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('agent', 'supervisor', 'qa', 'sales_manager', 'admin')),
    agent          TEXT,
    password_hash  TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    disabled_at    TEXT,
    mobile         TEXT,
    dealer_id      INTEGER DEFAULT 1 REFERENCES dealers (id)
);
INSERT INTO users_new (id, name, role, agent, password_hash, created_at, disabled_at, mobile, dealer_id)
SELECT id, name, role, agent, password_hash, created_at, disabled_at, mobile, dealer_id FROM users ORDER BY id;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE UNIQUE INDEX users_dealer_name ON users (dealer_id, name) WHERE dealer_id IS NOT NULL;
CREATE UNIQUE INDEX users_group_name ON users (name) WHERE dealer_id IS NULL;
CREATE UNIQUE INDEX users_agent ON users (dealer_id, agent) WHERE agent IS NOT NULL AND dealer_id IS NOT NULL;
CREATE UNIQUE INDEX users_group_agent ON users (agent) WHERE agent IS NOT NULL AND dealer_id IS NULL;
CREATE INDEX users_name ON users (name);

CREATE TABLE phone_accounts_new (
    endpoint    TEXT NOT NULL,
    ha1         TEXT NOT NULL CHECK (length(ha1) = 32),
    created_at  TEXT NOT NULL,
    changed_at  TEXT,
    dealer_id   INTEGER NOT NULL DEFAULT 1 REFERENCES dealers (id),
    PRIMARY KEY (dealer_id, endpoint)
);
INSERT INTO phone_accounts_new (endpoint, ha1, created_at, changed_at, dealer_id)
SELECT endpoint, ha1, created_at, changed_at, dealer_id FROM phone_accounts ORDER BY rowid;
DROP TABLE phone_accounts;
ALTER TABLE phone_accounts_new RENAME TO phone_accounts;

CREATE TABLE agent_presence_new (
    dealer_id  INTEGER NOT NULL REFERENCES dealers (id),
    agent      TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('logged_out', 'available', 'paused')),
    reason     TEXT,
    since      TEXT NOT NULL,
    actor      TEXT NOT NULL,
    CONSTRAINT agent_presence_reason CHECK ((state = 'paused') = (reason IS NOT NULL)),
    PRIMARY KEY (dealer_id, agent)
);
INSERT INTO agent_presence_new (dealer_id, agent, state, reason, since, actor)
SELECT COALESCE((SELECT u.dealer_id FROM users u WHERE u.agent = p.agent), 1), p.agent, p.state, p.reason, p.since, p.actor
FROM agent_presence p ORDER BY p.rowid;
DROP TABLE agent_presence;
ALTER TABLE agent_presence_new RENAME TO agent_presence;

CREATE TABLE owner_aliases_new (
    alias       TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    dealer_id   INTEGER NOT NULL REFERENCES dealers (id),
    PRIMARY KEY (dealer_id, alias)
);
INSERT INTO owner_aliases_new (alias, user_id, created_at, created_by, dealer_id)
SELECT a.alias, a.user_id, a.created_at, a.created_by, COALESCE(u.dealer_id, 1)
FROM owner_aliases a JOIN users u ON u.id = a.user_id ORDER BY a.rowid;
DROP TABLE owner_aliases;
ALTER TABLE owner_aliases_new RENAME TO owner_aliases;
