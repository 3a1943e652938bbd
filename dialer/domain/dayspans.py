"""Spans of a local day as people write them, "HH:MM-HH:MM": calling windows, inbound opening hours,
the SMS sending window. One parser, so every setting reads alike.

"24:00" ends a span at midnight: "00:00-24:00" is the whole day. Without it "00:00-24:00" was the
closest one could write, and its last minute was closed (a service open round the clock refused
calls and SMS from 23:59 to midnight).
"""

from __future__ import annotations

import re
from datetime import time

_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
# Where "24:00" ends: the day's last instant, so "until 24:00" holds for every moment of the day
# and the span still fits in one day's `time` values.
END_OF_DAY = time.max


class SpanError(ValueError):
    """A span that is not "HH:MM-HH:MM" with its start before its end; the message says which part."""


def parse_span(text: str) -> tuple[time, time]:
    """``text`` ("08:30-12:00", "00:00-24:00") as (start, end); :class:`SpanError` says what is wrong."""
    m = _SPAN.match(text.strip())
    if m is None:
        raise SpanError(f"span {text.strip()!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise SpanError(f"span {text.strip()!r} has an impossible time")
    begin = time(h1, m1)
    end = END_OF_DAY if h2 == 24 else time(h2, m2)
    if end <= begin:
        raise SpanError(f"span {text.strip()!r} ends before it begins")
    return begin, end
