from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dialer.domain.calls.outcome import Outcome
from dialer.domain.leads.errors import LeadError
from dialer.domain.leads.hygiene import month_bounds, months_back
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.leads.service import LeadService
from tests.conftest import START

SH = ZoneInfo("Asia/Shanghai")


def test_months_are_dealer_local() -> None:
    assert month_bounds("2026-12", SH) == (datetime(2026, 12, 1, tzinfo=SH), datetime(2027, 1, 1, tzinfo=SH))
    assert months_back("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    for bad in ("2026-13", "2026/11", "11-2026"):
        with pytest.raises(LeadError, match="expected YYYY-MM"):
            month_bounds(bad, SH)


async def lead_id(service: LeadService, e164: str) -> int:
    lead = await service.store.find_by_phone(e164)
    assert lead is not None
    return lead.id


async def test_monthly_report_counts_invalid_numbers_duplicates_and_defeats(service: LeadService, sheet) -> None:
    headers = ["姓名", "手机", "电话", "意向车型", "负责人"]
    web = sheet(
        "web.csv",
        headers,
        [
            ["张三", "13800138001", "", "科鲁泽", ""],
            ["李四", "13800138002", "", "迈锐宝", ""],
            ["王五", "123", "", "", ""],
            ["赵六", "", "88886666", "", ""],
            ["张三", "13800138001", "", "", "李强"],  # in-file duplicate of row 2
            ["混合", "13800138001", "13800138002", "", ""],  # bridges two leads
            ["孙七", "13800138003", "", "科鲁泽", ""],
            ["张三", "13800138004", "", "科鲁泽", ""],  # same name and model as row 2, other number
        ],
    )
    await service.importer.import_file(web, actor="t", source=LeadSource.WEB, owner="王丽")
    lost = sheet(
        "lost.csv",
        ["姓名", "手机", "战败原因", "意向车型"],
        [
            ["周八", "13900139001", "价格原因", "科鲁泽"],
            ["吴九", "13900139002", "已购竞品", "迈锐宝"],
        ],
    )
    await service.importer.import_file(lost, actor="经理", source=LeadSource.DEFEATED)

    store = service.store
    sun, li, zhang = [await lead_id(service, n) for n in ("+8613800138003", "+8613800138002", "+8613800138001")]
    await store.record_contact(sun, START, "王丽", Outcome.VACANT)
    await store.change_state(li, LeadState.INVALID, START, "王丽", reason="非本人")
    await store.record_contact(zhang, datetime(2026, 10, 20, 2, tzinfo=UTC), "王丽", Outcome.ANSWERED)
    await store.change_state(
        zhang, LeadState.DEFEATED, datetime(2026, 10, 21, 2, tzinfo=UTC), "王丽", defeat_reason="价格原因"
    )
    zhou = await lead_id(service, "+8613900139001")
    await store.change_state(zhou, LeadState.FOLLOWING, START, "王丽")
    await store.change_state(zhou, LeadState.DEFEATED, START, "王丽", defeat_reason="暂不购车")

    report = await service.hygiene("2026-11")
    assert [(r.row, r.value, r.reason) for r in report.rejected_numbers] == [
        (4, "123", "wrong length"),
        (5, "88886666", "landline without area code"),
    ]
    assert report.rejected_by_reason == {"landline without area code": 1, "wrong length": 1}
    assert [(w.lead_id, w.why) for w in report.wrong_numbers] == [(li, "marked_invalid"), (sun, "vacant")]
    assert (report.merged_in_file, report.matched_stored, report.ownership_conflicts) == (1, 0, 1)
    assert [(r.row, r.reason) for r in report.ambiguous_rows] == [
        (7, "numbers belong to different leads: row 2, row 3")
    ]
    assert [(c.name, c.model, len(c.lead_ids)) for c in report.merge_candidates] == [("张三", "科鲁泽", 2)]
    d = report.defeated
    assert (d.total, d.handed_over, d.lost_by_dcc) == (3, 2, 1)
    assert d.by_reason == {"价格原因": 1, "已购竞品": 1, "暂不购车": 1}
    assert d.by_source == {"defeated": 3}
    assert d.by_model == {"科鲁泽": 2, "迈锐宝": 1}
    assert next(iter(d.by_month)) == "2025-12" and len(d.by_month) == 12
    assert (d.by_month["2026-10"], d.by_month["2026-11"], d.by_month["2026-09"]) == (1, 3, 0)
    # October only sees October.
    october = await service.hygiene("2026-10")
    assert (october.defeated.total, october.rejected_numbers, october.defeated.by_reason) == (1, (), {"价格原因": 1})
