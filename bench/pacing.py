"""Pacing bench: each mode's best agent occupancy at <= 3 % abandonment on the reference grid.

Grid (the issue's): 8 lines; 3, 5, 8 and 20 agents; answer probability 0.3 and 0.5; mean talk
90 s and 180 s; everything else as in dialer.sim.model. Preview and progressive have no knob;
predictive is run at several controller targets (max_abandon_rate - abandon_margin) and the best
occupancy whose worst seed stayed within the limit is reported. Every figure is the mean over
``--seeds`` seeds of an ``--hours`` shift.

    .venv/bin/python bench/pacing.py [--hours 8] [--seeds 3] [--jobs 2] [--svg docs/pacing.svg]

Prints progress on stderr and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from statistics import mean

from dialer import config
from dialer.domain.campaigns.pacing import PacingMode
from dialer.domain.campaigns.policy import CampaignRules
from dialer.sim.engine import SimResult, simulate
from dialer.sim.scenarios import reference

AGENTS = (3, 5, 8, 20)
ANSWER_P = (0.3, 0.5)
TALK_MEAN_S = (90.0, 180.0)
LINES = 8
# Controller targets tried for predictive, as margins under the limit.
MARGINS = (0.02, 0.015, 0.01, 0.005)


@dataclass(frozen=True)
class Job:
    agents: int
    answer_p: float
    talk: float
    mode: PacingMode
    margin: float | None
    seed: int
    hours: float
    config: str | None


@dataclass(frozen=True)
class Cell:
    occupancy: float
    abandon: float  # mean over seeds
    worst_abandon: float
    target: float | None


def run_job(job: Job) -> tuple[Job, SimResult]:
    cfg = config.load(job.config)
    pacing = cfg.campaigns.pacing if job.margin is None else replace(cfg.campaigns.pacing, abandon_margin=job.margin)
    rules = CampaignRules.from_settings(cfg)
    sc = reference(rules, job.mode, job.agents, LINES, job.answer_p, job.talk, job.hours, job.seed)
    return job, simulate(sc, rules, pacing, cfg.calls.abandon_after_s)


def jobs(hours: float, seeds: int, config: str | None) -> list[Job]:
    variants: list[tuple[PacingMode, float | None]] = [(PacingMode.PREVIEW, None), (PacingMode.PROGRESSIVE, None)]
    variants += [(PacingMode.PREDICTIVE, m) for m in MARGINS]
    return [
        Job(a, p, t, mode, margin, seed, hours, config)
        for a, p, t in itertools.product(AGENTS, ANSWER_P, TALK_MEAN_S)
        for mode, margin in variants
        for seed in range(1, seeds + 1)
    ]


def best_cells(results: list[tuple[Job, SimResult]], limit: float) -> dict[tuple[int, float, float, PacingMode], Cell]:
    groups: dict[tuple[int, float, float, PacingMode, float | None], list[SimResult]] = {}
    for job, r in results:
        groups.setdefault((job.agents, job.answer_p, job.talk, job.mode, job.margin), []).append(r)
    best: dict[tuple[int, float, float, PacingMode], Cell] = {}
    for (a, p, t, mode, margin), rs in groups.items():
        cell = Cell(
            mean(r.occupancy for r in rs),
            mean(r.abandon_rate for r in rs),
            max(r.abandon_rate for r in rs),
            None if margin is None else limit - margin,
        )
        key = (a, p, t, mode)
        if cell.worst_abandon <= limit and (key not in best or cell.occupancy > best[key].occupancy):
            best[key] = cell
    return best


def table(best: dict[tuple[int, float, float, PacingMode], Cell]) -> str:
    rows = [
        "| agents | answer p | talk mean | preview | progressive | predictive (target) | predictive abandon | predictive / progressive |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for a, p, t in itertools.product(AGENTS, ANSWER_P, TALK_MEAN_S):
        pv, pg, pd = (best.get((a, p, t, m)) for m in PacingMode)

        def occ(c: Cell | None) -> str:
            return "—" if c is None else f"{c.occupancy * 100:.1f} %"

        pred = "—" if pd is None else f"{pd.occupancy * 100:.1f} % ({pd.target * 100:.1f} %)"
        abandon = "—" if pd is None else f"{pd.abandon * 100:.2f} % (max {pd.worst_abandon * 100:.2f} %)"
        ratio = "—" if pd is None or pg is None else f"{pd.occupancy / pg.occupancy:.2f}"
        rows.append(f"| {a} | {p} | {t:.0f} s | {occ(pv)} | {occ(pg)} | {pred} | {abandon} | {ratio} |")
    return "\n".join(rows)


def svg(best: dict[tuple[int, float, float, PacingMode], Cell]) -> str:
    """Grouped bars of occupancy per grid cell and mode, as plain SVG text (no plotting library)."""
    cells = list(itertools.product(AGENTS, ANSWER_P, TALK_MEAN_S))
    colours = {PacingMode.PREVIEW: "#9aa5b1", PacingMode.PROGRESSIVE: "#3b82f6", PacingMode.PREDICTIVE: "#f97316"}
    bar, gap, top, height, left = 10, 14, 30, 220, 40
    width = left + len(cells) * (3 * bar + gap) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 70}" font-family="sans-serif" font-size="10">',
        (
            f'<text x="{left}" y="16" font-size="12">Agent talk occupancy at &lt;= 3 % abandonment, 8 lines '
            "(grey preview, blue progressive, orange predictive)</text>"
        ),
    ]
    for pct in range(0, 101, 20):
        y = top + height - height * pct / 100
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="4" y="{y + 3}">{pct} %</text>'
        )
    for i, (a, p, t) in enumerate(cells):
        x0 = left + i * (3 * bar + gap)
        for j, mode in enumerate(PacingMode):
            c = best.get((a, p, t, mode))
            if c is not None:
                h = height * c.occupancy
                parts.append(
                    f'<rect x="{x0 + j * bar}" y="{top + height - h:.1f}" width="{bar - 1}" height="{h:.1f}" fill="{colours[mode]}"/>'
                )
        parts.append(f'<text x="{x0}" y="{top + height + 14}">{a} ag</text>')
        parts.append(f'<text x="{x0}" y="{top + height + 26}">p {p}</text>')
        parts.append(f'<text x="{x0}" y="{top + height + 38}">{t:.0f} s</text>')
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
    todo = jobs(args.hours, args.seeds, args.config)
    started = time.perf_counter()
    results: list[tuple[Job, SimResult]] = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for done, item in enumerate(pool.map(run_job, todo, chunksize=4), 1):
            results.append(item)
            if done % 12 == 0 or done == len(todo):
                print(
                    f"\r{done}/{len(todo)} runs, {time.perf_counter() - started:.0f} s",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
    print(file=sys.stderr)
    best = best_cells(results, limit)
    print(
        f"{len(todo)} simulated shifts of {args.hours:g} h ({args.seeds} seeds per variant) in "
        f"{time.perf_counter() - started:.0f} s on {args.jobs} process(es); {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}\n"
    )
    print(table(best))
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(svg(best))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
