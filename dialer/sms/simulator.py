"""A real SMSC on loopback for tests and trials: smpp34's Server plus a store-and-forward ledger.

It behaves like an operator's SMSC where it matters to the dialer: it accepts submits and
answers with its own message ids, sends a delivery receipt per part (echoing the
user_message_reference), queues receipts while no ESME is bound and sends them after the
next bind, survives being killed (the ledger is an append-only JSONL file written before
each submit is acknowledged), and can play customers: a script maps numbers to a reply
text (sent as an MO message after the last part reaches them) or to a failed delivery.

Run it as ``python -m dialer.sms.simulator --port 2775 --ledger var/smsc.jsonl [--script s.json]``;
it prints ``READY <port>`` once it listens. The ledger is what tests count ("sent exactly once").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import smpp34

from dialer.domain.sms.encoding import DataCoding
from dialer.sms.smpp import TLV_RECEIPTED_MESSAGE_ID, TLV_USER_MESSAGE_REFERENCE

_RECEIPT = "id:{id} sub:001 dlvrd:{dlvrd} submit date:0000000000 done date:0000000000 stat:{stat} err:{err} text:"
ESM_RECEIPT = 0x04
_UNBIND_WAIT_S = 1.0
_REDELIVER_S = 0.2


@dataclass(frozen=True, slots=True)
class SimScript:
    """How simulated handsets behave: replies by number (digits, no +), numbers that never receive."""

    replies: Mapping[str, str] = field(default_factory=dict)
    undeliverable: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: Path | None) -> SimScript:
        """Read ``{"replies": {"8613800138000": "T"}, "undeliverable": [...]}``; no file, no behaviour."""
        if path is None:
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(dict(data.get("replies", {})), frozenset(data.get("undeliverable", ())))


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """Every record the SMSC wrote, oldest first (a torn last line from a kill is skipped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class SmscSimulator:
    """The SMSC: run it in-process (``await start()``) or as a subprocess (``main``)."""

    def __init__(self, host: str, port: int, ledger: Path, script: SimScript | None = None) -> None:
        self.host, self.port = host, port
        self._ledger_path = ledger
        self._script = script or SimScript()
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._pusher: asyncio.Task[None] | None = None
        self._sessions: dict[str, Any] = {}
        self._ledger: TextIO | None = None
        # Receipts (and replies) not yet handed to an ESME, in order: survives a restart via the ledger.
        self._pending: list[dict[str, Any]] = []
        self._replied: set[str] = set()
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Load the ledger (queued receipts and replies survive a kill), then listen."""
        self._restore()
        self._ledger = self._ledger_path.open("a", encoding="utf-8")
        self._server = smpp34.Server(self.host, self.port, system_id="DCCSIM")
        await self._server.start()
        self._task = asyncio.create_task(self._run(), name="smsc-sim")
        self._pusher = asyncio.create_task(self._push(), name="smsc-sim-push")

    async def stop(self) -> None:
        """Close the server and every bound session."""
        for task in (self._task, self._pusher):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._pusher) if t is not None), return_exceptions=True)
        # A session whose ESME already left waits ~30 s for an unbind_resp that never comes: bound the wait.
        await asyncio.gather(
            *(_within(e.unbind(), _UNBIND_WAIT_S) for e in self._sessions.values()), return_exceptions=True
        )
        self._sessions.clear()
        await self._server.stop()
        if self._ledger is not None:
            self._ledger.close()

    async def send_mo(self, sender: str, text: str) -> None:
        """Queue an MO message from ``sender`` (digits) to the first bound ESME."""
        self._queue({"kind": "mo", "from": sender, "text": text, "key": uuid.uuid4().hex})

    def _restore(self) -> None:
        done: set[str] = set()
        queued: list[dict[str, Any]] = []
        for record in read_ledger(self._ledger_path):
            if record["kind"] in ("dlr", "mo"):
                queued.append(record)
            elif record["kind"] == "pushed":
                done.add(record["key"])
            if record["kind"] == "mo":
                self._replied.add(record["from"])
        self._pending = [r for r in queued if r["key"] not in done]

    def _write(self, record: Mapping[str, Any]) -> None:
        assert self._ledger is not None
        self._ledger.write(json.dumps(record, ensure_ascii=False) + "\n")
        # flush, not fsync: the OS keeps the line through a kill of this process, which is what is simulated.
        self._ledger.flush()

    def _queue(self, record: dict[str, Any]) -> None:
        self._write(record)
        self._pending.append(record)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            event = await self._server.next()
            if isinstance(event, smpp34.Esme):
                self._sessions[event.session_id] = event
                self._wake.set()
            elif isinstance(event, smpp34.Unbound):
                self._sessions.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                self._on_submit(event)

    def _on_submit(self, event: Any) -> None:
        to = event.destination_addr
        smsc_id = uuid.uuid4().hex[:16]
        tlvs = {t.tag: bytes(t.value) for t in event.tlvs}
        ref = tlvs.get(TLV_USER_MESSAGE_REFERENCE, b"")
        payload = bytes(event.short_message)
        seq, total = 1, 1
        if event.esm_class & 0x40 and len(payload) >= 6:
            total, seq = payload[4], payload[5]
        text = payload[1 + payload[0] :] if event.esm_class & 0x40 else payload
        body = text.decode("utf-16-be", errors="replace") if event.data_coding == DataCoding.UCS2 else text.hex()
        # Written (and flushed) before the acknowledgement: a kill after this line still counts it.
        self._write(
            {
                "kind": "submit",
                "id": smsc_id,
                "to": to,
                "ref": ref.hex(),
                "seq": seq,
                "total": total,
                "coding": event.data_coding,
                "text": body,
                "udhi": bool(event.esm_class & 0x40),
            }
        )
        event.accept(smsc_id)
        delivered = to not in self._script.undeliverable
        self._queue(
            {
                "kind": "dlr",
                "key": smsc_id,
                "id": smsc_id,
                "to": to,
                "ref": ref.hex(),
                "stat": "DELIVRD" if delivered else "UNDELIV",
                "err": "000" if delivered else "001",
            }
        )
        reply = self._script.replies.get(to)
        if reply is not None and seq == total and to not in self._replied:
            self._replied.add(to)
            self._queue({"kind": "mo", "key": uuid.uuid4().hex, "from": to, "text": reply})

    async def _push(self) -> None:
        """Hand queued receipts and replies to a bound ESME, oldest first; keep them while none is bound.

        A refused deliver_sm (the ESME's inbound queue is full) is retried shortly, like a real SMSC does.
        """
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                esme = next((e for e in self._sessions.values() if e.can_receive), None)
                if esme is None:
                    break
                record = self._pending[0]
                try:
                    resp = await self._deliver(esme, record)
                except Exception:  # that session died under us: keep the record, try another bound one
                    self._sessions = {k: v for k, v in self._sessions.items() if v is not esme}
                    continue
                if not resp.is_success:
                    await asyncio.sleep(_REDELIVER_S)
                    continue
                self._pending.pop(0)
                self._write({"kind": "pushed", "key": record["key"]})

    async def _deliver(self, esme: Any, record: Mapping[str, Any]) -> Any:
        if record["kind"] == "dlr":
            text = _RECEIPT.format(
                id=record["id"],
                dlvrd="001" if record["stat"] == "DELIVRD" else "000",
                stat=record["stat"],
                err=record["err"],
            )
            tlvs = [smpp34.Tlv(TLV_RECEIPTED_MESSAGE_ID, record["id"].encode() + b"\x00")]
            if record["ref"]:
                tlvs.append(smpp34.Tlv(TLV_USER_MESSAGE_REFERENCE, bytes.fromhex(record["ref"])))
            return await esme.deliver_sm(
                "",
                text.encode("ascii"),
                source_addr=record["to"],
                source_addr_ton=1,
                source_addr_npi=1,
                esm_class=ESM_RECEIPT,
                tlvs=tlvs,
            )
        text = record["text"]
        ascii_only = all(ord(c) < 128 for c in text)
        return await esme.deliver_sm(
            "",
            text.encode("ascii") if ascii_only else text.encode("utf-16-be"),
            source_addr=record["from"],
            source_addr_ton=1,
            source_addr_npi=1,
            data_coding=DataCoding.GSM7 if ascii_only else DataCoding.UCS2,
        )


async def _serve(args: argparse.Namespace) -> None:
    sim = SmscSimulator(
        args.host, args.port, Path(args.ledger), SimScript.load(Path(args.script) if args.script else None)
    )
    await sim.start()
    print(f"READY {args.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main() -> None:
    """Command line entry: ``python -m dialer.sms.simulator``."""
    parser = argparse.ArgumentParser(description="SMSC simulator (SMPP 3.4) for DCC Dialer tests and trials")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ledger", required=True, help="append-only JSONL record of everything the SMSC did")
    parser.add_argument("--script", help="JSON: replies by number and undeliverable numbers")
    try:
        asyncio.run(_serve(parser.parse_args()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()


async def _within(work: Awaitable[object], seconds: float) -> object:
    async with asyncio.timeout(seconds):
        return await work
