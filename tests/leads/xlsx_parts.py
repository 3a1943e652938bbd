"""Rewriting one part of a test workbook, as other tools (or attackers) would have written it."""

from __future__ import annotations

from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile

SHEET = "xl/worksheets/sheet1.xml"


def declare_dimension(path: Path, ref: str) -> None:
    """Give the first sheet a ``<dimension ref=...>``, as Excel writes one (openpyxl's streaming writer does not)."""
    with ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts[SHEET] = parts[SHEET].replace(b"</sheetPr>", f'</sheetPr><dimension ref="{ref}" />'.encode(), 1)
    with ZipFile(path, "w", compression=ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
