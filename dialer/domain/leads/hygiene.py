"""The monthly clean-up: invalid numbers, duplicates, and why leads were lost.

The handbook asks the DCC to analyse defeated leads and clean invalid ones
(wrong numbers, duplicates) every month. Pure: the store hands over the raw
facts of the month (:class:`HygieneFacts`); this module counts and groups them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any

from dialer.domain.leads.errors import LeadError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MONTHS_PER_YEAR = 12
# How a missing defeat reason is counted, so "reason not recorded" is visible as a problem of its own.
NO_REASON = ""


def month_bounds(month: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """The first instant of ``YYYY-MM`` and of the next month, in the dealer's time zone."""
    m = _MONTH.match(month)
    if not m or not 1 <= int(m.group(2)) <= MONTHS_PER_YEAR:
        raise LeadError(f"month {month!r}: expected YYYY-MM, e.g. 2026-11")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + mon // MONTHS_PER_YEAR, mon % MONTHS_PER_YEAR + 1, 1, tzinfo=tz)
    return start, end


def months_back(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first (the trend window)."""
    year, mon = (int(x) for x in month.split("-"))
    index = year * MONTHS_PER_YEAR + mon - 1
    return [f"{i // MONTHS_PER_YEAR:04d}-{i % MONTHS_PER_YEAR + 1:02d}" for i in range(index - count + 1, index + 1)]


@dataclass(frozen=True, slots=True)
class RejectedNumber:
    """A number refused at import this month."""

    import_id: int
    file: str
    row: int
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class WrongNumber:
    """A stored lead whose number turned out wrong this month (call outcome vacant, or marked invalid)."""

    lead_id: int
    name: str
    phone: str | None
    why: str  # "vacant" (a call found the number unallocated) or "marked_invalid"


@dataclass(frozen=True, slots=True)
class ImportDuplicates:
    """How much duplication one import of the month folded away."""

    import_id: int
    file: str
    rows: int
    merged_in_file: int  # rows folded into an earlier row with the same number
    matched_stored: int  # rows that matched an already stored lead (updated or unchanged)
    conflicts: int  # ownership claims refused


@dataclass(frozen=True, slots=True)
class MergeCandidate:
    """Stored leads that look like one person with different numbers: for a human to merge or keep."""

    name: str
    model: str | None
    lead_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DefeatedLead:
    """A lead lost in the trend window: handed over already lost, or lost by the DCC."""

    lead_id: int
    at: datetime
    reason: str | None
    source: str
    model: str | None
    handed_over: bool  # True: came in as a defeated lead; False: the DCC marked it defeated


@dataclass(frozen=True, slots=True)
class HygieneFacts:
    """What the store found for the month (defeated leads: for the whole trend window)."""

    rejected_numbers: Sequence[RejectedNumber]
    wrong_numbers: Sequence[WrongNumber]
    imports: Sequence[ImportDuplicates]
    ambiguous_rows: Sequence[RejectedNumber]  # rows whose numbers belong to two leads
    candidates: Sequence[MergeCandidate]
    defeated: Sequence[DefeatedLead]


@dataclass(frozen=True, slots=True)
class DefeatAnalysis:
    """Lost leads of the month, counted the ways the supervisor reads them."""

    total: int
    handed_over: int
    lost_by_dcc: int
    by_reason: dict[str, int]
    by_source: dict[str, int]
    by_model: dict[str, int]
    by_month: dict[str, int]  # the trend window, oldest first


@dataclass(frozen=True, slots=True)
class HygieneReport:
    """The monthly clean-up report."""

    month: str
    rejected_numbers: tuple[RejectedNumber, ...]
    rejected_by_reason: dict[str, int]
    wrong_numbers: tuple[WrongNumber, ...]
    imports: tuple[ImportDuplicates, ...]
    merged_in_file: int
    matched_stored: int
    ownership_conflicts: int
    ambiguous_rows: tuple[RejectedNumber, ...]
    merge_candidates: tuple[MergeCandidate, ...]
    defeated: DefeatAnalysis

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--json``)."""
        return asdict(self)


def build_report(month: str, tz: tzinfo, facts: HygieneFacts, trend_months: int) -> HygieneReport:
    """Count the month's facts; defeated leads outside ``month`` only feed the trend."""
    window = months_back(month, trend_months)
    in_month = [d for d in facts.defeated if _month_of(d.at, tz) == month]
    by_month = Counter(_month_of(d.at, tz) for d in facts.defeated)
    return HygieneReport(
        month=month,
        rejected_numbers=tuple(facts.rejected_numbers),
        rejected_by_reason=_ranked(r.reason for r in facts.rejected_numbers),
        wrong_numbers=tuple(facts.wrong_numbers),
        imports=tuple(facts.imports),
        merged_in_file=sum(i.merged_in_file for i in facts.imports),
        matched_stored=sum(i.matched_stored for i in facts.imports),
        ownership_conflicts=sum(i.conflicts for i in facts.imports),
        ambiguous_rows=tuple(facts.ambiguous_rows),
        merge_candidates=tuple(facts.candidates),
        defeated=DefeatAnalysis(
            total=len(in_month),
            handed_over=sum(d.handed_over for d in in_month),
            lost_by_dcc=sum(not d.handed_over for d in in_month),
            by_reason=_ranked(d.reason or NO_REASON for d in in_month),
            by_source=_ranked(d.source for d in in_month),
            by_model=_ranked(d.model or NO_REASON for d in in_month),
            by_month={m: by_month.get(m, 0) for m in window},
        ),
    )


def _month_of(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


def _ranked(values: Any) -> dict[str, int]:
    """Counts, largest first (ties by name) so the biggest problem heads the list."""
    return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))
