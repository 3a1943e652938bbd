-- Campaigns, their per-lead progress (the hopper's table) and the do-not-call list
-- (dialer/campaigns/, dialer/store/campaigns.py, docs/campaigns.md).
--
-- campaigns        one row per campaign; definition is the validated TOML table as JSON
--                  (re-validated by dialer.campaigns.definition.parse_definition on load).
-- campaign_events  every lifecycle command (start, pause, ...): who, when, from, to.
-- campaign_leads   a lead's progress in one campaign. status:
--                    active   waits for next_attempt_at (the retry policy's time, or a callback time)
--                    claimed  handed to the runner by next_batch; an attempt is (about to be) in flight;
--                             next_attempt_at is kept so a released claim goes back where it was
--                    done     no more automatic attempts (last_reason: never | exhausted)
--                  attempts_today counts attempts on the dealer's local day attempts_day (YYYY-MM-DD).
--                  promised = 1: a callback the customer agreed to, or a customer we abandoned;
--                  callback_at is the lead's callback time this row was last scheduled for, so
--                  the same callback is applied once.
--                  handoff: the SMS hand-off (sms_call_tasks.reason) that made the lead due; cleared
--                  by the next attempt.
--                  deadline_at: the lead's first follow-up deadline (leads.due_at while due_kind is
--                  'first_follow_up'), copied at enrolment and refreshed with every result and sync;
--                  it only orders the hopper's deadline query, ranking reads the lead's own value.
-- dnc              numbers never to be called, whoever's lead they are.
-- Times are the store's UTC text (dialer/store/timestamps.py).

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('hq', 'web', 'low_intent_defeated', 'repurchase')),
    status      TEXT NOT NULL CHECK (status IN ('draft', 'running', 'paused', 'stopped', 'completed')),
    definition  TEXT NOT NULL CHECK (json_valid(definition)),
    file_name   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    -- lead_events.id up to which lead events were applied to campaign_leads (callbacks, deadline
    -- changes): they are picked up incrementally, whatever the number of leads.
    events_seen INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX campaigns_status ON campaigns (status);

CREATE TABLE campaign_events (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL REFERENCES campaigns (id),
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    command      TEXT NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL
);
CREATE INDEX campaign_events_campaign ON campaign_events (campaign_id, id);

CREATE TABLE campaign_leads (
    campaign_id      INTEGER NOT NULL REFERENCES campaigns (id),
    lead_id          INTEGER NOT NULL REFERENCES leads (id),
    status           TEXT NOT NULL CHECK (status IN ('active', 'claimed', 'done')),
    enrolled_at      TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    attempts_today   INTEGER NOT NULL DEFAULT 0 CHECK (attempts_today >= 0),
    attempts_day     TEXT,
    next_attempt_at  TEXT,
    promised         INTEGER NOT NULL DEFAULT 0 CHECK (promised IN (0, 1)),
    callback_at      TEXT,
    callback_owner   TEXT,
    handoff          TEXT CHECK (handoff IN ('sms_interested', 'cadence_handoff')),
    deadline_at      TEXT,
    claimed_at       TEXT,
    last_attempt_id  INTEGER,
    last_attempt_at  TEXT,
    last_outcome     TEXT,
    last_reason      TEXT,
    PRIMARY KEY (campaign_id, lead_id),
    CHECK ((status = 'done') = (next_attempt_at IS NULL)),
    CHECK ((status = 'claimed') = (claimed_at IS NOT NULL))
) WITHOUT ROWID;

-- next_batch walks due rows of one campaign in due order; partial indexes stay as small as the
-- rows that can still be dialled, however many are done.
CREATE INDEX campaign_leads_due ON campaign_leads (campaign_id, next_attempt_at) WHERE status = 'active';
CREATE INDEX campaign_leads_promised ON campaign_leads (campaign_id, next_attempt_at) WHERE status = 'active' AND promised = 1;
-- Deadline order; next_attempt_at in the index lets leads waiting for a retry be skipped without
-- reading their rows.
CREATE INDEX campaign_leads_deadline ON campaign_leads (campaign_id, deadline_at, next_attempt_at)
    WHERE status = 'active' AND deadline_at IS NOT NULL;
-- "Is this lead being dialled by any campaign?" for every candidate.
CREATE INDEX campaign_leads_claimed ON campaign_leads (lead_id) WHERE status = 'claimed';
CREATE INDEX campaign_leads_lead ON campaign_leads (lead_id);

CREATE TABLE dnc (
    e164      TEXT PRIMARY KEY
        CHECK (e164 GLOB '+[1-9]*' AND length(e164) BETWEEN 8 AND 16 AND substr(e164, 2) NOT GLOB '*[^0-9]*'),
    reason    TEXT NOT NULL,
    added_at  TEXT NOT NULL,
    added_by  TEXT NOT NULL
);

-- An index the hopper needs on a table another team owns: "does this lead have a call in flight".
CREATE INDEX attempts_in_flight_by_lead ON attempts (lead_id) WHERE outcome IS NULL AND lead_id IS NOT NULL;
