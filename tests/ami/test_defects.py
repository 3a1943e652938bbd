"""One regression test per panoramisk 1.4 defect (docs/panoramisk.md), proving it cannot reach us."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
import warnings
from pathlib import Path

import panoramisk
import panoramisk.call_manager
import panoramisk.fast_agi
import panoramisk.utils
import pytest

import dialer.ami.client as client_mod
from dialer.ami.client import AmiClient
from dialer.ami.errors import AmiActionError, AmiLinkDown, AmiTimeout
from dialer.ami.events import LinkDown, Newchannel, Reconciled
from dialer.settings import PbxSettings
from tests.ami.conftest import next_of
from tests.ami.fake_ami import FakeAmi, channel_fields, event

# Backoffs, pings and action timeouts pass in virtual time: the fake AMI is a loopback socket of this loop.
pytestmark = pytest.mark.virtual_time

DIALER = Path(__file__).resolve().parents[2] / "dialer"
ORIGINATE = {
    "Channel": "Local/13800138000@dcc-outbound/n",
    "Context": "dcc-answered",
    "Exten": "s",
    "Priority": "1",
    "ChannelId": "call-1",
    "OtherChannelId": "call-1-2",
    "Timeout": "30000",
}


def _sources(root: Path = DIALER) -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(root.rglob("*.py"))}


def _identifiers(tree: ast.Module) -> set[str]:
    """Every name, attribute, keyword, imported module/name and string constant in a module."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            out.add(node.arg)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.add(node.module or "")
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value)
    return out


def _imported_modules(tree: ast.Module) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _mentions(names: set[str]) -> dict[str, set[str]]:
    """Which dialer modules mention any of ``names`` (by identifier, import or string)."""
    found: dict[str, set[str]] = {}
    for path, tree in _sources().items():
        hits = {i for i in _identifiers(tree) if any(n in i for n in names)}
        if hits:
            found[str(path.relative_to(DIALER.parent))] = hits
    return found


async def _session(fake: FakeAmi, pbx: PbxSettings) -> None:
    """Exercise the client end to end: start, actions, a reconnect, close."""
    async with AmiClient(pbx) as ami:
        stream = ami.events()
        await ami.originate(
            channel="Local/1@dcc-outbound/n",
            context="dcc-answered",
            exten="s",
            channel_id="c1",
            other_channel_id="c1-2",
            timeout_ms=1000,
            variables={},
        )
        await ami.ping()
        fake.drop()
        await next_of(stream, LinkDown)
        await next_of(stream, Reconciled)


async def test_defect_01_originate_is_always_async(fake: FakeAmi, client: AmiClient) -> None:
    # Without Async, panoramisk raises KeyError inside data_received and drops the link.
    await client.action("Originate", **ORIGINATE)
    with pytest.raises(ValueError, match="Async"):
        await client.action("Originate", **ORIGINATE, Async="False")
    await client.originate(
        channel="Local/1@dcc-outbound/n",
        context="dcc-answered",
        exten="s",
        channel_id="c2",
        other_channel_id="c2-2",
        timeout_ms=1000,
        variables={},
    )
    sent = [a for a in fake.actions if a["action"] == ["Originate"]]
    assert [a["async"] for a in sent] == [["true"], ["true"]]
    await client.ping()
    assert client.connected and fake.connections == 1


async def test_defect_02_failing_handler_keeps_link_and_rest_of_read(
    fake: FakeAmi, client: AmiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = client_mod.from_message

    def explode_on_boom(message, at):  # type: ignore[no-untyped-def]
        if message.name == "Boom":
            raise RuntimeError("handler bug")
        return real(message, at)

    monkeypatch.setattr(client_mod, "from_message", explode_on_boom)
    stream = client.events()
    await next_of(stream, Reconciled)
    await fake.send(event("Boom") + event("Newchannel", *channel_fields("PJSIP/c-1", "after-boom")))
    after = await next_of(stream, Newchannel)
    assert isinstance(after, Newchannel) and after.uniqueid == "after-boom"
    await client.ping()
    assert client.connected and fake.connections == 1


async def test_defect_03_utf8_character_split_across_reads_survives(fake: FakeAmi, client: AmiClient) -> None:
    stream = client.events()
    await next_of(stream, Reconciled)
    data = event("Newchannel", *channel_fields("PJSIP/carrier-1", "u-zh", name="张伟", num="13800138000"))
    await fake.send_split(data, data.index("张".encode()) + 1)  # cut inside 张
    fake.byte_by_byte = True
    await fake.send(event("Newchannel", *channel_fields("PJSIP/carrier-2", "u-zh2", name="José 李娜")))
    first = await next_of(stream, Newchannel)
    second = await next_of(stream, Newchannel)
    assert isinstance(first, Newchannel) and isinstance(second, Newchannel)
    assert (first.caller_id_name, second.caller_id_name) == ("张伟", "José 李娜")


async def test_defect_04_action_while_down_fails_fast(fake: FakeAmi, pbx: PbxSettings) -> None:
    never_started = AmiClient(pbx)
    async with asyncio.timeout(5):  # guards against a hang; panoramisk raises AttributeError here
        with pytest.raises(AmiLinkDown, match="down"):
            await never_started.ping()
    async with AmiClient(pbx) as ami:
        stream = ami.events()
        await next_of(stream, Reconciled)
        fake.reject_login = True  # keep it down
        fake.drop()
        await next_of(stream, LinkDown)
        async with asyncio.timeout(5):
            with pytest.raises(AmiLinkDown):
                await ami.hangup("PJSIP/carrier-1")
            with pytest.raises(AmiLinkDown):
                await ami.originate(
                    channel="Local/1@dcc-outbound/n",
                    context="dcc-answered",
                    exten="s",
                    channel_id="c9",
                    other_channel_id="c9-2",
                    timeout_ms=1000,
                    variables={},
                )
    assert fake.names("Hangup") == [] and fake.names("Originate") == []


async def test_defect_05_unanswered_originate_is_never_resent(fake: FakeAmi, client: AmiClient) -> None:
    stream = client.events()
    await next_of(stream, Reconciled)
    fake.unanswered = {"originate"}
    call = asyncio.create_task(
        client.originate(
            channel="Local/1@dcc-outbound/n",
            context="dcc-answered",
            exten="s",
            channel_id="c5",
            other_channel_id="c5-2",
            timeout_ms=1000,
            variables={"DCC_CALL": "c5"},
        )
    )
    await fake.wait_for(lambda: fake.names("Originate") != [])
    fake.unanswered = set()
    fake.drop()  # the link dies before Asterisk's reply
    with pytest.raises(AmiLinkDown):
        await call
    await next_of(stream, Reconciled)  # logged in again, FullyBooted seen (panoramisk replays here)
    await client.ping()  # the peer has processed everything the client sent before this
    assert fake.connections == 2
    assert fake.names("Originate") == ["Originate"]


async def test_defect_06_timed_out_or_cancelled_actions_leave_no_entry_and_list_errors_resolve(
    fake: FakeAmi, client: AmiClient
) -> None:
    fake.unanswered = {"getvar"}
    with pytest.raises(AmiTimeout, match="Getvar"):
        await client.action("Getvar", timeout=0.05, Channel="PJSIP/a-1", Variable="X")
    assert client.pending_actions == 0
    waiting = asyncio.create_task(client.action("Getvar", Channel="PJSIP/a-1", Variable="Y"))
    await fake.wait_for(lambda: len(fake.names("Getvar")) == 2)
    assert client.pending_actions == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert client.pending_actions == 0
    fake.errors["coreshowchannels"] = "Permission denied"
    async with asyncio.timeout(5):  # panoramisk's as_list action never resolves on an error reply
        with pytest.raises(AmiActionError, match="Permission denied"):
            await client.core_show_channels()
    assert client.pending_actions == 0 and client.connected


async def test_defect_07_close_stops_every_reconnect(
    fake: FakeAmi, pbx: PbxSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    scheduled: list[object] = []
    real_call_later = loop.call_later

    def spy(delay, callback, *args, **kwargs):  # type: ignore[no-untyped-def]
        scheduled.append(callback)
        return real_call_later(delay, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_later", spy)
    ami = AmiClient(pbx)
    await ami.start()
    stream = ami.events()
    await next_of(stream, Reconciled)
    fake.reject_login = True  # every reconnect attempt fails, so the supervisor keeps trying
    fake.drop()
    await fake.wait_for(lambda: fake.connections >= 3)
    await ami.close()
    attempts = fake.connections
    await asyncio.sleep(0.3)  # six times the longest backoff: any surviving retry would connect
    assert fake.connections == attempts
    assert not [c for c in scheduled if getattr(c, "__name__", "") == "connect"]
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("ami-")]


def test_defect_08_save_stream_is_never_used() -> None:
    assert _mentions({"save_stream"}) == {}


async def test_defect_09_call_manager_is_never_used(
    fake: FakeAmi, pbx: PbxSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _mentions({"CallManager", "call_manager"}) == {}
    built: list[object] = []
    monkeypatch.setattr(panoramisk.call_manager.CallManager, "__init__", lambda self, *a, **k: built.append(self))
    await _session(fake, pbx)
    assert built == []


async def test_defect_10_fast_agi_is_never_used(
    fake: FakeAmi, pbx: PbxSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _mentions({"fast_agi", "FastAGI", "fastagi"}) == {}
    built: list[object] = []
    monkeypatch.setattr(panoramisk.fast_agi.Application, "__init__", lambda self, *a, **k: built.append(self))
    await _session(fake, pbx)
    assert built == []


async def test_defect_11_panoramisk_testing_is_never_loaded(fake: FakeAmi, pbx: PbxSettings) -> None:
    assert _mentions({"panoramisk.testing"}) == {}
    await _session(fake, pbx)
    assert "panoramisk.testing" not in sys.modules
    assert panoramisk.utils.EOL == "\r\n"


def test_defect_12a_constructing_a_client_builds_no_manager(pbx: PbxSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    monkeypatch.setattr(client_mod._Manager, "__init__", lambda self, *a, **k: built.append(self))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AmiClient(pbx)  # no running loop here
    assert built == []


async def test_defect_12b_managers_are_bound_to_the_running_loop(
    fake: FakeAmi, pbx: PbxSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    managers: list[panoramisk.Manager] = []
    real_init = client_mod._Manager.__init__

    def record(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_init(self, *args, **kwargs)
        managers.append(self)

    monkeypatch.setattr(client_mod._Manager, "__init__", record)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        await _session(fake, pbx)
    assert len(managers) == 2  # a fresh one per connection
    assert all(m.loop is asyncio.get_running_loop() for m in managers)


def test_only_dialer_ami_imports_panoramisk() -> None:
    offenders = {
        str(path.relative_to(DIALER.parent))
        for path, tree in _sources().items()
        if any(m == "panoramisk" or m.startswith("panoramisk.") for m in _imported_modules(tree))
        and DIALER / "ami" not in path.parents
    }
    assert offenders == set()


def test_ami_events_and_codec_load_without_panoramisk() -> None:
    code = "import sys, dialer.ami, dialer.ami.events, dialer.ami.codec, dialer.ami.errors; print('panoramisk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=DIALER.parent)
    assert out.stdout.strip() == "False"
