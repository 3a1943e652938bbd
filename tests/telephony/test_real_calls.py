"""Every outcome, the line limit and an Asterisk restart, against the real Asterisk and SIPp customers.

The numbers and their behaviour come from asterisk/sipp/customers.csv.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dialer.ami.client import AmiClient
from dialer.app import App, open_app
from dialer.cli.doctor import diagnose
from dialer.clock import VirtualClock
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import Outcome
from dialer.lab.lab import Lab
from dialer.phone import normalize
from dialer.settings import Settings
from tests.lab.contract import MACHINE_TRIES
from tests.telephony.talk import LIMIT_S, agent_hangs_up_once_talked

pytestmark = pytest.mark.asterisk

EXPECTED = {
    "13800000001": Outcome.ANSWERED,  # answers after 1 s, talks 6 s
    "13800000011": Outcome.EARLY_HANGUP,  # answers, hangs up after about 1 s
    "13800000021": Outcome.BUSY,
    "13800000031": Outcome.CONGESTION,
    "13800000041": Outcome.REJECTED,
    "13800000051": Outcome.VACANT,
    "13800000061": Outcome.NO_ANSWER,  # rings 2 s, then 480
    "13800000071": Outcome.NO_ANSWER,  # rings until the originate timeout
}
CAUSE = {"13800000021": 17, "13800000031": 34, "13800000041": 21, "13800000051": 1, "13800000061": 19}
# People who answer with an everyday Mandarin greeting, then wait for the caller (customers.csv).
GREETERS = {
    "13800000091": "喂？",
    "13800000092": "喂，你好。",
    "13800000093": "喂，你好，哪位？",
    "13800000094": "喂，你好，请问哪位？",
    "13800000095": "(says nothing for 3 s)",
}
VOICEMAIL = "13800000081"  # a long recorded greeting
# The apology [dcc-abandon] plays (headerless 8 kHz mu-law: 8000 bytes a second).
APOLOGY_S = (Path(__file__).parents[2] / "asterisk" / "sounds" / "dcc-abandon.ulaw").stat().st_size / 8000
# Event delivery and the Hangup after the prompt: far below AMD's 1.6 s, which a fresh hold would add again.
MARGIN_S = 0.5


def settings_for(lab_settings: Settings, tmp_path: Path, *, amd: bool | None = None, **pbx: object) -> Settings:
    """The lab's settings with a store of the test's own; ``amd`` switches detection on or off for the
    calls (the PBX renders its tuning from the shipped defaults either way)."""
    calls = lab_settings.calls if amd is None else dataclasses.replace(lab_settings.calls, amd=amd)
    return dataclasses.replace(
        lab_settings,
        store=dataclasses.replace(lab_settings.store, path=str(tmp_path / "dialer.sqlite3")),
        pbx=dataclasses.replace(lab_settings.pbx, ring_timeout_s=6.0, **pbx),
        calls=calls,
    )


@pytest.fixture
async def app(lab: Lab, lab_settings: Settings, tmp_path: Path) -> AsyncIterator[App]:
    async with open_app(settings_for(lab_settings, tmp_path)) as running:
        yield running
    lab.hangup_all()


def wav_rms(path: str) -> float:
    stat = subprocess.run(["sox", path, "-n", "stat"], capture_output=True, text=True, check=True).stderr
    return float(next(line for line in stat.splitlines() if line.startswith("RMS     amplitude")).split(":")[1])


async def test_each_customer_behaviour_gives_its_outcome(app: App) -> None:
    assert app.calls is not None
    # Without AMD (the default) a free agent takes the call at once: the early hang-up is a customer
    # who leaves before anyone was free.
    attempts = await asyncio.gather(
        *(app.calls.dial(normalize(n), agent=None if n == "13800000011" else "agent1") for n in EXPECTED)
    )
    got = {a.number.removeprefix("+86"): a for a in attempts}
    assert {n: a.outcome for n, a in got.items()} == EXPECTED
    for number, cause in CAUSE.items():
        assert got[number].hangup_cause == cause, number
    answered = got["13800000001"]
    assert answered.agent == "agent1" and answered.answered_at and answered.connected_at
    assert answered.recording and Path(answered.recording).is_file()  # noqa: ASYNC240 - one stat of a local file
    assert wav_rms(answered.recording) > 0.01, "the recording is silent"
    stored = {a.call_id: a for a in await app.attempts.recent(limit=20)}
    assert {a.call_id for a in attempts} <= set(stored)
    assert all(stored[a.call_id].outcome is a.outcome for a in attempts)


async def test_periodic_snapshots_during_live_calls_end_no_call_wrongly(
    lab: Lab, lab_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot every 0.1 s lands in every phase of every call (ringing, answered, connected, the
    legs' hang-ups); none may end a live call: each gets the outcome it gets without them."""
    periodic = 0
    on_snapshot = AmiClient._on_snapshot

    def counted(self: AmiClient, link: Any, is_periodic: bool, reply: Any) -> None:
        nonlocal periodic
        periodic += is_periodic
        on_snapshot(self, link, is_periodic, reply)

    monkeypatch.setattr(AmiClient, "_on_snapshot", counted)
    async with open_app(settings_for(lab_settings, tmp_path, reconcile_interval_s=0.1)) as app:
        assert app.calls is not None
        numbers = [*EXPECTED, "13800000002"]  # and one that waits for an agent until the PBX abandons it
        attempts = await asyncio.gather(
            *(app.calls.dial(normalize(n), agent=None if n in ("13800000011", "13800000002") else "agent1")
              for n in numbers)
        )  # fmt: skip
    lab.hangup_all()
    got = {a.number.removeprefix("+86"): a for a in attempts}
    assert {n: a.outcome for n, a in got.items()} == {**EXPECTED, "13800000002": Outcome.ABANDONED}
    assert not [a.call_id for a in attempts if a.detail == "call vanished from the PBX"]
    for number, cause in CAUSE.items():
        assert got[number].hangup_cause == cause, number
    assert got["13800000001"].agent == "agent1" and got["13800000001"].recording
    assert periodic >= 20, f"only {periodic} periodic snapshots were taken"


@pytest.fixture
async def amd_app(lab: Lab, lab_settings: Settings, tmp_path: Path) -> AsyncIterator[App]:
    async with open_app(settings_for(lab_settings, tmp_path, amd=True)) as running:
        yield running
    lab.hangup_all()


async def put_through(app: App, number: str, agent: str) -> Attempt:
    """Dial ``number`` for ``agent``; the agent hangs up once they have talked (tests/telephony/talk.py), instead
    of the test waiting for the customer to. The finished attempt."""
    assert app.calls is not None
    placed: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
    call = asyncio.ensure_future(app.calls.dial(normalize(number), agent=agent, on_attempt=placed.set_result))
    await agent_hangs_up_once_talked(app, (await placed).call_id, gone=call.done)
    async with asyncio.timeout(LIMIT_S):
        return await call


async def assert_put_through(app: App, attempt: Attempt, agent: str, what: str) -> None:
    assert (attempt.outcome, attempt.agent) == (Outcome.ANSWERED, agent), what
    assert attempt.answered_at and attempt.connected_at, what
    # The registry's file (the FLAC once it has compressed MixMonitor's WAV, which the attempt names).
    recording = (await app.recordings.current_files([attempt]))[attempt.call_id]
    assert attempt.recording and recording and recording.is_file(), what


async def test_greeting_customers_reach_an_agent_with_the_shipped_defaults(app: App, lab_settings: Settings) -> None:
    assert app.calls is not None and lab_settings.calls.amd is False
    agents = [f"agent{i}" for i in range(1, len(GREETERS) + 1)]
    attempts = await asyncio.gather(*(put_through(app, n, a) for n, a in zip(GREETERS, agents, strict=True)))
    for attempt, agent, greeting in zip(attempts, agents, GREETERS.values(), strict=True):
        await assert_put_through(app, attempt, agent, greeting)
        assert attempt.detail is None, greeting  # no AMD ran


async def test_with_amd_on_every_greeting_still_reaches_a_free_agent(amd_app: App) -> None:
    assert amd_app.calls is not None
    agents = [f"agent{i}" for i in range(1, len(GREETERS) + 1)]
    attempts = await asyncio.gather(*(put_through(amd_app, n, a) for n, a in zip(GREETERS, agents, strict=True)))
    for attempt, agent, greeting in zip(attempts, agents, GREETERS.values(), strict=True):
        await assert_put_through(amd_app, attempt, agent, greeting)
        assert attempt.detail in ("amd=HUMAN", "amd=NOTSURE"), greeting


# The shipped tuning tells the lab's voicemail (MACHINE at ~1.55 s) from the 3- and 4-word greetings
# (NOTSURE at the 1.6 s analysis limit) by about 50 ms of voiced audio (docs/telephony.md); under load it
# can come out NOTSURE. Either way it is not taken for a person; recognising it is tried MACHINE_TRIES
# times where the test needs it.


async def test_with_amd_on_a_voicemail_goes_to_a_free_agent_flagged_as_not_a_person(amd_app: App) -> None:
    assert amd_app.calls is not None
    attempt = await put_through(amd_app, VOICEMAIL, "agent6")
    await assert_put_through(amd_app, attempt, "agent6", "voicemail")
    assert attempt.detail in ("amd=MACHINE", "amd=NOTSURE")


async def test_with_amd_on_and_nobody_free_a_voicemail_is_ended_as_machine_without_the_apology(
    amd_app: App, lab_settings: Settings
) -> None:
    assert amd_app.calls is not None
    for _ in range(MACHINE_TRIES):
        attempt = await amd_app.calls.dial(normalize(VOICEMAIL), agent=None)
        if attempt.detail == "amd=MACHINE":
            break
        # Not recognised this time: treated like an unclaimed person (the apology, abandoned).
        assert (attempt.outcome, attempt.detail) == (Outcome.ABANDONED, "amd=NOTSURE")
    assert (attempt.outcome, attempt.detail, attempt.connected_at) == (Outcome.MACHINE, "amd=MACHINE", None)
    assert attempt.answered_at and attempt.ended_at
    # Ended inside the abandon budget: the apology alone would have taken APOLOGY_S more.
    held = (attempt.ended_at - attempt.answered_at).total_seconds()
    assert held <= lab_settings.calls.abandon_after_s + MARGIN_S


async def test_with_amd_on_the_abandon_clock_runs_from_the_answer(amd_app: App, lab_settings: Settings) -> None:
    """Nobody free: a person AMD listened to for 1.6 s hears the apology 2 s after answering, not
    AMD's time plus a fresh 2 s hold."""
    assert amd_app.calls is not None
    attempt = await amd_app.calls.dial(normalize("13800000094"), agent=None)  # four words, then waits
    assert (attempt.outcome, attempt.detail) == (Outcome.ABANDONED, "amd=NOTSURE")
    assert attempt.answered_at and attempt.ended_at
    held = (attempt.ended_at - attempt.answered_at).total_seconds()
    budget = lab_settings.calls.abandon_after_s
    assert budget + APOLOGY_S - MARGIN_S <= held <= budget + APOLOGY_S + MARGIN_S


async def test_answered_with_no_agent_is_abandoned_by_the_pbx(app: App) -> None:
    assert app.calls is not None
    attempt = await app.calls.dial(normalize("13800000002"), agent=None)
    assert attempt.outcome is Outcome.ABANDONED
    assert attempt.answered_at is not None and attempt.connected_at is None


async def test_nine_calls_never_use_more_than_eight_lines(app: App, lab: Lab) -> None:
    assert app.calls is not None
    peak_pbx = 0

    async def watch() -> None:
        nonlocal peak_pbx
        while True:
            channels = await app.ami.core_show_channels()
            carrier = [c for c in channels if c.channel.startswith("PJSIP/carrier-")]
            peak_pbx = max(peak_pbx, len(carrier))
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    numbers = ["13800000001"] * 9
    attempts = await asyncio.gather(*(put_through(app, n, f"agent{i % 8 + 1}") for i, n in enumerate(numbers)))
    watcher.cancel()
    assert app.calls.lines.peak == 8
    assert 1 <= peak_pbx <= 8
    assert [a.outcome for a in attempts] == [Outcome.ANSWERED] * 9
    # the ninth waited for a line: it started after the first call ended
    first_end = min(a.ended_at for a in attempts)
    assert max(a.started_at for a in attempts) >= first_end


async def test_the_pbx_refuses_a_ninth_line_even_if_the_dialer_asks(
    lab: Lab, lab_settings: Settings, tmp_path: Path
) -> None:
    # A dialer misconfigured with 9 lines against a PBX rendered with 8.
    async with open_app(settings_for(lab_settings, tmp_path, outbound_lines=9)) as app:
        assert app.calls is not None
        attempts = await asyncio.gather(*(app.calls.dial(normalize("13800000002"), agent=None) for _ in range(9)))
    lab.hangup_all()
    refused = [a for a in attempts if a.outcome is Outcome.FAILED]
    assert len(refused) == 1
    assert "line limit" in (refused[0].detail or "")
    assert sum(a.outcome is Outcome.ABANDONED for a in attempts) == 8


@pytest.fixture
async def restart_app(lab: Lab, lab_settings: Settings, tmp_path: Path) -> AsyncIterator[App]:
    """The ``app`` of a test that kills Asterisk mid-call: its MixMonitor never closes the call's file, and the
    registry would wait out ``[recording] settle_s`` (10 s, tests/recording) for it on the way out; the
    recording is not this test's subject, so it looks only briefly."""
    settings = settings_for(lab_settings, tmp_path)
    async with open_app(
        dataclasses.replace(settings, recording=dataclasses.replace(settings.recording, settle_s=0.5))
    ) as running:
        yield running
    lab.hangup_all()


async def test_asterisk_restart_mid_call_ends_the_attempt_and_dials_nothing_again(restart_app: App, lab: Lab) -> None:
    app = restart_app
    assert app.calls is not None and app.ami is not None
    call = asyncio.create_task(app.calls.dial(normalize("13800000003"), agent="agent2"))  # talks 60 s
    # Wait until the dialer itself recorded the agent's answer: the agent's channel appears when its
    # phone starts ringing, and Asterisk 22 can be killed between that and the answer.
    for _ in range(100):
        recent = await app.attempts.recent(limit=1)
        if recent and recent[0].connected_at is not None:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the call never reached the agent")
    await asyncio.to_thread(lab.restart_asterisk)
    attempt = await asyncio.wait_for(call, 60)
    assert attempt.outcome is Outcome.ANSWERED
    assert attempt.detail == "call vanished from the PBX"
    assert attempt.ended_at is not None
    for _ in range(100):
        if app.ami.connected:
            break
        await asyncio.sleep(0.1)
    assert app.ami.connected, "the dialer did not reconnect by itself"
    await asyncio.sleep(2)
    assert not [c for c in await app.ami.core_show_channels() if c.channel.startswith("PJSIP/carrier-")], (
        "dialled again"
    )
    assert len(await app.attempts.recent(limit=10)) == 1


async def test_doctor_finds_the_lab_ready_and_names_a_wrong_secret(
    lab: Lab, lab_settings: Settings, tmp_path: Path
) -> None:
    ready = await diagnose(settings_for(lab_settings, tmp_path), VirtualClock())
    assert [c.name for c in ready if not c.ok] == []
    major = lab.asterisk_version().major
    (version,) = [c for c in ready if c.name.startswith("Asterisk 版本")]
    # The clock says 2026-01-05: 16 is past its end of life (a note, not a problem), 22 is supported.
    assert (version.warning, "已于 2023-10-09 停止维护" in version.fix) == (
        (True, True) if major == 16 else (False, False)
    )
    assert len(ready) >= 15
    wrong = await diagnose(settings_for(lab_settings, tmp_path, ami_secret="not-the-secret"), VirtualClock())
    (failed,) = [c for c in wrong if not c.ok]
    assert "AMI" in failed.name and "DIALER__PBX__AMI_SECRET" in failed.fix
    doubled = await diagnose(settings_for(lab_settings, tmp_path, outbound_lines=9), VirtualClock())
    assert [c.name for c in doubled if not c.ok] == ["交换机线路上限 DCC_OUT_LINES（配置为 9）"]
