"""A deliberately tiny AMI client for checking the PBX contract from tests.

Not the product's AMI layer (that is ``dialer/ami/``): just enough to log in, send an
action, and collect every event in arrival order, optionally keeping the raw bytes so
a capture can feed the AMI benchmark.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

Message = dict[str, str]
_TERMINATOR = b"\r\n\r\n"


class RawAmiError(Exception):
    """The AMI answered an action with an error, or did not answer in time."""


def parse(block: bytes) -> Message:
    """One AMI message (without its blank line) as a dict; repeated keys keep the last value."""
    msg: Message = {}
    for line in block.decode("utf-8").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            msg[key.strip()] = value.strip()
    return msg


@dataclass
class RawAmi:
    """One logged-in AMI connection; every event lands in ``events``."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    capture: bytearray | None = None
    events: list[Message] = field(default_factory=list)
    _replies: dict[str, asyncio.Future[Message]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, host: str, port: int, user: str, secret: str, capture: bytearray | None = None) -> RawAmi:
        reader, writer = await asyncio.open_connection(host, port)
        banner = await reader.readline()
        if capture is not None:
            capture += banner
        ami = cls(reader, writer, capture)
        ami._task = asyncio.create_task(ami._read())
        reply = await ami.action("Login", Username=user, Secret=secret)
        if reply.get("Response") != "Success":
            await ami.close()
            raise RawAmiError(f"login refused: {reply}")
        return ami

    async def _read(self) -> None:
        buffer = b""
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                return
            if self.capture is not None:
                self.capture += chunk
            buffer += chunk
            while _TERMINATOR in buffer:
                block, buffer = buffer.split(_TERMINATOR, 1)
                msg = parse(block)
                future = self._replies.pop(msg.get("ActionID", ""), None) if "Response" in msg else None
                if future is not None and not future.done():
                    future.set_result(msg)
                elif "Event" in msg:
                    self.events.append(msg)
                    self._changed.set()

    async def action(self, name: str, timeout: float = 5.0, **fields: str) -> Message:
        """Send ``name`` with ``fields`` and return its Response message."""
        action_id = f"t{next(self._ids)}"
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._replies[action_id] = future
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        for key, value in fields.items():
            for item in value.split("\n") if key == "Variable" else [value]:
                lines.append(f"{key}: {item}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        await self.writer.drain()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._replies.pop(action_id, None)
            raise RawAmiError(f"no reply to {name} within {timeout} s") from None

    async def wait_for(self, predicate: Callable[[Message], bool], timeout: float, start: int = 0) -> Message:
        """The first event from index ``start`` on that satisfies ``predicate``."""
        async with asyncio.timeout(timeout):
            seen = start
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

    def of_call(self, linkedid: str) -> list[Message]:
        """Every event so far whose Linkedid (or, for OriginateResponse, Uniqueid) is ``linkedid``."""
        return [e for e in self.events if e.get("Linkedid") == linkedid or e.get("Uniqueid") == linkedid]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass
