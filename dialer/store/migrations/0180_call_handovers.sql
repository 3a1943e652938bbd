-- Who had the customer when (dialer/domain/calls/handovers.py, docs/telephony.md "Transfer, hold and
-- conference"): one row per transfer or 3-way call of a call, in order.
--   kind        blind | attended (the customer handed over) | conference (a party added)
--   from_party  the endpoint who had the customer; to_party the one who has them from `at`
--   actor       who asked (web:<login>)
CREATE TABLE call_handovers (
    id          INTEGER PRIMARY KEY,
    call_id     TEXT NOT NULL,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('blind', 'attended', 'conference')),
    from_party  TEXT NOT NULL,
    to_party    TEXT NOT NULL,
    actor       TEXT NOT NULL
);

CREATE INDEX call_handovers_call ON call_handovers (call_id, id);
