"""Hopper bench: picking the next batch of leads at 10 000, 100 000 and 1 000 000 enrolled leads.

Each size gets a store filled with executemany (not the import path: this measures the
hopper, not the importer) with a realistic mix: HQ leads with a 48 h first follow-up deadline
(some close to it), base customers without one, callbacks agreed for today, opted-out leads,
numbers on the DNC list (both on the one suppression list), calls in flight and one history event per lead. A filled store is kept
in a cache folder (``$DCC_BENCH_CACHE``, else ``~/.cache/dcc-dialer-bench``), named by a key of the
migrations' files and of this generator (its code and parameters), so a stale one is never used: it
is rebuilt when either changes. Each run works on a copy of it. Then the campaign is started (enrolment is measured too) and ``Hopper.next_batch`` picks-and-claims batches of 8 (one
per outbound line) the way the runner would, every pick a real claim; between two batches an
agent agrees a new callback, so each batch also syncs one callback.

    .venv/bin/python -m bench.hopper [--sizes 10000,100000,1000000] [--batches 200] [--dir /tmp/hopper-bench] [--no-cache]

Progress goes to stderr; a Markdown table with the figures to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dialer.campaigns.hopper import Hopper
from dialer.clock import VirtualClock
from dialer.domain.campaigns.definition import parse_definition
from dialer.domain.campaigns.lifecycle import Command
from dialer.logs import configure
from dialer.settings import Settings
from dialer.store.campaigns import CampaignStore
from dialer.store.database import Database
from dialer.store.migrate import MIGRATIONS_DIR
from dialer.timestamps import to_db

# Monday 2026-11-30 10:00 Beijing time: inside the default calling window.
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
BATCH = 8  # the handbook's 8 outbound lines
CHUNK = 50_000  # rows per executemany: keeps memory flat at a million leads
# The mix, as "one lead in every N": HQ leads, callbacks, opt-outs, DNC numbers, calls in flight.
EVERY_HQ, EVERY_CALLBACK, EVERY_OPT_OUT, EVERY_DNC, EVERY_IN_FLIGHT = 10, 50, 20, 100, 500


@dataclass(frozen=True)
class Figure:
    """One store size, measured."""

    leads: int
    fill_s: float  # filling the store, or copying it from the cache when ``cached``
    cached: bool
    enrol_s: float
    batch_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.batch_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.batch_ms, n=100, method="inclusive")[98]

    def row(self) -> str:
        return (
            f"| {self.leads:>9,} | {self.fill_s:7.1f}{' (cached)' if self.cached else ''} | {self.enrol_s:7.2f}"
            f" | {self.p50:7.2f} | {self.p99:7.2f} | {max(self.batch_ms):7.2f} | {1000 * BATCH / statistics.mean(self.batch_ms):9,.0f} |"
        )


def cache_dir() -> Path:
    """Where filled stores are kept between runs."""
    return Path(os.environ.get("DCC_BENCH_CACHE") or Path.home() / ".cache" / "dcc-dialer-bench")


def cache_key(count: int) -> str:
    """Changes with any migration file and with the generator (its code and its parameters)."""
    h = hashlib.sha256()
    for migration in sorted(MIGRATIONS_DIR.glob("*.sql")):
        h.update(migration.name.encode() + b"\0" + migration.read_bytes())
    h.update(inspect.getsource(lead_rows).encode() + inspect.getsource(fill).encode())
    h.update(repr((count, NOW, EVERY_HQ, EVERY_CALLBACK, EVERY_OPT_OUT, EVERY_DNC, EVERY_IN_FLIGHT)).encode())
    return h.hexdigest()[:16]


async def filled(count: int, path: Path) -> float:
    """A new store at ``path`` with ``count`` leads; returns the seconds the filling took."""
    db = await Database.open(path, clock=VirtualClock(NOW))
    try:
        progress(f"{count:,} leads: filling")
        t0 = time.perf_counter()
        await fill(db, count)
        return time.perf_counter() - t0
    finally:
        await db.close()


async def store_copy(count: int, path: Path, cache: Path | None) -> tuple[float, bool]:
    """A filled store of ``count`` leads at ``path``: built there, or copied from (and first built into)
    ``cache``. Returns the seconds it took and whether the cache already had it."""
    for stale in path.parent.glob(f"{path.name}*"):
        stale.unlink()
    if cache is None:
        return await filled(count, path), False
    cached = cache / f"hopper-{count}-{cache_key(count)}.sqlite3"
    built_s = None
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - setup before the timed run
        for old in cache.glob(f"hopper-{count}-*"):  # noqa: ASYNC240 - a store of another schema or generator
            old.unlink()
        building = cached.with_suffix(".building")
        built_s = await filled(count, building)
        if Path(f"{building}-wal").exists():  # noqa: ASYNC240 - setup before the timed run
            raise SystemExit(f"{building}: the write-ahead log outlived the close; not caching a store that needs it")
        building.rename(cached)
    progress(f"{count:,} leads: copying the cached store {cached}")
    t0 = time.perf_counter()
    shutil.copyfile(cached, path)
    copied_s = time.perf_counter() - t0
    return (copied_s, True) if built_s is None else (built_s + copied_s, False)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def lead_rows(start: int, stop: int) -> Iterator[tuple[object, ...]]:
    """Leads start..stop-1: HQ leads issued over the last 47 hours, the rest base customers."""
    for i in range(start, stop):
        created = to_db(NOW - timedelta(days=30))
        if i % EVERY_HQ == 0:
            issued = NOW - timedelta(minutes=(i * 7) % (47 * 60))
            source, due_at, due_kind, callback = "hq", to_db(issued + timedelta(hours=48)), "first_follow_up", None
        elif i % EVERY_CALLBACK == 1:
            callback = to_db(NOW - timedelta(minutes=i % 120))
            source, due_at, due_kind = "base_customer", callback, "callback"
        else:
            source, due_at, due_kind, callback = "base_customer", None, None, None
        yield (i, f"客户{i}", source, "new", created, "bench", created, callback, due_at, due_kind)


async def fill(db: Database, count: int) -> None:
    """Insert ``count`` leads with one mobile each, the suppression list and some calls in flight."""
    async with db.write() as tx:
        for start in range(1, count + 1, CHUNK):
            stop = min(start + CHUNK, count + 1)
            await tx.executemany(
                "INSERT INTO leads (id, name, source, state, created_at, created_by, updated_at, callback_at, due_at, due_kind)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                lead_rows(start, stop),
            )
            await tx.executemany(
                "INSERT INTO lead_phones (e164, lead_id, kind) VALUES (?, ?, 'mobile')",
                ((f"+86139{i:08d}", i) for i in range(start, stop)),
            )
            await tx.executemany(
                "INSERT INTO lead_events (lead_id, kind, at, actor) VALUES (?, ?, ?, 'bench')",
                (
                    (i, "callback" if i % EVERY_CALLBACK == 1 else "created", to_db(NOW - timedelta(days=1)))
                    for i in range(start, stop)
                ),
            )
            # Opted-out leads (an import's column) and DNC numbers (a supervisor's): both on the one list.
            await tx.executemany(
                "INSERT INTO suppressions (e164, reason, source, at, actor, lead_id) VALUES (?, 'bench', ?, ?, 'bench', ?)",
                (
                    (f"+86139{i:08d}", "import" if i % EVERY_OPT_OUT == 3 else "cli", to_db(NOW), i)
                    for i in range(start, stop)
                    if i % EVERY_OPT_OUT == 3 or i % EVERY_DNC == 5
                ),
            )
            await tx.executemany(
                "INSERT INTO attempts (call_id, direction, number, lead_id, state, created_at) VALUES (?, 'outbound', ?, ?, 'ringing', ?)",
                (
                    (f"bench-{i}", f"+86139{i:08d}", i, to_db(NOW))
                    for i in range(start, stop)
                    if i % EVERY_IN_FLIGHT == 7
                ),
            )
            progress(f"  {stop - 1:,} / {count:,} leads written")


async def measure(count: int, batches: int, directory: Path, cache: Path | None = None) -> Figure:
    """A store with ``count`` leads (from ``cache`` when given), a campaign started over all of them,
    ``batches`` picks timed."""
    settings = Settings()
    clock = VirtualClock(NOW)
    path = directory / f"hopper-{count}.sqlite3"
    fill_s, cached = await store_copy(count, path, cache)
    db = await Database.open(path, clock=clock)
    try:
        store = CampaignStore(db, settings)
        hopper = Hopper(store, settings)
        definition = parse_definition(
            {"name": "bench", "kind": "hq", "filter": {"sources": ["hq", "base_customer"]}}, "bench", settings
        )
        campaign = await store.create(definition, "bench", NOW, "bench")
        await store.transition(campaign.id, Command.START, NOW, "bench")
        progress(f"{count:,} leads: enrolling")
        t0 = time.perf_counter()
        await hopper.enrol(campaign.id, NOW)
        enrol_s = time.perf_counter() - t0
        async with db.write() as tx:
            await tx.execute("ANALYZE")
        progress(f"{count:,} leads: {batches} batches of {BATCH}")
        timings = []
        for b in range(batches):
            # An agent agrees a callback for right now between two batches, as LeadStore.change_state would.
            lead_id = 1 + (b * 7919) % count
            async with db.write() as tx:
                await tx.execute("UPDATE leads SET callback_at = ? WHERE id = ?", (to_db(clock.now()), lead_id))
                await tx.execute(
                    "INSERT INTO lead_events (lead_id, kind, at, actor) VALUES (?, 'callback', ?, 'agent1')",
                    (lead_id, to_db(clock.now())),
                )
            t0 = time.perf_counter()
            picks = await hopper.next_batch(campaign.id, BATCH, clock.now())
            timings.append((time.perf_counter() - t0) * 1000)
            if len(picks) != BATCH:
                raise SystemExit(f"batch {b} returned {len(picks)} leads, expected {BATCH}")
            clock.advance(1)
        return Figure(count, fill_s, cached, enrol_s, timings)
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--no-cache", action="store_true", help=f"fill every store anew (cache: {cache_dir()})")
    args = parser.parse_args()
    configure(level="warning", json=False)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="hopper-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        cache = None if args.no_cache else cache_dir()
        figures = [await measure(int(size), args.batches, directory, cache) for size in args.sizes.split(",")]
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)
    print(
        f"Hopper next_batch({BATCH}) with claim; {args.batches} batches per size; {platform.python_version()}, {platform.machine()}\n"
    )
    print("|     leads | fill s  | enrol s | p50 ms | p99 ms | max ms | leads/s   |")
    print("|----------:|--------:|--------:|--------:|--------:|--------:|----------:|")
    for f in figures:
        print(f.row())


if __name__ == "__main__":
    asyncio.run(main())
