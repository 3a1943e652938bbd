"""Hopper bench: picking the next batch of leads at 10 000, 100 000 and 1 000 000 enrolled leads,
on SQLite and on PostgreSQL, by one claimer and by four at once.

Each size gets a store filled with bulk inserts (not the import path: this measures the hopper,
not the importer) with a realistic mix: HQ leads with a 48 h first follow-up deadline (some close
to it), base customers without one, callbacks agreed for today, opted-out leads, numbers on the
DNC list (both on the one suppression list), calls in flight and one history event per lead. The
same rows go to both backends: SQLite through ``executemany``, PostgreSQL through ``COPY``
(asyncpg's ``copy_records_to_table``).

A filled SQLite store is kept in a cache folder (``$DCC_BENCH_CACHE``, else
``~/.cache/dcc-dialer-bench``), named by a key of the migrations' files and of this generator (its
code and parameters), so a stale one is never used: it is rebuilt when either changes. It is
filled under a temporary name, checked (its lead count, no write-ahead log left) and renamed into
place, so an interrupted fill is never taken for a cache; each run works on a copy of it.
PostgreSQL gets a private throw-away cluster (:mod:`bench.pg`) filled anew each run: ``COPY``
fills a million leads in 34-45 s on the loaded 2-core machine (not cached: a dump or a template
database kept between runs was not tried).

Then the campaign is started (enrolment is measured too) and ``Hopper.next_batch`` picks-and-claims
batches of 8 (one per outbound line) the way the runner would, every pick a real claim; between two
batches an agent agrees a new callback, so each batch also syncs one callback. At the largest
size, four claimers then do the same at once, each with its own ``Database`` (its own connections)
and its own PBX name, as four nodes would; every lead they picked is counted, and so are the
store's claimed rows per node: a lead picked twice stops the bench with an error.

    .venv/bin/python -m bench.hopper [--sizes 10000,100000,1000000] [--backends sqlite,postgresql]
        [--batches 200] [--dir /tmp/hopper-bench] [--no-cache]

Progress goes to stderr; a Markdown table with the figures to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import inspect
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench import pg
from dialer.campaigns.hopper import Hopper
from dialer.clock import VirtualClock
from dialer.domain.campaigns.definition import parse_definition
from dialer.domain.campaigns.lifecycle import Command
from dialer.logs import configure
from dialer.settings import PbxSettings, Settings
from dialer.store.campaigns import CampaignStore
from dialer.store.database import Database
from dialer.store.migrate import MIGRATIONS_DIR
from dialer.timestamps import to_db

# Monday 2026-11-30 10:00 Beijing time: inside the default calling window.
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
BATCH = 8  # the handbook's 8 outbound lines
CHUNK = 50_000  # rows per bulk insert: keeps memory flat at a million leads
# The mix, as "one lead in every N": HQ leads, callbacks, opt-outs, DNC numbers, calls in flight.
EVERY_HQ, EVERY_CALLBACK, EVERY_OPT_OUT, EVERY_DNC, EVERY_IN_FLIGHT = 10, 50, 20, 100, 500
SQLITE, POSTGRESQL = "sqlite", "postgresql"
BACKENDS = (SQLITE, POSTGRESQL)
CLAIMERS = 4  # nodes claiming from one campaign at once, at the largest size


@dataclass(frozen=True)
class Figure:
    """One store size on one backend, measured with ``claimers`` claiming at once."""

    backend: str
    leads: int
    claimers: int
    fill_s: float  # filling the store, or copying it from the cache when ``cached``
    cached: bool
    enrol_s: float
    batch_ms: list[float]  # every claimer's batches
    picks: int  # leads picked by all claimers
    picked_twice: int  # leads picked by more than one batch: must be 0
    claimed_rows: Counter[str]  # the store's claimed rows after the run, per node (claimed_pbx, see node_name)

    @property
    def p50(self) -> float:
        return statistics.median(self.batch_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.batch_ms, n=100, method="inclusive")[98]

    @property
    def wall_rate(self) -> float:
        """Leads claimed per second of claiming, all claimers together (they run at once)."""
        return 1000 * self.picks / (sum(self.batch_ms) / self.claimers)

    def row(self) -> str:
        return (
            f"| {self.backend:<10} | {self.leads:>9,} | {self.claimers} | {self.fill_s:7.1f}{' (cached)' if self.cached else ''}"
            f" | {self.enrol_s:7.2f} | {self.p50:7.2f} | {self.p99:7.2f} | {max(self.batch_ms):7.2f} | {self.wall_rate:9,.0f}"
            f" | {self.picked_twice} |"
        )


def cache_dir() -> Path:
    """Where filled stores are kept between runs."""
    return Path(os.environ.get("DCC_BENCH_CACHE") or Path.home() / ".cache" / "dcc-dialer-bench")


def cache_key(count: int) -> str:
    """Changes with any migration file and with the generator (its code and its parameters)."""
    h = hashlib.sha256()
    for migration in sorted(MIGRATIONS_DIR.glob("*.sql")):
        h.update(migration.name.encode() + b"\0" + migration.read_bytes())
    h.update(inspect.getsource(lead_rows).encode() + inspect.getsource(tables).encode())
    h.update(repr((count, NOW, EVERY_HQ, EVERY_CALLBACK, EVERY_OPT_OUT, EVERY_DNC, EVERY_IN_FLIGHT)).encode())
    return h.hexdigest()[:16]


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


def tables(start: int, stop: int) -> list[tuple[str, tuple[str, ...], list[tuple[object, ...]]]]:
    """Leads start..stop-1 as (table, columns, rows): one mobile each, one history event each, the
    suppression list (opt-outs from an import, DNC numbers from a supervisor) and some calls in flight."""
    ids = range(start, stop)
    events_at, suppressed_at = to_db(NOW - timedelta(days=1)), to_db(NOW)
    return [
        (
            "leads",
            (
                "id",
                "name",
                "source",
                "state",
                "created_at",
                "created_by",
                "updated_at",
                "callback_at",
                "due_at",
                "due_kind",
            ),
            list(lead_rows(start, stop)),
        ),
        ("lead_phones", ("e164", "lead_id", "kind"), [(f"+86139{i:08d}", i, "mobile") for i in ids]),
        (
            "lead_events",
            ("lead_id", "kind", "at", "actor"),
            [(i, "callback" if i % EVERY_CALLBACK == 1 else "created", events_at, "bench") for i in ids],
        ),
        (
            "suppressions",
            ("e164", "reason", "source", "at", "actor", "lead_id"),
            [
                (f"+86139{i:08d}", "bench", "import" if i % EVERY_OPT_OUT == 3 else "cli", suppressed_at, "bench", i)
                for i in ids
                if i % EVERY_OPT_OUT == 3 or i % EVERY_DNC == 5
            ],
        ),
        (
            "attempts",
            ("call_id", "direction", "number", "lead_id", "state", "created_at"),
            [
                (f"bench-{i}", "outbound", f"+86139{i:08d}", i, "ringing", suppressed_at)
                for i in ids
                if i % EVERY_IN_FLIGHT == 7
            ],
        ),
    ]


class Progress:
    """The fill's progress on stderr: leads written, elapsed, and the time left at this pace."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._t0 = time.perf_counter()

    def written(self, done: int) -> None:
        took = time.perf_counter() - self._t0
        left = took * (self._count - done) / done if done else 0.0
        progress(f"  {done:,} / {self._count:,} leads written ({took:.0f} s, ~{left:.0f} s left)")


async def fill_sqlite(db: Database, count: int) -> None:
    shown = Progress(count)
    async with db.write() as tx:
        for start in range(1, count + 1, CHUNK):
            stop = min(start + CHUNK, count + 1)
            for table, columns, rows in tables(start, stop):
                await tx.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
                )
            shown.written(stop - 1)


async def fill_postgres(url: str, count: int) -> None:
    shown = Progress(count)
    conn = await asyncpg.connect(url)
    try:
        # The rows are consistent by construction: skip the per-row foreign key triggers.
        await conn.execute("SET session_replication_role = replica")
        async with conn.transaction():
            for start in range(1, count + 1, CHUNK):
                stop = min(start + CHUNK, count + 1)
                for table, columns, rows in tables(start, stop):
                    await conn.copy_records_to_table(table, records=rows, columns=list(columns))
                shown.written(stop - 1)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def filled_sqlite(count: int, path: Path) -> float:
    """A new SQLite store at ``path`` with ``count`` leads; returns the seconds the filling took."""
    db = await Database.open(path, clock=VirtualClock(NOW))
    try:
        progress(f"{count:,} leads: filling a SQLite store")
        t0 = time.perf_counter()
        await fill_sqlite(db, count)
        return time.perf_counter() - t0
    finally:
        await db.close()


async def sqlite_copy(count: int, path: Path, cache: Path | None) -> tuple[float, bool]:
    """A filled store of ``count`` leads at ``path``: built there, or copied from (and first built into)
    ``cache``. Returns the seconds it took and whether the cache already had it."""
    for stale in path.parent.glob(f"{path.name}*"):
        stale.unlink()
    if cache is None:
        return await filled_sqlite(count, path), False
    cached = cache / f"hopper-{count}-{cache_key(count)}.sqlite3"
    built_s = None
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - setup before the timed run
        # Stores of another schema or generator, and fills that were interrupted.
        for old in cache.glob(f"hopper-{count}-*"):  # noqa: ASYNC240 - setup before the timed run
            old.unlink()
        building = cache / f"hopper-{count}-{cache_key(count)}.building"
        built_s = await filled_sqlite(count, building)
        await check_filled(building, count)
        with building.open("rb") as f:  # on disk before it gets its cache name
            os.fsync(f.fileno())
        building.rename(cached)
    progress(f"{count:,} leads: copying the cached store {cached}")
    t0 = time.perf_counter()
    shutil.copyfile(cached, path)
    copied_s = time.perf_counter() - t0
    return (copied_s, True) if built_s is None else (built_s + copied_s, False)


async def check_filled(path: Path, count: int) -> None:
    """Refuse to cache a store that is not whole: every lead written, nothing left in a write-ahead log."""
    for suffix in ("-wal", "-journal"):
        if Path(f"{path}{suffix}").exists():  # noqa: ASYNC240 - setup before the timed run
            raise SystemExit(f"{path}: its {suffix[1:]} outlived the close; not caching a store that needs it")
    db = await Database.open(path, clock=VirtualClock(NOW))
    try:
        async with db.read() as r:
            leads = await r.fetchval("SELECT COUNT(*) FROM leads")
    finally:
        await db.close()
    if leads != count or Path(f"{path}-wal").exists():  # noqa: ASYNC240 - setup before the timed run
        raise SystemExit(f"{path}: {leads:,} leads of {count:,}; not caching it")


@asynccontextmanager
async def store(
    backend: str, count: int, directory: Path, cache: Path | None, server: pg.BenchPostgres | None
) -> AsyncIterator[tuple[str | Path, float, bool]]:
    """A filled store of ``count`` leads on ``backend``: its target (a path or a URL), the seconds
    filling or copying it took, whether it came from the cache. Deleted after the block."""
    if backend == SQLITE:
        path = directory / f"hopper-{count}.sqlite3"
        fill_s, cached = await sqlite_copy(count, path, cache)
        try:
            yield path, fill_s, cached
        finally:
            for stale in directory.glob(f"{path.name}*"):  # noqa: ASYNC240 - cleanup between timed runs
                stale.unlink()
        return
    assert server is not None
    name = f"hopper_{count}"
    url = await server.create_database(name)
    async with await Database.open(url, clock=VirtualClock(NOW)):
        pass  # migrated
    progress(f"{count:,} leads: filling a PostgreSQL database (COPY)")
    t0 = time.perf_counter()
    await fill_postgres(url, count)
    fill_s = time.perf_counter() - t0
    try:
        yield url, fill_s, False
    finally:
        await server.drop_database(name)


def callback_lead(b: int, n: int, count: int, claimed: set[int]) -> int:
    """The lead an agent of claimer ``n`` agrees a callback with before batch ``b``: one not claimed
    (a real agent talks to a lead whose claim ended; an event of a claimed lead waits for its result)."""
    lead = 1 + (b * 7919 + n * 104_729) % count
    while lead in claimed:
        lead = 1 + lead % count
    return lead


def node_name(claimers: int, n: int) -> str:
    """The PBX name of claimer ``n`` of a run of ``claimers``: each run's claims stay apart in the store."""
    return f"{claimers}x-node-{n}"


async def claim_batches(
    target: str | Path,
    campaign_id: int,
    claimers: int,
    n: int,
    count: int,
    batches: int,
    start: datetime,
    claimed: set[int],
    ready: asyncio.Barrier,
) -> tuple[list[float], list[int]]:
    """Claimer ``n``: its own store (connections) and PBX name, ``batches`` timed ``next_batch`` calls;
    returns their times and the leads it picked (``claimed``, shared by all claimers, grows with them)."""
    settings = dataclasses.replace(Settings(), pbx=PbxSettings(name=node_name(claimers, n)))
    clock = VirtualClock(start)
    timings: list[float] = []
    picked: list[int] = []
    async with await Database.open(target, clock=clock) as db:
        hopper = Hopper(CampaignStore(db, settings), settings)
        await ready.wait()
        for b in range(batches):
            # An agent agrees a callback for right now between two batches, as LeadStore.change_state would.
            lead_id = callback_lead(b, n, count, claimed)
            async with db.write() as tx:
                await tx.execute("UPDATE leads SET callback_at = ? WHERE id = ?", (to_db(clock.now()), lead_id))
                await tx.execute(
                    "INSERT INTO lead_events (lead_id, kind, at, actor) VALUES (?, 'callback', ?, 'agent1')",
                    (lead_id, to_db(clock.now())),
                )
            t0 = time.perf_counter()
            picks = await hopper.next_batch(campaign_id, BATCH, clock.now())
            timings.append((time.perf_counter() - t0) * 1000)
            if len(picks) != BATCH:
                raise SystemExit(f"claimer {n}, batch {b}: {len(picks)} leads, expected {BATCH}")
            picked += [p.lead_id for p in picks]
            claimed.update(p.lead_id for p in picks)
            clock.advance(1)
    return timings, picked


async def claimed_by_node(db: Database, campaign_id: int) -> Counter[str]:
    async with db.read() as r:
        rows = await r.fetchall(
            "SELECT claimed_pbx, COUNT(*) FROM campaign_leads WHERE campaign_id = ? AND status = 'claimed'"
            " GROUP BY claimed_pbx",
            (campaign_id,),
        )
    return Counter({row[0]: row[1] for row in rows})


async def measure(
    backend: str,
    count: int,
    batches: int,
    directory: Path,
    cache: Path | None = None,
    server: pg.BenchPostgres | None = None,
    claimers: tuple[int, ...] = (1,),
) -> list[Figure]:
    """A store with ``count`` leads on ``backend`` (SQLite: from ``cache`` when given; PostgreSQL: in
    ``server``), a campaign started over all of them, then for each number in ``claimers`` that many
    claimers at once, ``batches`` timed picks each. Stops with an error if a lead is picked twice."""
    settings = Settings()
    figures = []
    async with store(backend, count, directory, cache, server) as (target, fill_s, cached):
        async with await Database.open(target, clock=VirtualClock(NOW)) as db:
            campaigns = CampaignStore(db, settings)
            definition = parse_definition(
                {"name": "bench", "kind": "hq", "filter": {"sources": ["hq", "base_customer"]}}, "bench", settings
            )
            campaign = await campaigns.create(definition, "bench", NOW, "bench")
            await campaigns.transition(campaign.id, Command.START, NOW, "bench")
            progress(f"{count:,} leads on {backend}: enrolling")
            t0 = time.perf_counter()
            await Hopper(campaigns, settings).enrol(campaign.id, NOW)
            enrol_s = time.perf_counter() - t0
            async with db.write() as tx:
                await tx.execute("ANALYZE")
            claimed: set[int] = set()
            start = NOW
            for k in claimers:
                progress(f"{count:,} leads on {backend}: {k} claimer(s), {batches} batches of {BATCH} each")
                ready = asyncio.Barrier(k)
                runs = await asyncio.gather(
                    *(claim_batches(target, campaign.id, k, n, count, batches, start, claimed, ready) for n in range(k))
                )
                start += timedelta(seconds=batches)
                picks = Counter(lead for _, picked in runs for lead in picked)
                twice = sum(1 for n in picks.values() if n > 1)
                stored = await claimed_by_node(db, campaign.id)
                mine = Counter({node_name(k, n): len(picked) for n, (_, picked) in enumerate(runs)})
                figure = Figure(
                    backend, count, k, fill_s, cached, enrol_s, [t for timings, _ in runs for t in timings],
                    sum(picks.values()), twice, stored,
                )  # fmt: skip
                figures.append(figure)
                if twice or any(stored[node] != n for node, n in mine.items()):
                    raise SystemExit(
                        f"{backend}, {count:,} leads, {k} claimers: {twice} lead(s) picked twice;"
                        f" picked per node {dict(mine)}, claimed in the store {dict(stored)}"
                    )
    return figures


@asynccontextmanager
async def servers(backends: tuple[str, ...]) -> AsyncIterator[pg.BenchPostgres | None]:
    """The private PostgreSQL when a backend needs it."""
    if POSTGRESQL not in backends:
        yield None
        return
    async with pg.postgres() as server:
        yield server


async def run(
    sizes: tuple[int, ...], backends: tuple[str, ...], batches: int, directory: Path, cache: Path | None
) -> list[Figure]:
    """Every size on every backend with one claimer; the largest also with :data:`CLAIMERS` at once."""
    figures = []
    async with servers(backends) as server:
        for backend in backends:
            for size in sizes:
                claimers = (1, CLAIMERS) if size == max(sizes) else (1,)
                figures += await measure(backend, size, batches, directory, cache, server, claimers)
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--no-cache", action="store_true", help=f"fill every store anew (cache: {cache_dir()})")
    args = parser.parse_args()
    configure(level="warning", json=False)
    backends = tuple(args.backends.split(","))
    if unknown := set(backends) - set(BACKENDS):
        parser.error(f"--backends: unknown {', '.join(sorted(unknown))}")
    directory = args.dir or Path(tempfile.mkdtemp(prefix="hopper-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        cache = None if args.no_cache else cache_dir()
        sizes = tuple(int(size) for size in args.sizes.split(","))
        figures = await run(sizes, backends, args.batches, directory, cache)
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)
    print(
        f"Hopper next_batch({BATCH}) with claim; {args.batches} batches per claimer; {platform.python_version()}, {platform.machine()}\n"
    )
    print(
        "| backend    |     leads | claimers | fill s  | enrol s | p50 ms | p99 ms | max ms | leads/s   | picked twice |"
    )
    print(
        "|------------|----------:|---------:|--------:|--------:|--------:|--------:|--------:|----------:|-------------:|"
    )
    for f in figures:
        print(f.row())


if __name__ == "__main__":
    asyncio.run(main())
