"""Printing for the CLI: aligned tables that stay aligned with Chinese text, and JSON."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, TextIO


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: CJK characters are two columns wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO | None = None) -> None:
    """Print ``rows`` under ``headers`` in aligned columns (None shows as an em dash)."""
    out = out or sys.stdout
    cells = [[("—" if v is None else str(v)) for v in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        widths = [max(w, display_width(c)) for w, c in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - display_width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    print(line(headers), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print(line(row), file=out)


def print_json(data: Any, out: TextIO | None = None) -> None:
    """JSON for scripts: UTF-8 text as is, one document."""
    json.dump(data, out or sys.stdout, ensure_ascii=False, indent=2, default=str)
    print(file=out or sys.stdout)
