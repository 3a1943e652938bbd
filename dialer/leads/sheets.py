"""Reading and writing lead spreadsheets (CSV and XLSX): the only importer of openpyxl.

Reading streams: CSV line by line, XLSX through openpyxl's read-only mode, so a
100 000-row file never sits in memory as a workbook. Rows come out as
(spreadsheet row number, cell values); the header is row 1.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from dialer.leads.errors import ImportFileError

# Excel saves "CSV" in the system code page, which on Chinese Windows is GBK
# (GB18030 is its superset); everything else writes UTF-8, often with a BOM.
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")
# Enough bytes to tell UTF-8 from GBK: Chinese text shows up in the header row already.
_SNIFF_BYTES = 1 << 16
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class SheetRows:
    """An open sheet: its header row and an iterator over the data rows."""

    headers: Sequence[object]
    rows: Iterator[tuple[int, Sequence[object]]]


def file_sha256(path: Path) -> str:
    """Identifies a file by content, so a re-import of the same file is recognised whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


_MAX_CSV_CELL = 64 * 1024 * 1024


@contextmanager
def open_sheet(path: Path) -> Iterator[SheetRows]:
    """Open a .csv or .xlsx lead file for streaming; :class:`ImportFileError` if it cannot be read."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    if suffix == ".csv":
        # The csv module refuses a cell over 128 KiB with an exception that would end the whole
        # import; a cell that long is bad data in one row, for the row checks to reject.
        csv.field_size_limit(max(csv.field_size_limit(), _MAX_CSV_CELL))
        with _open_csv(path) as f:
            yield _sheet_rows(path, enumerate(csv.reader(f), start=1))
    elif suffix in (".xlsx", ".xlsm"):
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
            raise ImportFileError(f"{path}: not a readable XLSX workbook ({exc})") from None
        try:
            ws = wb.worksheets[0]
            yield _sheet_rows(path, enumerate(ws.iter_rows(values_only=True), start=1))
        finally:
            wb.close()
    else:
        raise ImportFileError(f"{path}: unsupported file type {suffix!r}; use .csv or .xlsx")


def _sheet_rows(path: Path, numbered: Iterator[tuple[int, Sequence[object]]]) -> SheetRows:
    first = next(numbered, None)
    if first is None:
        raise ImportFileError(f"{path}: the file is empty (no header row)")
    return SheetRows(headers=first[1], rows=numbered)


@contextmanager
def _open_csv(path: Path) -> Iterator[IO[str]]:
    with path.open("rb") as raw:
        head = raw.read(_SNIFF_BYTES)
    encoding = next((e for e in _CSV_ENCODINGS if _decodes(head, e)), None)
    if encoding is None:
        raise ImportFileError(f"{path}: text is neither UTF-8 nor GBK/GB18030")
    try:
        with path.open(encoding=encoding, newline="") as f:
            yield f
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: byte {exc.start} is not valid {encoding}") from None


def _decodes(head: bytes, encoding: str) -> bool:
    try:
        # Incremental, so a multi-byte character cut at the sniff boundary is not an error.
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def write_sheet(path: Path, headers: Sequence[str], rows: Iterator[Sequence[object]] | Sequence[Sequence[object]]) -> None:
    """Write a lead file (the template, test and benchmark data); XLSX in write-only (streaming) mode."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(headers)
            writer.writerows(rows)
    elif suffix == ".xlsx":
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("线索")
        ws.append(list(headers))
        for row in rows:
            ws.append(list(row))
        wb.save(path)
    else:
        raise ImportFileError(f"{path}: unsupported file type {suffix!r}; use .csv or .xlsx")
