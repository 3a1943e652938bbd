"""The manager adds and ends promotions; the desk asks what runs today (in the dealer's time zone)."""

from __future__ import annotations

from datetime import date, tzinfo

from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.promotions.model import NewPromotion, Promotion, PromotionError, PromotionRepository, check
from dialer.logs import get_logger

log = get_logger(__name__)


class PromotionService:
    """Promotions over the store, dated in the dealer's time zone."""

    def __init__(self, store: PromotionRepository, clock: Clock, tz: tzinfo) -> None:
        self._store = store
        self._clock = clock
        self._tz = tz

    def today(self) -> date:
        """The dealer's date now."""
        return self._clock.now().astimezone(self._tz).date()

    async def running(self, dealers: DealerScope = EVERY_DEALER) -> list[Promotion]:
        """What agents should have in mind today (their dealer's)."""
        return await self._store.running(self.today(), dealers)

    async def listed(self, dealers: DealerScope = EVERY_DEALER) -> list[Promotion]:
        """The manager's list: running, upcoming and ended within the last 30 days (``dealers``')."""
        return await self._store.listed(date.fromordinal(self.today().toordinal() - 30), dealers)

    async def add(self, new: NewPromotion, by: str, dealer_id: int | None = None) -> Promotion:
        """Check and store ``new`` as ``dealer_id``'s (None: this node's dealer's); :class:`PromotionError`
        names the field at fault."""
        added = await self._store.add(check(new, self.today()), by, self._clock.now(), dealer_id)
        log.info("promotions.added", promotion_id=added.id, kind=added.kind.value, by=by)
        return added

    async def end(self, promotion_id: int, by: str, dealers: DealerScope = EVERY_DEALER) -> Promotion:
        """Take a promotion off the desk now (:class:`PromotionError` for none ``dealers`` sees)."""
        ended = await self._store.end(promotion_id, self._clock.now(), dealers)
        if ended is None:
            raise PromotionError("id", f"no promotion {promotion_id}")
        log.info("promotions.ended", promotion_id=promotion_id, by=by)
        return ended
