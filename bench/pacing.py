"""Pacing bench: our modes and two reference pacers, occupancy at <= 3 % abandonment on the reference grid.

Grid: 3, 5, 8 and 20 agents; 8 and 200 lines; answer probability 0.3 and 0.5; mean talk 90 s and
180 s; everything else as in dialer.sim.model. Preview, progressive and our predictive run as
configured (predictive tunes itself: one setting for every cell). The two reference pacers of
``bench/reference_pacers.py`` (a VICIdial-style fixed dial ratio, an Issabel-style look-ahead) have
a knob each, tuned here per cell as a supervisor would by hand: every value of ``RATIOS`` /
``COMMITS`` is run and the best occupancy whose worst seed stayed within the limit is kept. Every
figure is the mean over ``--seeds`` seeds of an ``--hours`` shift.

    .venv/bin/python -m bench.pacing [--hours 8] [--seeds 3] [--jobs 2] [--svg docs/pacing.svg]

Prints progress on stderr and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from statistics import mean

from bench.reference_pacers import FixedRatioPacer, LookAheadPacer
from dialer import config
from dialer.domain.campaigns.pacing import PacingMode
from dialer.domain.campaigns.policy import CampaignRules
from dialer.sim.engine import PacerFactory, SimResult, simulate
from dialer.sim.scenarios import reference

AGENTS = (3, 5, 8, 20)
LINES = (8, 200)
ANSWER_P = (0.3, 0.5)
TALK_MEAN_S = (90.0, 180.0)
# The knobs tried for the reference pacers (a ratio of 1 is progressive; VICIdial steps by 0.1).
RATIOS = (1.1, 1.2, 1.3, 1.4, 1.5)
COMMITS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6)
# The three cells (agents, lines, answer p, talk mean), measured at 8 h, seed 1 in the default run too.
TARGET_CELLS = ((8, 8, 0.3, 90.0), (8, 8, 0.5, 180.0), (20, 200, 0.3, 90.0))

PREVIEW, PROGRESSIVE, PREDICTIVE = "preview", "progressive", "predictive"
FIXED_RATIO, LOOK_AHEAD = "fixed ratio", "look-ahead"
REFERENCES = (FIXED_RATIO, LOOK_AHEAD)

CellKey = tuple[int, int, float, float]  # agents, lines, answer p, talk mean


@dataclass(frozen=True)
class Job:
    cell: CellKey
    pacer: str  # one of the five names above
    knob: float | None  # the reference pacer's ratio or commit
    seed: int
    hours: float
    config: str | None


@dataclass(frozen=True)
class Cell:
    """One pacer in one grid cell, over the seeds."""

    occupancy: float
    abandon: float  # mean over seeds
    worst_abandon: float
    knob: float | None


def _factory(job: Job, warmup: int) -> PacerFactory | None:
    knob = job.knob
    if job.pacer == FIXED_RATIO and knob is not None:
        return lambda stats: FixedRatioPacer(knob)
    if job.pacer == LOOK_AHEAD and knob is not None:
        return lambda stats: LookAheadPacer(stats, knob, warmup)
    return None


def run_job(job: Job) -> tuple[Job, SimResult]:
    cfg = config.load(job.config)
    pacing = cfg.campaigns.pacing
    rules = CampaignRules.from_settings(cfg)
    mode = PacingMode(job.pacer) if job.pacer in (PREVIEW, PROGRESSIVE) else PacingMode.PREDICTIVE
    agents, lines, answer_p, talk = job.cell
    sc = reference(rules, mode, agents, lines, answer_p, talk, job.hours, job.seed)
    return job, simulate(sc, rules, pacing, cfg.calls.abandon_after_s, _factory(job, pacing.warmup_attempts))


def grid() -> list[CellKey]:
    return list(itertools.product(AGENTS, LINES, ANSWER_P, TALK_MEAN_S))


def jobs(cells: Iterable[CellKey], hours: float, seeds: int, config: str | None) -> list[Job]:
    variants: list[tuple[str, float | None]] = [(PREVIEW, None), (PROGRESSIVE, None), (PREDICTIVE, None)]
    variants += [(FIXED_RATIO, r) for r in RATIOS] + [(LOOK_AHEAD, c) for c in COMMITS]
    return [
        Job(cell, name, knob, seed, hours, config)
        for cell in cells
        for name, knob in variants
        for seed in range(1, seeds + 1)
    ]


def run_all(todo: list[Job], workers: int) -> list[tuple[Job, SimResult]]:
    """Every job, on ``workers`` processes, with progress on stderr."""
    started = time.perf_counter()
    results: list[tuple[Job, SimResult]] = []
    with ProcessPoolExecutor(workers) as pool:
        for done, item in enumerate(pool.map(run_job, todo, chunksize=4), 1):
            results.append(item)
            if done % 24 == 0 or done == len(todo):
                print(f"\r  {done}/{len(todo)} shifts, {time.perf_counter() - started:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    return results


def best_cells(results: list[tuple[Job, SimResult]], limit: float) -> dict[tuple[CellKey, str], Cell]:
    """Per cell and pacer: ours as they ran (even over the limit, so it shows); a reference pacer's
    best knob whose worst seed stayed within ``limit`` (absent when none did)."""
    groups: dict[tuple[CellKey, str, float | None], list[SimResult]] = {}
    for job, r in results:
        groups.setdefault((job.cell, job.pacer, job.knob), []).append(r)
    best: dict[tuple[CellKey, str], Cell] = {}
    for (cell_key, name, knob), rs in groups.items():
        cell = Cell(
            mean(r.occupancy for r in rs),
            mean(r.abandon_rate for r in rs),
            max(r.abandon_rate for r in rs),
            knob,
        )
        key = (cell_key, name)
        if name in REFERENCES and cell.worst_abandon > limit:
            continue
        if key not in best or cell.occupancy > best[key].occupancy:
            best[key] = cell
    return best


def ours_over_best_reference(best: dict[tuple[CellKey, str], Cell], cell: CellKey) -> float | None:
    """Our predictive occupancy over the better reference pacer's, in one cell."""
    ours = best.get((cell, PREDICTIVE))
    refs = [best[(cell, name)].occupancy for name in REFERENCES if (cell, name) in best]
    return None if ours is None or not refs else ours.occupancy / max(refs)


def occupancy(best: dict[tuple[CellKey, str], Cell], cell: CellKey, name: str, missing: str = "—") -> str:
    """A pacer's occupancy in a cell, with the knob it was tuned to in brackets."""
    c = best.get((cell, name))
    if c is None:
        return missing
    return f"{c.occupancy:.3f}" + ("" if c.knob is None else f" ({c.knob:g})")


def table(best: dict[tuple[CellKey, str], Cell], cells: Iterable[CellKey]) -> str:
    rows = [
        (
            "| agents | lines | answer p | talk mean | preview | progressive | fixed ratio (ratio) | look-ahead (commit)"
            " | ours predictive | ours abandon | ours / best reference |"
        ),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in cells:
        a, lines, p, t = cell

        def occ(name: str, cell: CellKey = cell) -> str:
            return occupancy(best, cell, name)

        ours = best.get((cell, PREDICTIVE))
        abandon = "—" if ours is None else f"{ours.abandon:.2%} (max {ours.worst_abandon:.2%})"
        ratio = ours_over_best_reference(best, cell)
        rows.append(
            f"| {a} | {lines} | {p} | {t:.0f} s | {occ(PREVIEW)} | {occ(PROGRESSIVE)} | {occ(FIXED_RATIO)}"
            f" | {occ(LOOK_AHEAD)} | {occ(PREDICTIVE)} | {abandon} | {'—' if ratio is None else f'{ratio:.2f}'} |"
        )
    return "\n".join(rows)


def svg(best: dict[tuple[CellKey, str], Cell], cells: list[CellKey]) -> str:
    """Grouped bars of occupancy per grid cell and pacer, as plain SVG text (no plotting library)."""
    colours = {PROGRESSIVE: "#3b82f6", FIXED_RATIO: "#9aa5b1", LOOK_AHEAD: "#22c55e", PREDICTIVE: "#f97316"}
    bar, gap, top, height, left = 8, 12, 30, 220, 40
    group = len(colours) * bar + gap
    width = left + len(cells) * group + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 82}" font-family="sans-serif" font-size="10">',
        (
            f'<text x="{left}" y="16" font-size="12">Agent talk occupancy at &lt;= 3 % abandonment '
            "(blue progressive, grey fixed ratio, green look-ahead, orange ours)</text>"
        ),
    ]
    for pct in range(0, 101, 20):
        y = top + height - height * pct / 100
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="4" y="{y + 3}">{pct} %</text>'
        )
    for i, cell in enumerate(cells):
        x0 = left + i * group
        for j, name in enumerate(colours):
            c = best.get((cell, name))
            if c is not None:
                h = height * c.occupancy
                parts.append(
                    f'<rect x="{x0 + j * bar}" y="{top + height - h:.1f}" width="{bar - 1}" height="{h:.1f}" fill="{colours[name]}"/>'
                )
        a, lines, p, t = cell
        for k, label in enumerate((f"{a} ag", f"{lines} ln", f"p {p}", f"{t:.0f} s")):
            parts.append(f'<text x="{x0}" y="{top + height + 14 + 12 * k}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--config", help="dialer TOML (default: the project's)")
    ap.add_argument("--svg", help="also write the chart to this file")
    args = ap.parse_args()
    limit = config.load(args.config).campaigns.pacing.max_abandon_rate
    cells = grid()
    todo = jobs(cells, args.hours, args.seeds, args.config)
    started = time.perf_counter()
    best = best_cells(run_all(todo, args.jobs), limit)
    print(
        f"{len(todo)} simulated shifts of {args.hours:g} h ({args.seeds} seeds per pacer and knob) in "
        f"{time.perf_counter() - started:.0f} s on {args.jobs} process(es); {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}\n"
    )
    print(table(best, cells))
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(svg(best, cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
