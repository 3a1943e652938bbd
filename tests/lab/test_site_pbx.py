"""The sample site, rendered by ``dialer pbx render``, loaded by a real Asterisk: the endpoints are there,
the PBX registers to the carrier (a SIPp registrar checking its digest answer) and a phone registers with
the password ``dialer phones add`` printed, but not with a wrong one.

The site's addresses are moved to loopback and free ports (tests talk to loopback only); everything else
is the sample's: NAT settings, two transports, register auth, the DID (the carrier's match is its port on loopback).
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.cli.doctor import diagnose
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.lab import procs
from dialer.lab.render import TEMPLATE_DIR, fill
from tests.conftest import REPO, free_port, write_config
from tests.lab.test_site import sample

pytestmark = pytest.mark.asterisk

# Real time bounds waits on the real Asterisk and SIPp.
WAIT_S = 20.0
CARRIER_USER, CARRIER_PASSWORD = "075512345678", "Carrier-Pw-9"


class Pbx:
    """A private Asterisk running a rendered dealer config."""

    def __init__(self, etc: Path, root: Path) -> None:
        self.conf = etc / "asterisk.conf"
        self.root = root
        text, _ = fill((TEMPLATE_DIR / "asterisk.conf").read_text(), {"ETC_DIR": str(etc), "LAB_DIR": str(root)}, "")
        self.conf.write_text(text)
        for name in ("db", "lib", "keys", "agi-bin", "spool", "run", "log"):
            (root / name).mkdir(parents=True, exist_ok=True)
        self.child = procs.spawn(["asterisk", "-C", str(self.conf), "-f", "-n", "-q"], root, root / "asterisk.out")
        deadline = time.monotonic() + WAIT_S
        while not (root / "run" / "asterisk.ctl").exists():
            assert self.child.poll() is None, (root / "asterisk.out").read_text()
            assert time.monotonic() < deadline, "no control socket"
            time.sleep(0.05)
        self.cli("core waitfullybooted")

    def cli(self, command: str) -> str:
        done = subprocess.run(["asterisk", "-C", str(self.conf), "-rx", command], capture_output=True, timeout=15)
        return done.stdout.decode()

    def wait_for(self, command: str, pattern: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while True:
            out = self.cli(command)
            if re.search(pattern, out) or time.monotonic() > deadline:
                return out
            time.sleep(0.2)

    def stop(self) -> None:
        self.cli("core stop now")
        procs.wait_gone(self.child.pid, "asterisk", 10.0)
        procs.stop(self.child.pid, "asterisk", 5.0)
        self.child.wait()


def run(tmp_path: Path, cfg: str, *args: str) -> str:
    """Run a ``dialer`` command that must succeed; what it printed."""
    out = tmp_path / "cli.out"
    with out.open("w") as f, pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", f)
        assert main(["--config", cfg, *args]) == 0
    return out.read_text()


def sipp(workdir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sipp", *args], cwd=workdir, capture_output=True, timeout=WAIT_S + 10, check=False)


@dataclass(frozen=True)
class Site:
    pbx: Pbx
    passwords: dict[str, str]
    sip_port: int
    work: Path
    config: str


@pytest.fixture
def site_pbx(tmp_path: Path, extra_site: dict[str, object]) -> Iterator[Site]:
    sip_port, ami_port, carrier_port = free_port(), free_port(), free_port()
    values = sample()
    cfg = str(
        write_config(
            tmp_path,
            site={**values["site"], "address": "127.0.0.1", "local_networks": ["127.0.0.0/8"], "sip_port": sip_port,
                  "rtp_start": 61000, "rtp_end": 61199, **extra_site},
            trunk={**values["trunk"], "host": "127.0.0.1", "port": carrier_port, "match": [f"127.0.0.1:{carrier_port}"],
                   "password": CARRIER_PASSWORD},
            pbx={"ami_port": ami_port},
        )
    )  # fmt: skip
    passwords = {}
    for phone in ("agent1", "agent2", "supervisor"):
        found = re.search(r"^  (?:密码|password): (\S+)$", run(tmp_path, cfg, "phones", "add", phone), re.MULTILINE)
        assert found is not None
        passwords[phone] = found.group(1)
    etc = tmp_path / "etc"
    run(tmp_path, cfg, "pbx", "render", str(etc))
    work = tmp_path / "sipp"
    work.mkdir()
    registrar = (REPO / "tests" / "lab" / "data" / "registrar.xml").read_text()
    (work / "registrar.xml").write_text(
        registrar.replace("@USERNAME@", CARRIER_USER).replace("@PASSWORD@", CARRIER_PASSWORD)
    )
    (work / "register.xml").write_text((TEMPLATE_DIR / "sipp" / "register.xml").read_text())
    started = sipp(
        work, "-sf", "registrar.xml", "-i", "127.0.0.1", "-p", str(carrier_port), "-cp", str(free_port()),
        "-m", "1", "-bg", "-trace_err",
    )  # fmt: skip
    found = re.search(rb"PID=\[(\d+)\]", started.stdout)
    assert found, started
    registrar_pid = int(found.group(1))
    pbx = Pbx(etc, tmp_path / "ast")
    try:
        yield Site(pbx, passwords, sip_port, work, cfg)
    finally:
        pbx.stop()
        procs.stop(registrar_pid, "sipp", 2.0)


def test_asterisk_loads_the_site_and_registers_to_the_carrier(site_pbx: Site) -> None:
    pbx, sip_port = site_pbx.pbx, site_pbx.sip_port
    registrations = pbx.wait_for("pjsip show registrations", r"carrier-auth\s+Registered")
    assert re.search(r"carrier-reg/sip:127\.0\.0\.1:\d+\s+carrier-auth\s+Registered", registrations), registrations
    endpoints = pbx.cli("pjsip show endpoints")
    for name in ("carrier", "inbound-trunk", "agent1", "agent2", "supervisor"):
        assert re.search(rf"Endpoint:  {name}\s", endpoints), (name, endpoints)
    transports = pbx.cli("pjsip show transports")
    assert f"127.0.0.1:{sip_port}" in transports
    assert re.search(r"transport-tcp\s+tcp", transports), transports


async def test_a_phone_registers_with_its_password_and_not_with_another_and_doctor_tells(site_pbx: Site) -> None:
    pbx, passwords, sip_port, work = site_pbx.pbx, site_pbx.passwords, site_pbx.sip_port, site_pbx.work
    target = f"127.0.0.1:{sip_port}"
    phone_port = str(free_port())

    def register(endpoint: str, password: str) -> subprocess.CompletedProcess[bytes]:
        return sipp(
            work, "-sf", "register.xml", "-m", "1", "-s", endpoint, "-au", endpoint, "-ap", password,
            "-key", "phone_port", phone_port, "-i", "127.0.0.1", "-cp", str(free_port()),
            "-timeout", "10s", "-timeout_error", "-trace_err", target,
        )  # fmt: skip

    assert register("agent2", passwords["agent1"]).returncode != 0
    assert "agent2/sip:" not in pbx.cli("pjsip show contacts")
    # The failure is in the security log, with the account and the address it came from.
    security = (pbx.root / "log" / "security").read_text()
    assert re.search(
        r'SecurityEvent="ChallengeResponseFailed".*AccountID="agent2".*RemoteAddress="IPV4/UDP/127', security
    )
    done = register("agent1", passwords["agent1"])
    assert done.returncode == 0, (done.stdout[-1500:], done.stderr[-1500:], list(work.glob("*err*")))
    contacts = pbx.cli("pjsip show contacts")
    assert f"agent1/sip:agent1@127.0.0.1:{phone_port}" in contacts
    assert "agent2/sip:" not in contacts
    pbx.wait_for("pjsip show registrations", r"carrier-auth\s+Registered")
    checks = {c.name: c for c in await diagnose(load(site_pbx.config), VirtualClock())}
    assert [name for name, c in checks.items() if not c.ok] == ["话机 agent2 已注册", "话机 supervisor 已注册"]
    assert checks["话机 agent1 已注册"].ok
    assert f"服务器 127.0.0.1:{sip_port}、用户名 agent2" in checks["话机 agent2 已注册"].fix
    assert any(name.startswith("交换机在运营商 127.0.0.1:") for name in checks)
    assert "交换机地址 127.0.0.1 的 NAT 设置" in checks


WSS_PORT = free_port()


@pytest.fixture
def extra_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """More [site] keys for a test that parametrizes this with "browser": agent2 a browser phone, its
    WebSocket on TLS with a certificate made here for pbx.test. None otherwise."""
    if getattr(request, "param", None) != "browser":
        return {}
    keys = tmp_path_factory.mktemp("wss")
    cert, key = keys / "wss.pem", keys / "wss.key"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pbx.test",
         "-keyout", str(key), "-out", str(cert)], capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return {"browser_phones": ["agent2"], "wss_port": WSS_PORT, "wss_host": "pbx.test",
            "wss_cert_file": str(cert), "wss_key_file": str(key)}  # fmt: skip


def websocket_upgrade(sock: socket.socket) -> bytes:
    sock.sendall(
        b"GET /ws HTTP/1.1\r\nHost: pbx.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
    )
    return sock.recv(1000)


@pytest.mark.parametrize("extra_site", ["browser"], indirect=True)
def test_a_browser_phone_is_reached_over_tls_only(site_pbx: Site) -> None:
    pbx = site_pbx.pbx
    endpoint = pbx.cli("pjsip show endpoint agent2")
    for option in (r"media_encryption\s+: dtls", r"ice_support\s+: true", r"use_avpf\s+: true", r"rtcp_mux\s+: true"):
        assert re.search(option, endpoint), option
    assert re.search(r"media_encryption\s+: no", pbx.cli("pjsip show endpoint agent1"))
    status = pbx.cli("http show status")
    # No plain listener (16.28 then prints nothing about its TLS one, which the upgrade below reaches).
    assert "Server Disabled" in status and "/ws => Asterisk HTTP WebSocket" in status, status
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the test's own certificate
    with context.wrap_socket(socket.create_connection(("127.0.0.1", WSS_PORT), timeout=WAIT_S)) as tls:
        assert websocket_upgrade(tls).startswith(b"HTTP/1.1 101 Switching Protocols")
    # Plain text to the same port gets no WebSocket.
    with socket.create_connection(("127.0.0.1", WSS_PORT), timeout=WAIT_S) as plain:
        try:
            answer = websocket_upgrade(plain)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert b"101" not in answer
