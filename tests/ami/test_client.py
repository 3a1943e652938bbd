"""AmiClient against the fake AMI: connect, actions, the event stream, liveness, backpressure."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import socket

import pytest
from structlog.testing import capture_logs

from dialer.ami.client import RECONCILE_TASK, AmiClient, Backoff
from dialer.ami.codec import MAX_FRAME
from dialer.ami.errors import AmiActionError, AmiAuthError, AmiConnectError, AmiConnectTimeout, AmiLinkDown
from dialer.ami.events import (
    AmiEvent,
    ChannelEvent,
    FullyBooted,
    LinkDown,
    LinkUp,
    Newchannel,
    OriginateResponse,
    RawEvent,
    Reconciled,
)
from dialer.clock import VirtualClock
from dialer.settings import PbxSettings
from dialer.tasks import TaskHealth
from tests.ami.conftest import next_of
from tests.ami.fake_ami import FakeAmi, channel_fields, core_show_channel, event

# Backoffs, pings and action timeouts pass in virtual time: the fake AMI is a loopback socket of this loop.
pytestmark = pytest.mark.virtual_time


async def test_start_streams_link_up_then_reconciled_snapshot(fake: FakeAmi, pbx: PbxSettings) -> None:
    fake.channels = [core_show_channel("Local/100@dcc-outbound-00000001;1", "call-1", "call-1")]
    async with AmiClient(pbx, clock=VirtualClock()) as ami:
        stream = ami.events()
        first = [await anext(stream) for _ in range(3)]
        assert [type(e) for e in first] == [LinkUp, FullyBooted, Reconciled]
        reconciled = first[2]
        assert isinstance(reconciled, Reconciled)
        assert [c.uniqueid for c in reconciled.channels] == ["call-1"]
        assert ami.connected
    assert fake.names() == ["Login", "CoreShowChannels"]


async def test_reconciled_sits_exactly_where_the_snapshot_ended(fake: FakeAmi, pbx: PbxSettings) -> None:
    fake.after_snapshot = [event("Newchannel", *channel_fields("PJSIP/carrier-9", "after-snapshot"))]
    async with AmiClient(pbx) as ami:
        stream = ami.events()
        got = [await anext(stream) for _ in range(4)]
    assert [type(e) for e in got] == [LinkUp, FullyBooted, Reconciled, Newchannel]


def test_unusable_settings_are_refused_by_name(pbx: PbxSettings) -> None:
    with pytest.raises(ValueError, match=re.escape("pbx.ping_timeout_s = 0")):
        AmiClient(dataclasses.replace(pbx, ping_timeout_s=0))
    with pytest.raises(ValueError, match=re.escape("pbx.event_queue_size = 2")):
        AmiClient(dataclasses.replace(pbx, event_queue_size=2))
    with pytest.raises(ValueError, match="reconnect_min_s"):
        AmiClient(dataclasses.replace(pbx, reconnect_min_s=5.0, reconnect_max_s=1.0))


async def test_login_refused_names_host_port_user_never_secret(fake: FakeAmi, pbx: PbxSettings) -> None:
    fake.reject_login = True
    ami = AmiClient(pbx)
    with pytest.raises(AmiAuthError) as info:
        await ami.start()
    text = str(info.value)
    assert f"127.0.0.1:{fake.port}" in text and "'dialer'" in text and "Authentication failed" in text
    assert pbx.ami_secret not in text
    assert not ami.connected
    await ami.close()


async def test_unreachable_port_is_a_connect_error(pbx: PbxSettings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ami = AmiClient(dataclasses.replace(pbx, ami_port=port))
    with pytest.raises(AmiConnectError, match=f"127.0.0.1:{port}"):
        await ami.start()
    await ami.close()


async def test_login_without_fully_booted_is_a_connect_timeout(fake: FakeAmi, pbx: PbxSettings) -> None:
    fake.fully_booted = False
    ami = AmiClient(dataclasses.replace(pbx, action_timeout_s=0.2))
    with pytest.raises(AmiConnectTimeout, match="FullyBooted"):
        await ami.start()
    await ami.close()


def _answer_login_from(fake: FakeAmi, attempt: int) -> None:
    """The fake leaves the first ``attempt - 1`` logins unanswered: a PBX still busy booting."""
    fake.unanswered.add("login")

    def count(action: dict[str, list[str]]) -> None:
        if action["action"] == ["Login"] and len(fake.names("Login")) >= attempt:
            fake.unanswered.discard("login")

    fake.on_action = count


async def test_first_connect_is_retried_while_the_login_is_unanswered(
    fake: FakeAmi, pbx: PbxSettings, clock: VirtualClock
) -> None:
    _answer_login_from(fake, 3)
    started = clock.monotonic()
    with capture_logs() as logs:
        async with AmiClient(dataclasses.replace(pbx, first_connect_retry_s=30.0), clock=clock) as ami:
            assert ami.connected
            assert type(await next_of(ami.events(), Reconciled)) is Reconciled
    retries = [e for e in logs if e["event"] == "ami_first_connect_retry"]
    assert [e["attempt"] for e in retries] == [1, 2]
    assert all("did not answer the login" in e["error"] for e in retries)
    assert fake.names("Login") == ["Login"] * 3 and fake.connections == 3
    # Two login timeouts of 2 s each, two backoffs of at most 0.05 s: the clock the test drives.
    assert 4.0 <= clock.monotonic() - started < 5.0


async def test_first_connect_gives_up_with_the_timeout_once_its_budget_is_spent(
    fake: FakeAmi, pbx: PbxSettings, clock: VirtualClock
) -> None:
    fake.unanswered.add("login")
    started = clock.monotonic()
    ami = AmiClient(dataclasses.replace(pbx, first_connect_retry_s=7.0), clock=clock)
    with pytest.raises(AmiConnectTimeout, match=re.escape("did not answer the login of user 'dialer' within 2.0s")):
        await ami.start()
    await ami.close()
    # Logins at 0, ~2, ~4, ~6 s; the one ending at ~8 s is past the 7 s budget.
    assert len(fake.names("Login")) == 4
    assert 7.0 <= clock.monotonic() - started < 9.0


async def test_first_connect_without_a_budget_is_tried_once(fake: FakeAmi, pbx: PbxSettings) -> None:
    fake.unanswered.add("login")
    ami = AmiClient(pbx)
    with pytest.raises(AmiConnectTimeout):
        await ami.start()
    await ami.close()
    assert fake.connections == 1


async def test_refused_port_and_refused_login_fail_at_once_despite_a_budget(
    fake: FakeAmi, pbx: PbxSettings, clock: VirtualClock
) -> None:
    patient = dataclasses.replace(pbx, first_connect_retry_s=60.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = clock.monotonic()
    with capture_logs() as logs:
        ami = AmiClient(dataclasses.replace(patient, ami_port=port), clock=clock)
        with pytest.raises(AmiConnectError, match=f"127.0.0.1:{port}") as refused:
            await ami.start()
        await ami.close()
        fake.reject_login = True
        ami = AmiClient(patient, clock=clock)
        with pytest.raises(AmiAuthError, match="Authentication failed"):
            await ami.start()
        await ami.close()
    assert not isinstance(refused.value, AmiConnectTimeout)
    assert fake.connections == 1
    assert not [e for e in logs if e["event"] == "ami_first_connect_retry"]
    assert clock.monotonic() - started < 1.0


async def test_actions_reply_and_errors(fake: FakeAmi, client: AmiClient) -> None:
    fake.command_output["core show version"] = ["Asterisk 16.28.0~dfsg-0+deb11u10 built by debian"]
    fake.channels = [core_show_channel("PJSIP/carrier-00000001", "u1", "call-1", "00:01:00")]
    assert await client.command("core show version") == "Asterisk 16.28.0~dfsg-0+deb11u10 built by debian"
    (info,) = await client.core_show_channels()
    assert (info.channel, info.linkedid, info.duration_s) == ("PJSIP/carrier-00000001", "call-1", 60)
    assert await client.ping() >= 0
    await client.setvar("PJSIP/carrier-00000001", "DCC_HOLD", "2")
    fake.errors["redirect"] = "Channel specified does not exist"
    with pytest.raises(AmiActionError) as info_err:
        await client.redirect("Local/1@x;1", "dcc-agent", "agent1")
    assert info_err.value.message == "Channel specified does not exist"
    assert client.connected
    setvar = next(a for a in fake.actions if a["action"] == ["Setvar"])
    assert (setvar["variable"], setvar["value"]) == (["DCC_HOLD"], ["2"])


async def test_originate_sends_our_ids_and_its_response_reaches_the_stream(fake: FakeAmi, client: AmiClient) -> None:
    stream = client.events()
    await client.originate(
        channel="Local/13800138000@dcc-outbound/n",
        context="dcc-answered",
        exten="s",
        channel_id="call-42",
        other_channel_id="call-42-2",
        timeout_ms=30000,
        caller_id='"DCC" <4008001234>',
        variables={"DCC_CALL": "call-42", "DCC_REC": "/var/rec/call-42.wav", "DCC_AMD": "1"},
    )
    (sent,) = [a for a in fake.actions if a["action"] == ["Originate"]]
    assert sent["async"] == ["true"]
    assert (sent["channelid"], sent["otherchannelid"], sent["timeout"]) == (["call-42"], ["call-42-2"], ["30000"])
    assert sent["variable"] == ["DCC_CALL=call-42", "DCC_REC=/var/rec/call-42.wav", "DCC_AMD=1"]
    response = await next_of(stream, OriginateResponse)
    assert isinstance(response, OriginateResponse)
    assert (response.uniqueid, response.reason, response.response) == ("call-42", 4, "Success")


async def test_line_break_in_a_field_is_refused_before_sending(fake: FakeAmi, client: AmiClient) -> None:
    with pytest.raises(ValueError, match="line breaks"):
        await client.setvar("PJSIP/a-1", "X", "1\r\nAction: Hangup")
    with pytest.raises(ValueError, match="variable name"):
        await client.setvar("PJSIP/a-1", "A=B", "1")
    assert fake.names("Setvar") == [] and fake.names("Hangup") == []


async def test_silent_peer_is_noticed_by_ping_and_link_rebuilt(fake: FakeAmi, pbx: PbxSettings) -> None:
    async with AmiClient(dataclasses.replace(pbx, ping_interval_s=0.05, ping_timeout_s=0.1)) as ami:
        stream = ami.events()
        await next_of(stream, Reconciled)
        fake.silent = True  # socket stays open, nothing comes back: a half-open link
        down = await next_of(stream, LinkDown)
        assert isinstance(down, LinkDown) and "Ping" in down.reason
        fake.silent = False
        await next_of(stream, LinkUp)
        await next_of(stream, Reconciled)
        assert fake.connections == 2
        assert ami.connected


async def test_shutdown_event_drops_link_and_reconnects(fake: FakeAmi, client: AmiClient) -> None:
    stream = client.events()
    await next_of(stream, Reconciled)
    await fake.send(event("Shutdown", ("Shutdown", "Cleanly"), ("Restart", "True")))
    down = await next_of(stream, LinkDown)
    assert isinstance(down, LinkDown) and "shutting down" in down.reason
    await next_of(stream, Reconciled)
    assert fake.connections == 2


async def test_full_queue_drops_link_then_reconciles_after_consumer_catches_up(fake: FakeAmi, pbx: PbxSettings) -> None:
    async with AmiClient(dataclasses.replace(pbx, event_queue_size=20)) as ami:
        # LinkUp, FullyBooted, Reconciled are queued; 30 more cannot all fit.
        await fake.send(b"".join(event("Newchannel", *channel_fields(f"PJSIP/c-{i}", f"u{i}")) for i in range(30)))
        await fake.wait_for(lambda: not ami.connected)
        await asyncio.sleep(0.2)  # many backoff periods: it must not reconnect while the queue is full
        assert fake.connections == 1
        stream = ami.events()
        seen = [await anext(stream) for _ in range(20)]
        assert sum(isinstance(e, Newchannel) for e in seen) == 17
        down = await next_of(stream, LinkDown)
        assert isinstance(down, LinkDown) and "overflow" in down.reason
        await next_of(stream, Reconciled)
        assert fake.connections == 2


async def test_events_has_one_consumer_and_ends_after_close(client: AmiClient) -> None:
    stream = client.events()
    await next_of(stream, Reconciled)
    with pytest.raises(RuntimeError, match="consumer"):
        await anext(client.events())
    await client.close()
    rest = [e async for e in stream]
    assert [type(e) for e in rest] == [LinkDown]
    await client.close()  # idempotent
    assert not client.connected
    with pytest.raises(AmiLinkDown):
        await client.ping()


def test_backoff_grows_with_jitter_within_bounds_and_resets() -> None:
    backoff = Backoff(0.5, 15.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(12)]
    assert all(0.5 <= d <= 15.0 for d in delays)
    assert delays[0] == 0.5
    assert delays[5] > 4.0  # 0.5 * 2**5 = 16 -> capped at 15, drawn from [7.5, 15]
    assert len(set(delays[6:])) > 1  # jitter: not all the same once capped
    backoff.reset()
    assert backoff.next_delay() == 0.5
    with pytest.raises(ValueError, match="minimum"):
        Backoff(2.0, 1.0)


async def test_every_event_arrives_once_in_order_however_the_reads_are_cut(fake: FakeAmi, client: AmiClient) -> None:
    stream = client.events()
    await next_of(stream, Reconciled)
    rng = random.Random(18)
    kinds = ["Newchannel", "VarSet", "Newexten", "Hangup", "DeviceStateChange", "UserEvent"]
    sent = [(rng.choice(kinds), f"u{i}") for i in range(600)]
    data = b"".join(event(kind, *channel_fields(f"PJSIP/c-{uid}", uid, name="张伟")) for kind, uid in sent)
    cuts = sorted(rng.sample(range(1, len(data)), 40))
    for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True):
        await fake.send(data[start:stop])
    got = [await anext(stream) for _ in sent]
    assert [_name_and_uniqueid(e) for e in got] == sent
    assert all(e.caller_id_name == "张伟" for e in got if isinstance(e, ChannelEvent))


def _name_and_uniqueid(event: AmiEvent) -> tuple[str, str]:
    if isinstance(event, RawEvent):
        return event.name, event.get("Uniqueid")
    assert isinstance(event, ChannelEvent)
    return type(event).__name__, event.uniqueid


async def test_a_message_without_end_beyond_the_limit_drops_the_link_then_reconciles(
    fake: FakeAmi, client: AmiClient
) -> None:
    stream = client.events()
    await next_of(stream, Reconciled)
    await fake.send(b"Event: Flood\r\nData: " + b"x" * (MAX_FRAME + 1))
    down = await next_of(stream, LinkDown)
    assert isinstance(down, LinkDown) and "protocol error" in down.reason
    await next_of(stream, Reconciled)
    assert fake.connections == 2


async def test_periodic_snapshot_enters_the_stream_at_each_interval(
    fake: FakeAmi, pbx: PbxSettings, clock: VirtualClock
) -> None:
    fake.channels = [core_show_channel("Local/100@dcc-outbound-00000001;1", "call-1", "call-1")]
    async with AmiClient(dataclasses.replace(pbx, reconcile_interval_s=30.0), clock=clock) as ami:
        stream = ami.events()
        first = await next_of(stream, Reconciled)
        assert isinstance(first, Reconciled) and not first.periodic
        started = clock.monotonic()
        seen = []
        for _ in range(2):
            ev = await next_of(stream, Reconciled, timeout=100.0)
            assert isinstance(ev, Reconciled)
            seen.append((ev.periodic, round(clock.monotonic() - started), [c.uniqueid for c in ev.channels]))
        assert seen == [(True, 30, ["call-1"]), (True, 60, ["call-1"])]
    assert fake.names("CoreShowChannels") == ["CoreShowChannels"] * 3


async def test_no_periodic_snapshot_when_the_interval_is_zero(fake: FakeAmi, client: AmiClient) -> None:
    await asyncio.sleep(3600.0)  # virtual
    assert fake.names("CoreShowChannels") == ["CoreShowChannels"]


async def test_periodic_snapshot_task_is_supervised_a_crash_is_logged_counted_and_restarted(
    fake: FakeAmi, pbx: PbxSettings, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = TaskHealth()
    async with AmiClient(dataclasses.replace(pbx, reconcile_interval_s=10.0), clock=clock, health=health) as ami:
        stream = ami.events()
        await next_of(stream, Reconciled)
        snapshot = ami._snapshot

        async def crash_once(link: object, *, periodic: bool) -> None:
            monkeypatch.setattr(ami, "_snapshot", snapshot)
            raise RuntimeError("a bug in the snapshot")

        monkeypatch.setattr(ami, "_snapshot", crash_once)
        started = clock.monotonic()
        with capture_logs() as logs:
            ev = await next_of(stream, Reconciled, timeout=100.0)
        assert isinstance(ev, Reconciled) and ev.periodic
        # Crashed at 10 s, restarted 0.5 s later, its next snapshot 10 s after that.
        assert round(clock.monotonic() - started, 1) == 20.5
        assert ami.connected
    assert health.failures() == {RECONCILE_TASK: 1}
    crashed = [e for e in logs if e["event"] == "task.crashed"]
    assert [e["task"] for e in crashed] == [RECONCILE_TASK]
