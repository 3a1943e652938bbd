"""Hostile lead files: whatever a dealer's export tool or a prankster produces, the import never
crashes, accounts for every row (imported, or rejected with row, field and reason), never
loses a valid row that sits between broken ones, and never stores a control character.

Each example gets a fresh store, so "every valid row is in the store afterwards" is exact.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from dialer.clock import VirtualClock
from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import UNPRINTABLE_REASON, LeadSource
from dialer.leads.importer import ImportReport
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings
from dialer.store.database import Database

START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
# The first this many bytes of non-ASCII text choose between UTF-8 and GB18030 (dialer/leads/sheets.py).
EVIDENCE_BYTES = 1 << 16
# Python's csv module refuses fields above this many characters; see test_csv_cell_above_csv_field_limit.
CSV_FIELD_LIMIT = 128 * 1024  # the csv module's default field size limit
HUGE_CELL = 100_000  # big enough to cross the evidence window, below the csv module's field limit

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
    st.characters(blacklist_categories=("Cs", "Nd", "Nl", "No", "Lu", "Ll", "Lt", "Lm", "Lo")),
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
    junk = [f"x-{t}" for t in draw(st.lists(st.text(hostile_char, max_size=12), max_size=3))]
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
        columns.append("手机号")  # an alias of 手机: two columns that mean the same thing
    columns = draw(st.permutations(columns))
    rows: list[list[str]] = []
    good: dict[str, str] = {}
    for i, kind in enumerate(draw(st.lists(st.sampled_from(["good", "hostile", "hostile_valid_phone"]), max_size=12))):
        row = [draw(hostile_text) for _ in columns]
        if kind == "good":
            name, local = draw(good_name), f"139{i:08d}"
            row = [
                name if c == NAME else local if c == MOBILE else "hq" if c == SOURCE else cell
                for c, cell in zip(columns, row, strict=True)
            ]
            good[f"+86{local}"] = name
        else:
            phone = f"137{i:08d}" if kind == "hostile_valid_phone" else draw(no_number_text)
            row = [phone if c == MOBILE else cell for c, cell in zip(columns, row, strict=True)]
        rows.append(row)
    return Sheet(columns, rows, good if header_mode == "ok" else {}, header_mode == "ok")


def data_row_numbers(rows: list[list[str]]) -> set[int]:
    """Spreadsheet row numbers (header = 1) of the rows that are not blank."""
    return {n for n, row in enumerate(rows, start=2) if any(c.strip() for c in row)}


def unprintable(c: str) -> bool:
    """What no lead may hold (docs/leads-import.md): controls but tab and line breaks, surrogates, non-characters."""
    cp = ord(c)
    return (
        (unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r")
        or 0xFDD0 <= cp <= 0xFDEF
        or cp & 0xFFFE == 0xFFFE
    )


def has_unprintable(text: str) -> bool:
    return any(unprintable(c) for c in text)


def evidence_is_utf8(data: bytes) -> bool:
    """Whether the text that decides the encoding reads as UTF-8: then a GB18030 file is misread or refused."""
    first = re.search(rb"[\x80-\xff]", data)
    window = b"" if first is None else data[first.start() : first.start() + EVIDENCE_BYTES]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(window, final=False)
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Stored:
    """What an import left in the store."""

    count: int  # leads
    names: dict[str, str | None]  # name by phone (E.164)
    texts: list[str]  # every text value of every lead


async def run_import(path: Path) -> tuple[ImportReport | ImportFileError, Stored]:
    """Import ``path`` into a fresh store; the outcome and what was stored."""
    clock = VirtualClock(START)
    db = await Database.open(path.parent / "store.sqlite3", clock=clock)
    try:
        service = LeadService(db, Settings(), clock)
        try:
            outcome: ImportReport | ImportFileError = await service.importer.import_file(
                path, actor="fuzz", source=LeadSource.HQ
            )
        except ImportFileError as exc:
            outcome = exc
        async with db.read() as r:
            count = int(await r.fetchval("SELECT COUNT(*) FROM leads"))
            names = {
                row["e164"]: row["name"]
                for row in await r.fetchall(
                    "SELECT p.e164 AS e164, l.name AS name FROM lead_phones p JOIN leads l ON l.id = p.lead_id"
                )
            }
            texts = [
                value
                for row in await r.fetchall("SELECT * FROM leads")
                for value in tuple(row)
                if isinstance(value, str)
            ]
        return outcome, Stored(count, names, texts)
    finally:
        await db.close()


def check_report(report: ImportReport | ImportFileError, stored: Stored, sheet: Sheet) -> None:
    assert isinstance(report, ImportReport), f"valid file refused: {report}"
    expected_rows = data_row_numbers(sheet.rows)
    assert report.rows == len(expected_rows)
    for rejection in report.rejections:
        assert rejection.row in expected_rows, rejection
        assert rejection.field and rejection.reason and rejection.column, rejection
        # Shown escaped: a report line never carries the bytes that got the row refused.
        assert not has_unprintable(rejection.field + rejection.value), rejection
    rejected = {r.row for r in report.rejections}
    assert stored.count == len(expected_rows - rejected), "every row is either imported or rejected"
    for e164, name in sheet.good.items():
        assert stored.names.get(e164) == name, f"valid row {e164} lost or changed"
    assert not [t for t in stored.texts if has_unprintable(t)], "a control character reached a lead"


def check_file_error(error: ImportFileError, path: Path) -> None:
    assert str(error).startswith(str(path)) or str(error).startswith("header row"), error


def encode_csv(headers: list[str], rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


@FUZZ
@given(
    sheet=sheets(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
)
async def test_csv_import_survives_hostile_cells(sheet: Sheet, encoding: str) -> None:
    data = encode_csv(sheet.headers, sheet.rows, encoding)
    # GB18030 whose deciding text happens to be valid UTF-8 (a huge cell of one such character) is
    # read as UTF-8; where the rest then is not, the file is refused: allowed, the rule is documented.
    ambiguous = encoding == "gb18030" and evidence_is_utf8(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        path.write_bytes(data)
        report, stored = await run_import(path)
    event(type(report).__name__)
    if isinstance(report, ImportFileError):
        assert not sheet.header_ok or ambiguous, f"file refused: {report}"
        check_file_error(report, path)
    else:
        check_report(report, stored, sheet)


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
        report, stored = await run_import(path)
    event(type(report).__name__)
    if isinstance(report, ImportFileError):
        # openpyxl writes U+FFFE/U+FFFF as they are, which XML forbids; calamine reads them anyway, and
        # the row check refuses their rows: only a bad header refuses the whole file.
        assert not sheet.header_ok, f"file refused: {report}"
        check_file_error(report, path)
    else:
        check_report(report, stored, cleaned)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".csv", ".xlsx"]))
async def test_arbitrary_bytes_are_refused_or_read(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"leads{suffix}"
        path.write_bytes(data)
        report, stored = await run_import(path)
    if isinstance(report, ImportFileError):
        check_file_error(report, path)
    else:
        assert stored.count == report.rows - report.rejected_rows


async def test_csv_cell_above_csv_field_limit(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    write_sheet(
        path,
        [NAME, MOBILE],
        [["张" * (CSV_FIELD_LIMIT + 1), "13900000001"], ["张三", "13900000002"]],
    )
    report, stored = await run_import(path)
    assert isinstance(report, ImportReport) and stored.names.get("+8613900000002") == "张三"


# Free-text columns: whatever is typed there is kept (tabs and line breaks folded into spaces).
TEXT_COLUMNS = ["意向车型", "现有车型", "负责人", "战败原因", "备注"]
unprintable_char = st.one_of(
    st.characters(max_codepoint=0x9F).filter(unprintable),
    # Surrogates are left out: no encoding a CSV file can have holds one.
    st.sampled_from(["\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]),
)
plain_text = st.text(
    st.one_of(st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd")), st.sampled_from(" \t\n\r")),
    max_size=10,
)


@st.composite
def tainted_sheets(draw: st.DrawFn) -> tuple[list[str], list[list[str]], dict[int, dict[str, str]]]:
    """Valid rows, some with a control character put into some cells; the spoiled cells by row."""
    headers = [NAME, MOBILE, *TEXT_COLUMNS]
    rows: list[list[str]] = []
    spoiled: dict[int, dict[str, str]] = {}
    for i in range(draw(st.integers(1, 8))):
        row = [draw(good_name), f"139{i:08d}", *(draw(plain_text) for _ in TEXT_COLUMNS)]
        for column in draw(st.sets(st.sampled_from(range(len(headers))), max_size=3)):
            char = draw(unprintable_char)
            at = draw(st.integers(0, len(row[column])))
            row[column] = row[column][:at] + char + row[column][at:]
            spoiled.setdefault(i + 2, {})[headers[column]] = char
        rows.append(row)
    return headers, rows, spoiled


@FUZZ
@given(
    tainted=tainted_sheets(),
    encoding=st.sampled_from(["utf-8-sig", "gb18030", "utf-16"]),
)
async def test_a_control_character_rejects_its_row_and_never_reaches_a_lead(
    tainted: tuple[list[str], list[list[str]], dict[int, dict[str, str]]],
    encoding: str,
) -> None:
    headers, rows, spoiled = tainted
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        path.write_bytes(encode_csv(headers, rows, encoding))
        report, stored = await run_import(path)
    assert isinstance(report, ImportReport), report
    # Exactly the spoiled cells are reported, each naming its field and showing the character escaped.
    assert {(r.row, r.field) for r in report.rejections} == {
        (row, field) for row, fields in spoiled.items() for field in fields
    }
    for r in report.rejections:
        assert r.reason == UNPRINTABLE_REASON, r
        escaped = spoiled[r.row][r.field].encode("unicode_escape").decode("ascii")
        assert escaped in r.value and not has_unprintable(r.value), r
    # Every other row is in, unchanged.
    assert stored.count == len(rows) - len(spoiled)
    for n, row in enumerate(rows, start=2):
        if n not in spoiled:
            assert stored.names.get(f"+86{row[1]}") == row[0]
    assert not [t for t in stored.texts if has_unprintable(t)]
