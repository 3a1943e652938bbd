"""How a call that never reached a person is named.

The table follows what Asterisk 16.28 with chan_pjsip actually reports (see
docs/telephony.md): the Originate reason only tells "answered" (4) from "rang
until the timeout" (3); busy, congestion, decline and vacant are told apart by
the customer leg's Q.850 hang-up cause, with the DialEnd status as a fallback.
These are protocol facts, not dealer policy, so they live in code.
"""

from __future__ import annotations

from dialer.domain.calls.outcome import Outcome

# Q.850 cause codes, grouped by what they mean for a dialer.
_CAUSE_OUTCOME: dict[int, Outcome] = {
    1: Outcome.VACANT,  # unallocated number (SIP 404)
    3: Outcome.VACANT,  # no route to destination
    22: Outcome.VACANT,  # number changed (SIP 410)
    28: Outcome.VACANT,  # invalid number format (SIP 484)
    17: Outcome.BUSY,  # user busy (SIP 486)
    18: Outcome.NO_ANSWER,  # no user responding (SIP 408)
    19: Outcome.NO_ANSWER,  # no answer from user, alerted (SIP 480 after ringing)
    21: Outcome.REJECTED,  # call rejected (SIP 603)
    34: Outcome.CONGESTION,  # no circuit available (SIP 503)
    38: Outcome.CONGESTION,  # network out of order
    41: Outcome.CONGESTION,  # temporary failure
    42: Outcome.CONGESTION,  # switching equipment congestion
}

_DIAL_STATUS_OUTCOME: dict[str, Outcome] = {
    "BUSY": Outcome.BUSY,
    "CONGESTION": Outcome.CONGESTION,
    "NOANSWER": Outcome.NO_ANSWER,
    "CANCEL": Outcome.NO_ANSWER,
    "CHANUNAVAIL": Outcome.FAILED,
}

ORIGINATE_REASON_ANSWERED = 4
ORIGINATE_REASON_RING_TIMEOUT = 3


def cause_names_outcome(cause: int | None) -> bool:
    """Whether a hang-up cause alone says what happened (16, normal clearing, says nothing)."""
    return cause in _CAUSE_OUTCOME


def classify_unanswered(cause: int | None, dial_status: str | None, originate_reason: int | None) -> Outcome:
    """Name the outcome of a call the customer never answered."""
    if cause is not None and cause in _CAUSE_OUTCOME:
        return _CAUSE_OUTCOME[cause]
    if dial_status and dial_status.upper() in _DIAL_STATUS_OUTCOME:
        return _DIAL_STATUS_OUTCOME[dial_status.upper()]
    if originate_reason == ORIGINATE_REASON_RING_TIMEOUT:
        return Outcome.NO_ANSWER
    return Outcome.FAILED
