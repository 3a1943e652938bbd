"""SMS through the real PBX: Asterisk 16 carries SIP MESSAGE both ways.

Out: the PBX driver's AMI MessageSend must reach the customer's phone (the lab's SIPp
customer, run here with a message trace) with the Chinese text intact, because Asterisk
itself answers Success whether or not anybody received it. In: a customer's MESSAGE must
come back through the dialplan's DCCSms UserEvent as an Inbound, and "退订" must end as an
opt-out. A lab of our own (ports shifted by OFFSET) so the trace can be read and the shared
lab's customer stays untouched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dialer.ami.client import AmiClient
from dialer.ami.events import UserEvent
from dialer.clock import VirtualClock
from dialer.domain.sms.driver import Inbound, OutPart
from dialer.domain.sms.rules import ReplyKind
from dialer.lab import procs
from dialer.lab.lab import Lab
from dialer.lab.layout import LAB_HOST
from dialer.settings import Settings, SmsSettings
from dialer.sms.factory import build_service
from dialer.sms.pbx import PbxDriver
from dialer.store.database import Database
from tests.conftest import settings_beside
from tests.sms.conftest import ImportCustomers, e164, mobile

pytestmark = pytest.mark.asterisk

OFFSET = 700
TEXT = "【DCC汽车】王先生您好，您的迈锐宝XL试驾已预约，回T退订"
# Generous limits that only keep a broken run from hanging; nothing here measures speed.
SIPP_LIMIT_S = 30.0
EVENT_LIMIT_S = 30.0
_CONTENT_LENGTH = re.compile(rb"^Content-Length:\s*(\d+)", re.IGNORECASE | re.MULTILINE)


@pytest.fixture(scope="module")
def sms_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Settings]]:
    """Asterisk, agents and supervisor of our own; the carrier port stays free for the traced customer."""
    settings = settings_beside(tmp_path_factory.mktemp("sms-lab"), OFFSET)
    lab = Lab(settings)
    lab.up(customers=False)
    try:
        yield lab, settings
    finally:
        lab.down()


@pytest.fixture
async def ami(sms_lab: tuple[Lab, Settings]) -> AsyncIterator[AmiClient]:
    client = AmiClient(sms_lab[1].pbx)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


def pbx_sms(lab_settings: Settings) -> SmsSettings:
    """The PBX driver aimed at the lab's carrier trunk (MessageSend needs the trunk's port in the URI)."""
    return dataclasses.replace(
        SmsSettings(), driver="pbx", pbx_endpoint=lab_settings.pbx.carrier_endpoint,
        pbx_host=f"{LAB_HOST}:{lab_settings.lab.carrier_port}",
    )  # fmt: skip


async def sipp(lab: Lab, *args: str) -> int:
    """Run one SIPp party in the lab's scenario folder to its end; its exit status (0: every call passed)."""
    proc = await asyncio.create_subprocess_exec(
        "sipp", *args, "-i", LAB_HOST, "-nostdin", "-timeout", f"{SIPP_LIMIT_S:.0f}s",
        cwd=lab.layout.dir("sipp"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return await asyncio.wait_for(proc.wait(), SIPP_LIMIT_S + 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def listening(port: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SIPP_LIMIT_S
    while not procs.port_in_use(port, socket.SOCK_DGRAM, LAB_HOST):
        assert loop.time() < deadline, f"nothing listens on {LAB_HOST}:{port}"
        await asyncio.sleep(procs.POLL_S)


def received_message(trace: bytes) -> tuple[bytes, bytes]:
    """The request line and the body of the MESSAGE in a SIPp ``-trace_msg`` file."""
    start = trace.index(b"MESSAGE sip:")
    head, _, rest = trace[start:].replace(b"\r\n", b"\n").partition(b"\n\n")
    found = _CONTENT_LENGTH.search(head)
    assert found is not None, head
    return head.split(b"\n", 1)[0], rest[: int(found.group(1))]


async def test_outbound_sms_reaches_the_customers_phone_in_utf8(
    sms_lab: tuple[Lab, Settings], ami: AmiClient, tmp_path: Path
) -> None:
    lab, lab_settings = sms_lab
    port = lab_settings.lab.carrier_port
    trace = tmp_path / "customer-messages.log"
    customer = asyncio.create_task(sipp(
        lab, "-sf", "customers.xml", "-p", str(port), "-cp", str(port + 1),
        "-inf", "customers.csv", "-infindex", "customers.csv", "0",
        "-m", "1", "-trace_msg", "-message_file", str(trace),
    ))  # fmt: skip
    await listening(port)
    driver = PbxDriver(pbx_sms(lab_settings), ami)

    assert (await driver.submit(OutPart(1, 1, 1, e164(0), b"", 8, 1, TEXT))).startswith("pbx-")

    # One call, ended as the scenario says: the phone answered the MESSAGE with 200.
    assert await customer == 0
    request_line, body = received_message(trace.read_bytes())
    assert request_line == f"MESSAGE sip:86{mobile(0)}@{LAB_HOST}:{port} SIP/2.0".encode()
    assert body.decode("utf-8") == TEXT


async def test_customers_td_reply_through_the_pbx_opts_out(
    sms_lab: tuple[Lab, Settings],
    ami: AmiClient,
    db: Database,
    settings: Settings,
    clock: VirtualClock,
    import_customers: ImportCustomers,
) -> None:
    lab, lab_settings = sms_lab
    await import_customers(1)
    sms = pbx_sms(lab_settings)
    driver = PbxDriver(sms, ami)
    service = build_service(db, dataclasses.replace(settings, sms=sms), clock, driver)

    async def pump() -> None:
        # What the composition root's AMI consumer does: hand UserEvents to the driver.
        async for event in ami.events():
            if isinstance(event, UserEvent):
                driver.feed(event)

    pumping = asyncio.create_task(pump())
    try:
        texts = lab.layout.dir("sipp") / "texts.csv"
        texts.write_text(f"SEQUENTIAL\n{mobile(0)};退订;\n", encoding="utf-8")
        port = lab_settings.lab.inbound_port
        status = await sipp(
            lab, f"{LAB_HOST}:{lab_settings.lab.sip_port}", "-sf", "sms-sender.xml", "-inf", str(texts),
            "-s", sms.source_addr, "-p", str(port), "-cp", str(port + 1), "-m", "1",
        )  # fmt: skip
        assert status == 0  # Asterisk took the MESSAGE (202)
        inbound = await asyncio.wait_for(anext(driver.events()), EVENT_LIMIT_S)
    finally:
        pumping.cancel()
        await asyncio.gather(pumping, return_exceptions=True)

    assert inbound == Inbound(mobile(0), sms.source_addr, "退订")
    result = await service.on_inbound(inbound)
    assert result.kind is ReplyKind.OPT_OUT and result.lead_id is not None
    assert (await service.leads.get(result.lead_id)).opt_out_at == clock.now()
    assert await service.suppressions.active(e164(0)) is not None
