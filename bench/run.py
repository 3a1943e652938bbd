"""Every benchmark in one run, one table: ``.venv/bin/python -m bench [--full] [--write docs/bench.md]``.

Runs, in this order, each existing bench's own functions (no copies of their logic):
AMI events/s through AmiClient next to bare panoramisk on the same stream and the memory of
10 000 live channels (ami_events); answer-to-agent latency at 8 lines and at 200 concurrent
calls plus CPU per call next to Asterisk's, on a lab of its own (agent_connect); hopper
next-lead selection at 10k, 100k and 1M leads on SQLite (stores filled once and cached) and on
PostgreSQL (a private cluster, filled by COPY), at 1M also by four claimers at once (hopper);
importing 100 000 rows as CSV and XLSX (lead_import); attempts/s in the store on both backends
(store_writes); and pacing: the issue's
three cells at 8 h, seed 1, then the grid with 8 and 200 lines reduced to 2 simulated hours, 1 seed
(8 h x 3 seeds with ``--full``), ours next to two reference pacers (pacing). Progress goes to stderr, the
table (Markdown, with the machine it ran on) to stdout. Not part of the test run: numbers vary
with machine load, so nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TypeVar

from bench import agent_connect, ami_events, hopper, lead_import, pacing, store_writes
from dialer import config
from dialer.clock import SystemClock
from dialer.leads.sheets import write_sheet
from dialer.logs import configure
from dialer.settings import Settings

T = TypeVar("T")

# Alternating rounds of each AMI consumer; the best of each counts (other load comes in bursts).
AMI_ROUNDS = 3
# Without a recorded capture, ami_events' own defaults for a generated stream.
GENERATED_CALLS, GENERATED_SEED = 12_000, 2026
# The filled stores are cached (bench/hopper.py): only the first run, or one after a migration, fills 1M (~70 s).
HOPPER_SIZES = (10_000, 100_000, 1_000_000)
HOPPER_BATCHES = 200
IMPORT_ROWS = 100_000
# #18's targets on this machine: a first import of each format, and an unchanged file recognised and skipped.
IMPORT_TARGET_S = {"csv": 10.0, "xlsx": 15.0}
IMPORT_SKIP_TARGET_S = 3.0
CALLS_PER_LINE = 5  # 8 lines x 5 calls = 40 latency samples in the 8-line run
CONCURRENT_CALLS = 200
# The reduced pacing grid of the default run, and the bench's own defaults for --full.
QUICK_PACING = (2.0, 1)  # simulated hours, seeds
FULL_PACING = (8.0, 3)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: what was measured, its figure, what it is compared with, and the ratio."""

    area: str
    measure: str
    value: str
    beside: str = ""
    ratio: str = ""


class Steps:
    """Numbered progress on stderr, so a several-minute run is visibly alive."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._n = 0
        self._started = time.perf_counter()

    def start(self, what: str) -> None:
        self._n += 1
        print(
            f"[{self._n}/{self._total}] {what} (t+{time.perf_counter() - self._started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )


def machine() -> str:
    """nproc, CPU model and RAM, from the kernel's own files."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
        platform.machine(),
    )
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    return f"{os.cpu_count()} CPUs (nproc), {model}, {mem_kb / 1024**2:.1f} GiB RAM, Python {platform.python_version()}, Linux {platform.release()}"


def ms(value: float) -> str:
    return f"{value:,.1f} ms"


async def ami_rows() -> list[Row]:
    events, _ = ami_events.bench_events(GENERATED_CALLS, GENERATED_SEED)
    stream = b"".join(events)
    best = await ami_events.compare(stream, len(events), AMI_ROUNDS)
    mb, took = await ami_events.snapshot_memory()
    n = ami_events.SNAPSHOT_CHANNELS
    (ours, bare), (ours_cpu, bare_cpu) = best.wall, best.cpu
    return [
        Row(
            "AMI",
            f"events/s, {len(events):,} recorded events, best of {AMI_ROUNDS} alternating rounds "
            f"(delivered: ours {best.delivered[0]:,}, panoramisk {best.delivered[1]:,})",
            f"{ours:,.0f} (AmiClient)",
            f"{bare:,.0f} (bare panoramisk)",
            f"{ours / bare:.2f}",
        ),
        Row(
            "AMI",
            "events per CPU-second of the bench process (fairer on a shared machine)",
            f"{ours_cpu:,.0f} (AmiClient)",
            f"{bare_cpu:,.0f} (bare panoramisk)",
            f"{ours_cpu / bare_cpu:.2f}",
        ),
        Row(
            "AMI",
            f"memory of {n:,} live channels",
            f"{mb:.1f} MB ({mb * 1e6 / n:,.0f} B/channel)",
            f"fetched and parsed in {took:.2f} s",
        ),
    ]


async def agent_rows(tmp: Path) -> list[Row]:
    runs = await agent_connect.run_all(CALLS_PER_LINE, CONCURRENT_CALLS, tmp)
    rows = []
    for run in runs:
        a, h, p = run.answer_to_redirect_ms, run.hold_to_redirect_ms, run.answer_to_hold_ms
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(run.outcomes.items()))
        rows.append(
            Row(
                "agent connect",
                f"answer -> Redirect sent, {run.label} ({run.calls} calls: {outcomes}; "
                f"redirected {run.redirected} of {len(h)} held, {run.redirect_failed} refused; "
                f"abandon message {run.pbx_abandoned}; reached an agent {run.reached_agent})",
                f"p50 {ms(run.pct(a, 50))}, p99 {ms(run.pct(a, 99))}",
                f"dialer's share (DCCHold -> Redirect) p50 {ms(run.pct(h, 50))}, p99 {ms(run.pct(h, 99))}; "
                f"PBX's share (answer -> DCCHold) p50 {ms(run.pct(p, 50))}, p99 {ms(run.pct(p, 99))}",
            )
        )
    last = runs[-1]
    rows.append(
        Row(
            "agent connect",
            f"CPU per call at {last.label}",
            ms(1000 * last.dialer_cpu_s / last.calls) + " (dialer)",
            ms(1000 * last.asterisk_cpu_s / last.calls) + " (Asterisk)",
            f"{last.dialer_cpu_s / last.asterisk_cpu_s:.2f}",
        )
    )
    rows.append(
        Row(
            "agent connect",
            f"the dialer's event loop ready but waiting for a CPU, {last.label} ({os.cpu_count()} CPUs)",
            f"{last.dialer_cpu_wait_s:.1f} s of the {last.seconds:.1f} s run",
            f"CPU used meanwhile: {last.asterisk_cpu_s:.1f} s Asterisk, {last.dialer_cpu_s:.1f} s dialer",
        )
    )
    return rows


async def hopper_rows(sizes: tuple[int, ...], tmp: Path) -> list[Row]:
    figures = await hopper.run(sizes, hopper.BACKENDS, HOPPER_BATCHES, tmp, hopper.cache_dir())
    rows = []
    for f in figures:
        if f.claimers == 1:
            store = (
                f"store copied from the cache in {f.fill_s:.1f} s" if f.cached else f"store filled in {f.fill_s:.1f} s"
            )
            rows.append(
                Row(
                    "hopper",
                    f"next_batch({hopper.BATCH}) at {f.leads:,} leads, {f.backend}, 1 claimer ({HOPPER_BATCHES} batches)",
                    f"p50 {ms(f.p50)}, p99 {ms(f.p99)}",
                    f"{store}, enrol {f.enrol_s:.2f} s",
                )
            )
            continue
        one = next(o for o in figures if (o.backend, o.leads, o.claimers) == (f.backend, f.leads, 1))
        rows.append(
            Row(
                "hopper",
                f"next_batch({hopper.BATCH}) at {f.leads:,} leads, {f.backend}, {f.claimers} claimers at once"
                f" (own connections and PBX name each, {HOPPER_BATCHES} batches each)",
                f"p50 {ms(f.p50)}, p99 {ms(f.p99)}",
                f"1 claimer p50 {ms(one.p50)}; leads claimed/s {f.wall_rate:,.0f} vs {one.wall_rate:,.0f}",
                f"{f.p50 / one.p50:.2f}",
            )
        )
        nodes = ", ".join(f"{f.claimed_rows[hopper.node_name(f.claimers, n)]:,}" for n in range(f.claimers))
        rows.append(
            Row(
                "hopper",
                f"leads picked twice by the {f.claimers} claimers, {f.backend} (the bench stops on any)",
                f"{f.picked_twice} of {f.picks:,} picks",
                f"claimed rows in the store by node: {nodes}",
            )
        )
    return rows


async def import_rows(tmp: Path) -> list[Row]:
    """First import, skipped re-import and forced re-import of each format; the ratio is the issue's
    target over the first import's wall time (1.00 or more: within the target)."""
    data = lead_import.rows(IMPORT_ROWS)
    rows = []
    for fmt in ("csv", "xlsx"):
        path = tmp / f"leads.{fmt}"
        write_sheet(path, lead_import.HEADERS, data)
        first, skipped, forced = await lead_import.bench_file(path, tmp, Settings())
        target = IMPORT_TARGET_S[fmt]
        rows.append(
            Row(
                "lead import",
                f"{IMPORT_ROWS:,} rows {fmt.upper()} (5 % malformed), first import (target <= {target:g} s)",
                f"{first.seconds:.1f} s ({first.rows_per_s:,.0f} rows/s, {first.cpu_seconds:.1f} s CPU)",
                f"unchanged re-import skipped in {skipped.seconds:.2f} s (target <= {IMPORT_SKIP_TARGET_S:g} s); "
                f"forced re-import {forced.seconds:.1f} s ({forced.cpu_seconds:.1f} s CPU)",
                f"{target / first.seconds:.2f}",
            )
        )
    return rows


async def store_rows() -> list[Row]:
    args = store_writes.parse_args([])
    results = {(r.backend, r.name): r for r in await store_writes.main(args)}
    return [
        Row(
            "store",
            f"attempts/s, {r.name} ({r.commits_per_attempt:g} commits/attempt, {args.writers} writers)",
            f"{r.rate:,.0f} (SQLite)",
            f"{results['postgresql', name].rate:,.0f} (PostgreSQL)",
            f"{results['postgresql', name].rate / r.rate:.2f}",
        )
        for (backend, name), r in results.items()
        if backend == "sqlite"
    ]


def pacing_rows(hours: float, seeds: int, jobs: int) -> list[Row]:
    """The issue's three cells at 8 h, seed 1 (ours next to both reference pacers and progressive),
    then the whole grid (8 and 200 lines) at ``hours`` x ``seeds``, summarised."""
    limit = config.load(None).campaigns.pacing.max_abandon_rate
    rows = []
    best = pacing.best_cells(pacing.run_all(pacing.jobs(pacing.TARGET_CELLS, 8.0, 1, None), jobs), limit)
    for cell in pacing.TARGET_CELLS:
        a, lines, p, t = cell

        def occ(name: str, cell: pacing.CellKey = cell) -> str:
            return pacing.occupancy(best, cell, name, "none within the limit")

        ours = best[(cell, pacing.PREDICTIVE)]
        ratio = pacing.ours_over_best_reference(best, cell)
        rows.append(
            Row(
                "pacing",
                f"talk occupancy at <= {limit:.0%} abandon, {a} agents / {lines} lines / p {p} / {t:.0f} s (8 h, seed 1)",
                f"{ours.occupancy:.3f} ours (abandon {ours.abandon:.2%})",
                f"fixed ratio {occ(pacing.FIXED_RATIO)}, look-ahead {occ(pacing.LOOK_AHEAD)}, progressive {occ(pacing.PROGRESSIVE)}",
                "—" if ratio is None else f"{ratio:.2f}",
            )
        )
    cells = pacing.grid()
    todo = pacing.jobs(cells, hours, seeds, None)
    best = pacing.best_cells(pacing.run_all(todo, jobs), limit)
    ratios = [r for r in (pacing.ours_over_best_reference(best, cell) for cell in cells) if r is not None]
    worst = max(best[(cell, pacing.PREDICTIVE)].worst_abandon for cell in cells)
    rows.append(
        Row(
            "pacing",
            f"ours / best reference pacer, {len(cells)} grid cells, 8 and 200 lines ({hours:g} h x {seeds} seed(s), {len(todo)} shifts)",
            f"ours ahead in {sum(r > 1.0 for r in ratios)} of {len(ratios)} cells, level in {sum(r == 1.0 for r in ratios)}",
            f"worst ours abandon {worst:.2%}",
            f"{min(ratios, default=0):.2f}-{max(ratios, default=0):.2f} (mean {statistics.fmean(ratios) if ratios else 0:.2f})",
        )
    )
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| area | measure | value | side by side | ratio |",
        "|---|---|---|---|---:|",
    ]
    lines += [f"| {r.area} | {r.measure} | {r.value} | {r.beside} | {r.ratio} |" for r in rows]
    return "\n".join(lines)


def timed(step: Steps, what: str, work: Callable[[], T]) -> T:
    step.start(what)
    return work()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full",
        action="store_true",
        help="the full pacing grid (8 h x 3 seeds)",
    )
    parser.add_argument(
        "--hopper-sizes",
        help="comma-separated lead counts (default 10k,100k,1M)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes for the pacing grid",
    )
    parser.add_argument(
        "--only",
        help="comma-separated rows to run: ami, agent, hopper, import, store, pacing (default: all)",
    )
    parser.add_argument(
        "--write",
        type=Path,
        help="also write the machine line and the table to this Markdown file",
    )
    args = parser.parse_args(argv)
    # The benches' own logs would drown the table; failures show up in its figures (e.g. abandoned calls).
    configure(level="critical")
    sizes = tuple(int(s) for s in args.hopper_sizes.split(",")) if args.hopper_sizes else HOPPER_SIZES
    hours, seeds = FULL_PACING if args.full else QUICK_PACING
    parts: list[tuple[str, str, Callable[[], list[Row]]]] = [
        ("ami", "AMI events/s and channel memory", lambda: asyncio.run(ami_rows())),
        (
            "agent",
            f"agent connect on a lab of its own ({CONCURRENT_CALLS} customers/agents)",
            lambda: asyncio.run(agent_rows(tmp / "lab")),
        ),
        (
            "hopper",
            f"hopper at {', '.join(f'{s:,}' for s in sizes)} leads",
            lambda: asyncio.run(hopper_rows(sizes, tmp)),
        ),
        ("import", f"lead import of {IMPORT_ROWS:,} rows", lambda: asyncio.run(import_rows(tmp))),
        ("store", "store attempts/s", lambda: asyncio.run(store_rows())),
        ("pacing", f"pacing ({hours:g} h x {seeds} seed(s) grid)", lambda: pacing_rows(hours, seeds, args.jobs)),
    ]
    only = set(args.only.split(",")) if args.only else {name for name, _, _ in parts}
    unknown = only - {name for name, _, _ in parts}
    if unknown:
        parser.error(f"--only {args.only}: no row named {', '.join(sorted(unknown))}")
    step = Steps(len(only))
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="dcc-bench-"))
    rows: list[Row] = []
    try:
        for name, what, work in parts:
            if name in only:
                rows += timed(step, what, work)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    when = SystemClock().now().astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"Machine: {machine()}\n\nRun: {when}, `python -m bench{' --full' if args.full else ''}{f' --only {args.only}' if args.only else ''}`, {time.perf_counter() - started:.0f} s\n\n{table(rows)}\n"
    print(text)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    return 0
