"""Web leads per car portal (#13 item 6): the import keeps the portal its source cell names, the KPIs' leads per
source count web leads per portal, and web leads without one stay plain "web"."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from dialer.app import open_store
from dialer.clock import VirtualClock
from dialer.domain.kpi.metrics import Month
from dialer.domain.leads.model import LeadSource, parse_portal, parse_source
from dialer.kpi.service import monthly_kpis
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings, StoreSettings
from tests.conftest import REPO
from tests.doss.conftest import TZ


@pytest.mark.parametrize(
    ("cell", "portal"),
    [("汽车之家", "汽车之家"), ("AutoHome", "汽车之家"), ("易车网", "易车"), (" 懂车帝 ", "懂车帝"), ("网络", None),
     ("网站", None), ("总部", None)],
)  # fmt: skip
def test_the_portal_a_source_cell_names(cell: str, portal: str | None) -> None:
    assert parse_portal(cell) == portal
    if portal is not None:
        assert parse_source(cell) is LeadSource.WEB


async def test_web_leads_per_portal_from_an_imported_file(tmp_path: Path) -> None:
    clock = VirtualClock(datetime(2026, 11, 2, 9, tzinfo=TZ))
    settings = Settings(base_dir=str(REPO), store=StoreSettings(path=str(tmp_path / "store.sqlite3")))
    rows = [
        ["甲", "13800000001", "汽车之家"],
        ["乙", "13800000002", "autohome"],
        ["丙", "13800000003", "易车"],
        ["丁", "13800000004", "网络"],  # a web lead without a portal
        ["戊", "13800000005", "总部"],
    ]
    write_sheet(tmp_path / "leads.csv", ["姓名", "手机", "线索来源"], rows)
    async with open_store(settings, clock) as app:
        report = await app.leads.importer.import_file(tmp_path / "leads.csv", actor="王经理")
        assert report.created == 5
        kpis = await monthly_kpis(app.db, settings, clock, Month(2026, 11))
    assert [(s.source, s.portal, s.count) for s in kpis.sources] == [
        (LeadSource.HQ, None, 1),
        (LeadSource.WEB, None, 1),
        (LeadSource.WEB, "易车", 1),
        (LeadSource.WEB, "汽车之家", 2),
    ]
    assert kpis.to_json()["sources"][3]["portal"] == "汽车之家"
