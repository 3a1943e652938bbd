"""Event throughput of our AMI layer next to bare panoramisk, on one recorded byte stream.

Run: ``.venv/bin/python bench/ami_events.py [--calls N]``

The stream is ``bench/data/ami_capture.txt`` when present (a capture from the real
Asterisk: its events are replayed, banner and action replies dropped), otherwise a
generated one: N outbound calls as Asterisk 16 reports them (Local;1/Local;2,
carrier leg, Newstate, DialBegin/DialEnd, VarSet, UserEvent, bridge, Hangup), a
share of them with Chinese caller names. A loopback server sends it, as fast as
the socket takes it, to (a) :class:`AmiClient` with one ``events()`` consumer and
(b) a bare panoramisk ``Manager`` with one ``'*'`` handler, in alternating rounds (``--rounds``,
best round of each kept, so a burst of other load on the machine does not decide the ratio); the
script prints events per wall-clock second and per CPU second (this process's, server included:
the fairer figure on a shared machine) for each, and their ratios. It also measures the memory of a
:class:`Reconciled` snapshot of 10 000 live channels (the only channel table the
AMI layer keeps). Not a test: no assertions, numbers vary with machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from panoramisk import Manager

from dialer.ami.client import AmiClient
from dialer.ami.codec import Message, MessageKind, Parser
from dialer.ami.events import LinkDown, LinkUp, Reconciled
from dialer.settings import PbxSettings

CAPTURE = Path(__file__).resolve().parent / "data" / "ami_capture.txt"
USER, SECRET = "bench", "bench-secret"
CHUNK = 64 * 1024
SNAPSHOT_CHANNELS = 10_000
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "赵磊", "Zhou Jie", ""]


def _wire(*pairs: tuple[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("utf-8") + b"\r\n"


def _chan(channel: str, uid: str, linked: str, state: tuple[str, str], num: str, name: str) -> list[tuple[str, str]]:
    return [
        ("Privilege", "call,all"),
        ("Channel", channel),
        ("ChannelState", state[0]),
        ("ChannelStateDesc", state[1]),
        ("CallerIDNum", num),
        ("CallerIDName", name or "<unknown>"),
        ("ConnectedLineNum", "<unknown>"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "zh"),
        ("AccountCode", ""),
        ("Context", "dcc-outbound"),
        ("Exten", num),
        ("Priority", "1"),
        ("Uniqueid", uid),
        ("Linkedid", linked),
    ]


def generate(calls: int, rng: random.Random) -> list[bytes]:
    """Events of ``calls`` answered-or-not outbound calls, interleaved as a busy PBX would."""
    per_call: list[list[bytes]] = []
    for n in range(calls):
        call = f"call-{n:06d}"
        num = f"138{rng.randrange(10**8):08d}"
        name = rng.choice(NAMES)
        l1, l2, carrier = (
            f"Local/{num}@dcc-outbound-{n:08x};1",
            f"Local/{num}@dcc-outbound-{n:08x};2",
            f"PJSIP/carrier-{n:08x}",
        )
        down, ring, up = ("0", "Down"), ("5", "Ringing"), ("6", "Up")
        answered = rng.random() < 0.6
        ev = [
            _wire(("Event", "Newchannel"), *_chan(l1, call, call, down, num, name)),
            _wire(("Event", "Newchannel"), *_chan(l2, f"{call}-2", call, down, num, name)),
            _wire(
                ("Event", "VarSet"),
                *_chan(l2, f"{call}-2", call, down, num, name),
                ("Variable", "DCC_CALL"),
                ("Value", call),
            ),
            _wire(
                ("Event", "DialBegin"),
                *_chan(l2, f"{call}-2", call, up, num, name),
                ("DestChannel", carrier),
                ("DestUniqueid", f"{call}-c"),
                ("DialString", f"{num}@carrier"),
            ),
            _wire(("Event", "Newchannel"), *_chan(carrier, f"{call}-c", call, down, num, name)),
            _wire(("Event", "Newstate"), *_chan(carrier, f"{call}-c", call, ring, num, name)),
        ]
        if answered:
            ev += [
                _wire(("Event", "Newstate"), *_chan(carrier, f"{call}-c", call, up, num, name)),
                _wire(
                    ("Event", "DialEnd"),
                    *_chan(l2, f"{call}-2", call, up, num, name),
                    ("DestChannel", carrier),
                    ("DestUniqueid", f"{call}-c"),
                    ("DialStatus", "ANSWER"),
                ),
                _wire(
                    ("Event", "BridgeEnter"),
                    *_chan(carrier, f"{call}-c", call, up, num, name),
                    ("BridgeUniqueid", f"b-{call}"),
                    ("BridgeNumChannels", "1"),
                ),
                _wire(("Event", "UserEvent"), *_chan(l1, call, call, up, num, name), ("UserEvent", "DCCHold")),
                _wire(
                    ("Event", "VarSet"),
                    *_chan(l1, call, call, up, num, name),
                    ("Variable", "MIXMONITOR_FILENAME"),
                    ("Value", f"/var/rec/{call}.wav"),
                ),
                _wire(
                    ("Event", "BridgeLeave"),
                    *_chan(carrier, f"{call}-c", call, up, num, name),
                    ("BridgeUniqueid", f"b-{call}"),
                    ("BridgeNumChannels", "0"),
                ),
            ]
            cause, txt = "16", "Normal Clearing"
        else:
            ev.append(
                _wire(
                    ("Event", "DialEnd"),
                    *_chan(l2, f"{call}-2", call, up, num, name),
                    ("DestChannel", carrier),
                    ("DestUniqueid", f"{call}-c"),
                    ("DialStatus", "BUSY"),
                )
            )
            cause, txt = "17", "User busy"
        for channel, uid in ((carrier, f"{call}-c"), (l2, f"{call}-2"), (l1, call)):
            ev.append(
                _wire(
                    ("Event", "Hangup"), *_chan(channel, uid, call, up, num, name), ("Cause", cause), ("Cause-txt", txt)
                )
            )
        per_call.append(ev)
    # Interleave: a few calls in flight at once, like a dialer with several lines.
    out: list[bytes] = []
    lanes = 8
    for start in range(0, len(per_call), lanes):
        group = per_call[start : start + lanes]
        for step in range(max(len(g) for g in group)):
            out.extend(g[step] for g in group if step < len(g))
    return out


def from_capture(path: Path) -> list[bytes]:
    """The events of a recorded AMI byte stream, each re-serialized; replies and banner dropped."""
    items = Parser().feed(path.read_bytes())
    return [m.to_bytes() for m in items if isinstance(m, Message) and m.kind is MessageKind.EVENT]


class Replayer:
    """A loopback AMI peer: logs the client in, then streams the events when told to."""

    def __init__(self, stream: bytes, snapshot: bytes) -> None:
        self.stream = stream
        self.snapshot = snapshot
        self.go = asyncio.Event()
        self.started_at = 0.0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        writer.write(b"Asterisk Call Manager/5.0.6\r\n")
        streamer = asyncio.create_task(self._stream(writer))
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                fields = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
                aid = ("ActionID", fields.get("ActionID", ""))
                action = fields.get("Action", "").lower()
                if action == "login":
                    writer.write(_wire(("Response", "Success"), aid, ("Message", "Authentication accepted")))
                    writer.write(
                        _wire(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted"))
                    )
                elif action == "coreshowchannels":
                    writer.write(
                        _wire(("Response", "Success"), aid, ("EventList", "start"), ("Message", "Channels will follow"))
                    )
                    writer.write(self.snapshot.replace(b"ActionID: SNAP", f"ActionID: {aid[1]}".encode()))
                else:
                    writer.write(_wire(("Response", "Success"), aid, ("Ping", "Pong")))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            streamer.cancel()

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        await self.go.wait()
        self.started_at = time.perf_counter()
        for i in range(0, len(self.stream), CHUNK):
            writer.write(self.stream[i : i + CHUNK])
            await writer.drain()


def snapshot_bytes(channels: int) -> bytes:
    parts = [
        _wire(
            ("Event", "CoreShowChannel"),
            ("ActionID", "SNAP"),
            *_chan(f"PJSIP/carrier-{i:08x}", f"u-{i}", f"call-{i}", ("6", "Up"), f"138{i:08d}", NAMES[i % len(NAMES)])[
                1:
            ],
            ("Application", "Dial"),
            ("ApplicationData", "PJSIP/agent1"),
            ("Duration", "00:01:23"),
            ("BridgeId", f"b-{i}"),
        )
        for i in range(channels)
    ]
    parts.append(
        _wire(
            ("Event", "CoreShowChannelsComplete"),
            ("ActionID", "SNAP"),
            ("EventList", "Complete"),
            ("ListItems", str(channels)),
        )
    )
    return b"".join(parts)


def pbx_for(port: int) -> PbxSettings:
    return dataclasses.replace(
        PbxSettings(),
        ami_host="127.0.0.1",
        ami_port=port,
        ami_user=USER,
        ami_secret=SECRET,
        ping_interval_s=3600.0,
        action_timeout_s=30.0,
        # A periodic CoreShowChannels of the 10 000-channel snapshot would land in the timed stream.
        reconcile_interval_s=0.0,
    )


# A stream shorter than this is replayed (a capture of a few calls would time mostly noise).
MIN_EVENTS = 100_000
# Bare panoramisk silently loses events; the run stops waiting after this long without a new one.
QUIET_S = 2.0


async def progress(label: str, count: Callable[[], int], total: int, done: asyncio.Event) -> None:
    while not done.is_set():
        await asyncio.sleep(1.0)
        print(f"  {label}: {count():>9,} / {total:,} events", flush=True)


@dataclasses.dataclass(frozen=True)
class Round:
    """One consumer's run over the stream: events delivered, wall and CPU seconds from the first byte."""

    delivered: int
    wall_s: float
    cpu_s: float

    @property
    def per_wall_s(self) -> float:
        return self.delivered / self.wall_s

    @property
    def per_cpu_s(self) -> float:
        return self.delivered / self.cpu_s


async def run_ours(stream: bytes, total: int) -> Round:
    server = Replayer(stream, snapshot_bytes(0))
    await server.start()
    seen = 0
    done = asyncio.Event()
    async with AmiClient(pbx_for(server.port)) as ami:
        events = ami.events()
        async for ev in events:  # LinkUp, FullyBooted, Reconciled of the connect
            if isinstance(ev, Reconciled):
                break
        reporter = asyncio.create_task(progress("AmiClient ", lambda: seen, total, done))
        cpu = time.process_time()
        server.go.set()
        async for ev in events:
            if isinstance(ev, (LinkUp, LinkDown, Reconciled)):
                # A link event means the connection dropped mid-run: a runtime failure, not a wrong type.
                raise RuntimeError(f"link event during the benchmark: {ev}")  # noqa: TRY004 - a dropped link, not a type error
            seen += 1
            if seen == total:
                break
        elapsed = time.perf_counter() - server.started_at
        cpu = time.process_time() - cpu
        done.set()
        await reporter
    await server.close()
    return Round(total, elapsed, cpu)


async def run_panoramisk(stream: bytes, total: int) -> Round:
    """Events/s of bare panoramisk, and how many events it delivered (it can lose some: defects 2, 3)."""
    server = Replayer(stream, snapshot_bytes(0))
    await server.start()
    seen = 0
    finished = asyncio.Event()
    booted = asyncio.Event()

    last_event_at = 0.0
    last_event_cpu = 0.0

    def on_event(_manager: Manager, message: object) -> None:
        nonlocal seen, last_event_at, last_event_cpu
        if getattr(message, "event", "") == "FullyBooted":
            booted.set()
            return
        seen += 1
        last_event_at = time.perf_counter()
        last_event_cpu = time.process_time()
        if seen == total:
            finished.set()

    manager = Manager(
        host="127.0.0.1",
        port=server.port,
        username=USER,
        secret=SECRET,
        ping_delay=3600,
        ping_interval=3600,
        loop=asyncio.get_running_loop(),
    )
    manager.register_event("*", on_event)
    await manager.connect()
    await booted.wait()
    reporter = asyncio.create_task(progress("panoramisk", lambda: seen, total, finished))
    cpu = time.process_time()
    server.go.set()
    last_seen = -1
    while not finished.is_set():
        try:
            await asyncio.wait_for(finished.wait(), QUIET_S)
        except TimeoutError:
            if seen == last_seen:  # nothing new for QUIET_S: whatever is missing was lost
                break
            last_seen = seen
    elapsed = last_event_at - server.started_at
    finished.set()
    await reporter
    manager.close()
    await server.close()
    return Round(seen, elapsed, last_event_cpu - cpu)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Best rounds of (ours, panoramisk): events per wall second and per CPU second; fewest delivered."""

    wall: tuple[float, float]
    cpu: tuple[float, float]
    delivered: tuple[int, int]


async def compare(stream: bytes, total: int, rounds: int) -> Comparison:
    """Alternate ``rounds`` runs of each consumer over ``stream`` and keep each one's best."""
    ours: list[Round] = []
    theirs: list[Round] = []
    for n in range(1, rounds + 1):
        print(f"round {n}/{rounds}: (a) AmiClient -> events() consumer", flush=True)
        ours.append(await run_ours(stream, total))
        print(f"round {n}/{rounds}: (b) bare panoramisk Manager -> '*' handler", flush=True)
        theirs.append(await run_panoramisk(stream, total))
    return Comparison(
        wall=(max(r.per_wall_s for r in ours), max(r.per_wall_s for r in theirs)),
        cpu=(max(r.per_cpu_s for r in ours), max(r.per_cpu_s for r in theirs)),
        delivered=(min(r.delivered for r in ours), min(r.delivered for r in theirs)),
    )


async def snapshot_memory() -> tuple[float, float]:
    """MB held by the ChannelInfo tuple of SNAPSHOT_CHANNELS live channels, and seconds to fetch and parse it."""
    server = Replayer(b"", snapshot_bytes(SNAPSHOT_CHANNELS))
    await server.start()
    async with AmiClient(pbx_for(server.port)) as ami:
        started = time.perf_counter()
        channels = await ami.core_show_channels()
        took = time.perf_counter() - started
        del channels
        await asyncio.sleep(0)  # let the finished reply's last callbacks run, so only the result is held
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        channels = await ami.core_show_channels()
        await asyncio.sleep(0)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        if len(channels) != SNAPSHOT_CHANNELS:
            raise RuntimeError(f"expected {SNAPSHOT_CHANNELS} channels, got {len(channels)}")
    await server.close()
    return held / 1e6, took


def bench_events(calls: int, seed: int = 2026) -> tuple[list[bytes], str]:
    """The events to time and where they came from: the lab's capture if there is one, else a generated stream."""
    if CAPTURE.exists():
        captured = from_capture(CAPTURE)
        # A capture of a few calls is too short to time: replay it until the stream is long enough.
        events = captured * max(1, MIN_EVENTS // len(captured))
        return events, f"capture {CAPTURE} ({len(captured):,} events, replayed {len(events) // len(captured)}x)"
    return generate(calls, random.Random(seed)), f"generated: {calls:,} calls"


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=12_000, help="generated calls when no capture exists")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each consumer; the best counts")
    args = parser.parse_args(argv)
    events, source = bench_events(args.calls)
    stream = b"".join(events)
    print(f"stream: {source}, {len(events):,} events, {len(stream) / 1e6:.1f} MB", flush=True)
    best = await compare(stream, len(events), args.rounds)
    wall, cpu = best.wall, best.cpu
    print(f"\nbest of {args.rounds} rounds each")
    print(f"{'consumer':<34}{'events/s':>12}{'events/CPU-s':>14}")
    print(f"{'AmiClient events()':<34}{wall[0]:>12,.0f}{cpu[0]:>14,.0f}")
    print(f"{'panoramisk 1.4 bare * handler':<34}{wall[1]:>12,.0f}{cpu[1]:>14,.0f}")
    print(f"{'ratio ours / panoramisk':<34}{wall[0] / wall[1]:>12.2f}{cpu[0] / cpu[1]:>14.2f}")
    print(f"{'events delivered: ours':<34}{best.delivered[0]:>12,} of {len(events):,}")
    print(f"{'events delivered: panoramisk':<34}{best.delivered[1]:>12,} of {len(events):,}")
    print(f"\nsnapshot of {SNAPSHOT_CHANNELS:,} live channels (CoreShowChannels -> ChannelInfo) ...", flush=True)
    mb, took = await snapshot_memory()
    print(f"{'memory held':<34}{mb:>11.1f} MB ({mb * 1e6 / SNAPSHOT_CHANNELS:,.0f} bytes/channel)")
    print(f"{'time to fetch and parse':<34}{took:>11.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
