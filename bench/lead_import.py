"""Lead import bench: the same 100 000-row file as CSV and as XLSX, imported into a fresh store.

Each format is measured three times: the first import (every row new), a re-import of the
same file (recognised by its SHA-256 and skipped), and a forced re-import (``force=True``:
every row read, matched and found unchanged, nothing written). Rows carry a mobile and a
landline, so 200 000 numbers are validated per import; 5 % of the rows are malformed, as in
real exports. Wall time and the process's CPU time (all threads, the store's writer thread
too) are both reported: on a shared machine the CPU time moves far less with the load.
Phone checks are cached per process for up to 65 536 distinct numbers: at the default size
(200 000 numbers) the cache holds nothing by the time the next import starts, but below about
30 000 rows the XLSX imports reuse the CSV import's checks and look faster than they are. The
bench's numbers are all distinct and written as mainland digits (13600000001, 0755-80000001), the
shapes the fast path of ``dialer.phone`` takes; its 8 headers name an owner nobody goes by, so every
valid row is also listed as an unknown owner.

    .venv/bin/python bench/lead_import.py [--rows 100000] [--dir /tmp/lead-bench]

ImportProgress goes to stderr; a Markdown table with the figures to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dialer.clock import SystemClock
from dialer.domain.leads.model import LeadSource
from dialer.leads.importer import ImportProgress, ImportProgressCallback, Phase
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet
from dialer.logs import configure
from dialer.settings import Settings
from dialer.store.database import Database

HEADERS = ["姓名", "手机", "电话", "意向车型", "意向级别", "下发时间", "负责人", "备注"]
MODELS = ("科鲁泽", "迈锐宝", "探界者", "开拓者")
MALFORMED_EVERY = 20  # 5 % of the rows


def rows(count: int) -> list[list[object]]:
    """Synthetic HQ export rows; every 20th has a mobile one digit short."""
    out: list[list[object]] = []
    for i in range(count):
        mobile: object = 13600000000 + i
        if i % MALFORMED_EVERY == 0:
            mobile = str(1360000000 + i)[:10]  # one digit short
        out.append(
            [
                f"客户{i}",
                mobile,
                f"0755-8{i:07d}",
                MODELS[i % len(MODELS)],
                "HABC"[i % 4],
                "2026-11-28 10:00",
                f"顾问{i % 8}",
                "",
            ]
        )
    return out


@dataclass(frozen=True)
class Figure:
    """One measured import."""

    fmt: str
    run: str
    rows: int
    created: int
    rejected: int
    seconds: float
    cpu_seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def progress_printer(label: str) -> ImportProgressCallback:
    """Show the importer's progress on stderr, so a long run is visibly alive."""

    def show(p: ImportProgress) -> None:
        what = "read" if p.phase is Phase.READ else "matching and writing after"
        of = f" of about {p.total}" if p.total and p.phase is Phase.READ else ""
        print(f"  {label}: {what} {p.rows}{of} rows", file=sys.stderr, flush=True)

    return show


async def bench_file(path: Path, workdir: Path, settings: Settings) -> list[Figure]:
    """First import, skipped re-import and forced re-import of ``path`` into a fresh store."""
    db_path = workdir / f"{path.suffix[1:]}.sqlite3"
    db = await Database.open(db_path)
    try:
        service = LeadService(db, settings, SystemClock())
        figures = []
        for run, force in (("first import", False), ("re-import", False), ("forced re-import", True)):
            label = f"{path.suffix[1:]} {run}"
            start, cpu = time.perf_counter(), time.process_time()
            report = await service.importer.import_file(
                path, actor="bench", source=LeadSource.HQ, progress=progress_printer(label), force=force
            )
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            assert report.skipped == (run == "re-import"), run
            figures.append(
                Figure(path.suffix[1:], run, report.rows, report.created, report.rejected_rows, seconds, cpu_seconds)
            )
            print(f"  {label}: {seconds:.1f} s ({cpu_seconds:.1f} s CPU)", file=sys.stderr, flush=True)
        return figures
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed afterwards)")
    args = parser.parse_args()
    configure(level="warning")
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="lead-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    try:
        data = rows(args.rows)
        figures: list[Figure] = []
        for fmt in ("csv", "xlsx"):
            path = workdir / f"leads.{fmt}"
            start = time.perf_counter()
            write_sheet(path, HEADERS, data)
            print(
                f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s",
                file=sys.stderr,
            )
            figures += await bench_file(path, workdir, settings)
    finally:
        if args.dir is None:
            shutil.rmtree(workdir)
    print(
        f"Lead import, {args.rows} rows (5 % malformed), Python {platform.python_version()} on {platform.machine()}\n"
    )
    print("| format | run | rows read | created | rejected | seconds | CPU seconds |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for f in figures:
        print(f"| {f.fmt} | {f.run} | {f.rows} | {f.created} | {f.rejected} | {f.seconds:.2f} | {f.cpu_seconds:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
