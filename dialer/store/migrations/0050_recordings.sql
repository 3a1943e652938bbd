-- The recordings registry and its audit trail (dialer/recording/, docs/recording.md).
--
-- recordings  one row per finished call recording. The row outlives its file: retention
--             deletes the file and stamps deleted_at, so "was this call recorded, and when
--             was the evidence destroyed" always has an answer.
--   path        relative to [recording] dir, '/'-separated (e.g. 2026/11/29/<call_id>.flac);
--               the file-serving helper only ever resolves it inside that folder.
--   sha256      of the file as it is stored now (after compression); size_bytes likewise.
--   wav_sha256  of the WAV MixMonitor wrote: what the evidence was before any conversion.
--   started_at  when the recording began (the agent was connected), duration_s from the WAV header.
--   lead_id / campaign_id / agent / direction are copied from the attempt, so evidence
--   searches never depend on a lead or campaign still existing.
-- recording_audit  every registration, compression and deletion: who, when, what.
-- Times are the store's UTC text (dialer/store/timestamps.py).
CREATE TABLE recordings (
    id            INTEGER PRIMARY KEY,
    call_id       TEXT    NOT NULL UNIQUE REFERENCES attempts (call_id),
    lead_id       INTEGER,
    campaign_id   INTEGER,
    agent         TEXT,
    direction     TEXT    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    path          TEXT    NOT NULL UNIQUE CHECK (path NOT LIKE '/%' AND path NOT LIKE '%..%'),
    format        TEXT    NOT NULL CHECK (format IN ('wav', 'flac')),
    started_at    TEXT    NOT NULL,
    duration_s    REAL    NOT NULL CHECK (duration_s >= 0),
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256        TEXT    NOT NULL CHECK (length(sha256) = 64),
    wav_sha256    TEXT    NOT NULL CHECK (length(wav_sha256) = 64),
    registered_at TEXT    NOT NULL,
    deleted_at    TEXT,
    delete_reason TEXT,
    CHECK ((deleted_at IS NULL) = (delete_reason IS NULL))
);

CREATE INDEX recordings_started ON recordings (started_at);
CREATE INDEX recordings_agent ON recordings (agent, started_at);
-- Retention walks only the recordings whose file still exists.
CREATE INDEX recordings_live ON recordings (started_at) WHERE deleted_at IS NULL;

CREATE TABLE recording_audit (
    id           INTEGER PRIMARY KEY,
    recording_id INTEGER REFERENCES recordings (id),  -- NULL for an orphan file found by reconcile
    action       TEXT    NOT NULL CHECK (action IN ('registered', 'compressed', 'deleted', 'missing')),
    actor        TEXT    NOT NULL,
    at           TEXT    NOT NULL,
    detail       TEXT    NOT NULL CHECK (json_valid(detail))
);

CREATE INDEX recording_audit_recording ON recording_audit (recording_id, id);
CREATE INDEX recording_audit_at ON recording_audit (at);
