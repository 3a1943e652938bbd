"""The sales manager's monthly KPI targets (#13 item 6): validation, progress, the store on both backends."""

from __future__ import annotations

from datetime import datetime

import pytest

from dialer.clock import VirtualClock
from dialer.domain.access.dealers import MAIN_DEALER_ID, DealerScope
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.kpi.metrics import Month
from dialer.domain.kpi.targets import TargetError, TargetKpi, TargetProgress, parse_target
from dialer.domain.reports.tables import targets_table
from dialer.kpi.service import monthly_kpis, set_target
from dialer.settings import Settings
from dialer.store.dealers import DealerStore
from tests.doss.conftest import TZ, leads, mapping, outbox, service  # noqa: F401
from tests.kpi.test_store_kpi import import_hq


@pytest.mark.parametrize(
    ("kpi", "text", "parsed"),
    [("follow_up_rate", "90", 90.0), ("follow_up_rate", " 87.5 % ", 87.5), ("deals", "30", 30.0),
     ("contacts_captured", "", None), ("invite_to_store_rate", "100", 100.0)],
)  # fmt: skip
def test_targets_parse(kpi: str, text: str, parsed: float | None) -> None:
    assert parse_target(kpi, text) == (TargetKpi(kpi), parsed)


@pytest.mark.parametrize(
    ("kpi", "text", "field", "message"),
    [
        ("calls", "70", "kpi", "is not one of"),
        ("follow_up_rate", "120", "target", "a percentage above 0, at most 100"),
        ("follow_up_rate", "0", "target", "a percentage above 0"),
        ("follow_up_rate", "nan", "target", "a percentage"),
        ("deals", "2.5", "target", "a whole number from 1 to 100000"),
        ("deals", "1e9", "target", "a whole number"),
        ("deals", "inf", "target", "a whole number"),
        ("deals", "三十", "target", "is not a number"),
    ],
)
def test_bad_targets_are_refused_by_name(kpi: str, text: str, field: str, message: str) -> None:
    with pytest.raises(TargetError, match=message) as caught:
        parse_target(kpi, text)
    assert caught.value.field == field


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 11, 2, 9, tzinfo=TZ))


async def test_targets_are_kept_per_month_and_measured_in_the_kpis(leads, service, db, clock):  # noqa: F811
    november = Month(2026, 11)
    a, _b = await import_hq(leads, ["甲", "乙"], 1)
    clock.advance(3600)
    await service.record_disposition(
        a, 1, Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=datetime(2026, 11, 5, 10, tzinfo=TZ)),
        "王芳",
    )  # fmt: skip
    await set_target(db, clock, november, TargetKpi.FOLLOW_UP_RATE, 80.0, "web:zhao", MAIN_DEALER_ID)
    await set_target(db, clock, november, TargetKpi.DEALS, 10.0, "web:zhao", MAIN_DEALER_ID)
    await set_target(
        db, clock, november, TargetKpi.DEALS, 4.0, "web:zhao", MAIN_DEALER_ID
    )  # changed: the last value counts
    await set_target(db, clock, Month(2026, 12), TargetKpi.DEALS, 12.0, "web:zhao", MAIN_DEALER_ID)
    await set_target(db, clock, november, TargetKpi.CONTACTS_CAPTURED, 5.0, "web:zhao", MAIN_DEALER_ID)
    await set_target(db, clock, november, TargetKpi.CONTACTS_CAPTURED, None, "web:zhao", MAIN_DEALER_ID)  # cleared

    kpis = await monthly_kpis(db, Settings(), clock, november)

    # follow-up rate 1 / 2 = 50 % of the 80 % target; no deal yet of 4
    assert kpis.targets == (
        TargetProgress(TargetKpi.FOLLOW_UP_RATE, 80.0, 50.0),
        TargetProgress(TargetKpi.DEALS, 4.0, 0.0),
    )
    assert [t["progress"] for t in kpis.to_json()["targets"]] == [0.625, 0.0]
    sheet = targets_table(kpis.targets, "en")
    assert sheet.rows == (("follow-up rate (%)", "80.0%", "50.0%", "62.5%"), ("deals", "4", "0", "0.0%"))
    # One agent's KPIs carry no target: the targets are the whole DCC's.
    assert (await monthly_kpis(db, Settings(), clock, november, agent="王芳")).targets == ()
    assert [(t.kpi, t.target) for t in (await monthly_kpis(db, Settings(), clock, Month(2026, 12))).targets] == [
        (TargetKpi.DEALS, 12.0)
    ]
    # Targets are a dealer's: a second dealer's are its own, and a group of two dealers' figures carry none.
    b = await DealerStore(db).ensure("b", "B 店", clock.now())
    await set_target(db, clock, november, TargetKpi.DEALS, 7.0, "web:b_manager", b.id)
    of_b = await monthly_kpis(db, Settings(), clock, november, dealers=DealerScope.of(b.id))
    assert [(t.kpi, t.target) for t in of_b.targets] == [(TargetKpi.DEALS, 7.0)]
    main = await monthly_kpis(db, Settings(), clock, november, dealers=DealerScope.of(MAIN_DEALER_ID))
    assert main.targets == kpis.targets
    assert (await monthly_kpis(db, Settings(), clock, november)).targets == ()
