"""How many call attempts per second the single-writer store can record.

Each attempt is what the dialer writes for a real call: one insert (``create``)
and two updates (``mark_started``, ``finish``). N concurrent writers share the one
writer connection, as the campaign runner's call tasks do. Three variants:

- ``per-call-step``: every step its own transaction (3 commits per attempt), the
  way call tasks use the repository today;
- ``per-attempt``: the three steps in one ``db.write()`` (1 commit per attempt);
- ``batched``: a writer records ``--batch`` attempts in one ``db.write()``.

Each on SQLite (a file in a temporary folder) and on PostgreSQL (a private throw-away cluster,
:mod:`bench.pg`, with fsync off as in the tests: the figures compare the two stores' protocols and
locking, not disks). Not part of the test suite; run ``.venv/bin/python -m bench.store_writes``.
Each variant stops after ``--attempts`` attempts or ``--budget`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench import pg
from dialer.clock import SystemClock
from dialer.domain.calls.outcome import Direction, Outcome
from dialer.logs import configure
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database

NUMBER = "+8613800138000"


@dataclass(frozen=True, slots=True)
class Result:
    """One variant's figures on one backend."""

    backend: str
    name: str
    attempts: int
    seconds: float
    commits_per_attempt: float

    @property
    def rate(self) -> float:
        return self.attempts / self.seconds if self.seconds else 0.0


class Progress:
    """A one-line progress display on stderr, so a slow machine is visibly working."""

    def __init__(self, name: str, total: int) -> None:
        self._name = name
        self._total = total
        self._shown = -1

    def update(self, done: int) -> None:
        percent = min(100, done * 100 // self._total)
        if percent // 10 != self._shown // 10:
            self._shown = percent
            print(f"\r  {self._name:<14} {percent:3d}% ({done}/{self._total})", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        print(file=sys.stderr, flush=True)


async def run_variant(
    name: str,
    db: Database,
    *,
    attempts: int,
    writers: int,
    budget_s: float,
    chunk: int,
    record: Callable[[AttemptStore, list[str]], Awaitable[None]],
    commits_per_attempt: float,
) -> Result:
    """Let ``writers`` tasks pull chunks of call ids and ``record`` them until done or out of time."""
    repo = AttemptStore(db)
    ids = (f"{name}-{n}" for n in range(attempts))
    done = 0
    progress = Progress(name, attempts)
    start = time.perf_counter()
    deadline = start + budget_s

    async def writer() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            batch = list(itertools.islice(ids, chunk))
            if not batch:
                return
            await record(repo, batch)
            done += len(batch)
            progress.update(done)

    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - start
    progress.finish()
    return Result(db.dialect.name, name, done, elapsed, commits_per_attempt)


async def one_attempt(repo: AttemptStore, call_id: str) -> None:
    clock = SystemClock()
    await repo.create(call_id=call_id, direction=Direction.OUTBOUND, number=NUMBER, created_at=clock.now())
    await repo.mark_started(call_id, clock.now())
    await repo.finish(call_id, outcome=Outcome.NO_ANSWER, ended_at=clock.now(), hangup_cause=19)


def grouped(db: Database) -> Callable[[AttemptStore, list[str]], Awaitable[None]]:
    """Record a list of attempts inside one transaction (the repository calls join it)."""

    async def record(repo: AttemptStore, call_ids: list[str]) -> None:
        async with db.write():
            for call_id in call_ids:
                await one_attempt(repo, call_id)

    return record


async def separate(repo: AttemptStore, call_ids: list[str]) -> None:
    for call_id in call_ids:
        await one_attempt(repo, call_id)


async def variants(target: str | Path, args: argparse.Namespace) -> list[Result]:
    async with await Database.open(target, readers=args.writers) as db:
        common = {"attempts": args.attempts, "writers": args.writers, "budget_s": args.budget}
        return [
            await run_variant("per-call-step", db, chunk=1, record=separate, commits_per_attempt=3, **common),
            await run_variant("per-attempt", db, chunk=1, record=grouped(db), commits_per_attempt=1, **common),
            await run_variant(
                "batched", db, chunk=args.batch, record=grouped(db), commits_per_attempt=1 / args.batch, **common
            ),
        ]


async def main(args: argparse.Namespace) -> list[Result]:
    results = []
    if "sqlite" in args.backends:
        with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
            results += await variants(Path(tmp) / "bench.sqlite3", args)
    if "postgresql" in args.backends:
        async with pg.postgres() as server:
            results += await variants(await server.create_database("store_writes"), args)
    return results


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"\nattempts = 1 insert + 2 updates; {args.writers} concurrent writers; batch = {args.batch}")
    print(f"{'backend':<11} {'variant':<14} {'attempts':>9} {'seconds':>8} {'attempts/s':>11} {'commits/attempt':>16}")
    for r in results:
        print(
            f"{r.backend:<11} {r.name:<14} {r.attempts:>9} {r.seconds:>8.2f} {r.rate:>11.0f} {r.commits_per_attempt:>16.2f}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=3000, help="attempts per variant (default 3000)")
    parser.add_argument(
        "--writers", type=int, default=8, help="concurrent writer tasks (default 8, the outbound lines)"
    )
    parser.add_argument("--batch", type=int, default=50, help="attempts per transaction in the batched variant")
    parser.add_argument("--budget", type=float, default=8.0, help="seconds at most per variant (default 8)")
    parser.add_argument(
        "--backends", type=lambda v: v.split(","), default=["sqlite", "postgresql"], help="default sqlite,postgresql"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    configure(level="warning")
    report(asyncio.run(main(arguments)), arguments)
