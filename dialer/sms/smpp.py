"""SMPP 3.4 driver: the only importer of smpp34 in the dialer (besides the test-peer SMSC).

smpp34's Rust core does the PDU codec, the sequence window and enquire_link; this module
adds what a dealer needs on top: one transceiver bind kept alive (reconnect with backoff,
a periodic liveness check), submits that say clearly whether a part was taken, refused,
or is ambiguous, and receipts / MO messages turned into :mod:`dialer.domain.sms.driver` events.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import smpp34

from dialer.domain.sms.driver import DriverEvent, Inbound, OutPart, Receipt
from dialer.domain.sms.encoding import decode
from dialer.domain.sms.errors import GatewayUnavailable, SubmitAmbiguous, SubmitRejected
from dialer.logs import get_logger
from dialer.settings import SmsSettings
from dialer.tasks import wait_event

log = get_logger(__name__)

ESM_UDHI = 0x40  # the short message starts with a user data header
ESM_RECEIPT = 0x04  # deliver_sm is a delivery receipt (SMPP 3.4 5.2.12)
TON_INTERNATIONAL, NPI_ISDN = 1, 1
REGISTERED_DELIVERY_FINAL = 1  # ask for a receipt on final outcome, success or failure
# The optional-parameter tags we read and write, typed once: smpp34 re-exports its TLV_* constants
# with a loop at import time, which a type checker cannot follow.
TLV_RECEIPTED_MESSAGE_ID: int = smpp34._smpp34.TLV_RECEIPTED_MESSAGE_ID
TLV_MESSAGE_STATE: int = smpp34._smpp34.TLV_MESSAGE_STATE
TLV_USER_MESSAGE_REFERENCE: int = smpp34._smpp34.TLV_USER_MESSAGE_REFERENCE
# SMPP 3.4 message_state values (5.3.2.35) a receipt may carry as a TLV.
_STATE_NAMES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_RECEIPT_FIELD = re.compile(r"(\w+(?: date)?):(\S*)")
_EVENT_QUEUE = 10000


def parse_receipt(text: str, tlvs: dict[int, bytes], handset: str) -> Receipt | None:
    """A receipt from the conventional text (Appendix B) and/or TLVs; None if it is not one."""
    fields = {k.lower(): v for k, v in _RECEIPT_FIELD.findall(text)}
    smsc_id = _tlv_text(tlvs.get(TLV_RECEIPTED_MESSAGE_ID)) or fields.get("id")
    state = fields.get("stat", "")
    if tlvs.get(TLV_MESSAGE_STATE):
        state = _STATE_NAMES.get(tlvs[TLV_MESSAGE_STATE][0], state)
    if not smsc_id or not state:
        return None
    ref = tlvs.get(TLV_USER_MESSAGE_REFERENCE)
    client_ref = int.from_bytes(ref, "big") if ref else None
    return Receipt(smsc_id, state.upper() == "DELIVRD", state.upper(), handset, client_ref, fields.get("err", ""))


def _tlv_text(value: bytes | None) -> str | None:
    return None if not value else value.rstrip(b"\x00").decode("ascii", errors="replace") or None


def _digits(e164: str) -> str:
    return e164.lstrip("+")


class SmppDriver:
    """A transceiver bind to one SMSC, kept up in the background for as long as the driver runs."""

    def __init__(self, sms: SmsSettings, *, rng: random.Random | None = None) -> None:
        self._cfg = sms
        self._rng = rng or random.Random()
        self._session: Any = None
        self._client: Any = None
        self._up = asyncio.Event()
        self._events: asyncio.Queue[DriverEvent] = asyncio.Queue(_EVENT_QUEUE)
        self._task: asyncio.Task[None] | None = None
        # Parts of a concatenated MO message, by (sender, reference), until all have arrived.
        self._mo_parts: dict[tuple[str, int], dict[int, str]] = {}

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="smpp-link")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._drop("closed")

    async def wait_connected(self, timeout: float) -> bool:
        return await wait_event(self._up, timeout)

    async def submit(self, part: OutPart) -> str:
        session = self._session
        if session is None or not self._up.is_set():
            raise GatewayUnavailable("SMPP link is down")
        try:
            async with asyncio.timeout(self._cfg.submit_timeout_s):
                resp = await session.submit_sm(
                    _digits(part.to),
                    part.payload,
                    source_addr=self._cfg.source_addr,
                    dest_addr_ton=TON_INTERNATIONAL,
                    dest_addr_npi=NPI_ISDN,
                    esm_class=ESM_UDHI if part.total > 1 else 0,
                    registered_delivery=REGISTERED_DELIVERY_FINAL,
                    data_coding=part.coding,
                    tlvs=[smpp34.Tlv(TLV_USER_MESSAGE_REFERENCE, part.client_ref.to_bytes(2, "big"))],
                )
        except (TimeoutError, smpp34.SmppError, OSError, RuntimeError) as exc:
            # The PDU may have reached the SMSC before the link failed: only a receipt can tell.
            await self._drop(f"submit failed: {exc}")
            raise SubmitAmbiguous(f"no answer to submit of message {part.message_id} part {part.seq}: {exc}") from exc
        if not resp.is_success or not resp.message_id:
            raise SubmitRejected(resp.command_status)
        return str(resp.message_id)

    async def events(self) -> AsyncIterator[DriverEvent]:
        while True:
            yield await self._events.get()

    async def _supervise(self) -> None:
        failures = 0
        while True:
            try:
                await self._connect()
                failures = 0
                await self._serve()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the link: log it and reconnect
                log.warning("sms.smpp.link_failed", error=str(exc), host=self._cfg.smpp_host, port=self._cfg.smpp_port)
            await self._drop("link lost")
            failures += 1
            delay = min(self._cfg.reconnect_max_s, self._cfg.reconnect_min_s * 2 ** min(failures - 1, 16))
            await asyncio.sleep(delay * (0.5 + self._rng.random() / 2))

    async def _connect(self) -> None:
        cfg = self._cfg
        self._client = smpp34.Client(
            cfg.smpp_host,
            cfg.smpp_port,
            cfg.smpp_system_id,
            cfg.smpp_password,
            bind_type="TRX",
            system_type=cfg.smpp_system_type,
            window_size=cfg.smpp_window,
            connect_timeout_ms=int(cfg.connect_timeout_s * 1000),
        )
        self._session = await self._client.connect()
        self._up.set()
        log.info("sms.smpp.bound", host=cfg.smpp_host, port=cfg.smpp_port, system_id=cfg.smpp_system_id)

    async def _serve(self) -> None:
        """Read deliver_sm until the session ends; check liveness when nothing arrives for a while."""
        session, client = self._session, self._client
        pending = asyncio.ensure_future(session.next())
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=self._cfg.keepalive_s)
                if not done:
                    if not await client.is_alive():
                        raise ConnectionError("SMPP session no longer alive")
                    continue
                event = pending.result()
                if isinstance(event, smpp34.Disconnected):
                    raise ConnectionError("SMSC closed the session")
                pending = asyncio.ensure_future(session.next())
                self._on_deliver(event)
        finally:
            pending.cancel()

    def _on_deliver(self, event: Any) -> None:
        tlvs = {t.tag: bytes(t.value) for t in event.tlvs}
        has_udh = bool(event.esm_class & ESM_UDHI)
        text = decode(bytes(event.short_message), event.data_coding, has_udh)
        handset = (
            "+" + event.source_addr.lstrip("+") if event.source_addr_ton == TON_INTERNATIONAL else event.source_addr
        )
        if event.esm_class & ESM_RECEIPT:
            receipt = parse_receipt(text, tlvs, handset)
            if receipt is None:
                log.warning("sms.smpp.bad_receipt", text=text[:120])
                return
            self._events.put_nowait(receipt)
            return
        whole = self._reassemble(handset, bytes(event.short_message), text) if has_udh else text
        if whole is not None:
            self._events.put_nowait(Inbound(handset, event.destination_addr, whole))

    def _reassemble(self, sender: str, payload: bytes, text: str) -> str | None:
        udh = payload[1 : 1 + payload[0]] if payload else b""
        if len(udh) < 5 or udh[0] != 0x00:  # not an 8-bit concatenation header: take the part as it is
            return text
        ref, total, seq = udh[2], udh[3], udh[4]
        parts = self._mo_parts.setdefault((sender, ref), {})
        parts[seq] = text
        if len(parts) < total:
            return None
        del self._mo_parts[(sender, ref)]
        return "".join(parts[i] for i in sorted(parts))

    async def _drop(self, reason: str) -> None:
        was_up = self._up.is_set()
        self._up.clear()
        client, self._client, self._session = self._client, None, None
        if client is not None:
            try:
                await client.stop()
            except Exception as exc:  # stopping a dead link may fail; the link is gone either way
                log.debug("sms.smpp.stop_failed", error=str(exc))
        if was_up:
            log.warning("sms.smpp.down", reason=reason)
