-- The dealer's promotions and events (dialer/promotions/, docs/leads.md "Promotions"): the list the
-- manager keeps so agents invite with this period's offers and events in mind.
--   starts_on / ends_on  dealer-local dates (YYYY-MM-DD), both days included.
--   ended_at             the manager took it off before ends_on (NULL: runs to its end).
CREATE TABLE promotions (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('offer', 'event')),
    title       TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 80),
    detail      TEXT NOT NULL CHECK (length(detail) <= 1000),
    starts_on   TEXT NOT NULL,
    ends_on     TEXT NOT NULL CHECK (ends_on >= starts_on),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    ended_at    TEXT
);

CREATE INDEX promotions_ends ON promotions (ends_on);
