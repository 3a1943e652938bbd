"""The sales manager's monthly KPI targets and the month's progress towards them. Pure: no I/O.

A target is set for the whole DCC and one month: a percentage for a rate (follow-up rate 90 means
90 %), a whole number for a count (deals 30). Progress is the month's value over the target, so
0.5 = half way; a rate with no value yet (nothing to divide) has no progress. docs/kpi.md, "Monthly
targets".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # metrics holds the progress in its report card; this module only reads the card
    from dialer.domain.kpi.metrics import MonthlyKpis

# Far above any dealer's month, low enough that a typo (an extra zero or three) is refused.
MAX_COUNT_TARGET = 100_000


class TargetKpi(StrEnum):
    """The KPIs a target can be set for (the stored value)."""

    FOLLOW_UP_RATE = "follow_up_rate"
    INVITE_TO_STORE_RATE = "invite_to_store_rate"
    DEALS = "deals"
    CONTACTS_CAPTURED = "contacts_captured"

    @property
    def is_rate(self) -> bool:
        return self in (TargetKpi.FOLLOW_UP_RATE, TargetKpi.INVITE_TO_STORE_RATE)

    def actual(self, kpis: MonthlyKpis) -> float | None:
        """The month's value in the target's unit: a percentage for a rate, a count otherwise."""
        if self is TargetKpi.FOLLOW_UP_RATE:
            return kpis.follow_up_rate.percent
        if self is TargetKpi.INVITE_TO_STORE_RATE:
            return kpis.invite_to_store_rate.percent
        return float(kpis.deals if self is TargetKpi.DEALS else kpis.contacts_captured)


class TargetError(ValueError):
    """A target that cannot be set; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def parse_target(kpi_text: str, value_text: str) -> tuple[TargetKpi, float | None]:
    """The KPI and its target from what the form sent; an empty value clears the target (None)."""
    try:
        kpi = TargetKpi(kpi_text)
    except ValueError:
        raise TargetError("kpi", f"{kpi_text!r} is not one of {', '.join(k.value for k in TargetKpi)}") from None
    text = value_text.strip().removesuffix("%").strip()
    if not text:
        return kpi, None
    try:
        value = float(text)
    except ValueError:
        raise TargetError("target", f"{value_text!r} is not a number") from None
    if kpi.is_rate and not (math.isfinite(value) and 0 < value <= 100):
        raise TargetError("target", f"{value_text!r}: a rate's target is a percentage above 0, at most 100")
    if not kpi.is_rate and not (value.is_integer() and 0 < value <= MAX_COUNT_TARGET):
        raise TargetError("target", f"{value_text!r}: a count's target is a whole number from 1 to {MAX_COUNT_TARGET}")
    return kpi, value


@dataclass(frozen=True, slots=True)
class TargetProgress:
    """One KPI's target for the month, the month's value so far, and the share of the target reached."""

    kpi: TargetKpi
    target: float
    actual: float | None

    @property
    def progress(self) -> float | None:
        return None if self.actual is None else self.actual / self.target

    def to_json(self) -> dict[str, Any]:
        return {"kpi": self.kpi.value, "target": self.target, "actual": self.actual, "progress": self.progress}


def progress(kpis: MonthlyKpis, targets: Mapping[TargetKpi, float]) -> tuple[TargetProgress, ...]:
    """The month's progress towards each target set, in the order of :class:`TargetKpi`."""
    return tuple(TargetProgress(kpi, targets[kpi], kpi.actual(kpis)) for kpi in TargetKpi if kpi in targets)
