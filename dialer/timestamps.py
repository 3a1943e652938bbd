"""How instants are written to and read from the store.

One fixed-width text form, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, so that text
order equals time order: range queries and indexes on time columns (``created_at >= ?``)
then work on plain strings, in SQLite and in any export. Naive datetimes are refused,
because guessing their zone is how call times end up eight hours off.
"""

from __future__ import annotations

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_db(dt: datetime) -> str:
    """Render a timezone-aware instant as the store's UTC text."""
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt.isoformat()!r}: the store only takes timezone-aware times")
    return dt.astimezone(UTC).strftime(_FORMAT)


def from_db(text: str) -> datetime:
    """Parse the store's UTC text back into an aware datetime in UTC.

    Accepts any ISO-8601 form with an offset (``Z`` or ``+08:00``), so values written
    by hand or by another tool still read correctly; text without an offset is refused.
    """
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"stored time {text!r} has no UTC offset")
    return parsed.astimezone(UTC)


def to_db_or_none(dt: datetime | None) -> str | None:
    """:func:`to_db` for optional columns."""
    return None if dt is None else to_db(dt)


def from_db_or_none(text: str | None) -> datetime | None:
    """:func:`from_db` for optional columns."""
    return None if text is None else from_db(text)
