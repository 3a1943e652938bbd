"""Two dealers in one store (docs/store.md "Dealers"): each imports its own leads (one number may be a lead of
each), and the KPIs and the DOSS sheet of each dealer add up to the group's. Runs on both backends."""

from __future__ import annotations

from datetime import datetime

import pytest

from dialer.clock import VirtualClock
from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope, scope_of_name
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, DossMapping, FollowUpPurpose
from dialer.domain.kpi.metrics import Month, MonthlyKpis
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.doss.service import DossService
from dialer.kpi.service import monthly_kpis
from dialer.settings import LeadSettings, Settings
from dialer.store.database import Database
from dialer.store.dealers import DealerStore
from dialer.store.doss import DossOutbox
from dialer.store.leads import LeadStore
from tests.doss.conftest import TZ, mapping  # noqa: F401


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(local(2026, 11, 2, 9))


async def _import(leads: LeadStore, numbers: list[int], sha: str) -> list[int]:
    drafts = [
        LeadDraft(row=i + 2, name=f"客户{n}", phones=(LeadPhone(f"+86139{n:08d}", PhoneKind.MOBILE),),
                  source=LeadSource.HQ, owner=None)
        for i, n in enumerate(numbers)
    ]  # fmt: skip
    run = await leads.import_drafts(
        drafts, [], ImportSource("hq.xlsx", sha, LeadSource.HQ, len(drafts), "手机"), "经理"
    )
    return [lead.id for lead in run.plan.created]


def _counts(k: MonthlyKpis) -> tuple[int, ...]:
    return (k.carried_over, k.new_leads, k.follow_up_rate.numerator, k.follow_up_rate.denominator,
            k.invite_to_store_rate.numerator, k.invite_to_store_rate.denominator, k.deals, k.contacts_captured)  # fmt: skip


async def test_two_dealers_import_apart_and_add_up_to_the_group(
    db: Database,
    clock: VirtualClock,
    mapping: DossMapping,  # noqa: F811
) -> None:
    b = await DealerStore(db).ensure("b", "B 店", clock.now())
    rules = DueRules(LeadSettings(), TZ)
    main_leads, b_leads = LeadStore(db, rules, clock), LeadStore(db, rules, clock, dealer_id=b.id)
    main_ids = await _import(main_leads, [1, 2], "same-file")
    # The same file's bytes and one of the same numbers at dealer b: new leads of b's, main's untouched.
    b_ids = await _import(b_leads, [1, 3, 4], "same-file")
    assert len(b_ids) == 3 and not set(b_ids) & set(main_ids)
    mine, theirs = await main_leads.find_by_phone("+8613900000001"), await b_leads.find_by_phone("+8613900000001")
    assert mine is not None and theirs is not None
    assert (mine.id, mine.dealer_id) == (main_ids[0], MAIN_DEALER_ID) and (theirs.id, theirs.dealer_id) == (
        b_ids[0],
        b.id,
    )
    # A dealer's scope finds none of the other's leads, by id or on the due list.
    with pytest.raises(Exception, match="does not exist"):
        await b_leads.get(main_ids[0], DealerScope.of(b.id))
    assert {lead.id for lead in await b_leads.due(None, dealers=DealerScope.of(b.id))} == set(b_ids)

    outbox = DossOutbox(db)
    doss = DossService(db, main_leads, outbox, mapping, clock)
    clock.set(local(2026, 11, 2, 10))
    visit = DispositionForm(Disposition.BOOKED_VISIT, visit_at=local(2026, 11, 3, 10))
    callback = DispositionForm(
        Disposition.CALLBACK, next_follow_up_at=local(2026, 11, 9, 9), purpose=FollowUpPurpose.OTHER
    )
    await doss.record_disposition(main_ids[0], 1, Outcome.ANSWERED, visit, "王芳")
    await doss.record_disposition(b_ids[0], 2, Outcome.ANSWERED, visit, "李娜")
    await doss.record_disposition(b_ids[1], 3, Outcome.ANSWERED, callback, "李娜")

    month = Month(2026, 11)
    settings = Settings()
    group = await monthly_kpis(db, settings, clock, month, dealers=EVERY_DEALER)
    per_dealer = [
        await monthly_kpis(db, settings, clock, month, dealers=DealerScope.of(d)) for d in (MAIN_DEALER_ID, b.id)
    ]
    assert _counts(per_dealer[0])[:4] == (0, 2, 1, 2) and _counts(per_dealer[1])[:4] == (0, 3, 2, 3)
    assert tuple(map(sum, zip(*(_counts(k) for k in per_dealer), strict=True))) == _counts(group)

    start, end = local(2026, 11, 1), local(2026, 12, 1)
    sheets = [len(await outbox.between(start, end, DealerScope.of(d))) for d in (MAIN_DEALER_ID, b.id)]
    assert sheets == [1, 2] and sum(sheets) == len(await outbox.between(start, end, EVERY_DEALER))
    # Each dealer's node pushes its own dealer's rows to its own DOSS.
    assert {e.record.lead.id for e in await DossOutbox(db, dealer_id=b.id).due(clock.now(), 10)} == set(b_ids[:2])

    # One agent's figures, asked for group-wide: named with its dealer (every dealer's names are its own),
    # they are that dealer's agent's, as its own people see them.
    scope, agent = scope_of_name("b/李娜", EVERY_DEALER, await DealerStore(db).all())
    hers = await monthly_kpis(db, settings, clock, month, agent=agent, dealers=scope)
    at_b = await monthly_kpis(db, settings, clock, month, agent="李娜", dealers=DealerScope.of(b.id))
    assert hers == at_b and [c.agent for c in hers.outbound_calls] == ["李娜"]
