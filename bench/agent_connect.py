"""Answer-to-agent latency and CPU per call, on the real Asterisk with SIPp customers and agents.

Run: ``.venv/bin/python -m bench.agent_connect [--calls-per-line 5] [--concurrent 200]``

A lab of its own (every port shifted by 800, tests/conftest.py ``settings_beside``, with 2,000 RTP
ports: Asterisk needs two per leg, customer and agent) with ``--concurrent`` answering customers
(ring 1 s, talk ~10 s), as many agent endpoints (their phones on one SIPp per 50, each ringing
before it answers, with media), and the PBX line limit raised to match. The dialer side is the production :class:`CallService` over the
production :class:`AmiClient`; only the AMI port it is handed is wrapped, to note the moment
``redirect()`` is called (the agent-connect action). The event router notes, per call (Linkedid),
when the customer's channel went Up (the answer) and when the dialplan raised DCCHold (the
moment the dialer may connect: the dialer's own share of the wait), and whether the agent's phone
answered (the agent leg's DialEnd ANSWER: the customer reached an agent). AMD is off: it is PBX time
spent before DCCHold and has its own tests.

Two runs: 8 lines (the handbook's) each dialling ``--calls-per-line`` calls in turn, then
``--concurrent`` calls at once; for the second, the CPU time of this process and of Asterisk
(/proc/<pid>/stat utime+stime) per call, and how long the dialer's event loop (this process's main
thread) stood ready to run but waited for a CPU (/proc/<pid>/schedstat, the scheduler's run-queue
wait): on a small machine the PBX's burst of answers takes the cores, and that wait, not the
dialer's own work, is most of the dialer's share. Not a test: no assertions; numbers vary with load.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from math import inf
from pathlib import Path

from dialer.ami import events as ami
from dialer.ami.client import AmiClient
from dialer.ami.errors import AmiError
from dialer.app import open_store
from dialer.clock import Clock, SystemClock
from dialer.lab.lab import ASTERISK, Lab
from dialer.logs import configure
from dialer.phone import normalize
from dialer.settings import CallSettings, Settings
from dialer.telephony.calls import CallService
from tests.conftest import settings_beside

PORT_OFFSET = 800  # ports of this bench's lab: the session lab's plus this
RING_S, TALK_S = 1, 10
LINES = 8  # the handbook's outbound lines
RTP_PORTS = 2000  # this lab's RTP range (settings_beside gives 1000; offset 900, the next 1000, is no lab's)
_UP = 6  # AMI ChannelState of an answered channel
_TICKS = os.sysconf("SC_CLK_TCK")


def number(i: int) -> str:
    """The i-th customer's mobile number."""
    return f"1390800{i:04d}"


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run: latencies in ms, outcomes, and CPU seconds of both processes."""

    label: str
    calls: int
    outcomes: Mapping[str, int]
    answer_to_redirect_ms: list[float]  # one per held call; inf when it was never redirected
    hold_to_redirect_ms: list[float]
    answer_to_hold_ms: list[float]  # the PBX's share: the customer's answer to [dcc-answered]'s DCCHold
    redirected: int
    redirect_failed: int  # Asterisk refused the Redirect (the channel had gone to the abandon message)
    pbx_abandoned: int  # calls whose customer heard the abandon message (DCCAbandon)
    reached_agent: int  # calls whose agent's phone answered (the agent leg's DialEnd ANSWER)
    seconds: float
    dialer_cpu_s: float
    asterisk_cpu_s: float
    dialer_cpu_wait_s: float  # the event loop's thread ready to run, waiting for a CPU (NaN: not known)

    @staticmethod
    def pct(values: list[float], p: int) -> float:
        """The p-th percentile (nearest rank), or NaN without samples; inf means "never redirected"."""
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    def summary(self) -> str:
        a, h = self.answer_to_redirect_ms, self.hold_to_redirect_ms
        return (
            f"{self.label}: {self.calls} calls in {self.seconds:.1f} s, outcomes {dict(self.outcomes)}; "
            f"held {len(self.hold_to_redirect_ms)}, redirected {self.redirected} (refused {self.redirect_failed}), "
            f"abandon message {self.pbx_abandoned}; reached an agent {self.reached_agent}; "
            f"answer->redirect p50 {self.pct(a, 50):.1f} ms p99 {self.pct(a, 99):.1f} ms; "
            f"DCCHold->redirect p50 {self.pct(h, 50):.1f} ms p99 {self.pct(h, 99):.1f} ms; "
            f"answer->DCCHold p50 {self.pct(self.answer_to_hold_ms, 50):.1f} ms "
            f"p99 {self.pct(self.answer_to_hold_ms, 99):.1f} ms; "
            f"CPU/call dialer {1000 * self.dialer_cpu_s / self.calls:.1f} ms, "
            f"Asterisk {1000 * self.asterisk_cpu_s / self.calls:.1f} ms; "
            f"dialer waited {self.dialer_cpu_wait_s:.1f} s of {self.seconds:.1f} s for a CPU"
        )


class TimedAmi:
    """The AMI port CallService is handed: the real client, with the moment of each redirect noted."""

    def __init__(self, client: AmiClient, clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self.redirected_at: dict[str, datetime] = {}  # channel -> when redirect() was called
        self.failed = 0

    async def originate(self, **kwargs: object) -> None:
        await self._client.originate(**kwargs)  # type: ignore[arg-type]

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        self.redirected_at[channel] = self._clock.now()
        try:
            await self._client.redirect(channel, context, exten, priority)
        except AmiError:
            self.failed += 1
            raise

    async def core_show_channels(self) -> tuple[ami.ChannelInfo, ...]:
        return await self._client.core_show_channels()

    @property
    def connected(self) -> bool:
        return self._client.connected


@dataclass(slots=True)
class Marks:
    """When each call (by Linkedid) was answered and put on hold, and which channel holds it."""

    answered: dict[str, datetime] = dataclasses.field(default_factory=dict)
    held: dict[str, datetime] = dataclasses.field(default_factory=dict)
    call_of_channel: dict[str, str] = dataclasses.field(default_factory=dict)
    abandoned: set[str] = dataclasses.field(default_factory=set)
    reached: set[str] = dataclasses.field(default_factory=set)

    def note(self, event: ami.AmiEvent) -> None:
        match event:
            case ami.Newstate(channel=channel, linkedid=linked, channel_state=state) if (
                state == _UP and channel.startswith("PJSIP/")
            ):
                self.answered.setdefault(linked, event.at)  # the customer's leg; the agent's comes up later
            case ami.UserEvent(user_event="DCCHold", channel=channel, linkedid=linked):
                self.held.setdefault(linked, event.at)
                self.call_of_channel[channel] = linked
            case ami.UserEvent(user_event="DCCAbandon", linkedid=linked):
                self.abandoned.add(linked)
            case ami.DialEnd(dest_channel=dest, dial_status="ANSWER", linkedid=linked) if dest.startswith(
                "PJSIP/agent"
            ):
                self.reached.add(linked)


def cpu_wait_seconds(pid: int) -> float:
    """How long the thread ``pid`` has waited on a run queue (schedstat's second field), NaN without schedstat."""
    try:
        return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def lab_settings(tmp: Path, concurrent: int) -> Settings:
    """This bench's lab: ``concurrent`` answering customers and agents, the PBX line limit to match."""
    tmp.mkdir(parents=True, exist_ok=True)
    customers = tmp / "customers.csv"
    rows = [
        "SEQUENTIAL",
        *(f"{number(i)};answer;{RING_S};{TALK_S}" for i in range(concurrent)),
    ]
    customers.write_text("\n".join(rows) + "\n", encoding="utf-8")
    base = settings_beside(tmp, PORT_OFFSET, customers)
    return dataclasses.replace(
        base,
        pbx=dataclasses.replace(base.pbx, outbound_lines=concurrent),
        lab=dataclasses.replace(base.lab, agents=concurrent, rtp_end=base.lab.rtp_start + RTP_PORTS - 1),
        calls=CallSettings(amd=False),
    )


async def measure(
    settings: Settings,
    label: str,
    workers: int,
    calls_per_worker: int,
    asterisk_pid: int,
) -> Run:
    """``workers`` agents, each dialling ``calls_per_worker`` customers in turn through ``workers`` lines."""
    clock = SystemClock()
    run_settings = dataclasses.replace(settings, pbx=dataclasses.replace(settings.pbx, outbound_lines=workers))
    marks = Marks()
    async with (
        open_store(run_settings, clock) as base,
        AmiClient(run_settings.pbx, clock=clock) as client,
    ):
        port = TimedAmi(client, clock)
        calls = CallService(ami_client=port, attempts=base.attempts, settings=run_settings, clock=clock)

        async def route() -> None:
            async for event in client.events():
                marks.note(event)
                calls.route(event)

        router = asyncio.create_task(route(), name="bench-router")
        outcomes: Counter[str] = Counter()
        total = workers * calls_per_worker

        async def worker(k: int) -> None:
            for _ in range(calls_per_worker):
                attempt = await calls.dial(normalize(number(k)), agent=f"agent{k + 1}")
                outcomes[str(attempt.outcome)] += 1
                done = sum(outcomes.values())
                if done % max(1, total // 10) == 0:
                    print(
                        f"  {label}: {done}/{total} calls ended",
                        file=sys.stderr,
                        flush=True,
                    )

        cpu0, ast0, wait0, t0 = (
            cpu_seconds(os.getpid()),
            cpu_seconds(asterisk_pid),
            cpu_wait_seconds(os.getpid()),
            time.perf_counter(),
        )
        await asyncio.gather(*(worker(k) for k in range(workers)))
        seconds = time.perf_counter() - t0
        cpu1, ast1, wait1 = cpu_seconds(os.getpid()), cpu_seconds(asterisk_pid), cpu_wait_seconds(os.getpid())
        router.cancel()
        await asyncio.gather(router, return_exceptions=True)
    redirected = {
        marks.call_of_channel[channel]: at
        for channel, at in port.redirected_at.items()
        if channel in marks.call_of_channel
    }
    # Every held call counts: one never redirected is an infinite wait, not a missing sample.
    to_answer, to_hold, answer_to_hold = [], [], []
    for linked, held_at in marks.held.items():
        at = redirected.get(linked)
        answered_at = marks.answered.get(linked, held_at)
        to_answer.append(inf if at is None else (at - answered_at).total_seconds() * 1000)
        to_hold.append(inf if at is None else (at - held_at).total_seconds() * 1000)
        answer_to_hold.append((held_at - answered_at).total_seconds() * 1000)
    return Run(
        label,
        total,
        dict(outcomes),
        to_answer,
        to_hold,
        answer_to_hold,
        len(redirected),
        port.failed,
        len(marks.abandoned),
        len(marks.reached),
        seconds,
        cpu1 - cpu0,
        ast1 - ast0,
        wait1 - wait0,
    )


async def run_all(calls_per_line: int, concurrent: int, tmp: Path) -> list[Run]:
    """Bring this bench's lab up, measure 8 lines then ``concurrent`` calls, take the lab down."""
    settings = lab_settings(tmp, concurrent)
    lab = Lab(settings)
    print(
        f"agent connect: starting a lab with {concurrent} customers and agents on ports +{PORT_OFFSET}",
        file=sys.stderr,
        flush=True,
    )
    status = await asyncio.to_thread(lab.up)
    try:
        asterisk_pid = next(p.pid for p in status.processes if p.program == ASTERISK)
        return [
            await measure(
                settings,
                f"{LINES} lines",
                min(LINES, concurrent),
                calls_per_line,
                asterisk_pid,
            ),
            await measure(settings, f"{concurrent} concurrent", concurrent, 1, asterisk_pid),
        ]
    finally:
        await asyncio.to_thread(lab.down)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls-per-line",
        type=int,
        default=5,
        help="calls each of the 8 lines places in the 8-line run",
    )
    parser.add_argument(
        "--concurrent",
        type=int,
        default=200,
        help="calls placed at once in the second run",
    )
    args = parser.parse_args(argv)
    configure(level="warning")
    with tempfile.TemporaryDirectory(prefix="agent-connect-") as tmp:
        runs = asyncio.run(run_all(args.calls_per_line, args.concurrent, Path(tmp)))
    for run in runs:
        print(run.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
