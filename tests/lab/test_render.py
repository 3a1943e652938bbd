"""Rendering the PBX templates: every placeholder filled, nothing left over, values land."""

from __future__ import annotations

import dataclasses
import re
import stat
from itertools import pairwise
from pathlib import Path

import pytest

from dialer.domain.pbx.phones import account, ha1
from dialer.lab.errors import LabStartError, RenderError
from dialer.lab.lab import Lab
from dialer.lab.layout import LabLayout, Party, lab_sip_plan
from dialer.lab.render import LAB_FILES, TEMPLATE_DIR, PbxTarget, fill, render
from dialer.settings import CallSettings, LabSettings, PbxSettings, Settings
from tests.conftest import settings_beside

LEFTOVER = re.compile(r"@[A-Z][A-Z0-9_]*@")


def settings(tmp_path: Path, **pbx: object) -> Settings:
    return Settings(
        base_dir=str(tmp_path),
        pbx=PbxSettings(**pbx),  # type: ignore[arg-type]
        lab=LabSettings(agents=3),
        calls=CallSettings(agent_answer_timeout_s=7.5),
    )


PHONES = (account("agent1", "pw-one"), account("agent2", "pw-two"), account("supervisor", "pw-sup"))


def target(tmp_path: Path, cfg: Settings | None = None) -> PbxTarget:
    plan = lab_sip_plan(cfg or settings(tmp_path), PHONES)
    return PbxTarget(
        etc_dir=tmp_path / "etc", sounds_dir=tmp_path / "etc" / "sounds", sip=plan, lab_root=tmp_path / "lab"
    )


def test_lab_rendering_fills_every_placeholder(tmp_path: Path) -> None:
    written = render(settings(tmp_path), target(tmp_path), LAB_FILES)
    confs = [p for p in written if p.suffix == ".conf"]
    assert sorted(p.name for p in confs) == sorted(LAB_FILES)
    for path in confs:
        assert not LEFTOVER.search(path.read_text()), path


def test_settings_land_in_the_dialplan_and_pjsip(tmp_path: Path) -> None:
    cfg = settings(tmp_path, outbound_lines=6, inbound_lines=3, carrier_endpoint="trunk1")
    render(cfg, target(tmp_path, cfg), LAB_FILES)
    ext = (tmp_path / "etc" / "extensions.conf").read_text()
    assert "DCC_OUT_LINES = 6\n" in ext
    assert "DCC_IN_LINES = 3\n" in ext
    assert "Dial(PJSIP/${EXTEN}@trunk1)" in ext
    # 7.5 s cannot be a Dial() timeout: rounded up, never down.
    assert "DCC_AGENT_RING = 8\n" in ext
    pjsip = (tmp_path / "etc" / "pjsip.conf").read_text()
    assert "[trunk1](dcc-aor)\ncontact = sip:127.0.0.1:15070\n" in pjsip
    assert "bind = 127.0.0.1:15060\n" in pjsip
    assert "[inbound-trunk]\ntype = identify\nendpoint = inbound-trunk\nmatch = 127.0.0.1:15100\n" in pjsip


def test_phones_register_with_digest_credentials_and_no_static_contact(tmp_path: Path) -> None:
    render(settings(tmp_path), target(tmp_path), LAB_FILES)
    pjsip = (tmp_path / "etc" / "pjsip.conf").read_text()
    for phone, password in (("agent1", "pw-one"), ("agent2", "pw-two"), ("supervisor", "pw-sup")):
        assert f"[{phone}]\ntype = auth\nauth_type = md5\nusername = {phone}\nrealm = dcc\n" in pjsip
        assert f"md5_cred = {ha1(phone, password)}\n" in pjsip
        assert f"[{phone}](dcc-phone-aor)\n" in pjsip
        assert f"[{phone}](dcc-phone)\nauth = {phone}\naors = {phone}\n" in pjsip
        assert password not in pjsip
    # Only the carrier has a fixed contact; a phone's comes from its registration.
    assert re.findall(r"^contact = (.*)$", pjsip, re.MULTILINE) == ["sip:127.0.0.1:15070"]
    assert "max_contacts = 1\nremove_existing = yes\n" in pjsip


def test_manager_conf_holds_the_secret_and_only_the_owner_reads_it(tmp_path: Path) -> None:
    cfg = settings(tmp_path, ami_secret="s3cret", ami_user="dcc")
    render(cfg, target(tmp_path, cfg), LAB_FILES)
    manager = tmp_path / "etc" / "manager.conf"
    text = manager.read_text()
    assert "[dcc]\nsecret = s3cret\n" in text
    assert stat.S_IMODE(manager.stat().st_mode) == 0o600


def test_asterisk_conf_keeps_every_writable_folder_in_the_lab(tmp_path: Path) -> None:
    render(settings(tmp_path), target(tmp_path), LAB_FILES)
    dirs = dict(
        line.split(" => ") for line in (tmp_path / "etc" / "asterisk.conf").read_text().splitlines() if " => " in line
    )
    for key in ("astdbdir", "astkeydir", "astspooldir", "astrundir", "astlogdir", "astvarlibdir"):
        assert dirs[key].startswith(str(tmp_path / "lab")), key
    assert dirs["astetcdir"] == str(tmp_path / "etc")


def test_a_placeholder_without_value_names_file_and_line() -> None:
    with pytest.raises(RenderError, match=r"x.conf:2: no value for placeholder @NOPE@"):
        fill("a = @HOST@\nb = @NOPE@\n", {"HOST": "h"}, "x.conf")


def test_a_secret_asterisk_would_cut_at_a_semicolon_is_refused(tmp_path: Path) -> None:
    cfg = settings(tmp_path, ami_secret="abc;def")
    with pytest.raises(RenderError, match="@AMI_SECRET@"):
        render(cfg, target(tmp_path, cfg), LAB_FILES)


def test_dialplan_syntax_is_left_alone() -> None:
    text, used = fill("exten => s,1,Dial(PJSIP/${EXTEN}@@CARRIER@)", {"CARRIER": "carrier"}, "t")
    assert text == "exten => s,1,Dial(PJSIP/${EXTEN}@carrier)"
    assert used == {"CARRIER"}


def test_rtp_ranges_of_asterisk_and_the_parties_never_overlap(tmp_path: Path) -> None:
    layout = LabLayout.from_settings(settings(tmp_path))
    ranges = [layout.asterisk_rtp, *(layout.party_rtp[p] for p in Party), layout.callers_rtp]
    for a, b in pairwise(ranges):
        assert a.start < a.end < b.start < b.end


def test_customers_file_has_one_row_per_number_with_known_behaviours() -> None:
    known = {"answer", "hello1", "hello3", "hello4", "silent", "early", "busy", "congestion", "reject", "vacant", "ring480",
             "ringforever", "machine"}  # fmt: skip
    lines = (TEMPLATE_DIR / "sipp" / "customers.csv").read_text().splitlines()
    assert lines[0] == "SEQUENTIAL"
    rows = [line.split(";") for line in lines[1:] if not line.startswith("#")]
    assert all(line for line in lines), "SIPp stops reading at the first blank line"
    numbers = [r[0] for r in rows]
    assert len(numbers) == len(set(numbers))
    assert {r[1] for r in rows} == known
    assert all(r[2].isdigit() and r[3].isdigit() for r in rows)


def test_a_lab_browser_phone_registers_over_plain_ws_with_media_on_a_real_address(tmp_path: Path) -> None:
    cfg = Settings(
        base_dir=str(tmp_path),
        lab=LabSettings(agents=3, browser_phones=("agent2",), http_port=15088, browser_media_address="10.213.0.1"),
    )
    render(cfg, target(tmp_path, cfg), LAB_FILES)
    pjsip = (tmp_path / "etc" / "pjsip.conf").read_text()
    assert "[agent1](dcc-phone)\n" in pjsip and "[agent2](dcc-browser-phone)\n" in pjsip
    assert "webrtc = yes\ndtls_auto_generate_cert = yes\nmedia_address = 10.213.0.1\n" in pjsip
    assert "[transport-ws]\ntype = transport\nprotocol = ws\nbind = 127.0.0.1:15088\n" in pjsip
    http = (tmp_path / "etc" / "http.conf").read_text()
    assert "enabled = yes\nbindaddr = 127.0.0.1\nbindport = 15088\n" in http and "tls" not in http


def test_without_browser_phones_the_lab_has_no_websocket(tmp_path: Path) -> None:
    render(settings(tmp_path), target(tmp_path), LAB_FILES)
    assert "[general]\nenabled = no\n" in (tmp_path / "etc" / "http.conf").read_text()
    assert "transport-ws" not in (tmp_path / "etc" / "pjsip.conf").read_text()


@pytest.mark.parametrize(
    ("lab", "says"),
    [
        ({"browser_phones": ("agent9",)}, "lab.browser_phones: agent9 is not one of the lab's agents"),
        ({"browser_phones": ("supervisor",)}, "lab.browser_phones: supervisor"),
        ({"browser_phones": ("agent1",), "browser_media_address": "eth0"}, "lab.browser_media_address = 'eth0'"),
    ],
)
def test_the_lab_refuses_browser_phones_it_cannot_render(tmp_path: Path, lab: dict[str, object], says: str) -> None:
    base = settings_beside(tmp_path, 3100)
    cfg = dataclasses.replace(base, lab=dataclasses.replace(base.lab, agents=2, **lab))  # type: ignore[arg-type]
    with pytest.raises(LabStartError, match=re.escape(says)):
        Lab(cfg).up()
    assert not (tmp_path / "lab" / "lab.json").exists()


def _event(name: str, privilege: str, **headers: str) -> str:
    """An AMI event as Asterisk's filters see it: the whole text, Event and Privilege first."""
    lines = [f"Event: {name}", f"Privilege: {privilege},all", *(f"{k}: {v}" for k, v in headers.items())]
    return "\r\n".join(lines) + "\r\n"


def _filtered(text: str, filters: list[str]) -> bool:
    """Whether Asterisk's legacy eventfilter lines let ``text`` through (manager.conf.sample: the white
    filters first, one must match; then the black ones, none may). POSIX classes as Python's."""
    pattern = [(f.startswith("!"), re.compile(f.lstrip("!").replace("[[:space:]]", r"\s"), re.DOTALL)) for f in filters]
    white = [p for black, p in pattern if not black]
    return (not white or any(p.search(text) for p in white)) and not any(
        p.search(text) for black, p in pattern if black
    )


def test_the_ami_user_gets_the_events_the_dialer_reads_and_not_the_flood_it_never_reads(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    render(cfg, target(tmp_path, cfg), LAB_FILES)
    manager = (tmp_path / "etc" / "manager.conf").read_text()
    filters = re.findall(r"^eventfilter = (.+)$", manager, re.MULTILINE)
    assert filters
    read = [
        _event("FullyBooted", "system", Status="Fully Booted"),
        _event("Shutdown", "system", Shutdown="Cleanly"),
        _event("Newstate", "call", Channel="PJSIP/carrier-00000001", ChannelState="6"),
        _event("Hangup", "call", Channel="PJSIP/agent1-00000002", Cause="16"),
        _event("DialBegin", "call", DestChannel="PJSIP/agent1-00000002"),
        _event("DialEnd", "call", DialStatus="ANSWER"),
        _event("OriginateResponse", "call", Response="Success"),
        _event("UserEvent", "user", UserEvent="DCCHold", HoldMs="1990"),
        _event("VarSet", "dialplan", Variable="MIXMONITOR_FILENAME", Value="/var/rec/c1.wav"),
        # Read by the lab's contract tests and a supervisor's listen-in, not flooding.
        _event("Newchannel", "call", Channel="PJSIP/agent1-00000002"),
        _event("DialState", "call", DialStatus="RINGING"),
        _event("ChanSpyStart", "call", SpyeeChannel="PJSIP/agent1-00000002"),
        _event("BridgeEnter", "call", BridgeNumChannels="2"),
        _event("QueueCallerJoin", "agent", Queue="dcc-inbound"),
    ]
    flood = [
        _event("Newexten", "dialplan", Application="Set", AppData="DCC_ANSWERED=1"),
        _event("VarSet", "dialplan", Variable="DIALSTATUS", Value="ANSWER"),
        _event("VarSet", "dialplan", Variable="RTPAUDIOQOS", Value="ssrc=1"),
        *(
            _event(name, "call", Channel="Local/139@dcc-outbound-00000001;1")
            for name in (
                "DeviceStateChange",
                "NewCallerid",
                "NewConnectedLine",
                "SoftHangupRequest",
                "HangupRequest",
                "BridgeCreate",
                "BridgeDestroy",
                "LocalBridge",
            )
        ),
    ]
    assert [e.split("\r\n")[0] for e in read if not _filtered(e, filters)] == []
    assert [e.split("\r\n")[0] for e in flood if _filtered(e, filters)] == []
