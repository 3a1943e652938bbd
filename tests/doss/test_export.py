"""The DOSS import sheet: opens in openpyxl, one line per change of the period, local days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose
from dialer.domain.leads.model import LeadState
from dialer.doss.export import COLUMNS, period_bounds, write_xlsx

from .conftest import TZ

HEADERS = [
    "客户姓名", "手机", "线索来源", "意向车型", "意向级别", "跟进结果", "线索状态",
    "下次跟进时间", "预约到店时间", "战败原因", "负责人", "跟进人", "跟进时间", "备注", "跟进目的",
]  # fmt: skip


async def _day_of_changes(service, make_leads, clock):
    """Three changes on 29 Nov (local) and one just after local midnight (30 Nov 00:00:30)."""
    a, b, c, d = await make_leads(4)
    visit = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
    await service.record_disposition(
        a,
        1,
        Outcome.ANSWERED,
        DispositionForm(Disposition.BOOKED_VISIT, visit_at=visit, purpose=FollowUpPurpose.TEST_DRIVE, note="带家人"),
        "王芳",
    )
    clock.advance(3600)
    await service.record_disposition(
        b, 2, Outcome.ANSWERED, DispositionForm(Disposition.DEFEATED, defeat_reason="价格原因"), "王芳"
    )
    await service.record_disposition(c, 3, Outcome.VACANT, DispositionForm(Disposition.NO_CONTACT), "dialer")
    # not reported: the first unanswered call
    await service.record_disposition(
        d, 4, Outcome.BUSY, DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=visit), "dialer"
    )
    clock.set(datetime(2026, 11, 30, 0, 0, 30, tzinfo=TZ))
    await service.record_milestone(a, LeadState.VISITED, "李顾问")


async def test_day_export_opens_and_rows_match(service, make_leads, outbox, clock, tmp_path):
    await _day_of_changes(service, make_leads, clock)
    start, end = period_bounds(date(2026, 11, 29), date(2026, 11, 29), TZ)
    path = tmp_path / "out" / "doss-2026-11-29.xlsx"
    assert write_xlsx(path, await outbox.between(start, end), TZ) == 3

    sheet = load_workbook(path).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert sheet.title == "DOSS导入"
    assert values[0] == HEADERS
    assert values[1:] == [
        ["客户1", "13800000001", "总部下发", "科鲁泽", "H", "预约到店", "已邀约",
         None, "2026-12-01 10:00", None, "王芳", "王芳", "2026-11-29 09:00", "带家人", "邀约试驾"],
        ["客户2", "13800000002", "总部下发", "科鲁泽", None, "战败", "战败",
         None, None, "价格原因", "王芳", "王芳", "2026-11-29 10:00", None, None],
        ["客户3", "13800000003", "总部下发", "科鲁泽", None, "空号", "无效",
         None, None, None, "王芳", "dialer", "2026-11-29 10:00", None, None],
    ]  # fmt: skip
    assert sheet["B2"].number_format == "@"  # the phone stays text


async def test_range_export_includes_the_next_local_day(service, make_leads, outbox, clock, tmp_path):
    await _day_of_changes(service, make_leads, clock)
    start, end = period_bounds(date(2026, 11, 29), date(2026, 11, 30), TZ)
    path = tmp_path / "range.xlsx"
    assert write_xlsx(path, await outbox.between(start, end), TZ, language="en") == 4
    sheet = load_workbook(path).active
    header, *lines = list(sheet.iter_rows(values_only=True))
    assert list(header) == [c.en for c in COLUMNS]
    assert lines[-1][5:7] == ("已到店", "已到店")
    assert lines[-1][-3] == "2026-11-30 00:00"


async def test_empty_period_is_a_sheet_with_headers_only(outbox, tmp_path):
    start, end = period_bounds(date(2026, 11, 1), date(2026, 11, 1), TZ)
    path = tmp_path / "empty.xlsx"
    assert write_xlsx(path, await outbox.between(start, end), TZ) == 0
    assert [list(r) for r in load_workbook(path).active.iter_rows(values_only=True)] == [HEADERS]


def test_reversed_period_is_refused():
    with pytest.raises(ValueError, match="before"):
        period_bounds(date(2026, 11, 2), date(2026, 11, 1), TZ)
    start, end = period_bounds(date(2026, 11, 29), date(2026, 11, 29), TZ)
    assert end - start == timedelta(days=1)
    assert start.isoformat() == "2026-11-29T00:00:00+08:00"


async def test_a_formula_in_a_note_or_a_reason_is_text_in_the_sheet(service, make_leads, outbox, clock, tmp_path):
    (lead,) = await make_leads(1)
    hostile = '=HYPERLINK("http://evil.example","点我")'
    await service.record_disposition(
        lead, 1, Outcome.ANSWERED, DispositionForm(Disposition.DEFEATED, defeat_reason="价格原因", note=hostile), "王芳"
    )
    start, end = period_bounds(date(2026, 11, 29), date(2026, 11, 29), TZ)
    path = tmp_path / "doss.xlsx"
    write_xlsx(path, await outbox.between(start, end), TZ)
    note = load_workbook(path).active["N2"]
    assert note.data_type == "s" and note.value == "'" + hostile  # shown as text, never run
