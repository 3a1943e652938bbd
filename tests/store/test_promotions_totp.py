"""The promotions and TOTP repositories on both backends: what runs on a day and in which order, an
early end that keeps its first time, a re-enrolment that replaces the secret and forgets the last
step, and a time step claimed once."""

from __future__ import annotations

from datetime import date, timedelta

from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.promotions.model import NewPromotion, PromotionKind
from dialer.store.database import Database
from dialer.store.promotions import PromotionStore
from dialer.store.totp import TotpStore
from dialer.store.users import UserStore

DAY = date(2026, 12, 1)


async def test_running_promotions_events_first_and_an_early_end_keeps_its_first_time(
    db: Database, clock: VirtualClock
) -> None:
    store = PromotionStore(db)
    now = clock.now()
    offer = await store.add(NewPromotion(PromotionKind.OFFER, "置换补贴", "旧车置换补贴 5000 元", DAY, DAY), "li", now)
    event = await store.add(
        NewPromotion(PromotionKind.EVENT, "试驾日", "周末到店试驾", DAY - timedelta(days=3), DAY + timedelta(days=3)),
        "li",
        now,
    )
    later = await store.add(
        NewPromotion(PromotionKind.OFFER, "年末", "", DAY + timedelta(days=1), DAY + timedelta(days=9)), "li", now
    )
    assert [p.id for p in await store.running(DAY)] == [event.id, offer.id]
    assert [p.id for p in await store.listed(DAY)] == [later.id, offer.id, event.id]
    ended = await store.end(offer.id, now)
    clock.advance(60)
    assert ended is not None and ended.ended_at == now
    again = await store.end(offer.id, clock.now())
    assert again is not None and again.ended_at == now
    assert [p.id for p in await store.running(DAY)] == [event.id]
    assert await store.end(999, now) is None


async def test_a_totp_step_is_claimed_once_and_a_new_enrolment_starts_over(db: Database, clock: VirtualClock) -> None:
    user = await UserStore(db).add(name="li", role=Role.ADMIN, agent=None, password_hash="x", at=clock.now())
    store = TotpStore(db)
    assert await store.of(user.id) is None
    await store.enrol(user.id, "JBSWY3DPEHPK3PXP", clock.now())
    assert await store.claim(user.id, 100) and not await store.claim(user.id, 100)
    assert not await store.claim(user.id, 99) and await store.claim(user.id, 101)
    await store.enrol(user.id, "KRSXG5CTMVRXEZLU", clock.now())
    enrolment = await store.of(user.id)
    assert enrolment is not None and (enrolment.secret, enrolment.last_step) == ("KRSXG5CTMVRXEZLU", None)
    assert await store.claim(user.id, 50)
    assert await store.remove(user.id) and not await store.remove(user.id)
