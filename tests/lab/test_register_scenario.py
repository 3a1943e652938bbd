"""The lab phones' registration (asterisk/sipp/register.xml, real SIPp) against a slow registrar.

Under load Asterisk answered the first REGISTER only after SIPp had retransmitted it, so two 401s
came back; SIPp took the second as an unexpected answer to its authenticated REGISTER and failed:
"agent4 did not register (sipp status 1)" for whole modules of the test command. A registrar on
loopback plays that PBX here; no Asterisk is needed, but SIPp is the lab's (marker ``asterisk``): it
runs with the PBX tests, on the real clock (under the test command's faketime SIPp's timers never fire).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dialer.lab.render import TEMPLATE_DIR
from tests.conftest import free_port

pytestmark = pytest.mark.asterisk

# SIPp retransmits an unanswered REGISTER after 500 ms (retrans="500" in the scenario).
RETRANSMISSIONS_BEFORE_ANSWER = 1
HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")


@dataclass
class SlowRegistrar:
    """Holds the first REGISTER until it is retransmitted, then answers every copy with a 401;
    answers an authenticated REGISTER with 200, or with another 401 when ``refuse`` (a wrong password)."""

    refuse: bool
    sock: socket.socket = field(default_factory=lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    seen: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> None:
        held: list[tuple[bytes, tuple[str, int]]] = []
        while True:
            data, peer = self.sock.recvfrom(65535)
            if self.stopped.is_set():
                return  # woken by stop(): the test is over
            text = data.decode()
            if not text.startswith("REGISTER "):
                continue  # the BYE SIPp sends for a run it aborts
            cseq = re.search(r"^CSeq: *(\d+)", text, re.MULTILINE | re.IGNORECASE)
            number = int(cseq.group(1)) if cseq else 0
            self.seen.append(f"REGISTER {number}")
            if number == 1:
                held.append((data, peer))
                if len(held) > RETRANSMISSIONS_BEFORE_ANSWER:
                    for copy, to in held:
                        self._answer(copy, to, 401)
                continue
            self._answer(data, peer, 401 if self.refuse else 200)

    def stop(self) -> None:
        """End :meth:`serve`. Closing the socket does not wake a ``recvfrom`` blocked in another thread (Linux):
        a datagram does."""
        self.stopped.set()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
            waker.sendto(b"", self.sock.getsockname())

    def _answer(self, request: bytes, peer: tuple[str, int], code: int) -> None:
        lines = request.decode().split("\r\n")
        kept = [line for line in lines if line.split(":", 1)[0].strip() in HEADERS]
        kept = [f"{line};tag=reg" if line.startswith("To:") else line for line in kept]
        reason = "OK" if code == 200 else "Unauthorized"
        extra = [] if code == 200 else ['WWW-Authenticate: Digest realm="lab", nonce="n0nce", algorithm=MD5']
        reply = "\r\n".join([f"SIP/2.0 {code} {reason}", *kept, *extra, "Content-Length: 0", "", ""])
        self.sock.sendto(reply.encode(), peer)


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    shutil.copy(TEMPLATE_DIR / "sipp" / "register.xml", tmp_path / "register.xml")
    return tmp_path


@pytest.fixture(params=[False, True], ids=["right-password", "wrong-password"])
def registrar(request: pytest.FixtureRequest) -> Iterator[tuple[SlowRegistrar, int]]:
    server = SlowRegistrar(refuse=request.param)
    server.sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield server, server.sock.getsockname()[1]
    server.stop()
    thread.join(timeout=5)
    server.sock.close()
    assert not thread.is_alive(), "the registrar did not stop"


def test_a_late_answer_to_the_first_register_still_registers_and_a_refusal_fails_at_once(
    scenario_dir: Path, registrar: tuple[SlowRegistrar, int]
) -> None:
    server, port = registrar
    run = subprocess.run(
        ["sipp", "-sf", "register.xml", "-m", "1", "-s", "agent4", "-au", "agent4", "-ap", "secret",
         "-key", "phone_port", str(free_port()), "-i", "127.0.0.1", "-p", str(free_port()), "-cp", str(free_port()),
         # The scenario's whole run may take this long: a refusal must end it well before.
         "-timeout", "20s", "-timeout_error", "-trace_err", f"127.0.0.1:{port}"],
        cwd=scenario_dir, capture_output=True, timeout=40, check=False,
    )  # fmt: skip
    errors = " ".join(p.read_text(errors="replace") for p in scenario_dir.glob("*_errors.log"))
    assert server.seen[:2] == ["REGISTER 1", "REGISTER 1"], server.seen  # answered only after a retransmission
    if server.refuse:
        assert run.returncode != 0
        # Refused by the step that drops the stray 401, not by the 20 s timeout.
        assert "receive timeout on message dcc-register" in errors and "register timed out" not in errors, errors
        assert "REGISTER 2" in server.seen
    else:
        assert run.returncode == 0, (run.stdout[-1500:], errors)
        assert "REGISTER 2" in server.seen
