"""SMS through the PBX: AMI MessageSend (SIP MESSAGE) for trunks that carry SMS.

Why it differs from SMPP: a SIP MESSAGE carries the whole text (the carrier segments it),
Asterisk answers Success even when nobody receives it, and there are no delivery
receipts; so a part the PBX took stays ``sent``. Inbound MESSAGEs have no AMI event on
Asterisk 16: the dialplan's message context raises ``UserEvent(DCCSms,From: ...,Body: ...)``
with URL-encoded values (docs/sms.md has the snippet), and whoever consumes the AMI
event stream hands those events to :meth:`PbxDriver.feed`.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from urllib.parse import unquote

from dialer.ami.client import AmiClient
from dialer.ami.errors import AmiActionError, AmiLinkDown, AmiTimeout
from dialer.ami.events import UserEvent
from dialer.domain.sms.driver import DriverEvent, Inbound, OutPart
from dialer.domain.sms.errors import GatewayUnavailable, SubmitAmbiguous, SubmitRejected
from dialer.settings import SmsSettings

INBOUND_USER_EVENT = "DCCSms"
# MessageSend has no numeric status; a refusal is reported with this generic SMPP-like code.
_REFUSED = 0x08  # ESME_RSYSERR


# Asterisk 16 reports a received MESSAGE's To as pjsip:<user>@<host>; From is a SIP header.
_URI_SCHEMES = frozenset({"sip", "sips", "tel", "pjsip"})


def _uri_user(value: str) -> str:
    """The number in ``"Name" <sip:13800138000@host>;tag=x``, ``sip:13800138000@host`` or
    ``pjsip:10690000@host``; other text as it is.

    The From header arrives whole (MESSAGE_DATA(From)), parameters after the ``>`` included.
    """
    _, bracket, after = value.rpartition("<")
    inner = after.partition(">")[0] if bracket else value
    scheme, sep, rest = inner.strip().partition(":")
    return rest.split("@", 1)[0].split(";", 1)[0] if sep and scheme.lower() in _URI_SCHEMES else value


class PbxDriver:
    """Sends each message as one SIP MESSAGE via the shared :class:`AmiClient` (started by its owner)."""

    def __init__(self, sms: SmsSettings, ami: AmiClient) -> None:
        self._cfg = sms
        self._ami = ami
        self._events: asyncio.Queue[DriverEvent] = asyncio.Queue()

    @property
    def connected(self) -> bool:
        return self._ami.connected

    async def start(self) -> None:
        """The AMI link belongs to the composition root; nothing to start here."""

    async def close(self) -> None:
        """The AMI link belongs to the composition root; nothing to close here."""

    async def wait_connected(self, timeout: float) -> bool:
        # The event loop's time, not the injected clock: a wait for a real socket to connect.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.connected and loop.time() < deadline:  # noqa: ASYNC110 - the AMI link has no connected event
            await asyncio.sleep(min(0.1, timeout))
        return self.connected

    async def submit(self, part: OutPart) -> str:
        number = part.to.lstrip("+")
        try:
            await self._ami.action(
                "MessageSend",
                To=f"pjsip:{self._cfg.pbx_endpoint}/sip:{number}@{self._cfg.pbx_host}",
                From=f"sip:{self._cfg.source_addr}@{self._cfg.pbx_host}",
                Base64Body=base64.b64encode(part.text.encode("utf-8")).decode("ascii"),
            )
        except AmiLinkDown as exc:
            raise GatewayUnavailable(str(exc)) from exc
        except AmiTimeout as exc:
            raise SubmitAmbiguous(str(exc)) from exc
        except AmiActionError as exc:
            raise SubmitRejected(_REFUSED, str(exc)) from exc
        return f"pbx-{uuid.uuid4().hex[:16]}"

    def feed(self, event: UserEvent) -> bool:
        """Take an inbound-SMS UserEvent from the AMI stream; False if it is some other UserEvent."""
        if event.user_event != INBOUND_USER_EVENT:
            return False
        sender = _uri_user(unquote(event.get("From")))
        self._events.put_nowait(Inbound(sender, _uri_user(unquote(event.get("To"))), unquote(event.get("Body"))))
        return True

    async def events(self) -> AsyncIterator[DriverEvent]:
        while True:
            yield await self._events.get()
