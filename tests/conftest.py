"""Suite-wide rules and the fixtures many packages share.

In CI every test that needs the real Asterisk must run: a skipped or deselected
``asterisk`` test fails the run, so a green CI always means the telephony was
exercised for real.

Time: ``clock`` is a :class:`VirtualClock` at :data:`START`. A test marked ``virtual_time`` runs
in a :class:`~tests.virtual_time.VirtualTimeLoop` driven by that same clock, so asyncio's timers
and the services' ``now()`` move together and an idle loop jumps to its next timer (the module
says when it may not). The marker is for function-scoped loops (the default) of tests whose only
outside parties answer at once: loopback sockets, SQLite; a test against Asterisk, SIPp or
another process keeps real time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from collections.abc import AsyncIterator, Collection, Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.lab.lab import Lab
from dialer.settings import BackupSettings, LabSettings, PbxSettings, RecordingSettings, Settings, StoreSettings
from dialer.store.database import Database
from dialer.store.migrate import MIGRATIONS_DIR, PG_MIGRATIONS_DIR
from tests.pgserver import PostgresServer
from tests.virtual_time import VirtualTimePolicy

# 2026-11-29 09:00 in Asia/Shanghai (a Sunday): inside the default calling and sending windows.
START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
_POLICY = VirtualTimePolicy()
_CLOCK = pytest.StashKey[VirtualClock]()

_skipped_asterisk: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "asterisk" in report.keywords:
        _skipped_asterisk.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_asterisk and os.environ.get("CI"):
        print(f"\nFAIL: {len(_skipped_asterisk)} Asterisk test(s) were skipped in CI:")
        for nodeid in _skipped_asterisk:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- time, store and ports: one virtual clock per test, driving the loop too when the test asks ---


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "virtual_time: run in a loop on the test's virtual clock that jumps to its next timer when idle"
    )
    # pytest-asyncio makes every loop through the policy in force (its event_loop_policy fixture
    # returns it): unmarked tests get exactly the default loop, marked ones the virtual one.
    asyncio.set_event_loop_policy(_POLICY)
    config.addinivalue_line(
        "markers",
        "postgresql: runs on the session's private PostgreSQL server (the store_target fixture's second backend)",
    )


def _test_clock(item: pytest.Item) -> VirtualClock:
    """The test's clock, made on first use so that its loop and its ``clock`` fixture share it."""
    if _CLOCK not in item.stash:
        item.stash[_CLOCK] = VirtualClock(START)
    return item.stash[_CLOCK]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    # pytest-asyncio makes the test's loop while the test is set up.
    _POLICY.arm(_test_clock(item) if item.get_closest_marker("virtual_time") else None)
    try:
        return (yield)
    finally:
        _POLICY.arm(None)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> VirtualClock:
    """A virtual clock at :data:`START`; in a ``virtual_time`` test, the clock of its event loop."""
    return _test_clock(request.node)


@pytest.fixture
async def db(store_target: str | Path, clock: VirtualClock) -> AsyncIterator[Database]:
    """A fresh store on ``clock``, closed after the test (on both backends in :data:`BOTH_BACKENDS`)."""
    async with await Database.open(store_target, clock=clock) as database:
        yield database


def free_port() -> int:
    """A loopback port nobody listens on (the OS just handed it out and we closed it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the store on both backends: SQLite (the default everywhere) and PostgreSQL where a test asks ----


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's private PostgreSQL (tests/pgserver.py), started on first use, stopped at the end."""
    server = PostgresServer(free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


# The tests whose stores run on both backends (folders and modules below tests/): the store's own
# tests, the campaigns (the hopper, its crash drills) and the tests of a repository (leads' storing,
# import, transfer and hygiene queries, SMS, DOSS outbox, recordings, KPI, QA scores, the listen-in
# audit). Every other test keeps SQLite, the embedded default, and its plain id: the lead file
# parsers' tests (encodings, hostile files, a 100 000-row file) say nothing about SQL.
BOTH_BACKENDS = frozenset(
    {
        "store", "campaigns", "sms", "doss", "recording", "kpi", "qa", "supervisor",
        "leads/test_store.py", "leads/test_import.py", "leads/test_transfer.py", "leads/test_hygiene.py",
        "privacy", "audit",
    }
)  # fmt: skip


# A test of what only a PostgreSQL group has (leases, a standby) asks for that backend alone.
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "store_backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)
# A test of SQLite's own mechanics (its checkpoints, a connection's thread) asks for that backend alone.
SQLITE_ONLY = pytest.mark.parametrize("store_backend", ["sqlite"], indirect=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" not in metafunc.fixturenames:
        return
    if any(m.args and m.args[0] == "store_backend" for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test chose its backend (POSTGRESQL_ONLY)
    parts = metafunc.definition.path.relative_to(REPO / "tests").parts
    if parts[0] in BOTH_BACKENDS or "/".join(parts[:2]) in BOTH_BACKENDS:
        backends = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
        metafunc.parametrize("store_backend", backends, indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: both for the packages of :data:`BOTH_BACKENDS`, else SQLite only."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def store_target(store_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str | Path]:
    """Where a test's store lives: a SQLite file below ``tmp_path``, or a fresh migrated database on
    the session's PostgreSQL (dropped after the test). What ``Database.open`` takes."""
    if store_backend == "sqlite":
        yield tmp_path / "var" / "store.sqlite3"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = await server.create_database()
    yield url
    await server.drop_database(url)


@pytest.fixture
async def empty_store_target(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str | Path]:
    """A store no migration has touched yet, for a test that migrates it step by step: a new SQLite
    file, or an empty database on the session's PostgreSQL (dropped after the test)."""
    if store_backend == "sqlite":
        yield tmp_path / "empty.sqlite3"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = await server.create_database(empty=True)
    yield url
    await server.drop_database(url)


# -- the real Asterisk lab, shared by every test that needs it -----------------------------

REPO = Path(__file__).resolve().parents[1]


def checkout_env() -> dict[str, str]:
    """The environment for a ``python -m dialer`` child run outside the repository: it must import
    this checkout's package, not whichever one the virtualenv installed (another worktree's)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="session")
def lab_settings() -> Settings:
    """The documented defaults, with relative paths resolved against the repository."""
    return Settings(base_dir=str(REPO))


@pytest.fixture(scope="session")
def lab(lab_settings: Settings) -> Iterator[Lab]:
    """One Asterisk + SIPp lab for the session on the default ports (reused if already up)."""
    lab = Lab(lab_settings)
    status = lab.up()
    yield lab
    if not status.already:
        lab.down()


def settings_beside(tmp_path: Path, offset: int, customers_file: Path | None = None) -> Settings:
    """Settings for a second lab beside the session's: every port shifted by ``offset``, own folders.

    Files the repository ships (DOSS mapping, QA form, campaign samples) resolve against it;
    everything written (lab, store, recordings) goes below ``tmp_path``.
    """
    d = LabSettings()
    return Settings(
        base_dir=str(REPO),
        store=StoreSettings(path=str(tmp_path / "dialer.sqlite3")),
        pbx=PbxSettings(ami_port=PbxSettings().ami_port + offset),
        lab=LabSettings(
            dir=str(tmp_path / "lab"),
            sip_port=d.sip_port + offset,
            carrier_port=d.carrier_port + offset,
            agents_port=d.agents_port + offset,
            supervisor_port=d.supervisor_port + offset,
            inbound_port=d.inbound_port + offset,
            http_port=d.http_port + offset,
            rtp_start=d.rtp_end + 1 + offset * 10,
            rtp_end=d.rtp_end + 1000 + offset * 10,
            customers_file=str(customers_file or REPO / d.customers_file),
        ),
        recording=RecordingSettings(dir=str(tmp_path / "recordings")),
        backup=BackupSettings(dir=str(tmp_path / "backups")),  # never into the repository's var/
    )


def write_config(tmp_path: Path, **sections: dict[str, object]) -> Path:
    """A config file for CLI tests: store and recordings below ``tmp_path``, the repository's
    shipped files (DOSS mapping, QA form, SMS templates) by absolute path, plus ``sections``
    (``doss={"export_dir": ...}``) merged over those defaults."""
    tables: dict[str, dict[str, object]] = {
        "store": {"path": str(tmp_path / "store.sqlite3")},
        "recording": {
            "dir": str(tmp_path / "recordings"),
            "compress": "none",
            "qa_form": str(REPO / "config" / "qa_form.toml"),
        },
        "doss": {"mapping_file": str(REPO / "config" / "doss_mapping.toml")},
        "log": {"level": "warning"},
    }
    if (REPO / "config" / "sms_templates.toml").exists():
        tables["sms"] = {"templates_file": str(REPO / "config" / "sms_templates.toml")}
    for name, values in sections.items():
        tables.setdefault(name, {}).update(values)
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items())
    path = tmp_path / "dialer.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def migrations_before(
    folder: Path, first_left_out: str, *, postgresql: bool = False, also_left_out: Collection[str] = ()
) -> Path:
    """``folder`` holding the migrations (PostgreSQL's or SQLite's) named before ``first_left_out``, but
    not ``also_left_out``: a store opened with it is one of an older version, which a test fills with
    rows the way that version wrote them before opening it again with every migration."""
    folder.mkdir()
    for path in (PG_MIGRATIONS_DIR if postgresql else MIGRATIONS_DIR).glob("*.sql"):
        if path.name < first_left_out and path.name not in also_left_out:
            shutil.copy(path, folder / path.name)
    return folder
