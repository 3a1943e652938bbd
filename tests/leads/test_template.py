from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import IntentLevel, LeadSource
from dialer.domain.leads.template import (
    Column,
    HeaderMap,
    LeadDraft,
    Rejection,
    RowContext,
    RowReader,
    UnknownOwner,
    map_headers,
)

CTX = RowContext(
    region="CN", tz=ZoneInfo("Asia/Shanghai"), now=datetime(2026, 11, 29, 1, tzinfo=UTC), max_cell_chars=500
)

WEB = dataclasses.replace(CTX, source=LeadSource.WEB)


def parse_row(row: int, cells: list[object], headers: HeaderMap, ctx: RowContext) -> LeadDraft | list[Rejection]:
    """One row read on its own, owners kept as written."""
    return RowReader(headers, ctx, lambda name: name).read(row, cells)


ZH = [
    "姓名",
    "手机",
    "电话",
    "线索来源",
    "意向车型",
    "意向级别",
    "下发时间",
    "移交时间",
    "现有车型",
    "购车日期",
    "负责人",
    "下次跟进时间",
    "战败原因",
    "同意联系",
    "免打扰",
    "备注",
]
EN = [
    "Name",
    "Mobile",
    "Landline",
    "Source",
    "Model",
    "Intent",
    "Issued_At",
    "Handed Over",
    "Current Car",
    "Purchase Date",
    "Owner",
    "Callback",
    "Lost Reason",
    "Consent",
    "Opt-Out",
    "Note",
]


@pytest.mark.parametrize("headers", [ZH, EN], ids=["chinese", "english"])
def test_chinese_and_english_headers_map_to_the_same_columns(headers: list[str]) -> None:
    mapped = map_headers(headers)
    assert list(mapped.index) == list(Column)
    row = [
        "张三",
        "13800138000",
        "010-88886666",
        "总部下发",
        "科鲁泽",
        "H",
        "2026-11-28 10:00",
        "",
        "",
        "",
        "王丽",
        "",
        "",
        "是",
        "否",
        "老客户介绍",
    ]
    draft = parse_row(2, row, mapped, CTX)
    assert isinstance(draft, LeadDraft)
    assert draft.name == "张三" and draft.source is LeadSource.HQ and draft.intent is IntentLevel.H
    assert [p.e164 for p in draft.phones] == ["+8613800138000", "+861088886666"]
    assert draft.issued_at == datetime(2026, 11, 28, 2, tzinfo=UTC)
    assert (draft.owner, draft.consent, draft.opt_out, draft.note) == ("王丽", True, False, "老客户介绍")


def test_decorated_headers_are_recognised_and_unknown_ones_reported() -> None:
    mapped = map_headers(["*姓名", "手机号码(必填)", " 来源 ", "微信"])
    assert mapped.index == {Column.NAME: 0, Column.MOBILE: 1, Column.SOURCE: 2}
    assert mapped.ignored == ("微信",)


def test_a_file_without_name_or_phone_columns_is_refused() -> None:
    with pytest.raises(ImportFileError, match="missing column 姓名"):
        map_headers(["手机", "备注"])
    with pytest.raises(ImportFileError, match="手机 \\(mobile\\) or 电话"):
        map_headers(["姓名", "备注"])
    with pytest.raises(ImportFileError, match="both mean mobile"):
        map_headers(["姓名", "手机", "mobile"])


def test_every_problem_of_a_row_is_reported_with_row_field_value_and_reason() -> None:
    mapped = map_headers(["姓名", "手机", "电话", "线索来源", "意向级别", "移交时间"])
    result = parse_row(7, ["", "12345", "88886666", "报纸", "Z", "2027-01-01"], mapped, CTX)
    assert result == [
        Rejection(7, "姓名", "", "empty", "name"),
        Rejection(7, "手机", "12345", "not a valid number", "mobile"),
        Rejection(7, "电话", "88886666", "landline without area code", "landline"),
        Rejection(7, "线索来源", "报纸", "unknown source", "source"),
        Rejection(7, "意向级别", "Z", "intent level must be H, A, B or C", "intent"),
        Rejection(7, "移交时间", "2027-01-01", "in the future", "handed_over_at"),
    ]


def test_missing_phone_and_source_are_reasons_too() -> None:
    mapped = map_headers(["name", "mobile", "source"])
    assert parse_row(3, ["李四", None, None], mapped, CTX) == [
        Rejection(3, "mobile", "", "no phone number", "mobile"),
        Rejection(3, "source", "", "empty and no --source given", "source"),
    ]


def test_command_line_source_and_owner_fill_empty_cells_only() -> None:
    mapped = map_headers(["姓名", "手机", "线索来源", "负责人"])
    ctx = RowContext(region="CN", tz=CTX.tz, now=CTX.now, source=LeadSource.WEB, owner="赵六", max_cell_chars=500)
    a = parse_row(2, ["甲", "13800138000", "", ""], mapped, ctx)
    b = parse_row(3, ["乙", "13900139000", "战败", "王丽"], mapped, ctx)
    assert isinstance(a, LeadDraft) and isinstance(b, LeadDraft)
    assert (a.source, a.owner) == (LeadSource.WEB, "赵六")
    assert (b.source, b.owner) == (LeadSource.DEFEATED, "王丽")


def test_the_reader_files_owners_under_their_identity_and_lists_names_nobody_goes_by() -> None:
    reader = RowReader(map_headers(["姓名", "手机", "负责人"]), WEB, {"王丽": "agent1"}.get)
    kept = reader.read(2, ["甲", "13800138000", "王丽"])
    unknown = reader.read(3, ["乙", "13900139000", "小明"])
    refused = reader.read(4, ["", "13700137000", "小红"])  # a refused row's owner is not listed
    assert isinstance(kept, LeadDraft) and isinstance(unknown, LeadDraft) and isinstance(refused, list)
    assert (kept.owner, unknown.owner) == ("agent1", None)
    assert reader.unknown_owners == [UnknownOwner(3, "小明")]


def test_a_cell_seen_before_is_judged_the_same_and_reported_for_its_own_row() -> None:
    # Each distinct cell of a column is checked once; a refusal is still reported row by row.
    reader = RowReader(map_headers(["姓名", "手机", "意向级别"]), WEB, lambda name: name)
    first, second = (reader.read(row, ["甲", "13800138000", "Z"]) for row in (2, 3))
    reason = "intent level must be H, A, B or C"
    assert first == [Rejection(2, "意向级别", "Z", reason, "intent")]
    assert second == [Rejection(3, "意向级别", "Z", reason, "intent")]
    good = [reader.read(row, [f"客户{row}", f"1380013800{row}", "h"]) for row in (4, 5)]
    assert [d.intent for d in good if isinstance(d, LeadDraft)] == [IntentLevel.H, IntentLevel.H]
