"""The browser as the agent's phone (#15 item 5): a campaign call reaches an agent whose phone is the desk.

A lab of its own (ports shifted by :data:`OFFSET`) renders ``agent1`` as a browser phone (WebRTC:
SIP over Asterisk's WebSocket on loopback, DTLS-SRTP) and starts no SIPp agents. Headless Chromium gets
a fake microphone that plays a tone (:data:`TONE_HZ`, a WAV file); the agent logs in, starts the browser
phone (SIP.js served by the console registers agent1 with the digest secret the console hands to that
login only), a progressive campaign dials the lab's talking customer and puts them through to agent1,
the page rings and the agent answers in it. Then: the customer's audio arrives in the page (the peer
connection's inbound RTP: packets and audio energy), and the agent's tone is in the call's recording,
found as tests/telephony/test_softphone.py finds a softphone's.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import subprocess
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from dialer.domain.calls.outcome import Outcome
from dialer.domain.pbx.phones import account
from dialer.i18n import translate
from dialer.lab.lab import Lab
from dialer.server import serve
from dialer.settings import CallSettings, Settings, StoreSettings, WebSettings
from dialer.store.phones import PhoneStore
from dialer.web.keys import AUTH
from dialer.web.views_browser_phone import SIPJS_DIR
from tests.browser.conftest import AGENT, CHROMIUM, LAUNCH_ARGS, VIEWPORT, Console, log_in, screenshot, until
from tests.inbound.labkit import SAMPLE_RATE, private_settings, rms, tone_share
from tests.web.conftest import CHEAP, PASSWORD

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# Ports of this module's lab: the session lab's plus this (clear of the other private labs).
OFFSET = 2400
# asterisk/sipp/customers.csv: answers after 1 s and talks 20 s (the agent hangs up before that).
CUSTOMER = "13800000002"
# The agent's voice: a tone no lab customer sends (their audio is asterisk/sipp/audio/customer.ulaw).
TONE_HZ = 1100.0
TONE_SHARE_MIN = 0.3
# Inbound audio the page must have received before the agent hangs up: about 3 s of 20 ms packets.
PACKETS_MIN = 150
# Chromium's fake devices: the microphone plays WAV_NAME; permission is granted without a prompt. ICE on
# loopback (the lab's only network) needs loopback candidates, which Chromium leaves out by default,
# and real addresses rather than mDNS names, which Asterisk cannot resolve.
FAKE_MEDIA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                   "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
                   "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
# Every RTCPeerConnection the page makes, kept where the test can ask it for statistics.
CAPTURE_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__peerConnections.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})();
"""
INBOUND_AUDIO = """
async () => {
  const out = {packets: 0, energy: 0};
  for (const pc of window.__peerConnections) {
    (await pc.getStats()).forEach(r => {
      if (r.type === "inbound-rtp" && r.kind === "audio") {
        out.packets += r.packetsReceived || 0;
        out.energy += r.totalAudioEnergy || 0;
      }
    });
  }
  return out;
}
"""


def tone_wav(path: Path, freq: float, seconds: float = 60.0, rate: int = 48000) -> Path:
    """A mono 16-bit WAV of a tone at ``freq``: what the fake microphone plays (looped)."""
    n = int(seconds * rate)
    step = 2 * math.pi * freq / rate
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{n}h", *(int(0.4 * 32767 * math.sin(step * i)) for i in range(n))))
    return path


def media_address() -> str:
    """An IPv4 address of this machine other than loopback, for the browser phone's media: Asterisk's ICE
    (pjproject) never offers a loopback candidate. In a private network namespace, a dummy interface
    gives one (docs/web.md, "The browser phone")."""
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True, check=False
    )
    addresses = [line.split()[3].split("/")[0] for line in shown.stdout.splitlines() if len(line.split()) > 3]
    if not addresses:
        pytest.fail(
            "no IPv4 address besides loopback: WebRTC media needs one (in a network namespace: "
            "ip link add dcc0 type dummy && ip addr add 10.213.0.1/24 dev dcc0 && ip link set dcc0 up)"
        )
    return addresses[0]


@pytest.fixture(scope="module")
def webrtc_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Settings]]:
    """Asterisk with the SIPp customers; agent1 is a browser phone, no SIPp agent runs."""
    if not (SIPJS_DIR / "index.js").is_file():
        pytest.fail(f"SIP.js is not installed in {SIPJS_DIR}: run scripts/bootstrap.sh")
    base = private_settings(tmp_path_factory.mktemp("webrtc-lab"), OFFSET)
    settings = dataclasses.replace(
        base,
        calls=CallSettings(amd=False),
        lab=dataclasses.replace(base.lab, browser_phones=(AGENT.phone,), browser_media_address=media_address()),
    )
    lab = Lab(settings)
    lab.up(agents=False)
    try:
        yield lab, settings
    finally:
        lab.down()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fake_mic_browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    """Chromium whose microphone plays the tone."""
    wav = tone_wav(tmp_path_factory.mktemp("fake-mic") / "agent.wav", TONE_HZ)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*LAUNCH_ARGS, *FAKE_MEDIA_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def console(webrtc_lab: tuple[Lab, Settings], tmp_path: Path) -> AsyncIterator[Console]:
    """The service over a fresh store holding agent1's phone account, with the agent's login."""
    lab, lab_settings = webrtc_lab
    settings = dataclasses.replace(
        lab_settings, store=StoreSettings(path=str(tmp_path / "store.sqlite3")), web=WebSettings(cookie_secure=False)
    )
    async with serve(settings, password_cost=CHEAP, host="127.0.0.1", port=0, watch_campaigns=False) as server:
        await server.web[AUTH].add_user(AGENT.name, AGENT.role.value, PASSWORD, agent=AGENT.phone)
        # The account the lab rendered (its password from the lab's phones.json), as `dialer phones add` keeps it.
        phone = dataclasses.replace(account(AGENT.phone, lab.phones()[AGENT.phone]), created_at=server.app.clock.now())
        assert await PhoneStore(server.app.db).add(phone)
        try:
            yield Console(server, lab, tmp_path)
        finally:
            lab.hangup_all()


@pytest_asyncio.fixture(loop_scope="session")
async def page(fake_mic_browser: Browser, console: Console) -> AsyncIterator[Page]:
    context = await fake_mic_browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=console.server.url)
    await context.add_init_script(CAPTURE_PEER_CONNECTIONS)
    page = await context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    try:
        yield page
    finally:
        print("\n".join(["chromium console:", *messages[-40:]]))
        await context.close()


async def inbound_audio(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate(INBOUND_AUDIO)
    return stats


async def test_a_campaign_call_reaches_the_browser_agent(page: Page, console: Console) -> None:
    app = console.server.app
    lab = console.lab
    print(f"Asterisk {lab.asterisk_version()}")
    lead_id = await console.lead(CUSTOMER, "赵先生", owner=AGENT.phone)

    await log_in(page, AGENT)
    await page.goto("/desk")
    state = page.locator("#browser-phone-state")
    await expect(state).to_have_attribute("data-state", "off")
    await page.click("#browser-phone-start")
    await expect(state).to_have_attribute("data-state", "registered")
    assert f"{AGENT.phone}/sip:" in lab.asterisk_cli("pjsip show contacts")

    campaign_id = await console.campaign("progressive", [AGENT.phone])
    console.run(campaign_id)
    await expect(state).to_have_attribute("data-state", "ringing")
    await page.click("#browser-phone-answer")
    await expect(state).to_have_attribute("data-state", "in_call")
    await expect(page.locator("#call-pop")).to_have_attribute("data-lead-id", str(lead_id))
    await screenshot(page, "browser-phone")

    async def customer_heard() -> bool:
        return (await inbound_audio(page))["packets"] >= PACKETS_MIN

    await until(customer_heard, "the customer's audio arriving in the page")
    heard = await inbound_audio(page)
    print(f"page received {heard['packets']} audio packets, total audio energy {heard['energy']:.4f}")
    assert heard["energy"] > 0, "packets arrived but carried no sound"

    await page.click("#browser-phone-hangup")
    await expect(state).to_have_attribute("data-state", "registered")

    async def recorded() -> bool:
        mine = [a for a in await app.attempts.recent(10) if a.lead_id == lead_id]
        return bool(mine) and mine[0].outcome is not None and bool(mine[0].recording)

    await until(recorded, "the call ended and its recording")
    attempt = next(a for a in await app.attempts.recent(10) if a.lead_id == lead_id)
    assert (attempt.outcome, attempt.agent) == (Outcome.ANSWERED, AGENT.phone)
    assert attempt.recording is not None and Path(attempt.recording).is_file()  # noqa: ASYNC240 - one stat
    with wave.open(attempt.recording, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
        pcm = w.readframes(w.getnframes())
    share = tone_share(pcm, TONE_HZ)
    print(
        f"recording: {len(pcm) / 2 / SAMPLE_RATE:.1f} s, RMS {rms(pcm):.0f}, {TONE_HZ:.0f} Hz in {share:.0%} of frames"
    )
    assert share > TONE_SHARE_MIN, f"the agent's tone is in only {share:.0%} of the recording's frames"


async def test_a_missing_microphone_is_explained_and_nothing_registers(browser: Browser, console: Console) -> None:
    # The suite's Chromium has no fake devices: this machine has no microphone, as a desk PC without its
    # headset. The phone must say what to do in the agent's language, and not register a phone that
    # could ring but never be heard.
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=console.server.url)
    try:
        page = await context.new_page()
        await log_in(page, AGENT)
        await page.goto("/desk")
        await page.click("#browser-phone-start")
        await expect(page.locator("#browser-phone-state")).to_have_attribute("data-state", "failed")
        await expect(page.locator("#browser-phone-error")).to_have_text(
            translate("web.browser_phone.mic_missing", "zh-CN")
        )
        assert f"{AGENT.phone}/sip:" not in console.lab.asterisk_cli("pjsip show contacts")
    finally:
        await context.close()


@pytest.mark.parametrize(("refusal", "key"), [("NotAllowedError", "mic_denied"), ("NotReadableError", "mic_busy")])
async def test_a_refused_or_busy_microphone_is_explained(
    fake_mic_browser: Browser, console: Console, refusal: str, key: str
) -> None:
    # What the browser answers when the agent blocks the site, or another program holds the microphone
    # (both need a person or a second program here, so the page's getUserMedia gives that answer).
    context = await fake_mic_browser.new_context(viewport=VIEWPORT, locale="en-US", base_url=console.server.url)
    await context.add_init_script(
        f"navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('refused', '{refusal}'));"
    )
    try:
        page = await context.new_page()
        await log_in(page, AGENT)
        await page.click("#lang-en")
        await page.goto("/desk")
        await page.click("#browser-phone-start")
        await expect(page.locator("#browser-phone-error")).to_have_text(translate(f"web.browser_phone.{key}", "en"))
        await expect(page.locator("#browser-phone-state")).to_have_text(
            translate("web.browser_phone.state_failed", "en")
        )
    finally:
        await context.close()
