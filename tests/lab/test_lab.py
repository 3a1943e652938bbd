"""`dialer lab` lifecycle: up, status, no-op up, restart, and a down that leaves nothing."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.config import load
from dialer.lab import procs
from dialer.lab.errors import LabStartError
from dialer.lab.lab import PARTY_START_TRIES, Lab
from dialer.lab.layout import Party, SippProcess
from dialer.settings import Settings
from tests.conftest import free_port, settings_beside, write_config
from tests.lab.rawami import RawAmi


def other_ports(tmp_path: Path, offset: int) -> Settings:
    """A second lab beside the session's, every port shifted by ``offset``."""
    return settings_beside(tmp_path, offset)


def test_up_refuses_a_taken_port_and_names_it(tmp_path: Path) -> None:
    cfg = other_ports(tmp_path, 2000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", cfg.lab.sip_port))
        with pytest.raises(LabStartError, match=f"sip {cfg.lab.sip_port}"):
            Lab(cfg).up()
    assert not Lab(cfg).layout.state_file.exists()


def test_stop_signals_only_a_pid_that_still_runs_the_expected_program(tmp_path: Path) -> None:
    child = procs.spawn(["sleep", "60"], tmp_path, tmp_path / "sleep.out")
    try:
        procs.stop(child.pid, "sipp", grace_s=1.0)  # not what runs there: left alone
        assert procs.alive(child.pid, "sleep")
        procs.stop(child.pid, "sleep", grace_s=1.0)
        assert not procs.alive(child.pid, "sleep")
    finally:
        child.kill()
        child.wait()


def test_a_process_whose_first_thread_ended_is_gone_only_once_its_sockets_are_closed(tmp_path: Path) -> None:
    """The first thread of a multi-threaded process can end (a zombie) while another still holds its
    listening socket: waiting for it to be gone must wait for the socket (seen with Asterisk on 22)."""
    port = free_port()
    code = (
        "import ctypes, socket, threading, time\n"
        f"s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {port}));"
        " s.listen()\n"
        "threading.Thread(target=time.sleep, args=(1.5,)).start()\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    )
    child = procs.spawn([sys.executable, "-c", code], tmp_path, tmp_path / "threads.out")
    try:
        assert procs.wait_gone(child.pid, "python", 10.0)
        assert not procs.port_in_use(port, socket.SOCK_STREAM, "127.0.0.1")
    finally:
        child.kill()
        child.wait()


@pytest.mark.asterisk
def test_status_json_lists_every_process_alive_with_its_port(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["up"] is True
    assert status["ports"] == {
        "ami": 15038, "sip": 15060, "carrier": 15070, "agents": 15080, "supervisor": 15090, "inbound": 15100,
    }  # fmt: skip
    by_name = {p["name"]: p for p in status["processes"]}
    assert set(by_name) == {"asterisk", "customers", "agents", "supervisor"}
    assert all(p["alive"] for p in by_name.values())
    assert by_name["customers"]["port"] == 15070
    assert status["sip"] == "127.0.0.1:15060"
    if os.geteuid() == 0:  # the world runs ahead of the tests (procs.WORLD_NICE), every thread of it
        world = max(-20, os.getpriority(os.PRIO_PROCESS, 0) + procs.WORLD_NICE)
        for p in by_name.values():
            threads = list(Path(f"/proc/{p['pid']}/task").iterdir())
            assert {os.getpriority(os.PRIO_PROCESS, int(t.name)) for t in threads} == {world}, p
    phones = {p["endpoint"]: p for p in status["phones"]}
    assert set(phones) == {*(f"agent{n}" for n in range(1, 9)), "supervisor"}
    assert all(p["username"] == p["endpoint"] and len(p["password"]) >= 20 for p in phones.values())
    assert stat.S_IMODE(lab.layout.phones_file.stat().st_mode) == 0o600


@pytest.mark.asterisk
def test_every_lab_phone_is_registered_not_configured(lab: Lab) -> None:
    contacts = lab.asterisk_cli("pjsip show contacts")
    for n in range(1, 9):
        assert f"agent{n}/sip:agent{n}@127.0.0.1:15080" in contacts
    assert "supervisor/sip:supervisor@127.0.0.1:15090" in contacts
    # The configuration holds credentials only: every contact above came from a REGISTER.
    pjsip = (lab.layout.dir("etc") / "pjsip.conf").read_text()
    assert "sip:agent1@" not in pjsip and "md5_cred = " in pjsip


@pytest.mark.asterisk
def test_up_when_up_changes_nothing_and_says_so(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    before = lab.status()
    assert main(["lab", "up"]) == 0
    assert "已在运行" in capsys.readouterr().out
    assert lab.status().processes == before.processes


@pytest.mark.asterisk
async def test_restart_asterisk_comes_back_on_the_same_ports(lab: Lab, lab_settings: Settings) -> None:
    before = {p.name: p.pid for p in lab.status().processes}
    lab.restart_asterisk()
    after = lab.status()
    assert after.up
    pids = {p.name: p.pid for p in after.processes}
    assert pids["asterisk"] != before["asterisk"]
    assert not procs.alive(before["asterisk"], "asterisk")
    assert {k: v for k, v in pids.items() if k != "asterisk"} == {k: v for k, v in before.items() if k != "asterisk"}
    contacts = lab.asterisk_cli("pjsip show contacts")
    assert "agent1/sip:agent1@127.0.0.1:15080" in contacts
    assert "supervisor/sip:supervisor@127.0.0.1:15090" in contacts
    pbx = lab_settings.pbx
    ami = await RawAmi.connect(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret)
    await ami.close()


@pytest.mark.asterisk
def test_second_lab_without_customers_leaves_the_carrier_port_free_and_down_leaves_nothing(
    lab: Lab, tmp_path: Path
) -> None:
    cfg = other_ports(tmp_path, 1000)
    second = Lab(cfg)
    first = second.up(customers=False)
    # A lab with a dead party is not "already up": up() replaces every recorded process.
    agents = next(p for p in first.processes if p.name == "agents")
    procs.kill_now(agents.pid, "sipp")
    status = second.up(customers=False)
    try:
        assert not status.already
        assert not any(procs.alive(p.pid, p.program) for p in first.processes)
        assert all(p.alive for p in status.processes)
        assert {p.name for p in status.processes} == {"asterisk", "agents", "supervisor"}
        assert not procs.port_in_use(cfg.lab.carrier_port, socket.SOCK_DGRAM, "127.0.0.1")
        assert procs.port_in_use(cfg.lab.agents_port, socket.SOCK_DGRAM, "127.0.0.1")
        assert "agent1/sip:agent1@127.0.0.1:" in second.asterisk_cli("pjsip show contacts")
    finally:
        stopped = second.down()
    assert stopped.processes and not any(p.alive for p in stopped.processes)
    assert not any(procs.alive(p.pid, p.program) for p in status.processes)
    assert not second.status().up
    assert not procs.port_in_use(cfg.lab.sip_port, socket.SOCK_DGRAM, "127.0.0.1")


@pytest.mark.asterisk
def test_a_party_port_taken_after_the_check_is_retried_and_a_lasting_holder_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = other_ports(tmp_path, 2300)
    port = cfg.lab.agents_port
    fork = Lab._fork_party
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    forks: list[int] = []

    def taken_meanwhile(self: Lab, process: SippProcess) -> int:
        # Something binds the agents' port between up()'s check and SIPp's bind, and lets go
        # once SIPp has failed on it: the first SIPp exits "Unable to bind", the second gets it.
        if process.party is Party.AGENTS and not forks:
            squatter.bind(("127.0.0.1", port))
        pid = fork(self, process)
        if process.party is Party.AGENTS:
            forks.append(pid)
            if len(forks) == 1:
                assert procs.wait_gone(pid, "sipp", 10.0)
                squatter.close()
        return pid

    monkeypatch.setattr(Lab, "_fork_party", taken_meanwhile)
    lab = Lab(cfg)
    try:
        status = lab.up(customers=False)
        agents = next(p for p in status.processes if p.name == "agents")
        assert len(forks) == 2 and agents.pid == forks[1]
        assert procs.holds_udp_port(agents.pid, "127.0.0.1", port)
    finally:
        lab.down()
        squatter.close()

    # A holder that stays is named, with SIPp's own words, after the retries.
    forks.clear()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        monkeypatch.setattr(Lab, "_fork_party", lambda self, process: (
            holder.bind(("127.0.0.1", port)) if process.party is Party.AGENTS and not forks else None,
            forks.append(1) if process.party is Party.AGENTS else None,
            fork(self, process),
        )[-1])  # fmt: skip
        with pytest.raises(LabStartError) as refused:
            lab.up(customers=False)
    message = str(refused.value)
    assert f"sipp (agents) is not listening on 127.0.0.1:{port}: Unable to bind main socket" in message
    assert f"held by python (pid {os.getpid()})" in message
    assert len(forks) == PARTY_START_TRIES
    assert not lab.layout.state_file.exists()
    assert not procs.port_in_use(cfg.pbx.ami_port, socket.SOCK_STREAM, "127.0.0.1")


@pytest.mark.asterisk
def test_up_refuses_an_asterisk_that_booted_without_its_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = other_ports(tmp_path, 2100)
    lab = Lab(cfg)
    prepare = Lab._prepare_files

    def wrong_module_folder(self: Lab) -> None:
        # What a hand-written asterisk.conf does on a machine whose Asterisk keeps its modules elsewhere.
        prepare(self)
        conf = self.layout.asterisk_conf
        conf.write_text(conf.read_text().replace("[directories]\n", f"[directories]\nastmoddir => {tmp_path}\n"))

    monkeypatch.setattr(Lab, "_prepare_files", wrong_module_folder)
    with pytest.raises(LabStartError, match=f"without chan_pjsip.*module folder {tmp_path}"):
        lab.up()
    assert not lab.layout.state_file.exists()
    assert not procs.port_in_use(cfg.pbx.ami_port, socket.SOCK_STREAM, "127.0.0.1")


def test_an_asterisk_that_cannot_read_the_lab_s_config_is_named_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Asterisk 22 in a chroot showing a stale copy of the project said: it boots on built-in
    # defaults, and its control socket never appears where the lab looks.
    fake = tmp_path / "bin" / "asterisk"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        "echo \"Unable to open specified master config file '$2', using built-in defaults\"\n"
        "while :; do sleep 0.2; done\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    cfg = other_ports(tmp_path, 2400)
    lab = Lab(cfg)
    with pytest.raises(LabStartError, match=f"cannot read {lab.layout.asterisk_conf}: Unable to open specified"):
        lab.up()
    # The log is appended to across starts: the complaint of an earlier start is not this one's.
    fake.write_text("#!/bin/sh\nexit 3\n")
    with pytest.raises(LabStartError, match=r"asterisk exited with status 3 while booting: \(nothing logged\)"):
        lab.up()
    assert not lab.layout.state_file.exists()
    assert not subprocess.run(["pgrep", "-f", str(cfg.lab.dir)], capture_output=True, check=False).stdout


@pytest.mark.asterisk
def test_the_lab_reports_the_version_of_the_asterisk_first_in_path(lab: Lab) -> None:
    version = lab.asterisk_version()
    assert version.major in (16, 22), version.text
    assert version.text.startswith("Asterisk ")


@pytest.mark.asterisk
def test_up_without_agents_leaves_their_accounts_to_softphones(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = other_ports(tmp_path, 1500)
    config = write_config(
        tmp_path,
        lab={"dir": cfg.lab.dir, "sip_port": cfg.lab.sip_port, "carrier_port": cfg.lab.carrier_port,
             "agents_port": cfg.lab.agents_port, "supervisor_port": cfg.lab.supervisor_port,
             "inbound_port": cfg.lab.inbound_port, "rtp_start": cfg.lab.rtp_start, "rtp_end": cfg.lab.rtp_end,
             "agents": 2, "customers_file": cfg.lab.customers_file},
        pbx={"ami_port": cfg.pbx.ami_port},
    )  # fmt: skip
    second = Lab(load(config))
    try:
        assert main(["--config", str(config), "lab", "up", "--no-agents"]) == 0
        capsys.readouterr()
        assert main(["--config", str(config), "lab", "status", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert {p["name"] for p in status["processes"]} == {"asterisk", "customers", "supervisor"}
        assert not procs.port_in_use(cfg.lab.agents_port, socket.SOCK_DGRAM, "127.0.0.1")
        contacts = second.asterisk_cli("pjsip show contacts")
        assert "supervisor/sip:supervisor@" in contacts and "agent1/sip:" not in contacts
        # A softphone takes agent2's account from the status and registers with it.
        agent2 = next(p for p in status["phones"] if p["endpoint"] == "agent2")
        assert status["sip"] == f"127.0.0.1:{cfg.lab.sip_port}"
        softphone = subprocess.run(
            ["sipp", status["sip"], "-sf", "register.xml", "-m", "1", "-s", agent2["username"],
             "-au", agent2["username"], "-ap", agent2["password"], "-key", "phone_port", "5062",
             "-i", "127.0.0.1", "-cp", str(free_port()), "-timeout", "10s", "-timeout_error"],
            cwd=second.layout.dir("sipp"), capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        assert softphone.returncode == 0
        assert "agent2/sip:agent2@127.0.0.1:5062" in second.asterisk_cli("pjsip show contacts")
    finally:
        second.down()
