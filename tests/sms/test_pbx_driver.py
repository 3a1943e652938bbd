"""The PBX driver's contract: AMI MessageSend per message, AMI errors mapped to the outbox's three cases.

The shared lab does not load res_pjsip_messaging yet (docs/sms.md), so the AMI client is a
recording stand-in here; what is checked is the action sent and the error mapping.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from dialer.ami.errors import AmiActionError, AmiLinkDown, AmiTimeout
from dialer.ami.events import UserEvent
from dialer.domain.sms.driver import Inbound, OutPart
from dialer.domain.sms.errors import GatewayUnavailable, SubmitAmbiguous, SubmitRejected
from dialer.settings import SmsSettings
from dialer.sms.pbx import PbxDriver

PART = OutPart(7, 1, 1, "+8613800138000", b"", 8, 7, "【DCC汽车】您好")


class RecordingAmi:
    """Answers MessageSend with a scripted outcome and remembers what was sent."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.connected = True

    async def action(self, name: str, timeout: float | None = None, **fields: str) -> dict[str, str]:
        if self.error is not None:
            raise self.error
        self.sent.append((name, fields))
        return {"Response": "Success"}


async def test_message_send_carries_the_whole_text_base64() -> None:
    ami = RecordingAmi()
    driver = PbxDriver(SmsSettings(pbx_endpoint="carrier", pbx_host="127.0.0.1", source_addr="10690000"), ami)  # type: ignore[arg-type]
    assert (await driver.submit(PART)).startswith("pbx-")
    [(name, fields)] = ami.sent
    assert name == "MessageSend" and fields["To"] == "pjsip:carrier/sip:8613800138000@127.0.0.1"
    assert fields["From"] == "sip:10690000@127.0.0.1"
    assert base64.b64decode(fields["Base64Body"]).decode() == "【DCC汽车】您好"


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (AmiLinkDown("down", sent=False), GatewayUnavailable),
        (AmiTimeout("slow"), SubmitAmbiguous),
        (AmiActionError("MessageSend", "Message technology not found"), SubmitRejected),
    ],
)
async def test_ami_errors_map_to_outbox_cases(error: Exception, raised: type[Exception]) -> None:
    driver = PbxDriver(SmsSettings(), RecordingAmi(error))  # type: ignore[arg-type]
    with pytest.raises(raised):
        await driver.submit(PART)


async def test_inbound_user_event_becomes_an_inbound_sms() -> None:
    driver = PbxDriver(SmsSettings(), RecordingAmi())  # type: ignore[arg-type]
    at = datetime(2026, 11, 29, tzinfo=UTC)
    fields = {"From": "sip%3A8613800138000%40carrier", "To": "10690000", "Body": "%E9%80%80%E8%AE%A2"}

    def user_event(name: str, values: dict[str, str]) -> UserEvent:
        return UserEvent(
            at=at,
            channel="",
            uniqueid="",
            linkedid="",
            caller_id_num="",
            caller_id_name="",
            user_event=name,
            fields=tuple(values.items()),
        )

    assert not driver.feed(user_event("DCCAmd", {}))
    assert driver.feed(user_event("DCCSms", fields))
    assert await anext(driver.events()) == Inbound("8613800138000", "10690000", "退订")
    assert driver.feed(
        user_event("DCCSms", {"From": "%22Li%22%20%3Csip%3A13800138000%40carrier%3E", "To": "", "Body": "1"})
    )
    assert await anext(driver.events()) == Inbound("13800138000", "", "1")
