"""A realistic HQ export: 10 000 rows, 5 % of them malformed in different ways."""

from __future__ import annotations

from collections import Counter

from dialer.domain.leads.model import LeadSource
from dialer.leads.service import LeadService

ROWS = 10_000
BAD_EVERY = 20  # 5 %
HEAD = ["姓名", "手机", "电话", "意向车型", "意向级别", "下发时间", "负责人", "备注"]
# (column index, bad value, header, reason): the mistakes dealers actually make.
MISTAKES = [
    (1, "1380013800", "手机", "not a valid number"),
    (0, "", "姓名", "empty"),
    (4, "S", "意向级别", "intent level must be H, A, B or C"),
    (5, "2027-05-01 10:00", "下发时间", "in the future"),
    (5, "11/28/2026", "下发时间", "not a date (use YYYY-MM-DD)"),
]


def rows() -> tuple[list[list[object]], dict[int, tuple[str, str]]]:
    data: list[list[object]] = []
    bad: dict[int, tuple[str, str]] = {}
    for i in range(ROWS):
        row: list[object] = [
            f"客户{i}",
            13600000000 + i,
            f"0755-8{i:07d}",
            "科鲁泽",
            "HABC"[i % 4],
            "2026-11-28 10:00",
            f"顾问{i % 8}",
            "",
        ]
        if i % BAD_EVERY == 0:
            column, value, header, reason = MISTAKES[(i // BAD_EVERY) % len(MISTAKES)]
            row[column] = value
            bad[i + 2] = (header, reason)  # spreadsheet row: header is row 1
        data.append(row)
    return data, bad


async def test_ten_thousand_rows_with_five_percent_malformed(service: LeadService, sheet) -> None:
    data, bad = rows()
    path = sheet("hq_export.xlsx", HEAD, data)
    progress: list[int] = []
    report = await service.importer.import_file(
        path, actor="t", source=LeadSource.HQ, progress=lambda p: progress.append(p.rows)
    )

    assert report.rows == ROWS
    assert report.created == ROWS - len(bad) == await service.store.count()
    assert {r.row: (r.field, r.reason) for r in report.rejections} == bad
    assert len(report.rejections) == len(bad) == ROWS // BAD_EVERY
    assert Counter(r.reason for r in report.rejections)["empty"] == len(bad) // len(MISTAKES)
    assert progress[:2] == [5000, 10000]
    assert await service.store.find_by_phone("+8613600000001") is not None
    assert await service.store.find_by_phone("+8613600000000") is None  # row 2 had the short mobile

    again = await service.importer.import_file(path, actor="t", source=LeadSource.HQ, force=True)
    assert again.nothing_changed and not again.skipped
    assert (again.created, again.updated, again.unchanged, again.rejected_rows) == (0, 0, ROWS - len(bad), len(bad))
    assert await service.store.count() == ROWS - len(bad)
