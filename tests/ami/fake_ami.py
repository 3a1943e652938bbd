"""An in-process fake Asterisk AMI on 127.0.0.1, speaking Asterisk 16's wire format.

It reads actions with its own minimal parser (not our codec, so a codec bug cannot
hide itself) and answers like Asterisk 16.28 does: banner, Login with ActionID
and FullyBooted, async Originate ("successfully queued" then OriginateResponse),
Ping/Pong, CoreShowChannels as an event list, Command output. Faults on demand:
drop the link, go silent (a half-open peer), write byte by byte, leave chosen
actions unanswered, refuse the login, answer chosen actions with an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

BANNER = b"Asterisk Call Manager/5.0.6\r\n"


def wire(*pairs: tuple[str, str]) -> bytes:
    """One AMI message as Asterisk writes it."""
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("utf-8") + b"\r\n"


def event(name: str, *pairs: tuple[str, str]) -> bytes:
    return wire(("Event", name), ("Privilege", "call,all"), *pairs)


def channel_fields(
    channel: str, uniqueid: str, linkedid: str = "", name: str = "", num: str = ""
) -> list[tuple[str, str]]:
    """The channel snapshot Asterisk 16 puts in every channel event."""
    return [
        ("Channel", channel),
        ("ChannelState", "6"),
        ("ChannelStateDesc", "Up"),
        ("CallerIDNum", num or "<unknown>"),
        ("CallerIDName", name or "<unknown>"),
        ("ConnectedLineNum", "<unknown>"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", "dcc-answered"),
        ("Exten", "s"),
        ("Priority", "1"),
        ("Uniqueid", uniqueid),
        ("Linkedid", linkedid or uniqueid),
    ]


class FakeAmi:
    """The peer; see the module docstring. ``actions`` records every action received, in order."""

    def __init__(self, *, user: str = "dialer", secret: str = "s3cret-pw") -> None:
        self.user = user
        self.secret = secret
        self.actions: list[dict[str, list[str]]] = []
        self.connections = 0
        self.channels: list[list[tuple[str, str]]] = []
        self.command_output: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}
        self.unanswered: set[str] = set()
        self.reject_login = False
        self.fully_booted = True
        self.silent = False
        self.byte_by_byte = False
        self.after_login: list[bytes] = []
        self.after_snapshot: list[bytes] = []
        self.on_action: Callable[[dict[str, list[str]]], None] | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        self.drop()
        # Aborted transports end every handler's read; cancelling them instead upsets asyncio.streams.
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    # -- faults and injection -------------------------------------------------------------

    def drop(self) -> None:
        """Abort every connection at once (what a crashed Asterisk or a cut cable looks like)."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def send(self, data: bytes) -> None:
        """Write raw bytes to every connected client."""
        for writer in list(self._writers):
            await self._write(writer, data)

    async def send_split(self, data: bytes, at: int, pause: float = 0.05) -> None:
        """Write ``data`` as two TCP segments cut at byte ``at``, paused so they arrive as two reads."""
        for writer in list(self._writers):
            writer.write(data[:at])
            await writer.drain()
        await asyncio.sleep(pause)
        await self.send(data[at:])

    def names(self, action: str | None = None) -> list[str]:
        """Names of the actions received (optionally only those called ``action``)."""
        got = [a["action"][0] for a in self.actions]
        return got if action is None else [n for n in got if n.lower() == action.lower()]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - an arbitrary predicate, often over state the fake does not own
                await asyncio.sleep(0.005)

    # -- the protocol -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        self._writers.append(writer)
        try:
            await self._write(writer, BANNER)
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                action = _parse_action(raw)
                self.actions.append(action)
                if self.on_action is not None:
                    self.on_action(action)
                if self.silent or action["action"][0].lower() in self.unanswered:
                    continue
                await self._answer(writer, action)
        finally:
            self._handlers.discard(task)
            if writer in self._writers:
                self._writers.remove(writer)
            writer.transport.abort()

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if writer.transport.is_closing():
            return
        if not self.byte_by_byte:
            writer.write(data)
            await writer.drain()
            return
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0)

    async def _answer(self, writer: asyncio.StreamWriter, action: dict[str, list[str]]) -> None:
        name = action["action"][0].lower()
        aid = ("ActionID", action.get("actionid", [""])[0])
        if name in self.errors:
            await self._write(writer, wire(("Response", "Error"), aid, ("Message", self.errors[name])))
        elif name == "login":
            ok = (
                action.get("username") == [self.user]
                and action.get("secret") == [self.secret]
                and not self.reject_login
            )
            if not ok:
                await self._write(writer, wire(("Response", "Error"), aid, ("Message", "Authentication failed")))
                return
            await self._write(writer, wire(("Response", "Success"), aid, ("Message", "Authentication accepted")))
            if not self.fully_booted:
                return
            await self._write(
                writer,
                event("FullyBooted", ("Uptime", "12"), ("LastReload", "12"), ("Status", "Fully Booted")).replace(
                    b"call,all", b"system,all"
                ),
            )
            for data in self.after_login:
                await self._write(writer, data)
        elif name == "ping":
            await self._write(
                writer, wire(("Response", "Success"), aid, ("Ping", "Pong"), ("Timestamp", "1764407400.000000"))
            )
        elif name == "originate":
            await self._write(writer, wire(("Response", "Success"), aid, ("Message", "Originate successfully queued")))
            channel_id = action.get("channelid", [""])[0]
            await self._write(
                writer,
                wire(
                    ("Event", "OriginateResponse"),
                    ("Privilege", "call,all"),
                    aid,
                    ("Response", "Success"),
                    ("Channel", action["channel"][0] + ";1"),
                    ("Context", action.get("context", [""])[0]),
                    ("Exten", action.get("exten", [""])[0]),
                    ("Reason", "4"),
                    ("Uniqueid", channel_id),
                    ("CallerIDNum", "<unknown>"),
                    ("CallerIDName", "<unknown>"),
                ),
            )
        elif name == "coreshowchannels":
            await self._write(
                writer,
                wire(("Response", "Success"), aid, ("EventList", "start"), ("Message", "Channels will follow")),
            )
            for fields in self.channels:
                await self._write(writer, wire(("Event", "CoreShowChannel"), aid, *fields))
            # One write, so the events that follow the list arrive in the same read as its end.
            await self._write(
                writer,
                wire(
                    ("Event", "CoreShowChannelsComplete"),
                    aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self.channels))),
                )
                + b"".join(self.after_snapshot),
            )
        elif name == "command":
            lines = self.command_output.get(action.get("command", [""])[0], [])
            await self._write(
                writer,
                wire(
                    ("Response", "Success"),
                    aid,
                    ("Message", "Command output follows"),
                    *(("Output", line) for line in lines),
                ),
            )
        else:
            await self._write(writer, wire(("Response", "Success"), aid, ("Message", f"{action['action'][0]} done")))


def _parse_action(raw: bytes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if ": " in line:
            key, value = line.split(": ", 1)
            out.setdefault(key.lower(), []).append(value)
    return out


def core_show_channel(channel: str, uniqueid: str, linkedid: str, duration: str = "00:00:07") -> list[tuple[str, str]]:
    """One CoreShowChannel entry's fields, as Asterisk 16 lists them."""
    return [
        *channel_fields(channel, uniqueid, linkedid),
        ("Application", "Wait"),
        ("ApplicationData", "2"),
        ("Duration", duration),
        ("BridgeId", ""),
    ]
