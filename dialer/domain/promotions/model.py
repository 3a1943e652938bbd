"""A promotion or event the manager lists for the agents, and the checks on one.

The handbook has agents invite "结合当期库存、促销政策、市场活动": with this period's stock, offers and
events in mind. The manager keeps that list; the desk shows what runs today beside the call card,
so an agent on a call never has to ask. Pure: dates come in, nothing is read from a clock here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from dialer.domain.access.dealers import EVERY_DEALER, DealerScope

TITLE_MAX = 80
DETAIL_MAX = 1000
# A promotion longer than this is a standing policy, not a promotion: most likely a typo in a year.
LONGEST_DAYS = 366


class PromotionKind(StrEnum):
    """What the agent offers: a price or financing offer, or an event to invite to."""

    OFFER = "offer"  # 促销政策: price, financing, trade-in terms
    EVENT = "event"  # 市场活动: a showroom event, a test-drive day


class PromotionError(ValueError):
    """A promotion that cannot be saved; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class NewPromotion:
    """What the manager typed: checked by :func:`check` before it is stored."""

    kind: PromotionKind
    title: str
    detail: str
    starts_on: date  # dealer-local dates, both days included
    ends_on: date


@dataclass(frozen=True, slots=True)
class Promotion:
    """A stored promotion; ``ended_at`` set means the manager took it off early."""

    id: int
    kind: PromotionKind
    title: str
    detail: str
    starts_on: date
    ends_on: date
    created_by: str
    created_at: datetime
    ended_at: datetime | None = None

    def runs_on(self, day: date) -> bool:
        """Whether agents see it on ``day`` (a dealer-local date)."""
        return self.ended_at is None and self.starts_on <= day <= self.ends_on


def check(new: NewPromotion, today: date) -> NewPromotion:
    """``new`` with its text trimmed, or :class:`PromotionError` naming the first field at fault."""
    title, detail = new.title.strip(), new.detail.strip()
    if not title:
        raise PromotionError("title", "required")
    if len(title) > TITLE_MAX:
        raise PromotionError("title", f"at most {TITLE_MAX} characters (got {len(title)})")
    if len(detail) > DETAIL_MAX:
        raise PromotionError("detail", f"at most {DETAIL_MAX} characters (got {len(detail)})")
    if new.ends_on < new.starts_on:
        raise PromotionError("ends_on", f"{new.ends_on.isoformat()} is before the start {new.starts_on.isoformat()}")
    if new.ends_on < today:
        raise PromotionError("ends_on", f"{new.ends_on.isoformat()} is already past")
    if (new.ends_on - new.starts_on).days >= LONGEST_DAYS:
        raise PromotionError("ends_on", f"runs more than {LONGEST_DAYS} days: is the year right?")
    return NewPromotion(new.kind, title, detail, new.starts_on, new.ends_on)


class PromotionRepository(Protocol):
    """Where promotions are kept (dialer/store/promotions.py)."""

    async def add(self, new: NewPromotion, by: str, at: datetime, dealer_id: int | None = None) -> Promotion: ...

    async def running(self, day: date, dealers: DealerScope = EVERY_DEALER) -> list[Promotion]: ...

    async def listed(self, since: date, dealers: DealerScope = EVERY_DEALER) -> list[Promotion]: ...

    async def end(self, promotion_id: int, at: datetime, dealers: DealerScope = EVERY_DEALER) -> Promotion | None: ...
