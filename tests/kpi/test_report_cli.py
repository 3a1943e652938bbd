"""``dialer report daily|weekly`` through the real CLI on the seeded store of ``dialer kpi``'s tests."""

from __future__ import annotations

import asyncio
import json

import pytest

from dialer.cli import main
from tests.doss.test_cli import write_config
from tests.kpi.test_cli import _seed


def test_daily_sheet_json_for_a_past_day(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))  # 3 Mar 2025: 王芳 reaches two of four web leads, books one visit
    capsys.readouterr()  # the seeding's logs (before the CLI configures logging)
    assert main(["--config", str(write_config(tmp_path)), "report", "daily", "--date", "2025-03-04", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["day"] == "2025-03-04" and data["yesterday"]["day"] == "2025-03-03"
    assert data["yesterday"]["agents"] == [
        {"agent": "王芳", "dials": 2, "talks": 2, "follow_ups": 2, "invitations": 1, "visits": 0, "deals": 0}
    ]
    assert data["today"] is None  # 4 Mar 2025 is long past: what was due then is not known


def test_weekly_sheet_in_chinese(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))
    capsys.readouterr()
    assert main(["--config", str(write_config(tmp_path)), "report", "weekly", "--week", "2025-W10"]) == 0
    out = capsys.readouterr().out
    assert "周报 2025-W10" in out and "本周（2025-W10，2025-03-03 至 2025-03-09）各坐席工作量" in out
    agent_row = next(line for line in out.splitlines() if line.startswith("王芳"))
    assert agent_row.split() == ["王芳", "2", "2", "2", "1", "0", "0"]
    assert "本周战败原因分析（共 0 条）" in out and "无数据。" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [(["daily", "--date", "2025-3-4"], "expected YYYY-MM-DD"), (["weekly", "--week", "2025-10"], "expected YYYY-Www")],
)
def test_bad_day_or_week(tmp_path, capsys, args, message):
    assert main(["--config", str(write_config(tmp_path)), "report", *args]) == 2
    assert message in capsys.readouterr().err


def test_funnel_of_a_month_without_campaigns(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))  # the seeded calls are no campaign's
    capsys.readouterr()
    cfg = str(write_config(tmp_path))
    assert main([*("--config", cfg), "report", "funnel", "--month", "2025-03", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"month": "2025-03", "campaigns": []}
    assert main([*("--config", cfg, "--lang", "en"), "report", "funnel", "--month", "2025-03"]) == 0
    out = capsys.readouterr().out
    assert "campaign funnels (dialled → answered → talked → invited → visited → deal, in leads)" in out
    assert "No data." in out
    assert main([*("--config", cfg), "report", "funnel", "--month", "2025-3"]) == 2
