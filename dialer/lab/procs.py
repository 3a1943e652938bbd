"""Starting, finding and stopping the lab's own processes, by PID only.

The lab never kills by name: it records the PIDs it started and, before signalling
one, checks that the PID still runs the program it started (a PID can be reused).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from dialer.lab.errors import LabStartError

# How often waits poll; short enough that `lab up` feels instant, long enough to be idle.
POLL_S = 0.05
# SIGKILL takes effect at once; this only bounds the wait for the kernel to reap.
KILL_WAIT_S = 5.0
# The lab's PBX and SIPp parties play the world (a PBX on its own machine, customers' phones): they
# run ahead of everything else on a busy machine when the lab may raise them (root), so a loaded
# test machine delays the tests, not the customers' audio that answering-machine detection judges
# as it arrives (seen: a voicemail judged NOTSURE three times while a second test pass ran).
WORLD_NICE = -5  # added to the lab's own niceness


def as_world(argv: list[str]) -> list[str]:
    """``argv`` run at the world's priority (our niceness plus WORLD_NICE, every thread), when
    permitted; as it is otherwise. ``nice`` execs the program, so the PID and its name stay its own."""
    if os.geteuid() != 0:
        return argv
    return ["nice", "-n", str(WORLD_NICE), *argv]


def program_of(pid: int) -> str | None:
    """The program name PID ``pid`` runs (``asterisk``, ``sipp``), or None if it is gone or a zombie."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Format: "pid (comm) state ...": comm may contain spaces, so split at the last ')'.
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    state = stat[stat.rindex(")") + 2 :].split(" ", 1)[0]
    return None if state in ("Z", "X") else comm


def alive(pid: int, program: str) -> bool:
    """Whether ``pid`` still runs ``program`` (and is therefore ours to signal)."""
    return program_of(pid) == program


def stop(pid: int, program: str, grace_s: float) -> None:
    """SIGTERM ``pid`` if it still runs ``program``; SIGKILL it after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not alive(pid, program):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if wait_gone(pid, program, grace_s):
            return


def kill_now(pid: int, program: str) -> None:
    """SIGKILL ``pid`` if it runs ``program`` and wait until it is gone (a crash on purpose)."""
    if alive(pid, program):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid, program, KILL_WAIT_S)


def wait_gone(pid: int, program: str, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``pid`` to stop running ``program`` and to have closed its files
    (its ports are free when this returns True)."""
    # The machine's monotonic time, not an injected clock: this bounds a wait for a real process,
    # which a virtual clock could neither hurry nor stand in for.
    deadline = time.monotonic() + timeout_s
    while alive(pid, program) or _threads_left(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def _threads_left(pid: int) -> bool:
    """Whether ``pid`` is a zombie leader whose other threads still run: a multi-threaded process's
    first thread can end (and show as a zombie) while the others still hold its files and sockets
    open, which close only with the last thread (Asterisk killed under load kept its AMI port so)."""
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def spawn(argv: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached (own session, stdin closed, output appended to ``log``), at the
    world's priority (:func:`as_world`); returns once the PID runs ``argv``'s program, not ``nice``."""
    command = as_world(argv)
    with log.open("ab") as out:
        try:
            child = subprocess.Popen(
                command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            raise LabStartError(f"cannot start {argv[0]}: {exc}") from None
    if command is not argv:
        # Callers check the PID's program by name: wait until it shows (the fork shows as us, then
        # nice). Real time bounds the exec of a real process. The kernel keeps 15 bytes of a name.
        program = Path(argv[0]).name[:15]
        deadline = time.monotonic() + KILL_WAIT_S
        while _comm(child.pid) != program and child.poll() is None and time.monotonic() < deadline:
            time.sleep(POLL_S / 10)
    return child


def _comm(pid: int) -> str:
    """The name ``pid`` runs, read without reaping it (Popen must keep its exit status)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def port_in_use(port: int, kind: int, host: str) -> bool:
    """Whether something already holds ``host:port`` (``kind`` is SOCK_DGRAM or SOCK_STREAM)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        if kind == socket.SOCK_STREAM:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def udp_socket_inodes(host: str, port: int) -> set[int]:
    """The inodes of the UDP sockets bound to ``host:port`` or to ``0.0.0.0:port`` (from /proc/net/udp)."""
    # /proc/net/udp: "sl local_address rem_address st ... uid timeout inode", addresses as
    # little-endian hex "0100007F:3D52".
    wanted = {_proc_net_address(host, port), _proc_net_address("0.0.0.0", port)}
    inodes: set[int] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[1] in wanted:
                inodes.add(int(fields[9]))
    return inodes


def holds_udp_port(pid: int, host: str, port: int) -> bool:
    """Whether process ``pid`` itself has ``host:port`` bound, not merely anybody (a squatter)."""
    return bool(_socket_inodes_of(pid) & udp_socket_inodes(host, port))


def udp_port_holders(host: str, port: int) -> list[str]:
    """Who holds UDP ``host:port``, as "program (pid N)", for an error message; [] if nobody we can see."""
    inodes = udp_socket_inodes(host, port)
    if not inodes:
        return []
    holders = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _socket_inodes_of(int(entry.name)) & inodes:
            holders.append(f"{program_of(int(entry.name)) or '?'} (pid {entry.name})")
    return holders


def _socket_inodes_of(pid: int) -> set[int]:
    inodes: set[int] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def _proc_net_address(host: str, port: int) -> str:
    return f"{int.from_bytes(socket.inet_aton(host), 'little'):08X}:{port:04X}"


def _reap(pid: int) -> None:
    # A child of this very process that exited stays a zombie until waited for.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
