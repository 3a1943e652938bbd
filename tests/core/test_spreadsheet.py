"""Text from outside never becomes a formula in the spreadsheets we hand to people."""

from __future__ import annotations

import pytest

from dialer.domain.spreadsheet import as_cell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ('=HYPERLINK("http://x","点我")', '\'=HYPERLINK("http://x","点我")'),
        ("+1+1", "'+1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("-", "-"),  # the reports' "no value"
        ("-3", "-3"),
        ("+5.0", "+5.0"),
        ("张先生", "张先生"),
        (42, 42),
        (None, None),
    ],
)
def test_formula_text_is_written_as_text(value: object, written: object) -> None:
    assert as_cell(value) == written


def test_the_monthly_report_writes_an_imported_defeat_reason_as_text() -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    from dialer.web.reports import Sheet, to_xlsx

    reason = "=cmd|' /C calc'!A0"
    book = load_workbook(BytesIO(to_xlsx([Sheet("defeat", "战败原因", ("原因", "数量"), ((reason, 3),))])))
    written = book.active["A2"]
    assert (written.data_type, written.value, book.active["B2"].value) == ("s", "'" + reason, 3)
