"""DOSS's own visits and deals taken back into the leads (``dialer doss import-states``): idempotent,
nothing queued back to DOSS, a bad row named and the rest kept, the month's KPIs counting them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialer.app import open_store
from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.leads.model import LeadState
from dialer.leads.sheets import write_sheet
from tests.conftest import write_config

CALLED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # Tuesday 3 November, 10:00 Beijing
LATER = VirtualClock(CALLED + timedelta(days=10))
HEADERS = ["客户姓名", "手机", "线索状态", "到店时间", "试乘试驾", "成交时间", "成交车型"]


def seeded(tmp_path: Path) -> Path:
    """Three invited HQ leads (1, 2, 3) called on 3 November."""
    cfg = write_config(tmp_path)

    async def seed() -> None:
        leads = tmp_path / "leads.csv"
        rows = "".join(f"客户{i},1380013800{i},总部下发\n" for i in range(1, 4))
        leads.write_text("姓名,手机,线索来源\n" + rows, encoding="utf-8")
        async with open_store(load(cfg, env={}), VirtualClock(CALLED)) as app:
            await app.leads.importer.import_file(leads, actor="经理")
            for lead_id in (1, 2, 3):
                form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=CALLED + timedelta(days=3))
                await app.doss.record_disposition(lead_id, None, Outcome.ANSWERED, form, "agent1")

    asyncio.run(seed())
    return cfg


def test_visits_and_deals_of_a_doss_export_reach_the_leads_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = seeded(tmp_path)
    export = tmp_path / "doss-export.xlsx"
    write_sheet(export, HEADERS, [
        ["客户1", "13800138001", "已到店", "2026-11-06 15:10", "是", "", ""],
        ["客户2", "13800138002", "已成交", "", "", "2026-11-07 11:00", "迈锐宝XL"],
        ["客户3", "13800138003", "已邀约", "", "", "", ""],  # the DCC's own state: not taken
        ["某人", "13800138009", "已到店", "2026-11-06 16:00", "", "", ""],  # nobody's number
        ["客户1", "13800138001", "已到店", "明天", "", "", ""],  # a bad time: that row only
    ])  # fmt: skip
    capsys.readouterr()
    command = ["--config", str(cfg), "doss", "import-states", str(export), "--actor", "销售经理", "--json"]
    assert main(command, clock=LATER) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["recorded"] == [
        {"row": 2, "lead_id": 1, "state": "visited"},
        {"row": 3, "lead_id": 2, "state": "deal"},
    ]
    assert (first["unchanged"], first["other_states"]) == (0, 1)
    assert [(p["row"], p["field"], p["reason"]) for p in first["problems"]] == [
        (5, "phone", "no lead has this number"),
        (6, "visited_at", "not a date (use YYYY-MM-DD)"),
    ]
    # Again: nothing changes, nothing is recorded twice.
    assert main(command, clock=LATER) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["recorded"], second["unchanged"]) == ([], 2)

    async def check() -> None:
        async with open_store(load(cfg, env={}), LATER) as app:
            visited = await app.leads.store.get(1)
            assert visited.state is LeadState.VISITED
            event = [e for e in await app.leads.store.events(1) if e.kind == "state"][-1]
            assert (event.data["source"], event.data["test_drive"], event.actor) == ("doss", True, "销售经理")
            assert event.at == datetime(2026, 11, 6, 7, 10, tzinfo=UTC)
            assert (await app.leads.store.get(2)).state is LeadState.DEAL
            # DOSS told us: nothing goes back to it (only the three bookings are in the outbox).
            rows = await app.doss.outbox.between(CALLED - timedelta(days=1), LATER.now())
            assert [r.record.result for r in rows] == ["预约到店"] * 3

    asyncio.run(check())
    assert main(["--config", str(cfg), "kpi", "--month", "2026-11", "--json"], clock=LATER) == 0
    kpis = json.loads(capsys.readouterr().out)
    # A deal reported without a visit is a deal, not a visit (docs/kpi.md counts changes to visited).
    assert kpis["invite_to_store_rate"]["numerator"] == 1 and kpis["deals"] == 1


def test_a_file_without_the_state_column_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = seeded(tmp_path)
    export = tmp_path / "wrong.csv"
    export.write_text("姓名,手机\n客户1,13800138001\n", encoding="utf-8")
    assert main(["--config", str(cfg), "doss", "import-states", str(export)], clock=LATER) != 0
    assert "no state column (one of 线索状态/跟进状态/状态/lead state/state)" in capsys.readouterr().err
