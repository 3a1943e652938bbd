"""Lead files built to hurt: a workbook that unpacks to far more than it weighs, and cells that are
far longer than any name or note. Each is refused with a message naming what and where; the good
rows of the same file still come in."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile

import pytest
from openpyxl import Workbook

from dialer.clock import VirtualClock
from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import LeadSource
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet
from dialer.settings import LeadSettings, Settings
from dialer.store.database import Database
from tests.leads.xlsx_parts import declare_dimension


def small_limits(unpacked_mb: int = 1, cell_chars: int = 500) -> Settings:
    return Settings(leads=LeadSettings(import_max_unpacked_mb=unpacked_mb, import_max_cell_chars=cell_chars))


async def test_a_workbook_that_unpacks_past_the_limit_is_refused_before_it_is_read(
    db: Database, clock: VirtualClock, tmp_path: Path
) -> None:
    path = tmp_path / "bomb.xlsx"
    write_sheet(path, ["姓名", "手机"], [["张先生", "13800138000"]])
    # A valid workbook plus one part of 5 MB of zeros: a few KB on disk.
    with ZipFile(path, "a", compression=ZIP_DEFLATED) as archive:
        archive.writestr("xl/padding.bin", b"\0" * (5 * 1024 * 1024))
    assert path.stat().st_size < 100 * 1024
    service = LeadService(db, small_limits(unpacked_mb=1), clock)
    with pytest.raises(ImportFileError, match=re.escape("unpacks to 5 MB, more than the 1 MB allowed")):
        await service.importer.import_file(path, actor="经理", source=LeadSource.WEB)
    assert await service.store.find_by_phone("+8613800138000") is None
    # The same file under the default limit imports.
    assert (
        await LeadService(db, Settings(), clock).importer.import_file(path, actor="经理", source=LeadSource.WEB)
    ).created == 1


async def test_a_huge_cell_refuses_its_row_only(db: Database, clock: VirtualClock, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    write_sheet(
        path, ["姓名", "手机", "备注"], [["张" * 2_000_000, "13800138000", ""], ["李女士", "13900139000", "a" * 501]]
    )
    write_sheet(tmp_path / "ok.csv", ["姓名", "手机"], [["王先生", "13700137000"]])
    service = LeadService(db, small_limits(unpacked_mb=200), clock)
    report = await service.importer.import_file(path, actor="经理", source=LeadSource.WEB)
    assert report.created == 0
    reasons = sorted((r.row, r.field, r.reason) for r in report.rejections)
    assert reasons == [
        (2, "姓名", "too long: 2000000 characters, at most 500"),
        (3, "备注", "too long: 501 characters, at most 500"),
    ]
    assert all(len(r.value) < 10_000 for r in report.rejections), "a rejection must not carry the huge cell"
    assert (await service.importer.import_file(tmp_path / "ok.csv", actor="经理", source=LeadSource.WEB)).created == 1


def test_the_limits_have_documented_defaults() -> None:
    leads = dataclasses.asdict(LeadSettings())
    assert (leads["import_max_cell_chars"], leads["import_max_unpacked_mb"]) == (500, 200)


def test_a_limit_of_zero_is_a_config_error(tmp_path: Path) -> None:
    from dialer.config import load
    from dialer.settings import ConfigError

    path = tmp_path / "dialer.toml"
    path.write_text("[leads]\nimport_max_unpacked_mb = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("leads.import_max_unpacked_mb = 0: must be positive")):
        load(path, env={})


async def test_a_workbook_declaring_a_smaller_size_still_has_every_row_and_column_read(
    service: LeadService, sheet
) -> None:
    """openpyxl stops at a sheet's declared <dimension>: a stale or forged one must not drop rows silently."""
    rows = [[f"客户{i}", str(13800138000 + i), "科鲁泽", "王丽"] for i in range(5)]
    path = sheet("short.xlsx", ["姓名", "手机", "意向车型", "负责人"], rows)
    declare_dimension(path, "A1:B2")
    report = await service.importer.import_file(path, actor="经理", source=LeadSource.HQ)
    assert (report.rows, report.created) == (5, 5)
    lead = await service.store.find_by_phone("+8613800138004")
    assert lead is not None and (lead.model, lead.owner) == ("科鲁泽", "王丽")


async def test_a_workbook_with_a_stray_cell_far_away_is_refused_before_it_is_read(
    service: LeadService, tmp_path: Path
) -> None:
    """Two cells, A1 and XFD1048576, in a 5 KB file: read as one dense sheet that is 17 billion cells,
    an allocation failure that aborts the whole process (not an exception) if it ever reaches calamine."""
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "手机"])
    ws.append(["张先生", "13800138000"])
    ws["XFD1048576"] = "x"
    path = tmp_path / "far.xlsx"
    wb.save(path)
    assert path.stat().st_size < 10 * 1024
    with pytest.raises(ImportFileError, match=re.escape("reaches row 1,048,576, column 16,384: more than 10,000,000")):
        await service.importer.import_file(path, actor="经理", source=LeadSource.WEB)
    ws["XFD1048576"] = None
    ws["H50000"] = "x"  # far, but 400 000 cells: read
    wb.save(path)
    report = await service.importer.import_file(path, actor="经理", source=LeadSource.WEB)
    assert report.created == 1
