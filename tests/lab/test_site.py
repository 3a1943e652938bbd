"""A dealer's site: [site] and [trunk] checked key by key, the phones' accounts, and ``dialer pbx render``
writing a deployable PBX config from them (the sample config/site-example.toml), with no loopback address."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dialer.cli import main
from dialer.domain.pbx.phones import ha1
from dialer.domain.pbx.site import (
    NatFinding,
    browser_phones,
    nat_findings,
    render_problems,
    settings_problems,
    site_from_settings,
    trunk_from_settings,
)
from dialer.lab.pjsip import transports, trunk_sections
from dialer.lab.render import PBX_FILES
from dialer.settings import LabSettings, Settings, SiteSettings, TrunkSettings
from tests.conftest import REPO, write_config

SAMPLE = REPO / "config" / "site-example.toml"


def sample() -> dict[str, Any]:
    return tomllib.loads(SAMPLE.read_text(encoding="utf-8"))


def site(**kw: Any) -> SiteSettings:
    return SiteSettings(**{**sample()["site"], **kw})


def trunk(**kw: Any) -> TrunkSettings:
    return TrunkSettings(**{**sample()["trunk"], "password": "s3cret-pw", **kw})


def test_the_sample_site_is_valid() -> None:
    values = sample()
    s, t = SiteSettings(**values["site"]), TrunkSettings(**values["trunk"], password="x" * 12)
    assert render_problems(s, t) == []


def test_empty_sections_are_fine_for_the_lab_but_not_for_a_dealer_rendering() -> None:
    assert settings_problems(SiteSettings(), TrunkSettings()) == []
    problems = " ".join(render_problems(SiteSettings(), TrunkSettings()))
    assert "site.address" in problems and "site.local_networks" in problems and "trunk.host" in problems


@pytest.mark.parametrize(
    ("site_kw", "trunk_kw", "key"),
    [
        ({"address": "0.0.0.0"}, {}, "site.address"),
        ({"address": "pbx.local"}, {}, "site.address"),
        ({"address": "10.0.0.5"}, {}, "is in none of site.local_networks"),
        ({"local_networks": []}, {}, "site.local_networks is empty"),
        ({"local_networks": ["192.168.10.0/33"]}, {}, "site.local_networks"),
        ({"external_address": "192.168.10.1"}, {}, "lies inside site.local_networks"),
        ({"external_address": "bad host!"}, {}, "site.external_address"),
        ({"transports": ["udp", "sctp"]}, {}, "site.transports"),
        ({"transports": ["udp", "tls"]}, {}, "site.tls_cert_file"),
        ({"rtp_start": 10000, "rtp_end": 10050}, {}, "site.rtp_start..rtp_end"),
        ({"sip_port": 80}, {}, "site.sip_port"),
        ({"transports": ["udp"]}, {"transport": "tcp"}, "trunk.transport = 'tcp'"),
        ({"transports": ["udp", "tcp"]}, {"transport": "tls"}, "trunk.transport = 'tls'"),
        ({}, {"auth": "open"}, "trunk.auth"),
        ({}, {"auth": "register", "password": ""}, "trunk.username and trunk.password"),
        ({}, {"auth": "digest", "username": ""}, "trunk.username and trunk.password"),
        ({}, {"auth": "ip", "did": ""}, "trunk.did"),
        ({}, {"host": "sip.carrier.example", "match": []}, "trunk.match is empty"),
        ({}, {"match": ["198.51.100.0/24", "not-an-ip"]}, "trunk.match: 'not-an-ip'"),
        ({}, {"password": "abc;def"}, "trunk.password"),
        ({}, {"did": "0755 1234"}, "trunk.did"),
        ({}, {"expiration_s": 10}, "trunk.expiration_s"),
        ({"browser_phones": ["Agent 1"]}, {}, "site.browser_phones: endpoint = 'Agent 1'"),
        ({"browser_phones": ["agent1", "agent1"]}, {}, "each endpoint once"),
        ({"browser_phones": ["agent1"]}, {}, "site.wss_cert_file = ''"),
        ({"browser_phones": ["agent1"], "wss_port": 5060}, {}, "must differ from site.sip_port"),
        ({"browser_phones": ["agent1"], "wss_host": "bad host!"}, {}, "site.wss_host"),
        ({"wss_key_file": "/k;ey"}, {}, "site.wss_key_file: newline and ';'"),
    ],
)
def test_each_problem_names_its_key(site_kw: dict[str, Any], trunk_kw: dict[str, Any], key: str) -> None:
    problems = settings_problems(site(**site_kw), trunk(**trunk_kw))
    assert any(key in p for p in problems), problems


def test_a_nat_address_without_local_networks_is_refused() -> None:
    problems = settings_problems(site(local_networks=[]), trunk())
    assert any("site.external_address is set but site.local_networks is empty" in p for p in problems)


def test_a_bad_site_stops_the_config_from_loading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, site={"address": "192.168.10.5", "local_networks": ["10.0.0.0/8"]})
    assert main(["--config", str(cfg), "phones", "list"]) == 2
    assert "site.address = '192.168.10.5' is in none of site.local_networks" in capsys.readouterr().err


def site_config(tmp_path: Path) -> Path:
    values = sample()
    return write_config(tmp_path, site=values["site"], trunk={**values["trunk"], "password": "Carrier-Pw-9"})


def test_phones_get_a_generated_password_shown_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(site_config(tmp_path))
    assert main(["--config", cfg, "phones", "add", "agent1"]) == 0
    out = capsys.readouterr().out
    password = re.search(r"^  (?:密码|password): (\S+)$", out, re.MULTILINE)
    assert password is not None and len(password.group(1)) >= 20
    assert main(["--config", cfg, "phones", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"endpoint": "agent1"' in listed and password.group(1) not in listed
    assert main(["--config", cfg, "phones", "reset", "agent1"]) == 0
    again = re.search(r"^  (?:密码|password): (\S+)$", capsys.readouterr().out, re.MULTILINE)
    assert again is not None and again.group(1) != password.group(1)
    assert main(["--config", cfg, "phones", "add", "agent1"]) == 2
    assert "already has an account" in capsys.readouterr().err
    assert main(["--config", cfg, "phones", "add", "Agent 1"]) == 2
    assert "endpoint = 'Agent 1'" in capsys.readouterr().err
    assert main(["--config", cfg, "phones", "remove", "agent1"]) == 0
    assert main(["--config", cfg, "phones", "reset", "agent1"]) == 2


def test_each_dealers_node_renders_its_own_phones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two showrooms in one store each have a phone agent1 on their own PBX (phone accounts are keyed by
    dealer and endpoint): each node adds, lists and renders its own dealer's phones only."""
    main_cfg = site_config(tmp_path)
    pudong_cfg = tmp_path / "pudong.toml"
    pudong_cfg.write_text(main_cfg.read_text(encoding="utf-8") + "\n[dealer]\ncode = 'pudong'\n", encoding="utf-8")
    passwords = {}
    for cfg, phone in ((main_cfg, "agent1"), (pudong_cfg, "agent1"), (pudong_cfg, "agent9")):
        assert main(["--config", str(cfg), "phones", "add", phone]) == 0
        found = re.search(r"^  (?:密码|password): (\S+)$", capsys.readouterr().out, re.MULTILINE)
        assert found is not None
        passwords[cfg.stem, phone] = found.group(1)
    rendered = {}
    for cfg in (main_cfg, pudong_cfg):
        out = tmp_path / f"pbx-{cfg.stem}"
        assert (
            main(["--config", str(cfg), "pbx", "render", str(out), "--sounds-dir", "/var/lib/asterisk/sounds/dcc"]) == 0
        )
        rendered[cfg.stem] = (out / "pjsip.conf").read_text()
    mine, theirs = rendered[main_cfg.stem], rendered["pudong"]
    assert f"md5_cred = {ha1('agent1', passwords[main_cfg.stem, 'agent1'])}" in mine
    assert f"md5_cred = {ha1('agent1', passwords['pudong', 'agent1'])}" not in mine and "[agent9]" not in mine
    assert f"md5_cred = {ha1('agent1', passwords['pudong', 'agent1'])}" in theirs and "[agent9]" in theirs
    capsys.readouterr()
    assert main(["--config", str(main_cfg), "phones", "list", "--json"]) == 0
    assert '"agent9"' not in capsys.readouterr().out


def test_pbx_render_writes_the_site_with_no_loopback_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(site_config(tmp_path))
    passwords = {}
    for phone in ("agent1", "agent2", "agent3", "supervisor"):
        assert main(["--config", cfg, "phones", "add", phone]) == 0
        found = re.search(r"^  (?:密码|password): (\S+)$", capsys.readouterr().out, re.MULTILINE)
        assert found is not None
        passwords[phone] = found.group(1)
    out = tmp_path / "pbx"
    assert main(["--config", cfg, "pbx", "render", str(out), "--sounds-dir", "/var/lib/asterisk/sounds/dcc"]) == 0
    assert "已生成" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.conf")) == sorted(PBX_FILES)
    assert (out / "sounds" / "dcc-abandon.ulaw").stat().st_size > 0
    for name in PBX_FILES:
        text = (out / name).read_text()
        # AMI is the one loopback address, and only because [pbx] ami_host says so.
        if name != "manager.conf":
            assert "127.0.0.1" not in text, name
    assert "DCC_SOUNDS = /var/lib/asterisk/sounds/dcc\n" in (out / "extensions.conf").read_text()
    assert "rtpstart = 10000\nrtpend = 10999\n" in (out / "rtp.conf").read_text()
    pjsip = (out / "pjsip.conf").read_text()
    nat = (
        "external_signaling_address = 203.0.113.10\nexternal_media_address = 203.0.113.10\n"
        "local_net = 192.168.10.0/24\n"
    )
    assert f"[transport-udp]\ntype = transport\nprotocol = udp\nbind = 192.168.10.5:5060\n{nat}" in pjsip
    assert f"[transport-tcp]\ntype = transport\nprotocol = tcp\nbind = 192.168.10.5:5060\n{nat}" in pjsip
    assert "media_address = 192.168.10.5\n" in pjsip
    acl = "deny = 0.0.0.0/0.0.0.0\ndeny = ::/0\npermit = 192.168.10.0/24\npermit = 198.51.100.20/32\npermit = 198.51.100.21/32\n"
    assert acl in pjsip
    assert "contact = sip:198.51.100.20:5060\n" in pjsip
    assert "from_user = 075512345678\nsend_pai = yes\noutbound_auth = carrier-auth\n" in pjsip
    assert "username = 075512345678\npassword = Carrier-Pw-9\n" in pjsip
    assert "type = registration\ntransport = transport-udp\noutbound_auth = carrier-auth\n" in pjsip
    assert "server_uri = sip:198.51.100.20:5060\nclient_uri = sip:075512345678@198.51.100.20:5060\n" in pjsip
    assert "match = 198.51.100.20\nmatch = 198.51.100.21\n" in pjsip
    for phone, password in passwords.items():
        assert f"md5_cred = {ha1(phone, password)}\n" in pjsip
        assert password not in pjsip
    # The trunk password makes pjsip.conf a secret like manager.conf.
    assert (out / "pjsip.conf").stat().st_mode & 0o077 == 0


def test_pbx_render_refuses_a_site_not_set_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    assert main(["--config", str(cfg), "pbx", "render", str(tmp_path / "pbx")]) == 2
    err = capsys.readouterr().err
    assert "site.address is empty" in err and "trunk.host is empty" in err
    assert not (tmp_path / "pbx").exists()


def test_pbx_render_refuses_a_relative_sounds_dir(tmp_path: Path) -> None:
    cfg = str(site_config(tmp_path))
    assert main(["--config", cfg, "pbx", "render", str(tmp_path / "pbx"), "--sounds-dir", "sounds"]) == 2


def test_nat_findings_say_when_the_carrier_would_get_a_private_address() -> None:
    assert nat_findings(site(), trunk()) == []
    assert nat_findings(site(external_address=""), trunk()) == [NatFinding.PRIVATE_WITHOUT_NAT]
    # A carrier on the same private network needs no NAT.
    assert nat_findings(site(external_address=""), trunk(host="192.168.10.200", match=[])) == []
    public = site(address="203.0.113.10", local_networks=["203.0.113.0/24"], external_address="203.0.113.99")
    assert NatFinding.NAT_ON_PUBLIC_ADDRESS in nat_findings(public, trunk())


def test_each_trunk_auth_mode_writes_only_what_it_needs() -> None:
    def sections(**kw: Any) -> str:
        return trunk_sections(trunk_from_settings(trunk(**kw), "carrier"))

    ip = sections(auth="ip", username="", password="")
    assert "outbound_auth" not in ip and "type = auth" not in ip and "type = registration" not in ip
    assert "from_user = 075512345678\nsend_pai = yes\n" in ip
    digest = sections(auth="digest")
    assert "outbound_auth = carrier-auth\n" in digest and "type = auth\n" in digest
    assert "type = registration" not in digest
    assert "type = registration" in sections(auth="register")


def test_tls_listens_on_its_own_port_with_the_site_certificate() -> None:
    s = site_from_settings(
        site(transports=["udp", "tls"], tls_port=5061, tls_cert_file="/etc/asterisk/keys/pbx.pem",
             tls_key_file="/etc/asterisk/keys/pbx.key")
    )  # fmt: skip
    text = transports(s)
    assert "[transport-tls]\ntype = transport\nprotocol = tls\nbind = 192.168.10.5:5061\n" in text
    assert "cert_file = /etc/asterisk/keys/pbx.pem\npriv_key_file = /etc/asterisk/keys/pbx.key\n" in text
    uri = trunk_from_settings(trunk(transport="tls", port=5061), "carrier").uri
    assert uri == "sip:198.51.100.20:5061;transport=tls"


BROWSER_SITE = {"browser_phones": ["agent2"], "wss_host": "pbx.dealer.example", "wss_port": 8089,
                "wss_cert_file": "/etc/asterisk/keys/wss.pem", "wss_key_file": "/etc/asterisk/keys/wss.key"}  # fmt: skip


def test_a_browser_phone_is_the_same_account_rendered_for_webrtc_over_wss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = sample()
    cfg = str(
        write_config(
            tmp_path,
            site={**values["site"], **BROWSER_SITE},
            trunk={**values["trunk"], "password": "Carrier-Pw-9"},
        )
    )
    for phone in ("agent1", "agent2"):
        assert main(["--config", cfg, "phones", "add", phone]) == 0
    capsys.readouterr()
    out = tmp_path / "pbx"
    assert main(["--config", cfg, "pbx", "render", str(out), "--sounds-dir", "/var/lib/asterisk/sounds/dcc"]) == 0
    pjsip = (out / "pjsip.conf").read_text()
    assert "[agent1](dcc-phone)\nauth = agent1\n" in pjsip
    assert "[agent2](dcc-browser-phone)\nauth = agent2\n" in pjsip
    assert (
        "[dcc-browser-phone](!,dcc-phone)\nwebrtc = yes\ndtls_auto_generate_cert = yes\nmedia_address = 192.168.10.5\n"
        in pjsip
    )
    wss = "[transport-wss]\ntype = transport\nprotocol = wss\nbind = 192.168.10.5:8089\n"
    assert wss + "external_media_address = 203.0.113.10\nlocal_net = 192.168.10.0/24\n" in pjsip
    http = (out / "http.conf").read_text()
    assert "enabled = no\ntlsenable = yes\ntlsbindaddr = 192.168.10.5:8089\n" in http
    assert "tlscertfile = /etc/asterisk/keys/wss.pem\ntlsprivatekey = /etc/asterisk/keys/wss.key\n" in http
    assert "127.0.0.1" not in http + pjsip


def test_without_browser_phones_the_http_server_stays_off(tmp_path: Path) -> None:
    cfg = str(site_config(tmp_path))
    out = tmp_path / "pbx"
    assert main(["--config", cfg, "pbx", "render", str(out), "--sounds-dir", "/var/lib/asterisk/sounds/dcc"]) == 0
    assert "[general]\nenabled = no\n" in (out / "http.conf").read_text()
    pjsip = (out / "pjsip.conf").read_text()
    assert "transport-ws" not in pjsip and "](dcc-browser-phone)" not in pjsip


def test_the_console_serves_the_site_browser_phones_over_wss_and_the_lab_over_ws() -> None:
    site_phones = browser_phones(Settings(site=site(**BROWSER_SITE)), "127.0.0.1")
    assert site_phones.endpoints == ("agent2",)
    assert site_phones.server is not None and site_phones.server.url == "wss://pbx.dealer.example:8089/ws"
    lab = browser_phones(Settings(lab=LabSettings(browser_phones=("agent1",), http_port=15088)), "127.0.0.1")
    assert lab.server is not None and lab.server.url == "ws://127.0.0.1:15088/ws"
    assert browser_phones(Settings(), "127.0.0.1").server is None
