-- QA scoring of recordings (dialer/qa/, docs/qa.md).
--
-- qa_scores       one scoring of one recording by one supervisor or QA reviewer. A recording
--                 may be scored more than once (calibration, appeal); reports take the latest.
--   form_version  the form's version string, so a report never mixes results of different forms silently.
--   score         0..100, the weighted result over the items that applied to the call.
-- qa_score_items  the value given per form item; item_id is the form's id (not a foreign key:
--                 the form lives in config/qa_form.toml).
CREATE TABLE qa_scores (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER NOT NULL REFERENCES recordings (id),
    agent         TEXT,                               -- copied from the recording: reports group by it
    scorer        TEXT    NOT NULL,
    form_version  TEXT    NOT NULL,
    score         REAL    NOT NULL CHECK (score BETWEEN 0 AND 100),
    comment       TEXT    NOT NULL DEFAULT '',
    scored_at     TEXT    NOT NULL
);

CREATE INDEX qa_scores_recording ON qa_scores (recording_id, id);
CREATE INDEX qa_scores_agent ON qa_scores (agent, scored_at);
CREATE INDEX qa_scores_at ON qa_scores (scored_at);

CREATE TABLE qa_score_items (
    score_id  INTEGER NOT NULL REFERENCES qa_scores (id),
    item_id   TEXT    NOT NULL,
    value     INTEGER NOT NULL CHECK (value >= 0),
    max_value INTEGER NOT NULL CHECK (max_value >= 1 AND value <= max_value),
    weight    REAL    NOT NULL CHECK (weight > 0),
    PRIMARY KEY (score_id, item_id)
);
