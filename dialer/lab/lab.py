"""The lab: a private Asterisk plus SIPp customers, agents and supervisor on loopback.

``Lab(settings)`` renders the PBX configuration into ``settings.lab.dir``, starts the
processes detached (they outlive the command that started them), and records their PIDs
and ports in a state file so a later ``down`` or ``status`` from another process finds
them. Every method is synchronous; an asyncio caller wraps a call in
``asyncio.to_thread`` (``restart_asterisk`` blocks for a few seconds).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dialer.domain.pbx.phones import account, new_password
from dialer.domain.pbx.requirements import REQUIRED_MODULES
from dialer.domain.pbx.versions import AsteriskVersion, VersionError
from dialer.lab import procs
from dialer.lab.errors import LabError, LabStartError
from dialer.lab.layout import LAB_HOST, LabLayout, Party, SippProcess, lab_sip_plan
from dialer.lab.render import LAB_FILES, TEMPLATE_DIR, PbxTarget, render
from dialer.logs import get_logger
from dialer.settings import Settings

log = get_logger(__name__)

ASTERISK = "asterisk"
SIPP = "sipp"
# Boot takes well under a second on an idle machine; a loaded CI machine gets headroom.
BOOT_TIMEOUT_S = 30.0
# `core stop now` takes about 2 s; after this a stubborn process gets SIGTERM, then SIGKILL.
STOP_TIMEOUT_S = 10.0
# One CLI command over the control socket.
CLI_TIMEOUT_S = 15.0
# SIPp forks into the background and binds its port within milliseconds.
PARTY_START_TIMEOUT_S = 10.0
# A party whose port was taken under it is started again this many times, this far apart.
PARTY_START_TRIES = 3
PARTY_RETRY_S = 1.0
# SIPp prints this when it forks with -bg (and then exits with status 99 even on success).
_SIPP_BG_PID = re.compile(rb"Background mode - PID=\[(\d+)\]")
_SIPP_BG_EXIT = 99
# SIPp opens a UDP control socket (on all interfaces, it cannot be narrowed); we pick its
# port as the party's SIP port plus this offset so parallel labs never collide on 8888.
_SIPP_CONTROL_OFFSET = 1
_SCENARIOS = {Party.CUSTOMERS: "customers.xml", Party.AGENTS: "phone.xml", Party.SUPERVISOR: "phone.xml"}
_CUSTOMERS_CSV = "customers.csv"
# The phones' registrations: one short SIPp run answering Asterisk's challenges (register.xml), its
# control socket beside the PBX's SIP port (the parties use their own port plus one).
_REGISTER_SCENARIO = "register.xml"
_REGISTER_CONTROL_OFFSET = 2
REGISTER_TIMEOUT_S = 30.0
SUPERVISOR_ENDPOINT = "supervisor"
# Asterisk's first words when its -C file cannot be read (it then boots on built-in defaults).
_NO_CONFIG = "Unable to open specified master config file"
# How much of a process's log an error quotes: enough for its complaint, short enough for CI's output.
_SAID_LINES = 3


@dataclass(frozen=True, slots=True)
class PhoneLogin:
    """A lab phone's SIP account, password included: the lab's accounts guard nothing but loopback."""

    endpoint: str
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """One lab process as ``status`` reports it."""

    name: str
    program: str
    pid: int
    port: int
    alive: bool


@dataclass(frozen=True, slots=True)
class LabStatus:
    """What runs and where: the answer of ``up``, ``down`` and ``status``."""

    up: bool
    ports: dict[str, int]
    processes: tuple[ProcessStatus, ...]
    # True when ``up`` found the lab already running and changed nothing.
    already: bool = False
    # Where phones register ("127.0.0.1:PORT") and with which accounts; SIPp plays the phones of the
    # parties that run, the other accounts are free for softphones.
    sip: str = ""
    phones: tuple[PhoneLogin, ...] = ()

    def to_json(self) -> str:
        """The machine-readable form ``dialer lab status --json`` prints."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


class Lab:
    """Brings the lab up and down and answers questions about it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._layout = LabLayout.from_settings(settings)
        # Children this object started: kept so they can be reaped, never left as zombies.
        self._children: list[subprocess.Popen[bytes]] = []

    @property
    def layout(self) -> LabLayout:
        """Paths and ports of this lab (recordings folder, RTP split, ...), for tests and tools."""
        return self._layout

    # ---- up / down / status -------------------------------------------------------

    def up(self, customers: bool = True, agents: bool = True) -> LabStatus:
        """Start Asterisk and the SIPp parties, and register their phones; a no-op (``already=True``)
        when the lab runs.

        ``customers=False`` leaves the carrier port free for an external simulator; ``agents=False``
        starts no agent phones, leaving the agents' accounts free for softphones.
        Raises :class:`LabStartError` (after stopping whatever it started) when a port is
        taken, a process does not become ready or a phone cannot register.
        """
        with self._locked():
            return self._up(customers, agents)

    def _up(self, customers: bool, agents: bool) -> LabStatus:
        state = self._read_state()
        if state and all(procs.alive(p["pid"], p["program"]) for p in state["processes"]):
            log.info("lab.already_up", dir=str(self._layout.root))
            return self._status_from(state, already=True)
        if state:
            self._stop_recorded(state)
        skipped = {Party.CUSTOMERS: not customers, Party.AGENTS: not agents}
        parties = [p for p in Party if not skipped.get(p, False)]
        self._check_rtp_room()
        self._check_ports_free(parties)
        self._prepare_files()
        started: list[dict[str, Any]] = []
        try:
            started.append(self._start_asterisk())
            for party in parties:
                for process in self._layout.sipp(party):
                    started.append(self._start_party(process))
            self._register(parties)
        except LabError:
            self._stop_recorded({"processes": started})
            raise
        state = {"ports": self._ports(), "processes": started}
        self._write_state(state)
        log.info("lab.up", dir=str(self._layout.root), processes=[p["name"] for p in started])
        return self._status_from(state)

    def down(self) -> LabStatus:
        """Stop exactly the processes ``up`` recorded; Asterisk first, politely."""
        with self._locked():
            return self._down()

    def _down(self) -> LabStatus:
        state = self._read_state()
        if not state:
            return LabStatus(up=False, ports=self._ports(), processes=())
        before = self._status_from(state)
        self._stop_recorded(state)
        self._layout.state_file.unlink(missing_ok=True)
        log.info("lab.down", dir=str(self._layout.root))
        return LabStatus(
            up=False,
            ports=before.ports,
            processes=tuple(
                ProcessStatus(p.name, p.program, p.pid, p.port, procs.alive(p.pid, p.program)) for p in before.processes
            ),
        )

    def status(self) -> LabStatus:
        """What the state file says runs, checked against the live processes."""
        state = self._read_state()
        if not state:
            return LabStatus(up=False, ports=self._ports(), processes=())
        return self._status_from(state)

    # ---- what tests and fault drills use --------------------------------------------

    def asterisk_cli(self, command: str) -> str:
        """Run one Asterisk CLI command on the lab's instance and return its output."""
        conf = self._layout.asterisk_conf
        try:
            done = subprocess.run(
                [ASTERISK, "-C", str(conf), "-rx", command],
                capture_output=True,
                timeout=CLI_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LabError(f"asterisk CLI {command!r}: no answer within {CLI_TIMEOUT_S} s") from None
        output = done.stdout.decode("utf-8", "replace")
        if done.returncode != 0:
            raise LabError(f"asterisk CLI {command!r} failed ({done.returncode}): {output or done.stderr!r}")
        return output

    def asterisk_version(self) -> AsteriskVersion:
        """The version of the running lab's Asterisk (whichever ``asterisk`` was first in ``PATH``)."""
        output = self.asterisk_cli("core show version")
        try:
            return AsteriskVersion.parse(output)
        except VersionError as exc:
            raise LabError(f"asterisk CLI 'core show version': {exc}") from None

    def hangup_all(self) -> None:
        """Hang up every channel (what a broken test left behind would hold lines and agents)."""
        self.asterisk_cli("channel request hangup all")

    def restart_asterisk(self) -> None:
        """Crash Asterisk (SIGKILL) and start it again on the same ports: the fault drill."""
        with self._locked():
            self._restart_asterisk()

    def _restart_asterisk(self) -> None:
        state = self._read_state()
        if not state:
            raise LabError("lab is not up: nothing to restart")
        processes = state["processes"]
        old = next(p for p in processes if p["program"] == ASTERISK)
        procs.kill_now(old["pid"], ASTERISK)
        new = self._start_asterisk()
        state["processes"] = [new if p is old else p for p in processes]
        self._write_state(state)
        # The registrations are in Asterisk's database, but a SIGKILL may have cut its last writes:
        # the phones register again, as real ones do when their PBX comes back.
        self._register(list({_party_of(p["name"]) for p in processes if p["program"] == SIPP}))
        log.info("lab.asterisk_restarted", old_pid=old["pid"], new_pid=new["pid"])

    # ---- internals ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Two processes changing the same lab at once (two test sessions, a CLI beside a
        # test run) would start a second Asterisk or lose PIDs from the state file.
        self._layout.root.mkdir(parents=True, exist_ok=True)
        with (self._layout.root / "lab.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ports(self) -> dict[str, int]:
        layout = self._layout
        return {
            "ami": layout.ami_port,
            "sip": layout.sip_port,
            "carrier": layout.party_ports[Party.CUSTOMERS],
            "agents": layout.party_ports[Party.AGENTS],
            "supervisor": layout.party_ports[Party.SUPERVISOR],
            "inbound": layout.inbound_port,
        }

    def _check_rtp_room(self) -> None:
        # Asterisk gives each call leg an RTP and an RTCP port of its share; with none left, the agent's leg
        # of an answered call fails ("Unable to create RTP instance") and the customer hears the apology.
        # Seen in a bench lab of 1,000 ports (250 legs) placing 200 calls at once: 150 agents never rang.
        rtp = self._layout.asterisk_rtp
        legs = (rtp.end - rtp.start + 1) // 2
        lines = self._settings.pbx.outbound_lines
        if legs < 2 * lines:
            raise LabStartError(
                f"lab.rtp_start..rtp_end: Asterisk's half ({rtp.start}-{rtp.end}) holds {legs} call legs, "
                f"pbx.outbound_lines = {lines} calls need {2 * lines} (the customer's and the agent's)"
            )

    def _check_ports_free(self, parties: list[Party]) -> None:
        wanted = [("sip", self._layout.sip_port, socket.SOCK_DGRAM), ("ami", self._layout.ami_port, socket.SOCK_STREAM)]
        wanted += [(p.name, p.port, socket.SOCK_DGRAM) for party in parties for p in self._layout.sipp(party)]
        if self._settings.lab.browser_phones:  # Asterisk's HTTP server carries their WebSocket
            wanted.append(("http", self._settings.lab.http_port, socket.SOCK_STREAM))
        taken = [f"{name} {port}" for name, port, kind in wanted if procs.port_in_use(port, kind, LAB_HOST)]
        if taken:
            raise LabStartError(f"ports already in use on {LAB_HOST}: {', '.join(taken)} (another lab or program?)")

    def phones(self) -> dict[str, str]:
        """The lab's phone accounts, endpoint -> password (``agent1..N`` and ``supervisor``).

        Generated on the first ``up`` and kept (mode 0600) in the lab folder, so a softphone set up
        once keeps working; an agent added to ``lab.agents`` gets a new account.
        """
        path = self._layout.phones_file
        try:
            known: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            known = {}
        except (OSError, json.JSONDecodeError) as exc:
            raise LabError(f"{path}: unreadable phone accounts ({exc}); remove it to generate new ones") from None
        wanted = [*(f"agent{n}" for n in range(1, self._settings.lab.agents + 1)), SUPERVISOR_ENDPOINT]
        phones = {endpoint: known.get(endpoint) or new_password() for endpoint in wanted}
        if phones != known:
            _write_private(path, json.dumps(phones, indent=2))
        return phones

    def _check_browser_phones(self) -> None:
        lab = self._settings.lab
        unknown = [e for e in lab.browser_phones if e not in self.phones() or e == SUPERVISOR_ENDPOINT]
        if unknown:
            raise LabStartError(f"lab.browser_phones: {', '.join(unknown)} is not one of the lab's agents (agent1..N)")
        if lab.browser_media_address:
            try:
                ipaddress.ip_address(lab.browser_media_address)
            except ValueError:
                raise LabStartError(
                    f"lab.browser_media_address = {lab.browser_media_address!r}: must be an IP address of this machine"
                ) from None

    def _prepare_files(self) -> None:
        layout = self._layout
        layout.make_dirs()
        self._check_browser_phones()
        plan = lab_sip_plan(
            self._settings, tuple(account(endpoint, password) for endpoint, password in self.phones().items())
        )
        render(
            self._settings,
            PbxTarget(
                etc_dir=layout.dir("etc"), sounds_dir=layout.dir("etc") / "sounds", sip=plan, lab_root=layout.root
            ),
            LAB_FILES,
        )
        sipp_dir = layout.dir("sipp")
        # Every scenario, including ones the lab does not run itself (caller.xml for tests).
        for scenario in (TEMPLATE_DIR / "sipp").glob("*.xml"):
            shutil.copyfile(scenario, sipp_dir / scenario.name)
        shutil.copytree(TEMPLATE_DIR / "sipp" / "audio", sipp_dir / "audio", dirs_exist_ok=True)
        if not layout.customers_file.is_file():
            raise LabStartError(f"lab.customers_file = {layout.customers_file}: file not found")
        shutil.copyfile(layout.customers_file, sipp_dir / _CUSTOMERS_CSV)
        # A control socket left by a crashed Asterisk would look like a ready one.
        layout.control_socket.unlink(missing_ok=True)

    def _start_asterisk(self) -> dict[str, Any]:
        layout = self._layout
        layout.control_socket.unlink(missing_ok=True)
        log_file = layout.log_file(ASTERISK)
        # The log is appended to across starts: only this start's words are this Asterisk's.
        since = log_file.stat().st_size if log_file.exists() else 0
        child = procs.spawn([ASTERISK, "-C", str(layout.asterisk_conf), "-f", "-n", "-q"], layout.root, log_file)
        self._children.append(child)
        try:
            # Real time bounds the real Asterisk's boot (as every wait on the lab's processes).
            deadline = time.monotonic() + BOOT_TIMEOUT_S
            while not layout.control_socket.exists():
                if child.poll() is not None:
                    raise LabStartError(
                        f"asterisk exited with status {child.returncode} while booting: {_said(log_file, since)}; see {log_file}"
                    )
                if _NO_CONFIG in _said(log_file, since):
                    # It would boot on built-in defaults, with its control socket somewhere else. Seen
                    # when Asterisk 22's chroot showed a stale copy of the project (scripts/asterisk22.sh).
                    raise LabStartError(f"asterisk cannot read {layout.asterisk_conf}: {_said(log_file, since)}")
                if time.monotonic() >= deadline:
                    raise LabStartError(
                        f"asterisk made no control socket within {BOOT_TIMEOUT_S} s: {_said(log_file, since)}; see {log_file}"
                    )
                time.sleep(procs.POLL_S)
            self._wait_fully_booted(deadline, log_file)
            self._check_modules(log_file)
        except LabError:
            procs.stop(child.pid, ASTERISK, STOP_TIMEOUT_S)
            raise
        return {"name": ASTERISK, "program": ASTERISK, "pid": child.pid, "port": layout.sip_port}

    def _wait_fully_booted(self, deadline: float, log_file: Path) -> None:
        # The control socket's file appears when Asterisk binds it, a moment before it listens: a CLI
        # connecting in between is refused (seen on Asterisk 22 under load). Retry until the boot deadline.
        while True:
            try:
                self.asterisk_cli("core waitfullybooted")
                return
            except LabError as exc:
                if "Unable to connect" not in str(exc) or time.monotonic() >= deadline:
                    raise LabStartError(f"{exc}; see {log_file}") from None
            time.sleep(procs.POLL_S)

    def _check_modules(self, log_file: Path) -> None:
        # An Asterisk that looks in the wrong module folder still boots and answers AMI; every call
        # would then fail. Refuse to call such a lab up.
        loaded = self.asterisk_cli("module show")
        missing = [m for m in REQUIRED_MODULES if f"{m}.so" not in loaded]
        if missing:
            settings = self.asterisk_cli("core show settings")
            folder = next(
                (line.split(":", 1)[1].strip() for line in settings.splitlines() if "Module directory" in line), "?"
            )
            raise LabStartError(
                f"asterisk booted without {', '.join(missing)} (module folder {folder}); see {log_file}"
            )

    def _start_party(self, process: SippProcess) -> dict[str, Any]:
        """Start one SIPp of a party and wait until that very process holds its port.

        ``up`` found the port free, but something can take it before SIPp binds it (SIPp then
        exits with "Unable to bind main socket"): the error names the holder, and SIPp is tried
        again, because such a holder is usually another lab's process on its way out.
        """
        problem = ""
        for attempt in range(1, PARTY_START_TRIES + 1):
            pid = self._fork_party(process)
            problem = self._wait_listening(process, pid)
            if not problem:
                return {"name": process.name, "program": SIPP, "pid": pid, "port": process.port}
            procs.stop(pid, SIPP, STOP_TIMEOUT_S)
            if attempt < PARTY_START_TRIES:
                log.warning("lab.party_retry", party=process.name, attempt=attempt, problem=problem)
                time.sleep(PARTY_RETRY_S)
        raise LabStartError(problem)

    def _fork_party(self, process: SippProcess) -> int:
        layout = self._layout
        port, name = process.port, process.name
        argv = [
            SIPP, "-sf", _SCENARIOS[process.party],
            "-i", LAB_HOST, "-p", str(port),
            "-mi", LAB_HOST, "-mp", str(process.rtp_start),
            "-cp", str(port + _SIPP_CONTROL_OFFSET),
            "-aa", "-trace_err", "-bg",
        ]  # fmt: skip
        if process.party is Party.CUSTOMERS:
            argv += ["-inf", _CUSTOMERS_CSV, "-infindex", _CUSTOMERS_CSV, "0"]
        log_file = layout.log_file(name)
        try:
            done = subprocess.run(
                procs.as_world(argv),  # SIPp forks into the background from it, keeping its priority
                cwd=layout.dir("sipp"),
                capture_output=True,
                timeout=PARTY_START_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LabStartError(f"sipp ({name}) did not fork within {PARTY_START_TIMEOUT_S} s") from None
        log_file.write_bytes(done.stdout + done.stderr)
        found = _SIPP_BG_PID.search(done.stdout)
        if done.returncode != _SIPP_BG_EXIT or not found:
            raise LabStartError(f"sipp ({name}) did not start (status {done.returncode}); see {log_file}")
        return int(found.group(1))

    def _wait_listening(self, process: SippProcess, pid: int) -> str:
        """ "" when SIPp ``pid`` holds its port; else what went wrong, in words."""
        port = process.port
        deadline = time.monotonic() + PARTY_START_TIMEOUT_S
        while not procs.holds_udp_port(pid, LAB_HOST, port):
            if not procs.alive(pid, SIPP) or time.monotonic() >= deadline:
                # In the background SIPp writes its complaint to <scenario>_<pid>_errors.log (-trace_err).
                errors = self._layout.dir("sipp") / f"{Path(_SCENARIOS[process.party]).stem}_{pid}_errors.log"
                said = errors.read_text(errors="replace").strip().splitlines()[-1:] if errors.exists() else []
                holders = procs.udp_port_holders(LAB_HOST, port)
                return (
                    f"sipp ({process.name}) is not listening on {LAB_HOST}:{port}"
                    + (f": {said[0].split(': ', 1)[-1]}" if said else "")
                    + (f"; the port is held by {', '.join(holders)}" if holders else "")
                    + f"; see {errors if said else self._layout.log_file(process.name)}"
                )
            time.sleep(procs.POLL_S)
        return ""

    def _register(self, parties: list[Party]) -> None:
        """Register the accounts of the phones ``parties`` play (the agents', the supervisor's)."""
        layout = self._layout
        phones = self.phones()
        wanted = [
            (endpoint, password, Party.SUPERVISOR if endpoint == SUPERVISOR_ENDPOINT else Party.AGENTS)
            for endpoint, password in phones.items()
        ]
        registered = 0
        for endpoint, password, party in wanted:
            if party not in parties:
                continue
            # SIPp 3.6 reads credentials from -au/-ap only (an injection field cannot stand in the
            # [authentication] keyword): one short run per account. Lab passwords guard loopback only.
            argv = [
                SIPP, "-sf", _REGISTER_SCENARIO, "-m", "1",
                "-s", endpoint, "-au", endpoint, "-ap", password,
                "-key", "phone_port", str(layout.phone_port(endpoint, party)),
                "-i", LAB_HOST, "-cp", str(layout.sip_port + _REGISTER_CONTROL_OFFSET),
                "-timeout", f"{REGISTER_TIMEOUT_S:.0f}s", "-timeout_error", "-trace_err",
                f"{LAB_HOST}:{layout.sip_port}",
            ]  # fmt: skip
            log_file = layout.log_file(f"register-{endpoint}")
            self._register_one(endpoint, argv, log_file)
            registered += 1
        log.info("lab.phones_registered", count=registered)

    def _register_one(self, endpoint: str, argv: list[str], log_file: Path) -> None:
        """Run one registration, again after a failure (as a phone retries), up to PARTY_START_TRIES."""
        sipp_dir = self._layout.dir("sipp")
        for attempt in range(1, PARTY_START_TRIES + 1):
            before = set(sipp_dir.glob("register_*_errors.log"))
            try:
                done = subprocess.run(
                    argv, cwd=sipp_dir, capture_output=True, timeout=REGISTER_TIMEOUT_S + 5, check=False
                )
            except subprocess.TimeoutExpired:
                raise LabStartError(f"{endpoint} did not register within {REGISTER_TIMEOUT_S} s") from None
            if done.returncode == 0:
                return
            log_file.write_bytes(done.stdout + done.stderr)
            # SIPp's own words are in the error log this run left (-trace_err).
            errors = sorted(set(sipp_dir.glob("register_*_errors.log")) - before)
            said = _said(errors[-1]) if errors else _said(log_file)
            log.warning("lab.register_failed", endpoint=endpoint, attempt=attempt, sipp=said)
            if attempt == PARTY_START_TRIES:
                raise LabStartError(
                    f"{endpoint} did not register (sipp status {done.returncode}, {attempt} tries): {said}; "
                    f"see {errors[-1] if errors else log_file}"
                )
            time.sleep(PARTY_RETRY_S)

    def _stop_recorded(self, state: dict[str, Any]) -> None:
        processes = state["processes"]
        for p in processes:
            if p["program"] == ASTERISK and procs.alive(p["pid"], ASTERISK):
                try:
                    self.asterisk_cli("core stop now")
                except LabError as exc:
                    log.warning("lab.asterisk_stop_refused", error=str(exc))
                procs.wait_gone(p["pid"], ASTERISK, STOP_TIMEOUT_S)
        for p in processes:
            procs.stop(p["pid"], p["program"], STOP_TIMEOUT_S)
        for child in self._children:
            child.poll()
        self._children = [c for c in self._children if c.returncode is None]

    def _status_from(self, state: dict[str, Any], already: bool = False) -> LabStatus:
        processes = tuple(
            ProcessStatus(p["name"], p["program"], p["pid"], p["port"], procs.alive(p["pid"], p["program"]))
            for p in state["processes"]
        )
        return LabStatus(
            up=any(p.program == ASTERISK and p.alive for p in processes),
            ports=dict(state["ports"]),
            processes=processes,
            already=already,
            sip=f"{LAB_HOST}:{self._layout.sip_port}",
            phones=tuple(PhoneLogin(endpoint, endpoint, password) for endpoint, password in self.phones().items()),
        )

    def _read_state(self) -> dict[str, Any] | None:
        path = self._layout.state_file
        try:
            state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return state
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            raise LabError(f"{path}: unreadable lab state ({exc}); remove it after checking no lab runs") from None

    def _write_state(self, state: dict[str, Any]) -> None:
        path = self._layout.state_file
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(path)


def _party_of(process: str) -> Party:
    """The party a lab SIPp plays, from its name in the state file (``agents-2`` plays agents)."""
    return Party(process.split("-", 1)[0])


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (passwords), replacing the file whole."""
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _said(log_file: Path, since: int = 0) -> str:
    """The first and last lines of a lab process's log from byte ``since`` on (its complaint, where it
    made one), in one line."""
    try:
        with log_file.open("rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    if not lines:
        return "(nothing logged)"
    picked = lines if len(lines) <= 2 * _SAID_LINES else [*lines[:_SAID_LINES], "…", *lines[-_SAID_LINES:]]
    return " | ".join(picked)
