-- The audit log of supervisor listen-ins (dialer/supervisor/, docs/supervisor.md).
--
-- One row per listen-in: who listened (supervisor login), to whom (agent endpoint), from which
-- phone, when it started and ended, and every mode used in order (listen, whisper, barge;
-- comma separated). The row is written BEFORE the PBX is asked to connect the supervisor, so
-- no listen-in can happen without a record; ended_at stays NULL while it runs.
--   end_reason  hangup (a phone hung up or the call ended), stopped (ended from the console),
--               failed (the PBX refused or the supervisor's phone did not answer)
CREATE TABLE listen_ins (
    id          INTEGER PRIMARY KEY,
    supervisor  TEXT    NOT NULL,
    agent       TEXT    NOT NULL,
    phone       TEXT    NOT NULL,                 -- the supervisor's endpoint that listened
    channel_id  TEXT    NOT NULL UNIQUE,          -- the Originate ChannelId of the supervisor's leg
    modes       TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,
    end_reason  TEXT,
    CONSTRAINT listen_ins_end CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);

CREATE INDEX listen_ins_by_agent ON listen_ins (agent, started_at);
CREATE INDEX listen_ins_by_supervisor ON listen_ins (supervisor, started_at);
CREATE INDEX listen_ins_open ON listen_ins (started_at) WHERE ended_at IS NULL;
