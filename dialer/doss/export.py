"""The DOSS import spreadsheet: one line per change recorded in a period, in the template's columns.

DOSS has no API; dealers import spreadsheets. The lines come from the outbox
(every change DOSS must hear about is there, delivered or not), so the sheet and
the push never disagree about what happened. Times are the dealer's local time,
phones national digits kept as text (a spreadsheet would turn 13800138000 into
1.38E+10). Headers are Chinese as the template has them; English on request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from dialer.domain.doss.outbox import DossRecord, OutboxEntry
from dialer.domain.spreadsheet import as_cell
from dialer.phone import DialFormat, dial_string

SHEET_TITLE = {"zh-CN": "DOSS导入", "en": "DOSS import"}
_TIME_FORMAT = "%Y-%m-%d %H:%M"
_TEXT = "@"


@dataclass(frozen=True, slots=True)
class Column:
    """One template column: its headers and how a record fills it."""

    zh: str
    en: str
    width: int
    value: Callable[[DossRecord, tzinfo], str | None]


def _local(when: datetime | None, tz: tzinfo) -> str | None:
    return None if when is None else when.astimezone(tz).strftime(_TIME_FORMAT)


def _phone(record: DossRecord, _tz: tzinfo) -> str | None:
    return None if record.lead.phone is None else dial_string(record.lead.phone, DialFormat.NATIONAL)


COLUMNS: tuple[Column, ...] = (
    Column("客户姓名", "Customer", 12, lambda r, tz: r.lead.name),
    Column("手机", "Mobile", 15, _phone),
    Column("线索来源", "Lead source", 10, lambda r, tz: r.lead.source.zh),
    Column("意向车型", "Model of interest", 12, lambda r, tz: r.lead.model),
    Column("意向级别", "Intent level", 8, lambda r, tz: None if r.intent is None else r.intent.value),
    Column("跟进结果", "Follow-up result", 14, lambda r, tz: r.result),
    Column("线索状态", "Lead state", 8, lambda r, tz: r.state.zh),
    Column("下次跟进时间", "Next follow-up", 17, lambda r, tz: _local(r.next_follow_up_at, tz)),
    Column("预约到店时间", "Booked visit", 17, lambda r, tz: _local(r.visit_at, tz)),
    Column("战败原因", "Defeat reason", 12, lambda r, tz: r.defeat_reason),
    Column("负责人", "Owner", 10, lambda r, tz: r.lead.owner),
    Column("跟进人", "Recorded by", 10, lambda r, tz: r.actor),
    Column("跟进时间", "Follow-up time", 17, lambda r, tz: _local(r.at, tz)),
    Column("备注", "Note", 30, lambda r, tz: r.note),
    # Last, so a DOSS import that reads the template's columns by position still finds the others.
    Column("跟进目的", "Follow-up purpose", 10, lambda r, tz: None if r.purpose is None else r.purpose.zh),
)


def period_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of the local days ``first`` to ``last`` inclusive, as aware datetimes."""
    if last < first:
        raise ValueError(f"--to {last.isoformat()} is before --date {first.isoformat()}")
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return start, end


def rows(entries: Sequence[OutboxEntry], tz: tzinfo) -> list[tuple[str | None, ...]]:
    """The sheet's data lines, in the order the changes were recorded."""
    return [tuple(column.value(entry.record, tz) for column in COLUMNS) for entry in entries]


def write_xlsx(path: Path, entries: Sequence[OutboxEntry], tz: tzinfo, language: str = "zh-CN") -> int:
    """Write the import sheet to ``path``; returns the number of data lines."""
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet), "a new workbook starts with one worksheet"
    sheet.title = SHEET_TITLE[language]
    sheet.append([column.zh if language == "zh-CN" else column.en for column in COLUMNS])
    lines = rows(entries, tz)
    for line in lines:
        sheet.append([as_cell(value) for value in line])
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        for cell in sheet[letter][1:]:
            cell.number_format = _TEXT
    sheet.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return len(lines)
