"""An import and Python's cycle collector: paused while rows become leads, back on however the import ends,
and no reference cycle left holding the file's rows afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import LeadSource
from dialer.domain.leads.template import LeadDraft
from dialer.leads.importer import ImportProgress
from dialer.leads.service import LeadService

HEAD = ["姓名", "手机", "电话", "意向级别", "下发时间"]


@pytest.fixture
def collector_on() -> Iterator[None]:
    """The collector on before the test and after it, whatever the test did to it."""
    gc.enable()
    yield
    gc.enable()


async def test_no_reference_cycle_keeps_the_rows_of_a_file_with_refused_cells(service: LeadService, sheet) -> None:
    # Refused cells of every column kind; each distinct refused text is remembered for the column's next cell.
    rows = [[f"客户{i}", f"1380013{i:04d}", "88886666", "Z", "明天"] for i in range(20)]
    rows += [[f"客户{i}", f"1380013{i:04d}", "", "H", "2026-11-28 10:00"] for i in range(20, 40)]
    path = sheet("refused.csv", HEAD, rows)
    gc.collect()
    gc.disable()
    try:
        report = await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
        assert (report.created, report.rejected_rows) == (20, 20)
        del report
        gc.set_debug(gc.DEBUG_SAVEALL)  # whatever only a cycle keeps lands in gc.garbage instead of being freed
        gc.collect()
        held = [o for o in gc.garbage if isinstance(o, LeadDraft)]
        assert held == [], f"{len(held)} drafts kept alive by a reference cycle"
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def test_the_collector_is_paused_during_an_import_and_back_on_after(
    service: LeadService, sheet, collector_on: None
) -> None:
    seen: list[bool] = []

    def progress(p: ImportProgress) -> None:
        seen.append(gc.isenabled())

    path = sheet("a.csv", HEAD, [["张三", "13800138000", "", "H", ""]])
    await service.importer.import_file(path, actor="tester", source=LeadSource.HQ, progress=progress)
    assert seen and not any(seen)
    assert gc.isenabled()


async def test_the_collector_resumes_only_once_the_files_drafts_are_freed(
    service: LeadService, sheet, collector_on: None
) -> None:
    # Its first pass after the pause looks at everything allocated meanwhile that is still alive: the
    # whole file's drafts and leads, if they were (0.19 s for 100 000 rows), not just the report.
    drafts_seen: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            drafts_seen.append(sum(isinstance(o, LeadDraft) for o in gc.get_objects(generation=0)))

    rows = [[f"客户{i}", f"1380013{i:04d}", "", "H", ""] for i in range(800)]  # more than gen0's threshold
    path = sheet("a.csv", HEAD, rows)
    gc.collect()
    gc.callbacks.append(watch)
    try:
        report = await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    finally:
        gc.callbacks.remove(watch)
    assert report.created == 800
    assert drafts_seen and not any(drafts_seen), drafts_seen


async def test_the_collector_is_back_on_after_an_import_that_fails(
    service: LeadService, sheet, collector_on: None
) -> None:
    path = sheet("bad.csv", ["意向级别"], [["H"]])  # no name and no phone column: refused whole
    with pytest.raises(ImportFileError):
        await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    assert gc.isenabled()


async def test_an_import_leaves_the_collector_off_if_it_was_off(
    service: LeadService, sheet, collector_on: None
) -> None:
    gc.disable()
    path = sheet("a.csv", HEAD, [["张三", "13800138000", "", "H", ""]])
    await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    assert not gc.isenabled()
