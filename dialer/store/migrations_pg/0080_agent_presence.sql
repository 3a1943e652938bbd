-- PostgreSQL twin of migrations/0080_agent_presence.sql (read it for the columns' meaning).
CREATE TABLE agent_presence (
    agent   TEXT PRIMARY KEY,
    state   TEXT NOT NULL CHECK (state IN ('logged_out', 'available', 'paused')),
    reason  TEXT,
    since   TEXT NOT NULL,
    actor   TEXT NOT NULL,
    CONSTRAINT agent_presence_reason CHECK ((state = 'paused') = (reason IS NOT NULL))
);
