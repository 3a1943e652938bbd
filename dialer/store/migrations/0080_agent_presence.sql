-- Agents' phone presence as set from the desk (dialer/campaigns/presence.py, docs/web.md "Phone presence").
--
-- One row per agent endpoint that ever logged in or out, paused or resumed from the console; the
-- row holds the latest state only (the history of moves is in the log). An agent with NO row counts
-- as logged in and available, so command-line runs, the demo and agents who never use the desk work
-- as before. Kept in the store so a restart of the dialer keeps who is paused and who went home.
--   state   logged_out | available | paused
--   reason  the pause reason (one of campaigns.pause_reasons); NULL unless paused
--   since   when the agent entered this state (UTC ISO-8601, like every stored time)
--   actor   the console login that made the change
CREATE TABLE agent_presence (
    agent   TEXT PRIMARY KEY,
    state   TEXT NOT NULL CHECK (state IN ('logged_out', 'available', 'paused')),
    reason  TEXT,
    since   TEXT NOT NULL,
    actor   TEXT NOT NULL,
    CONSTRAINT agent_presence_reason CHECK ((state = 'paused') = (reason IS NOT NULL))
);
