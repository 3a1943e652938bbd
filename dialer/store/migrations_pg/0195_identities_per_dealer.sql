-- PostgreSQL twin of migrations/0195_identities_per_dealer.sql (read it for why and what).
ALTER TABLE users DROP CONSTRAINT users_name_key;
DROP INDEX users_agent;
CREATE UNIQUE INDEX users_dealer_name ON users (dealer_id, name) WHERE dealer_id IS NOT NULL;
CREATE UNIQUE INDEX users_group_name ON users (name) WHERE dealer_id IS NULL;
CREATE UNIQUE INDEX users_agent ON users (dealer_id, agent) WHERE agent IS NOT NULL AND dealer_id IS NOT NULL;
CREATE UNIQUE INDEX users_group_agent ON users (agent) WHERE agent IS NOT NULL AND dealer_id IS NULL;
CREATE INDEX users_name ON users (name);

ALTER TABLE phone_accounts DROP CONSTRAINT phone_accounts_pkey;
ALTER TABLE phone_accounts ADD PRIMARY KEY (dealer_id, endpoint);

ALTER TABLE agent_presence ADD COLUMN dealer_id BIGINT NOT NULL DEFAULT 1 REFERENCES dealers (id);
UPDATE agent_presence p SET dealer_id = COALESCE(u.dealer_id, 1) FROM users u WHERE u.agent = p.agent;
ALTER TABLE agent_presence ALTER COLUMN dealer_id DROP DEFAULT;
ALTER TABLE agent_presence DROP CONSTRAINT agent_presence_pkey;
ALTER TABLE agent_presence ADD PRIMARY KEY (dealer_id, agent);

ALTER TABLE owner_aliases ADD COLUMN dealer_id BIGINT NOT NULL DEFAULT 1 REFERENCES dealers (id);
UPDATE owner_aliases a SET dealer_id = COALESCE(u.dealer_id, 1) FROM users u WHERE u.id = a.user_id;
ALTER TABLE owner_aliases ALTER COLUMN dealer_id DROP DEFAULT;
ALTER TABLE owner_aliases DROP CONSTRAINT owner_aliases_pkey;
ALTER TABLE owner_aliases ADD PRIMARY KEY (dealer_id, alias);
