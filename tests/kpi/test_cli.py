"""``dialer kpi`` through the real CLI on a seeded store (March 2025: every deadline long past)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose, load_mapping
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.doss.service import DossService
from dialer.settings import LeadSettings
from dialer.store.database import Database
from dialer.store.dealers import DealerStore
from dialer.store.doss import DossOutbox
from dialer.store.leads import LeadStore
from tests.conftest import REPO
from tests.doss.conftest import TZ
from tests.doss.test_cli import write_config

DAY = datetime(2025, 3, 3, 9, 0, tzinfo=TZ)


async def _seed(tmp_path: Path) -> None:
    """Four web leads of 王芳 on 3 Mar 2025; two reached the same day (one books a visit), two never."""
    clock = VirtualClock(DAY)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        leads = LeadStore(db, DueRules(LeadSettings(), TZ), clock)
        drafts = [
            LeadDraft(
                row=i + 2,
                name=f"客户{i}",
                phones=(LeadPhone(f"+861390000000{i}", PhoneKind.MOBILE),),
                source=LeadSource.WEB,
                owner="王芳",
            )
            for i in range(4)
        ]
        await leads.import_drafts(drafts, [], ImportSource("web.csv", "sha", LeadSource.WEB, 4, "手机"), "王经理")
        service = DossService(db, leads, DossOutbox(db), load_mapping(REPO / "config" / "doss_mapping.toml"), clock)
        first, second = [await leads.find_by_phone(f"+861390000000{i}") for i in range(2)]
        clock.advance(3600)
        booked = DispositionForm(Disposition.BOOKED_VISIT, visit_at=DAY + timedelta(days=2))
        await service.record_disposition(first.id, 1, Outcome.ANSWERED, booked, "王芳")
        callback = DispositionForm(
            Disposition.CALLBACK, next_follow_up_at=DAY + timedelta(days=1), purpose=FollowUpPurpose.OTHER
        )
        await service.record_disposition(second.id, 2, Outcome.ANSWERED, callback, "王芳")


def test_kpi_table_in_chinese(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))
    assert main(["--config", str(write_config(tmp_path)), "kpi", "--month", "2025-03"]) == 0
    out = capsys.readouterr().out
    assert "2025-03 KPI（全部坐席）" in out
    # 2 first follow-ups of (0 carried + 4 new) = 50.0 %; 0 visits of 2 follow-ups = 0.0 %
    assert "电话跟进率" in out and "50.0%" in out
    assert "首次电话跟进 2 ÷（上月留存未跟进 0 + 本月新增 4）" in out
    assert "首次邀约到店 0 ÷ 首次跟进 2" in out
    # web leads: 4 this month, none before: month-on-month shows "—"
    assert "网络" in out


def test_kpi_json_for_one_agent(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))
    cfg = str(write_config(tmp_path))
    assert main(["--config", cfg, "kpi", "--month", "2025-03", "--agent", "王芳", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["follow_up_rate"] == {"numerator": 2, "denominator": 4, "percent": 50.0}
    assert data["invite_to_store_rate"] == {"numerator": 0, "denominator": 2, "percent": 0.0}
    assert data["contacts_captured"] == 4  # web leads are captured contacts
    assert data["inbound_calls"] == []
    assert data["outbound_calls"] == [
        {"agent": "王芳", "calls": 2, "days_worked": 1, "per_day": 2.0,
         "days_below_norm": 1, "days_within_norm": 0, "days_above_norm": 0},
    ]  # fmt: skip
    assert data["sources"] == [
        {
            "source": "web",
            "portal": None,
            "count": 4,
            "previous_month": 0,
            "year_before": 0,
            "month_on_month": None,
            "year_on_year": None,
        }
    ]


def test_kpi_empty_month_shows_dashes(tmp_path, capsys):
    assert main(["--config", str(write_config(tmp_path)), "--lang", "en", "kpi", "--month", "2025-04"]) == 0
    out = capsys.readouterr().out
    follow_up = next(line for line in out.splitlines() if line.startswith("follow-up rate"))
    assert "—" in follow_up
    assert "No data this month." in out


def test_bad_month(tmp_path, capsys):
    assert main(["--config", str(write_config(tmp_path)), "kpi", "--month", "2025-3"]) == 2
    assert "expected YYYY-MM" in capsys.readouterr().err


async def _second_dealer(tmp_path: Path) -> None:
    """Dealer b in the same store: one web lead of its own (main keeps the four of _seed)."""
    clock = VirtualClock(DAY)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        b = await DealerStore(db).ensure("b", "B 店", clock.now())
        leads = LeadStore(db, DueRules(LeadSettings(), TZ), clock, dealer_id=b.id)
        draft = LeadDraft(row=2, name="乙客户", phones=(LeadPhone("+8613800000009", PhoneKind.MOBILE),),
                          source=LeadSource.WEB, owner="李娜")  # fmt: skip
        await leads.import_drafts([draft], [], ImportSource("b.csv", "sha-b", LeadSource.WEB, 1, "手机"), "李经理")


def test_kpi_and_the_sheets_are_this_nodes_dealers_unless_asked_for_another_or_the_group(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))
    asyncio.run(_second_dealer(tmp_path))
    cfg = str(write_config(tmp_path))
    capsys.readouterr()  # the seeding's log lines (printed while no command has set up logging yet)

    def new_leads(*whose: str) -> int:
        assert main(["--config", cfg, "kpi", "--month", "2025-03", "--json", *whose]) == 0
        return int(json.loads(capsys.readouterr().out)["new_leads"])

    assert (new_leads(), new_leads("--dealer", "main"), new_leads("--dealer", "b"), new_leads("--group")) == (
        4,
        4,
        1,
        5,
    )
    for sheet in (["report", "daily", "--date", "2025-03-04"], ["report", "weekly", "--week", "2025-W10"],
                  ["report", "funnel", "--month", "2025-03"], ["doss", "export", "--date", "2025-03-03"]):  # fmt: skip
        assert main(["--config", cfg, "--lang", "en", *sheet, "--dealer", "nope"]) == 2, sheet
        assert "no dealer with code nope" in capsys.readouterr().err
        assert main(["--config", cfg, *sheet, "--group"]) == 0, sheet
    with pytest.raises(SystemExit):  # one or the other
        main(["--config", cfg, "kpi", "--month", "2025-03", "--dealer", "b", "--group"])
    assert "not allowed with argument --dealer" in capsys.readouterr().err


def test_one_agents_kpis_of_the_group_name_the_agents_dealer(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))
    asyncio.run(_second_dealer(tmp_path))
    cfg = str(write_config(tmp_path))
    capsys.readouterr()  # the seeding's log lines
    kpi = ["--config", cfg, "kpi", "--month", "2025-03", "--json"]
    assert main([*kpi, "--agent", "王芳"]) == 0
    mine = json.loads(capsys.readouterr().out)
    assert mine["follow_up_rate"]["numerator"] == 2
    assert main([*kpi, "--agent", "main/王芳", "--group"]) == 0
    assert json.loads(capsys.readouterr().out) == mine
    # Every dealer names its own people: group-wide, a plain name is nobody's in particular.
    assert main([*kpi, "--agent", "王芳", "--group"]) == 2
    assert "请写成 经销商代码/坐席（如 b/王芳）" in capsys.readouterr().err


def test_the_lists_are_this_nodes_dealers_unless_asked_for_another_or_the_group(tmp_path, capsys):
    """``dialer campaign list``, ``leads due``, ``leads owners`` and ``dnc list`` (issue #16): the node's
    dealer by default, ``--dealer CODE`` or ``--group``, whose table then names each row's dealer."""
    asyncio.run(_seed(tmp_path))
    asyncio.run(_second_dealer(tmp_path))
    cfg = str(write_config(tmp_path))
    (tmp_path / "b").mkdir()
    node_b = str(write_config(tmp_path / "b", store={"path": str(tmp_path / "store.sqlite3")}, dealer={"code": "b"}))
    hq = str(REPO / "config" / "campaigns" / "hq.toml")
    for node, number in ((cfg, "13700000001"), (node_b, "13700000002")):  # each node's dealer's own
        assert main(["--config", node, "campaign", "create", hq]) == 0
        assert main(["--config", node, "dnc", "add", number, "--reason", "投诉"]) == 0
    capsys.readouterr()

    def dealers(*argv: str) -> list[str | None]:
        assert main(["--config", cfg, *argv, "--json"]) == 0
        return sorted(row["dealer"] for row in json.loads(capsys.readouterr().out))

    for listing in (["campaign", "list"], ["leads", "due", "--all"], ["dnc", "list"]):
        assert dealers(*listing) == dealers(*listing, "--dealer", "main") and set(dealers(*listing)) == {"main"}
        assert set(dealers(*listing, "--dealer", "b")) == {"b"}, listing
        assert set(dealers(*listing, "--group")) == {"main", "b"}, listing
        assert main(["--config", cfg, "--lang", "en", *listing, "--dealer", "nope"]) == 2, listing
        assert "no dealer with code nope" in capsys.readouterr().err
        assert main(["--config", cfg, *listing]) == 0
        assert "经销商" not in capsys.readouterr().out, listing
        assert main(["--config", cfg, *listing, "--group"]) == 0
        table = capsys.readouterr().out
        assert "经销商" in table and " b" in table and " main" in table, listing

    def owners(*whose: str) -> set[str]:
        assert main(["--config", cfg, "leads", "owners", "--json", *whose]) == 0
        return {row["owner"] for row in json.loads(capsys.readouterr().out) if row["total"]}

    assert (owners(), owners("--dealer", "b"), owners("--group")) == ({"王芳"}, {"李娜"}, {"王芳", "李娜"})
    # A number on the list stays undialled across the group, whichever dealer's people put it there.
    assert main(["--config", cfg, "dnc", "add", "13700000002", "--reason", "again"]) == 0
    assert "13700000002" in capsys.readouterr().out
    assert dealers("dnc", "list", "--dealer", "b") == ["b"] and dealers("dnc", "list") == ["main"]
