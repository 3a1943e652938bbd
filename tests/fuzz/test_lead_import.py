"""Hostile lead files: whatever a dealer's export tool or a prankster produces, the import never
crashes, accounts for every row (imported, or rejected with row, field and reason) and never
loses a valid row that sits between broken ones.

Each example gets a fresh store, so "every valid row is in the store afterwards" is exact.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from dialer.clock import VirtualClock
from dialer.leads.errors import ImportFileError
from dialer.leads.importer import ImportReport
from dialer.leads.model import LeadSource
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings
from dialer.store.database import Database

START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
# The importer sniffs this many bytes to choose between UTF-8 and GB18030 (dialer/leads/sheets.py).
SNIFF_BYTES = 1 << 16
# Python's csv module refuses fields above this many characters; see test_csv_cell_above_csv_field_limit.
CSV_FIELD_LIMIT = 128 * 1024  # the csv module's default field size limit
HUGE_CELL = (
    100_000  # big enough to cross the sniff window, below the csv module's field limit
)

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Any character a file can carry: control characters, NUL, RTL marks, CJK, emoji (surrogates cannot be encoded).
hostile_char = st.characters(blacklist_categories=("Cs",))
hostile_text = st.one_of(
    st.text(hostile_char, max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "\t",
            "\r\n",
            "\x00",
            "=1+1",
            '"',
            "'",
            "﻿",
            "NULL",
            "-1",
            "9" * 40,
            "1e400",
            "\u202e",
        ]
    ),
    st.builds(
        lambda c, n: c * n,
        st.characters(blacklist_categories=("Cs",)),
        st.integers(HUGE_CELL - 10, HUGE_CELL),
    ),
)
# Phone cells of hostile rows hold no digits or letters, so they can never become a valid number that
# collides with a good row; hostile rows with a *valid* number use their own number range instead.
no_number_text = st.text(
    st.characters(
        blacklist_categories=("Cs", "Nd", "Nl", "No", "Lu", "Ll", "Lt", "Lm", "Lo")
    ),
    max_size=20,
)
good_name = st.builds(
    lambda rest: "张" + rest,
    st.text(st.characters(whitelist_categories=("Lu", "Ll", "Lo")), max_size=8),
)

NAME, MOBILE, SOURCE = "姓名", "手机", "线索来源"


@dataclass(frozen=True, slots=True)
class Sheet:
    """One generated lead file before encoding: headers, rows, and which rows are valid."""

    headers: list[str]
    rows: list[list[str]]
    good: dict[str, str]  # e164 -> name of each valid row
    header_ok: bool


@st.composite
def sheets(draw: st.DrawFn) -> Sheet:
    junk = [
        f"x-{t}" for t in draw(st.lists(st.text(hostile_char, max_size=12), max_size=3))
    ]
    header_mode = draw(
        st.one_of(
            st.just("ok"),
            st.sampled_from(["missing_name", "missing_phone", "duplicate"]),
        )
    )
    columns = [NAME, MOBILE, *draw(st.sampled_from([[], [SOURCE]])), *junk]
    if header_mode == "missing_name":
        columns.remove(NAME)
    elif header_mode == "missing_phone":
        columns.remove(MOBILE)
    elif header_mode == "duplicate":
        columns.append(
            "手机号"
        )  # an alias of 手机: two columns that mean the same thing
    columns = draw(st.permutations(columns))
    rows: list[list[str]] = []
    good: dict[str, str] = {}
    for i, kind in enumerate(
        draw(
            st.lists(
                st.sampled_from(["good", "hostile", "hostile_valid_phone"]), max_size=12
            )
        )
    ):
        row = [draw(hostile_text) for _ in columns]
        if kind == "good":
            name, local = draw(good_name), f"139{i:08d}"
            row = [
                name
                if c == NAME
                else local
                if c == MOBILE
                else "hq"
                if c == SOURCE
                else cell
                for c, cell in zip(columns, row)
            ]
            good[f"+86{local}"] = name
        else:
            phone = (
                f"137{i:08d}" if kind == "hostile_valid_phone" else draw(no_number_text)
            )
            row = [phone if c == MOBILE else cell for c, cell in zip(columns, row)]
        rows.append(row)
    return Sheet(
        columns, rows, good if header_mode == "ok" else {}, header_mode == "ok"
    )


def data_row_numbers(rows: list[list[str]]) -> set[int]:
    """Spreadsheet row numbers (header = 1) of the rows that are not blank."""
    return {n for n, row in enumerate(rows, start=2) if any(c.strip() for c in row)}


def decodes(data: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


async def run_import(
    path: Path,
) -> tuple[ImportReport | ImportFileError, int, dict[str, str | None]]:
    """Import ``path`` into a fresh store; the outcome, the number of leads stored, and name by phone."""
    clock = VirtualClock(START)
    db = await Database.open(path.parent / "store.sqlite3", clock=clock)
    try:
        service = LeadService(db, Settings(), clock)
        try:
            outcome: (
                ImportReport | ImportFileError
            ) = await service.importer.import_file(
                path, actor="fuzz", source=LeadSource.HQ
            )
        except ImportFileError as exc:
            outcome = exc
        async with db.read() as r:
            stored = int(await r.fetchval("SELECT COUNT(*) FROM leads"))
            names = {
                row["e164"]: row["name"]
                for row in await r.fetchall(
                    "SELECT p.e164 AS e164, l.name AS name FROM lead_phones p JOIN leads l ON l.id = p.lead_id"
                )
            }
        return outcome, stored, names
    finally:
        await db.close()


def check_report(
    report: ImportReport | ImportFileError,
    stored: int,
    names: dict[str, str | None],
    sheet: Sheet,
) -> None:
    assert isinstance(report, ImportReport), f"valid file refused: {report}"
    expected_rows = data_row_numbers(sheet.rows)
    assert report.rows == len(expected_rows)
    for rejection in report.rejections:
        assert rejection.row in expected_rows, rejection
        assert rejection.field and rejection.reason and rejection.column, rejection
    rejected = {r.row for r in report.rejections}
    assert stored == len(expected_rows - rejected), (
        "every row is either imported or rejected"
    )
    for e164, name in sheet.good.items():
        assert names.get(e164) == name, f"valid row {e164} lost or changed"


def check_file_error(error: ImportFileError, path: Path) -> None:
    assert str(error).startswith(str(path)) or str(error).startswith("header row"), (
        error
    )


@FUZZ
@given(
    sheet=sheets(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
)
async def test_csv_import_survives_hostile_cells(sheet: Sheet, encoding: str) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(sheet.headers)
    writer.writerows(sheet.rows)
    data = buffer.getvalue().encode(encoding)
    # A GB18030 file whose first 64 KiB are plain ASCII is read as UTF-8 and refused where that breaks: allowed.
    misread = (
        encoding == "gb18030"
        and decodes(data[:SNIFF_BYTES], "utf-8-sig")
        and not decodes(data, "utf-8-sig")
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        path.write_bytes(data)
        report, stored, names = await run_import(path)
    event(type(report).__name__)
    if isinstance(report, ImportFileError):
        assert not sheet.header_ok or encoding == "utf-16" or misread, (
            f"file refused: {report}"
        )
        check_file_error(report, path)
    else:
        assert encoding != "utf-16", "UTF-16 is neither UTF-8 nor GB18030"
        check_report(report, stored, names, sheet)


def xlsx_cell(text: str) -> str:
    """What a spreadsheet can hold: XML forbids most control characters, and '=' would make a formula."""
    return ILLEGAL_CHARACTERS_RE.sub("", text).lstrip("=")


@FUZZ
@given(sheet=sheets())
async def test_xlsx_import_survives_hostile_cells(sheet: Sheet) -> None:
    cleaned = Sheet(
        [xlsx_cell(h) for h in sheet.headers],
        [[xlsx_cell(c) for c in row] for row in sheet.rows],
        sheet.good,
        sheet.header_ok,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.xlsx"
        write_sheet(path, cleaned.headers, cleaned.rows)
        report, stored, names = await run_import(path)
    event(type(report).__name__)
    if isinstance(report, ImportFileError):
        assert not sheet.header_ok, f"file refused: {report}"
        check_file_error(report, path)
    else:
        check_report(report, stored, names, cleaned)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".csv", ".xlsx"]))
async def test_arbitrary_bytes_are_refused_or_read(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"leads{suffix}"
        path.write_bytes(data)
        report, stored, _ = await run_import(path)
    if isinstance(report, ImportFileError):
        check_file_error(report, path)
    else:
        assert stored == report.rows - report.rejected_rows


async def test_csv_cell_above_csv_field_limit(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    write_sheet(
        path,
        [NAME, MOBILE],
        [["张" * (CSV_FIELD_LIMIT + 1), "13900000001"], ["张三", "13900000002"]],
    )
    report, _, names = await run_import(path)
    assert isinstance(report, ImportReport) and names.get("+8613900000002") == "张三"
