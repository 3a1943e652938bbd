"""A private PostgreSQL server for the test session: Debian's ``postgresql`` binaries, a cluster in a
temporary folder, listening on a free loopback port and a socket in that folder, stopped and deleted
at the end. ``scripts/bootstrap.sh`` installs the package; the Debian package's own cluster and
service are never used.

Each test gets a fresh database copied from a template that the store's PostgreSQL migrations were
applied to once (``CREATE DATABASE ... TEMPLATE`` copies files: a few milliseconds, where migrating
takes a few hundred), and dropped afterwards.

initdb and the server refuse to run as root: when the tests run as root the cluster belongs to the
``postgres`` system user the Debian package creates, and the binaries run through ``runuser``.
Authentication is ``trust``: the server listens on 127.0.0.1 and a socket in a private folder only,
and lives as long as the test session.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from dialer.store.database import Database

SUPERUSER = "dialer"
TEMPLATE = "dialer_template"
# The Debian package's system user, which owns the cluster when the tests run as root.
SYSTEM_USER = "postgres"
# Bounds the real wait for the server to start or stop (pg_ctl -w); a healthy start takes well under a second.
_PG_CTL_WAIT_S = 60
# Server settings for throw-away data: no fsync or full-page writes (a crash loses the test
# databases, which nobody keeps), more connections than a test's stores ever open.
_SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"


def binaries() -> Path:
    """The folder of the newest installed PostgreSQL's initdb, pg_ctl and postgres."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name), reverse=True
    )
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb): run scripts/bootstrap.sh")
    return Path(initdb).resolve().parent


class PostgresServer:
    """A running private cluster; :meth:`create_database` hands out fresh migrated databases."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._root = Path(tempfile.mkdtemp(prefix="dialer-pg-"))
        self._bin = binaries()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", SYSTEM_USER, "--"]
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(self._root, entry.pw_uid, entry.pw_gid)
        self._names = itertools.count(1)
        self._template = False  # made by the first create_database(), inside the tests' event loop

    @property
    def data(self) -> Path:
        return self._root / "data"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as_user, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self._root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr or done.stdout}\n{tail}")

    def start(self) -> None:
        self._run(
            str(self._bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self._root} {_SERVER_OPTIONS}"
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data), "-l", str(self._root / "server.log"),
            "-w", "-t", str(_PG_CTL_WAIT_S), "-o", options, "start",
        )  # fmt: skip

    async def _make_template(self) -> None:
        await self._admin(f"CREATE DATABASE {TEMPLATE}")
        async with await Database.open(self.url(TEMPLATE)):
            pass
        self._template = True

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.url("postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_database(self, *, empty: bool = False) -> str:
        """A new database with the store's schema (``empty``: without); its URL."""
        if not self._template and not empty:
            await self._make_template()
        name = f"test_{next(self._names)}"
        # FILE_COPY: copying the template's few files beats writing them through the WAL (WAL_LOG, the default).
        template = "template0" if empty else TEMPLATE
        await self._admin(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return self.url(name)

    async def drop_database(self, url: str) -> None:
        await self._admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
