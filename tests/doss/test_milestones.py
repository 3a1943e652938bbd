"""Showroom milestones from the command line: a visit (with a test drive) and a deal reach the lead,
DOSS's outbox and the month's KPIs; mistakes are one-line errors naming what is wrong."""

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
from dialer.domain.leads.model import LeadEventKind, LeadSource, LeadState
from tests.conftest import write_config

# Tuesday 3 November 2026, 10:00 in Shanghai: the lead is called and invited for Friday.
CALLED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
LATER = VirtualClock(CALLED + timedelta(days=10))


def invited_lead(tmp_path: Path) -> str:
    """A config whose store holds lead 1: an HQ lead called on 3 Nov and invited for 6 Nov."""
    cfg = write_config(tmp_path)

    async def seed() -> None:
        leads = tmp_path / "leads.csv"
        leads.write_text("姓名,手机,线索来源\n张先生,13800138000,总部下发\n", encoding="utf-8")
        async with open_store(load(cfg, env={}), VirtualClock(CALLED)) as app:
            await app.leads.importer.import_file(leads, actor="经理", source=LeadSource.HQ)
            form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=CALLED + timedelta(days=3))
            await app.doss.record_disposition(1, None, Outcome.ANSWERED, form, "agent1")

    asyncio.run(seed())
    return str(cfg)


def test_a_visit_with_a_test_drive_then_a_deal_reach_the_lead_doss_and_the_kpis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = invited_lead(tmp_path)
    capsys.readouterr()
    visit = ["--config", cfg, "leads", "visit", "1", "--at", "2026-11-06 15:00", "--test-drive", "--actor", "李顾问"]
    assert main(visit, clock=LATER) == 0
    assert "已记录到店" in capsys.readouterr().out
    deal = ["--config", cfg, "leads", "deal", "1", "--model", "迈锐宝XL", "--actor", "李顾问"]
    assert main(deal, clock=LATER) == 0
    capsys.readouterr()

    async def check() -> None:
        async with open_store(load(cfg, env={}), LATER) as app:
            lead = await app.leads.store.get(1)
            assert lead.state is LeadState.DEAL
            states = [e for e in await app.leads.store.events(1) if e.kind == LeadEventKind.STATE.value]
            visited = next(e for e in states if e.data["to"] == "visited")
            assert visited.at == datetime(2026, 11, 6, 7, 0, tzinfo=UTC) and visited.data["test_drive"] is True
            results = [
                e.record.result for e in await app.doss.outbox.between(CALLED, LATER.now() + timedelta(seconds=1))
            ]
            assert any("试乘试驾" in r for r in results) and any("迈锐宝XL" in r for r in results), results

    asyncio.run(check())
    assert main(["--config", cfg, "kpi", "--month", "2026-11", "--json"], clock=LATER) == 0
    kpis = json.loads(capsys.readouterr().out)
    assert kpis["invite_to_store_rate"]["numerator"] == 1 and kpis["deals"] == 1


def test_milestone_mistakes_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = invited_lead(tmp_path)
    capsys.readouterr()
    assert main(["--config", cfg, "leads", "visit", "1", "--at", "6 Nov"], clock=LATER) == 2
    assert "--at '6 Nov'" in capsys.readouterr().err
    assert main(["--config", cfg, "leads", "visit", "1", "--at", "2027-01-01 10:00"], clock=LATER) == 2
    assert "in the future" in capsys.readouterr().err
    assert main(["--config", cfg, "leads", "deal", "99"], clock=LATER) == 2
    assert "99" in capsys.readouterr().err
