"""Reading and writing lead spreadsheets: CSV with the csv module, XLSX read with calamine and
written with openpyxl.

openpyxl is imported here and by the two other spreadsheet writers, the DOSS import sheet
(``dialer.doss.export``) and the monthly report (``dialer.web.reports``); python-calamine only
here; contracts in pyproject.toml keep them there.

CSV streams line by line. An XLSX sheet is read by calamine (Rust), about 15 times faster than
openpyxl's read-only mode (docs/bench.md); it holds the sheet's cells in memory, which the
unpacked-size limit checked before anything is unpacked bounds. Rows come out as
(spreadsheet row number, cell values), numbered and placed as in the sheet whatever empty rows
and columns surround the data; the header is row 1.

A CSV file's encoding is decided before its first row is parsed, by one streaming pass
that also hashes it: a file is read as one encoding from start to end or refused whole,
naming the first byte that is wrong, never half-imported in one encoding.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zipfile import BadZipFile, ZipFile

from openpyxl import Workbook
from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook, SheetTypeEnum

from dialer.domain.leads.errors import ImportFileError

# Excel saves "CSV" in the system code page, which on Chinese Windows is GBK (GB18030 is
# its superset); everything else writes UTF-8, often with a BOM; Excel's "Unicode text" and
# some Chinese tools write UTF-16, always with a BOM.
_UTF8, _GB18030, _UTF16 = "utf-8-sig", "gb18030", "utf-16"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# How much non-ASCII text decides between UTF-8 and GB18030. Counted from the first non-ASCII
# byte: both read ASCII alike, so an English header and thousands of rows of digits before the
# first Chinese name say nothing. 64 KiB of Chinese text that happens to be valid UTF-8 is never GBK.
_EVIDENCE_BYTES = 1 << 16
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class SheetRows:
    """An open sheet: its header row, an iterator over the data rows, and the file's SHA-256."""

    headers: Sequence[object]
    rows: Iterator[tuple[int, Sequence[object]]]
    sha256: str
    rows_estimate: int | None  # about how many data rows follow, for progress (None: unknown)


def file_sha256(path: Path) -> str:
    """Identifies a file by content, so a re-import of the same file is recognised whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


_MAX_CSV_CELL = 64 * 1024 * 1024
# What calamine raises on a broken workbook (broken zip or XML, e.g. U+FFFE in a cell, which XML
# forbids; a missing part; a password) while opening it or reading its sheet.
_XLSX_ERRORS = (CalamineError, OSError, ValueError)


@contextmanager
def open_sheet(path: Path, max_unpacked_bytes: int) -> Iterator[SheetRows]:
    """Open a .csv or .xlsx lead file for streaming; :class:`ImportFileError` if it cannot be read, or
    if an XLSX would unpack to more than ``max_unpacked_bytes`` (``[leads] import_max_unpacked_mb``)."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    if suffix == ".csv":
        # The csv module refuses a cell over 128 KiB with an exception that would end the whole
        # import; a cell that long is bad data in one row, for the row checks to reject.
        csv.field_size_limit(max(csv.field_size_limit(), _MAX_CSV_CELL))
        scan = _scan_csv(path)
        with path.open(encoding=scan.encoding, newline="") as f:
            yield _sheet_rows(path, enumerate(csv.reader(f), start=1), scan.sha256, scan.rows_estimate)
    elif suffix in (".xlsx", ".xlsm"):
        _check_unpacked_size(path, max_unpacked_bytes)
        _check_sheet_extent(path)
        ws = _first_worksheet(path)
        # The size comes from the cells themselves: a sheet's declared <dimension> may be stale or forged.
        estimate = None if ws.end is None else ws.end[0]
        rows = _xlsx_rows(path, ws.start, ws.iter_rows())
        yield _sheet_rows(path, enumerate(rows, start=1), file_sha256(path), estimate)
    else:
        raise ImportFileError(f"{path}: unsupported file type {suffix!r}; use .csv or .xlsx")


def _check_unpacked_size(path: Path, limit: int) -> None:
    """Refuse an XLSX whose parts would unpack past ``limit`` bytes, before any of it is unpacked.

    The sizes come from the zip's directory: a member that holds more than it declares is not
    unpacked past its declared size (and fails its checksum), so a lie there cannot get round this.
    """
    try:
        with ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (BadZipFile, OSError) as exc:
        raise ImportFileError(f"{path}: not a readable XLSX workbook ({exc})") from None
    if unpacked > limit:
        raise ImportFileError(
            f"{path}: the workbook unpacks to {unpacked // (1024 * 1024)} MB, more than the"
            f" {limit // (1024 * 1024)} MB allowed ([leads] import_max_unpacked_mb); save it as CSV or split it"
        )


# calamine holds a sheet as one dense rectangle from its first to its last used cell, so two cells,
# A1 and XFD1048576, in a 5 KB file would ask for 17 billion cells (and abort the process: a Rust
# allocation failure is not an exception). 10 million cells is 100 000 rows of 100 columns.
_MAX_XLSX_CELLS = 10_000_000
# A cell's or a row's position (r="B12", r="12"): an attribute named r ("sqref=", "ref=" and "r:id=" are not).
_POSITION = re.compile(rb'\sr="([A-Z]{0,3})(\d{1,7})"')


def _check_sheet_extent(path: Path) -> None:
    """Refuse a workbook with a sheet whose used area (as far as its last cell) exceeds _MAX_XLSX_CELLS.

    Every worksheet part is scanned as it is unpacked, before calamine reads any; the scan is of
    bytes (a position is ASCII), so a cut or broken part is left for calamine to refuse.
    """
    try:
        with ZipFile(path) as archive:
            for name in archive.namelist():
                if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                    continue
                rows, columns = 0, 0
                tail = b""
                with archive.open(name) as part:
                    while block := part.read(_BLOCK):
                        text = tail + block
                        if positions := _POSITION.findall(text):
                            rows = max(rows, max(int(digits) for _, digits in positions))
                            columns = max(columns, *(_column_number(c) for c in {c for c, _ in positions}))
                        tail = text[-32:]  # a position cut at the block's end is found in the next
                if rows * max(columns, 1) > _MAX_XLSX_CELLS:
                    raise ImportFileError(
                        f"{path}: a sheet ({name}) reaches row {rows:,}, column {columns:,}: more than"
                        f" {_MAX_XLSX_CELLS:,} cells to read; delete the stray cells far from the data or save it as CSV"
                    )
    except (BadZipFile, OSError) as exc:
        raise ImportFileError(f"{path}: not a readable XLSX workbook ({exc})") from None


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64  # A = 1
    return number


def _first_worksheet(path: Path) -> CalamineSheet:
    """The workbook's first worksheet (as Excel orders them; a chart sheet has no rows), read whole."""
    try:
        with CalamineWorkbook.from_path(str(path)) as wb:
            index = next((i for i, m in enumerate(wb.sheets_metadata) if m.typ == SheetTypeEnum.WorkSheet), None)
            if index is None:
                raise ImportFileError(f"{path}: the workbook has no worksheet")
            return wb.get_sheet_by_index(index)
    except _XLSX_ERRORS as exc:
        raise ImportFileError(f"{path}: not a readable XLSX workbook ({exc})") from None


def _xlsx_rows(path: Path, start: tuple[int, int] | None, rows: Iterator[list[Any]]) -> Iterator[Sequence[object]]:
    """The sheet's rows, each starting at column A: calamine pads the empty rows above the data but
    starts every row at the first column that holds anything."""
    if start is None:
        return  # no cell holds anything
    padding = [None] * start[1]
    # Only calamine's reading runs inside this try: errors of the caller's row handling never land here.
    try:
        for row in rows:
            yield padding + row if padding else row
    except _XLSX_ERRORS as exc:
        raise ImportFileError(f"{path}: not a readable XLSX workbook ({exc})") from None


def _sheet_rows(
    path: Path, numbered: Iterator[tuple[int, Sequence[object]]], sha256: str, rows_estimate: int | None
) -> SheetRows:
    first = next(numbered, None)
    if first is None:
        raise ImportFileError(f"{path}: the file is empty (no header row)")
    return SheetRows(headers=first[1], rows=numbered, sha256=sha256, rows_estimate=rows_estimate)


@dataclass(frozen=True, slots=True)
class _CsvScan:
    """What the pass before parsing learns about a CSV file."""

    encoding: str
    sha256: str
    rows_estimate: int | None  # line breaks after the header (quoted line breaks count too); None for UTF-16


@dataclass(slots=True)
class _Decoding:
    """One candidate encoding, fed the file block by block: where (if anywhere) it first fails."""

    encoding: str
    decoder: codecs.IncrementalDecoder = field(init=False)
    fed: int = 0
    error_at: int | None = None  # offset of the first byte this encoding cannot read

    def __post_init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder(self.encoding)()

    def feed(self, block: bytes, final: bool = False) -> None:
        if self.error_at is not None:
            return
        held = len(self.decoder.getstate()[0])
        try:
            # Incremental, so a character cut at a block boundary is not an error.
            self.decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            # exc.start counts from the bytes the decoder still held from the previous block.
            self.error_at = self.fed - held + exc.start
        self.fed += len(block)


def _scan_csv(path: Path) -> _CsvScan:
    """The encoding that reads all of ``path`` and its SHA-256, in one streaming pass.

    A UTF-16 byte order mark means UTF-16. Otherwise UTF-8 unless the first 64 KiB of non-ASCII
    text are not UTF-8, then GB18030. The chosen encoding must read the whole file: a UTF-8 file
    with one broken byte deep inside is refused, not read as GB18030 gibberish.
    """
    digest = hashlib.sha256()
    with path.open("rb") as f:
        first = f.read(_BLOCK)
        if first.startswith(_UTF16_BOMS):
            utf16 = _Decoding(_UTF16)
            for block in _blocks(first, f):
                digest.update(block)
                utf16.feed(block)
            utf16.feed(b"", final=True)
            if utf16.error_at is not None:
                raise _encoding_error(
                    path, "not UTF-16, though the file starts with a UTF-16 byte order mark", utf16.error_at
                )
            return _CsvScan(_UTF16, digest.hexdigest(), None)
        utf8, gb18030 = _Decoding(_UTF8), _Decoding(_GB18030)
        evidence_end: int | None = None
        newlines = 0  # neither UTF-8 nor GB18030 uses the byte 0x0A inside a character
        for block in _blocks(first, f):
            newlines += block.count(b"\n")
            if evidence_end is None and (m := _NON_ASCII.search(block)):
                evidence_end = utf8.fed + m.start() + _EVIDENCE_BYTES
            digest.update(block)
            utf8.feed(block)
            if utf8.error_at is not None and evidence_end is not None and utf8.error_at >= evidence_end:
                break  # UTF-8 text, broken later: refused below, the rest does not matter
            if utf8.error_at is None and evidence_end is not None and utf8.fed >= evidence_end:
                continue  # the evidence is UTF-8: GB18030 is out of the question
            gb18030.feed(block)
        utf8.feed(b"", final=True)
    estimate = max(newlines - 1, 0)
    if utf8.error_at is None:
        return _CsvScan(_UTF8, digest.hexdigest(), estimate)
    assert evidence_end is not None  # a UTF-8 error needs a non-ASCII byte
    if utf8.error_at >= evidence_end:
        raise _encoding_error(
            path, "not UTF-8, though the text before it is: the file is damaged or mixes encodings", utf8.error_at
        )
    gb18030.feed(b"", final=True)
    if gb18030.error_at is not None:
        utf8_line, gb_line = _line_at(path, utf8.error_at), _line_at(path, gb18030.error_at)
        raise ImportFileError(
            f"{path}: text is neither UTF-8 (byte offset {utf8.error_at}, line {utf8_line} is not) "
            f"nor GBK/GB18030 (byte offset {gb18030.error_at}, line {gb_line} is not)"
        )
    return _CsvScan(_GB18030, digest.hexdigest(), estimate)


def _blocks(first: bytes, rest: IO[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    while block := rest.read(_BLOCK):
        yield block


def _encoding_error(path: Path, what: str, offset: int) -> ImportFileError:
    return ImportFileError(f"{path}: the byte at offset {offset} (line {_line_at(path, offset)}) is {what}")


def _line_at(path: Path, offset: int) -> int:
    """The text line (1-based) holding byte ``offset``: what an editor shows, to find a bad byte.

    Counts LF bytes: exact for UTF-8 and GB18030 (neither uses 0x0A inside a character), close for UTF-16.
    """
    newlines = 0
    with path.open("rb") as f:
        while offset > 0 and (block := f.read(min(_BLOCK, offset))):
            newlines += block.count(b"\n")
            offset -= len(block)
    return newlines + 1


def write_sheet(
    path: Path, headers: Sequence[str], rows: Iterator[Sequence[object]] | Sequence[Sequence[object]]
) -> None:
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
