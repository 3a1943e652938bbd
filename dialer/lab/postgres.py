"""A private, throw-away PostgreSQL cluster: for the tests and for the bench's PostgreSQL rows.

Debian's ``postgresql`` binaries (``scripts/bootstrap.sh`` installs the package; its own cluster
and service are never used), a cluster initialised in a temporary folder, listening on a given
loopback port and a socket in that folder, stopped and deleted by :meth:`PostgresCluster.stop`.

initdb and the server refuse to run as root: when the caller is root the cluster belongs to the
``postgres`` system user the Debian package creates, and the binaries run through ``runuser``.
Authentication is ``trust``: the server listens on 127.0.0.1 and a socket in a private folder only,
and lives as long as the process that started it keeps it. Creating databases in it is the
caller's business (the tests copy a migrated template; the bench fills one).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "dialer"
# The Debian package's system user, which owns the cluster when the caller is root.
SYSTEM_USER = "postgres"
# Bounds the real wait for the server to start or stop (pg_ctl -w); a healthy start takes well under a second.
_PG_CTL_WAIT_S = 60
# Server settings for throw-away data: no fsync or full-page writes (a crash loses databases
# nobody keeps), more connections than a test's stores ever open.
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


class PostgresCluster:
    """A private cluster on ``port``: :meth:`start` it, hand out :meth:`url` s, :meth:`stop` it."""

    def __init__(self, port: int, *, options: str = "") -> None:
        self.port = port
        self._options = options  # more ``-c name=value`` server settings, e.g. a bench's memory
        self._root = Path(tempfile.mkdtemp(prefix="dialer-pg-"))
        self._bin = binaries()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", SYSTEM_USER, "--"]
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(self._root, entry.pw_uid, entry.pw_gid)

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
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self._root} {_SERVER_OPTIONS} {self._options}"
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data), "-l", str(self._root / "server.log"),
            "-w", "-t", str(_PG_CTL_WAIT_S), "-o", options, "start",
        )  # fmt: skip

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
