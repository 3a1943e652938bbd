"""Two-factor login for supervisors and admins: the code rule on the injected clock (window, single
use), enrolment through the CLI (secret shown once, never logged or audited), the login form asking for
the code, and the setting that makes it compulsory."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from dialer.app import App
from dialer.auth.service import AuthService
from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.domain.audit.model import AuditAction, AuditQuery
from dialer.domain.auth.errors import BadUserInput, LoginRefused
from dialer.domain.auth.totp import STEP_S, accepted_step, code_at, new_secret, provisioning_uri, step_of
from dialer.settings import Settings
from dialer.store.totp import TotpStore
from dialer.store.users import UserStore
from dialer.web.app import create_app
from tests.conftest import START, write_config
from tests.web.conftest import CHEAP, PASSWORD


def test_a_code_is_taken_from_its_step_and_one_either_side_and_only_once() -> None:
    secret = new_secret()
    now = step_of(START)
    code = code_at(secret, now)
    assert accepted_step(secret, code, START, None) == now
    assert accepted_step(secret, f" {code[:3]} {code[3:]} ", START, None) == now  # as apps show it
    assert accepted_step(secret, code, START + timedelta(seconds=STEP_S), None) == now  # phone a step behind
    assert accepted_step(secret, code, START - timedelta(seconds=STEP_S), None) == now  # a step ahead
    assert accepted_step(secret, code, START + timedelta(seconds=2 * STEP_S), None) is None  # too old
    assert accepted_step(secret, code, START, last_step=now) is None  # used
    assert accepted_step(secret, code_at(secret, now + 1), START, last_step=now) == now + 1
    for bad in ("", "12345", "1234567", "abcdef", "１２３４５６"):
        assert accepted_step(secret, bad, START, None) is None, bad
    assert provisioning_uri(secret, "li").startswith("otpauth://totp/DCC%20Dialer:li?secret=" + secret)


async def test_an_enrolled_supervisor_needs_a_fresh_code(dialer_app: App, clock: VirtualClock) -> None:
    auth = dialer_app.auth
    await auth.add_user("li", "supervisor", PASSWORD)
    with capture_logs() as logs:
        secret, _uri = await auth.enrol_totp("li", actor="root")
    assert secret not in repr(logs)
    with pytest.raises(LoginRefused):
        await auth.login("li", PASSWORD, "10.0.0.1")  # no code
    code = code_at(secret, step_of(clock.now()))
    await auth.login("li", PASSWORD, "10.0.0.1", code)
    with pytest.raises(LoginRefused):
        await auth.login("li", PASSWORD, "10.0.0.1", code)  # the same code again: someone watched
    clock.advance(STEP_S)
    await auth.login("li", PASSWORD, "10.0.0.1", code_at(secret, step_of(clock.now())))

    entries, _ = await dialer_app.audit.entries(AuditQuery(limit=100))
    reasons = [e.detail_dict().get("reason") for e in reversed(entries) if e.action == "login.failed"]
    assert reasons == ["wrong_code", "wrong_code"]
    enrol = [e for e in entries if e.action == AuditAction.USER_TOTP_ENROL]
    assert [(e.actor, e.target) for e in enrol] == [("root", "li")]
    assert all(secret not in e.detail for e in entries)

    await auth.remove_totp("li", actor="root")
    await auth.login("li", PASSWORD, "10.0.0.1")


async def test_only_supervisors_and_admins_enrol(dialer_app: App) -> None:
    await dialer_app.auth.add_user("zhang", "agent", PASSWORD)
    with pytest.raises(BadUserInput, match="supervisor"):
        await dialer_app.auth.enrol_totp("zhang", actor="root")


async def test_required_refuses_supervisors_and_admins_without_an_authenticator(
    dialer_app: App, settings: Settings
) -> None:
    auth = dialer_app.auth
    await auth.add_user("li", "supervisor", PASSWORD)
    await auth.add_user("zhang", "agent", PASSWORD)
    required = AuthService(
        UserStore(dialer_app.db), TotpStore(dialer_app.db), dataclasses.replace(settings.web, totp_required=True),
        dialer_app.clock, dialer_app.audit, CHEAP,
    )  # fmt: skip
    with pytest.raises(LoginRefused):
        await required.login("li", PASSWORD, "10.0.0.1")
    await required.login("zhang", PASSWORD, "10.0.0.1")  # agents are not asked
    secret, _ = await required.enrol_totp("li", actor="root")
    await required.login("li", PASSWORD, "10.0.0.1", code_at(secret, step_of(dialer_app.clock.now())))


async def test_the_login_form_takes_the_code(
    dialer_app: App, settings: Settings, clock: VirtualClock, aiohttp_client
) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(settings, dialer=dialer_app, clock=clock))
    await dialer_app.auth.add_user("li", "supervisor", PASSWORD)
    secret, _ = await dialer_app.auth.enrol_totp("li", actor="root")
    page = await client.get("/login")
    html = await page.text()
    assert 'id="login-code"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    form = {"name": "li", "password": PASSWORD, "csrf_token": token.group(1)}
    assert (await client.post("/login", data=form, allow_redirects=False)).status == 401
    code = code_at(secret, step_of(clock.now()))
    assert (await client.post("/login", data={**form, "code": code}, allow_redirects=False)).status == 302


def test_the_cli_shows_the_secret_once_and_removes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = str(write_config(tmp_path))
    clock = VirtualClock(START)
    monkeypatch.setenv("DCC_TEST_PW", PASSWORD)
    assert main(["--config", cfg, "users", "add", "root", "--role", "admin", "--password-env", "DCC_TEST_PW"],
                clock=clock) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["--config", cfg, "users", "totp", "root"], clock=clock) == 0
    out = capsys.readouterr().out
    match = re.search(r"otpauth://totp/DCC%20Dialer:root\?secret=([A-Z2-7]+)", out)
    assert match and match.group(1) in out.split("otpauth")[0]
    assert main(["--config", cfg, "audit", "list", "--json"], clock=clock) == 0
    assert match.group(1) not in capsys.readouterr().out
    assert main(["--config", cfg, "users", "totp", "root", "--remove"], clock=clock) == 0
    assert main(["--config", cfg, "users", "totp", "root", "--remove"], clock=clock) == 2
