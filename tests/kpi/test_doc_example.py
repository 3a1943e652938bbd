"""docs/kpi.md's worked example, recomputed through the real KPI code (#13 item 5): the page's tables are
read as they are written, so the page cannot drift from the code."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.domain.calls.outcome import Direction
from dialer.domain.kpi.metrics import (
    AgentCalls,
    CallFact,
    ContactFact,
    KpiInput,
    KpiRules,
    LeadFact,
    Month,
    Ratio,
    StateFact,
    compute,
)
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.settings import Settings
from tests.conftest import REPO

DOC = (REPO / "docs" / "kpi.md").read_text(encoding="utf-8")
RULES = KpiRules.from_settings(Settings())  # the documented defaults: Asia/Shanghai, 48 h, 70-80, 50-60
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=TZ)


def table(name: str) -> list[list[str]]:
    """The rows (cells stripped) of the table after ``<!-- example:name -->``, header and rule left out."""
    after = DOC.split(f"<!-- example:{name} -->", 1)[1].lstrip("\n").splitlines()
    end = next((i for i, line in enumerate(after) if not line.startswith("|")), len(after))
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in after[2:end]]


def local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def example() -> KpiInput:
    leads, contacts, states = [], [], []
    for lead_id, source, portal, owner, created, clock, follow_ups, changes in table("leads"):
        i, kind = int(lead_id), LeadSource(source)
        start = local(clock) if clock else None
        leads.append(LeadFact(i, kind, local(created), owner, issued_at=start if kind is LeadSource.HQ else None,
                              handed_over_at=None if kind is LeadSource.HQ else start, portal=portal or None))  # fmt: skip
        contacts += [ContactFact(i, local(at)) for at in filter(None, (s.strip() for s in follow_ups.split(";")))]
        for change in filter(None, (s.strip() for s in changes.split(";"))):
            state, at = change.split(" ", 1)
            states.append(StateFact(i, local(at), LeadState(state)))
    calls = []
    for agent, day, direction, n in table("calls"):
        first = local(day + " 09:00")
        calls += [CallFact(agent, first + timedelta(minutes=m), Direction(direction)) for m in range(int(n))]
    return KpiInput(leads, contacts, states, calls)


KPIS = compute(Month(2026, 11), example(), RULES, NOW)
RESULTS = {row[0]: row[2] for row in table("kpis")}


def ratio(text: str) -> Ratio:
    numerator, denominator = (int(part) for part in text.split("÷"))
    return Ratio(numerator, denominator)


@pytest.mark.parametrize(
    ("kpi", "actual"),
    [
        ("follow-up rate", lambda k: k.follow_up_rate),
        ("invite-to-store rate", lambda k: k.invite_to_store_rate),
        ("HQ deadline compliance", lambda k: k.hq_deadline),
        ("hand-over deadline compliance", lambda k: k.handover_deadline),
    ],
)
def test_rates(kpi: str, actual) -> None:  # type: ignore[no-untyped-def]
    assert actual(KPIS) == ratio(RESULTS[kpi])


@pytest.mark.parametrize(
    ("kpi", "actual"), [("deals", lambda k: k.deals), ("contacts captured", lambda k: k.contacts_captured)]
)
def test_counts(kpi: str, actual) -> None:  # type: ignore[no-untyped-def]
    assert actual(KPIS) == int(RESULTS[kpi])


def test_leads_per_source() -> None:
    documented = [re.fullmatch(r"(\S+) (\d+)/(\d+)", part.strip()) for part in RESULTS["leads per source"].split(",")]
    computed = {
        (s.source.value if s.portal is None else f"{s.source.value}·{s.portal}"): (s.count, s.previous_month)
        for s in KPIS.sources
    }
    assert computed == {m.group(1): (int(m.group(2)), int(m.group(3))) for m in documented if m}


def _calls(text: str) -> tuple[str, int, int, int, int, int]:
    m = re.fullmatch(r"(\S+) (\d+) in (\d+) days?: (\d+) below, (\d+) within, (\d+) above", text)
    assert m, text
    return (m.group(1), *(int(g) for g in m.groups()[1:]))  # type: ignore[return-value]


def _row(a: AgentCalls) -> tuple[str, int, int, int, int, int]:
    return a.agent, a.calls, a.days_worked, a.days_below_norm, a.days_within_norm, a.days_above_norm


@pytest.mark.parametrize(
    ("kpi", "actual"),
    [
        ("outbound dials per agent per day", lambda k: k.outbound_calls),
        ("inbound calls per agent per day", lambda k: k.inbound_calls),
    ],
)
def test_calls_per_day(kpi: str, actual) -> None:  # type: ignore[no-untyped-def]
    assert [_row(a) for a in actual(KPIS)] == [_calls(RESULTS[kpi])]


def test_every_kpi_of_the_report_card_has_its_example() -> None:
    section = DOC.split("## The KPIs", 1)[1].split("\n## ", 1)[0]
    defined = {
        line.split("|")[1].strip().split(" (")[0].strip("*")
        for line in section.splitlines()[4:]
        if line.startswith("| ")
    }
    assert defined == set(RESULTS), defined ^ set(RESULTS)
