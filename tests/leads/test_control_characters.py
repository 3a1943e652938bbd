"""Control characters in a lead file: the row is refused with the character shown escaped, the rest imports.

A NUL in a name, an escape sequence in a note, a U+FFFE from a broken export: none of them is
ever part of a lead, and stored they would break the CSV, XML and terminal output built from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zipfile import ZipFile
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import UNPRINTABLE_REASON, FieldError, LeadSource, check_printable, shown
from dialer.domain.leads.template import LeadDraft, RowContext, RowReader, map_headers
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet

HEAD = ["姓名", "手机", "意向车型", "备注"]


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f",
     "\ud800", "\udfff", "\ufdd0", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"],  # noqa: PT014 - ruff reads the lone surrogates \ud800 and \udfff as equal; they differ
)  # fmt: skip
def test_control_characters_surrogates_and_non_characters_are_refused(char: str) -> None:
    with pytest.raises(FieldError) as err:
        check_printable(f"张{char}三")
    assert err.value.reason == UNPRINTABLE_REASON


@pytest.mark.parametrize(
    "text", ["张三", "第一行\n第二行", "a\tb", "a\r\nb", "\u202e", "\ufeff", "😀", "\u3000", "\xa0"]
)
def test_tabs_line_breaks_and_ordinary_unicode_are_printable(text: str) -> None:
    check_printable(text)  # does not raise


@pytest.mark.parametrize(
    ("raw", "text"),
    [("  张三 ", "张三"), ("张\x00三", "张\\x00三"), ("\x85张三\x1f", "\\x85张三\\x1f"), ("a\nb\tc", "a\\nb\\tc"),
     ("x\ud800", "x\\ud800"), ("\ufffe", "\\ufffe"), ("\U0010ffff", "\\U0010ffff"), (13800138000, "13800138000")],
)  # fmt: skip
def test_values_are_shown_trimmed_with_control_characters_escaped(raw: object, text: str) -> None:
    assert shown(raw) == text


async def test_a_control_character_in_any_field_rejects_only_its_row(service: LeadService, sheet) -> None:
    path = sheet("ctl.csv", HEAD, [
        ["张三", "13800138000", "科鲁泽", "周末方便"],
        ["李\x00四", "13900139000", "", ""],
        ["王五", "13700137000", "迈锐宝\ufffe", "来电\x1b[31m"],
        ["赵六", "1360013\x7f6000", "", ""],
        ["孙七", "13500135000", "", "第一行\r\n第二行\t完"],
    ])  # fmt: skip
    report = await service.importer.import_file(path, actor="t", source=LeadSource.WEB)
    assert (report.rows, report.created, report.rejected_rows) == (5, 2, 3)
    assert [(r.row, r.field, r.value, r.reason, r.column) for r in report.rejections] == [
        (3, "姓名", "李\\x00四", UNPRINTABLE_REASON, "name"),
        (4, "意向车型", "迈锐宝\\ufffe", UNPRINTABLE_REASON, "model"),
        (4, "备注", "来电\\x1b[31m", UNPRINTABLE_REASON, "note"),
        (5, "手机", "1360013\\x7f6000", UNPRINTABLE_REASON, "mobile"),
    ]
    assert await service.store.find_by_phone("+8613900139000") is None
    # A line break in a note is legitimate; it is folded into a space like any white space.
    sun = await service.store.find_by_phone("+8613500135000")
    assert sun is not None and sun.note == "第一行 第二行 完"


async def test_an_xlsx_cell_with_a_c1_control_is_refused(service: LeadService, sheet) -> None:
    path = sheet("ctl.xlsx", HEAD, [["张\x85三", 13800138000, None, None], ["李四", 13900139000, None, "a\nb"]])
    report = await service.importer.import_file(path, actor="t", source=LeadSource.WEB)
    assert [(r.row, r.field, r.value) for r in report.rejections] == [(2, "姓名", "张\\x85三")]
    lead = await service.store.find_by_phone("+8613900139000")
    assert report.created == 1 and lead is not None and lead.note == "a b"


def test_a_lone_surrogate_is_refused_and_shown_escaped() -> None:
    # No CSV or XLSX decoder produces one; a caller handing cells over in memory can.
    ctx = RowContext(
        region="CN",
        tz=ZoneInfo("Asia/Shanghai"),
        now=datetime(2026, 11, 29, tzinfo=UTC),
        source=LeadSource.WEB,
        max_cell_chars=500,
    )
    result = RowReader(map_headers(["姓名", "手机"]), ctx, lambda name: name).read(2, ["张\ud800", "13800138000"])
    assert not isinstance(result, LeadDraft)
    assert [(r.field, r.value, r.reason) for r in result] == [("姓名", "张\\ud800", UNPRINTABLE_REASON)]


def test_headers_are_reported_escaped_and_a_line_break_inside_a_header_is_decoration() -> None:
    headers = map_headers(["姓名\n(必填)", "手机", "备\x00注"])
    assert headers.header["name"] == "姓名\\n(必填)"
    assert headers.ignored == ("备\\x00注",)


async def test_an_xlsx_cell_holding_a_character_xml_forbids_refuses_its_row_only(
    service: LeadService, tmp_path: Path
) -> None:
    # openpyxl writes U+FFFE as it is, which XML forbids; calamine reads it, and the row check refuses it.
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "手机"])
    ws.append(["张三", "13800138000"])
    ws.append(["李\ufffe四", "13900139000"])
    path = tmp_path / "broken.xlsx"
    wb.save(path)
    report = await service.importer.import_file(path, actor="t", source=LeadSource.WEB)
    assert [(r.row, r.value, r.reason) for r in report.rejections] == [(3, "李\\ufffe四", UNPRINTABLE_REASON)]
    assert report.created == 1 and await service.store.count() == 1


async def test_an_xlsx_whose_sheet_xml_is_broken_is_refused_not_a_crash(service: LeadService, tmp_path: Path) -> None:
    path = tmp_path / "cut.xlsx"
    write_sheet(path, ["姓名", "手机"], [["张三", "13800138000"], ["李四", "13900139000"]])
    with ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet_xml = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = sheet_xml[: len(sheet_xml) // 2]  # cut off, as by a failed download
    with ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    with pytest.raises(ImportFileError, match="not a readable XLSX workbook"):
        await service.importer.import_file(path, actor="t", source=LeadSource.WEB)
    assert await service.store.count() == 0
